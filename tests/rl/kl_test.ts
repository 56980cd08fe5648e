import { isKlEstimator, KL_ESTIMATORS, type KlEstimator } from "../../lib/rl/kl.ts";
import { klTerm } from "./grpo_host.ts";
import { assertClose, assertThrowsWith, finiteDiff, rng } from "../support/numeric.ts";

const LN2 = Math.LN2;

Deno.test("KL estimators on hand values (verl's kl_penalty definitions)", () => {
  const x = Math.log(0.5), r = Math.log(0.25); // d = logp_new − logp_ref = ln 2
  const k3 = 0.5 + LN2 - 1;
  const cases: Array<[KlEstimator, number, number, number, number]> = [
    ["k1", -1, -2, 1, 1],
    ["k2", -1, -2, 0.5, 1],
    ["abs", -1.3, -1, 0.3, -1],
    ["abs", -1, -1, 0, 0], // torch.abs passes 0 at 0
    ["k3", x, r, k3, 0.5],
    ["low_var_kl", x, r, k3, 0.5], // inside both clamps it is k3
    ["low_var_kl", -1, -2, Math.exp(-1) + 1 - 1, 1 - Math.exp(-1)],
    ["low_var_kl", -4, -1, 10, 0], // ref − new = 3: e^3 − 4 ≈ 16.1 clamps to 10, no gradient
    ["low_var_kl", 24, -1, 10, 0], // ref − new = −25 clamps to −20 first, then the value to 10
    ["k3+", x, r, k3, LN2], // straight-through: k3's value, k2's gradient d
    ["low_var_kl+", -4, -1, 10, -3],
    ["k1+", -1, -2, 1, 1],
    ["abs+", -1.3, -1, 0.3, -0.3],
  ];
  for (const [name, lp, ref, value, grad] of cases) {
    const t = klTerm(name, lp, ref);
    assertClose([t.value, t.grad], [value, grad], { atol: 1e-14 }, `${name}(${lp}, ${ref})`);
  }
  // k3 is unclamped (TRL's per_token_kl), unlike low_var_kl.
  assertClose([klTerm("k3", -4, -1).value], [Math.exp(3) - 4], { atol: 1e-12 }, "k3 unclamped");
});

Deno.test("KL derivatives equal finite differences of the values away from kinks", () => {
  const rand = rng(7);
  for (const name of ["k1", "k2", "k3", "low_var_kl", "abs"] as KlEstimator[]) {
    for (let i = 0; i < 50; i++) {
      const ref = -0.1 - 5 * rand(), lp = ref + (rand() * 6 - 3);
      if (Math.abs(lp - ref) < 1e-3) continue;
      const f = (v: Float64Array) => klTerm(name, v[0], ref).value;
      const fd = finiteDiff(f, Float64Array.of(lp), 1e-6)[0];
      assertClose([klTerm(name, lp, ref).grad], [fd], { atol: 1e-7, rtol: 1e-6 }, `${name} at d=${lp - ref}`);
    }
  }
});

Deno.test("KL estimator names are checked", async () => {
  for (const name of KL_ESTIMATORS) if (!isKlEstimator(name)) throw new Error(`${name} rejected`);
  for (const alias of ["kl", "mse", "mse+"]) if (!isKlEstimator(alias)) throw new Error(`${alias} rejected`);
  if (isKlEstimator("k4") || isKlEstimator("full")) throw new Error("unknown name accepted");
  await assertThrowsWith(() => klTerm("k4" as KlEstimator, 0, 0), 'unknown KL estimator "k4"', "low_var_kl");
  // k2+ is plain k2, as in verl.
  assertClose([klTerm("mse+", -1, -2).grad, klTerm("mse+", -1, -2).value], [1, 0.5], { atol: 0 }, "mse+");
});

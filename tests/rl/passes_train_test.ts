/**
 * A GRPO step whose micro-batch is longer than one forward pass may hold under RLIF_DEVICE_LIMITS trains in
 * smaller passes: the same rollouts, and the update within float tolerance of the unsplit one (gradient
 * sums in another order).
 */
import { assertClose } from "../support/numeric.ts";
import { runDenoFile } from "../support/scripts.ts";

const SCRIPT = new URL("./lowered_limits_train.ts", import.meta.url).pathname;

async function run(limits: string | null) {
  const root = await Deno.makeTempDir({ prefix: "rlif-passes-" });
  try {
    const out = await runDenoFile(SCRIPT, [root], limits === null ? {} : { RLIF_DEVICE_LIMITS: limits });
    if (out.code !== 0) throw new Error(`${SCRIPT} exited ${out.code}: ${out.stderr}`);
    return JSON.parse(out.stdout.trim().split("\n").at(-1)!);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("passes: a GRPO micro-batch over the device's limits trains in smaller passes to the same update", async () => {
  const whole = await run(null);
  // 8 sequences of up to ~18 tokens against 64 rows per pass: the micro-batch splits.
  const split = await run("maxComputeWorkgroupsPerDimension=64");
  // More than 64 rows even counting completion tokens alone: one pass could not hold the micro-batch.
  if (!(split.minRows > 64)) throw new Error(`the micro-batch has ${split.minRows} rows: it would not split`);
  for (const key of ["reward_mean", "signal/selfCertainty"]) {
    if (whole.metrics[key] !== split.metrics[key]) {
      throw new Error(`${key}: ${whole.metrics[key]} vs ${split.metrics[key]}`);
    }
  }
  for (const key of ["loss", "grad_norm", "kl"]) {
    assertClose([split.metrics[key]], [whole.metrics[key]], { atol: 1e-6, rtol: 1e-4 }, key);
  }
  for (const [name, w] of Object.entries(whole.weights)) {
    assertClose(split.weights[name], w as number[], { atol: 1e-6, rtol: 1e-4 }, name);
  }
});

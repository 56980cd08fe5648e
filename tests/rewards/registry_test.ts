import assert from "node:assert/strict";
import {
  describeRewards,
  resolveReward,
  REWARD_NAMES,
  rewardByName,
  SHAPING_NAMES,
  shapingByName,
} from "../../lib/rewards/registry.ts";
import { assertClose, assertThrowsWith } from "../support/numeric.ts";
import { group, stats } from "./fixtures.ts";

const CONFIG_NAMES = [
  "self_certainty",
  "neg_entropy",
  "traj_logprob",
  "mean_logprob",
  "trajectory_entropy",
  "seq_prob",
  "seq_prob_norm",
  "top_gap",
  "coe_d1",
  "coe_d2",
  "coe_d1_d2",
  "coe_r",
  "coe_c",
  "majority_vote",
  "borda_vote",
  "math_accuracy",
  "format",
  "easyr1_math",
  "countdown",
  "self_verify",
  "hybrid",
];

const g = group(["<think>t</think>\\boxed{2}", "\\boxed{3}", "<think>t</think>\\boxed{2}"], {
  groundTruth: "2",
  meta: { target: 2, nums: [2] },
  stats: [
    stats({ selfCertainty: 1, meanTokenEntropy: 0.1 }),
    stats({ selfCertainty: 5, meanTokenEntropy: 0.3 }),
    stats({ selfCertainty: 2, meanTokenEntropy: 0.2 }),
  ],
});

Deno.test("registry: every config name resolves and each reward returns one value per rollout", () => {
  assert.deepEqual([...REWARD_NAMES].sort(), [...CONFIG_NAMES].sort());
  for (const name of REWARD_NAMES) {
    // A reward that asks the policy has no synchronous form (tests/rewards/self_verify_test.ts).
    const options = name === "hybrid" ? { components: [{ name: "self_certainty", weight: 1 }] } : {};
    if (resolveReward(name, options).ask) continue;
    const values = rewardByName(name, options)(g);
    assert.equal(values.length, 3, name);
    assert.ok(values.every(Number.isFinite), name);
  }
  assert.equal(describeRewards().split("\n").length, REWARD_NAMES.length);
});

Deno.test("registry: names map to the right rewards", () => {
  assert.deepEqual(rewardByName("self_certainty")(g), [1, 5, 2]);
  assert.deepEqual(rewardByName("neg_entropy")(g), [-0.1, -0.3, -0.2]);
  assert.deepEqual(rewardByName("seq_prob_norm")(g), [Math.exp(-1), Math.exp(-1), Math.exp(-1)]);
  // URLVR's Trajectory-Level Entropy (eq. 33) is the mean log-probability; traj_logprob stays the sum.
  assert.deepEqual(rewardByName("trajectory_entropy")(g), [-1, -1, -1]);
  assert.deepEqual(rewardByName("traj_logprob")(g), [-2, -2, -2]);
  assert.deepEqual(rewardByName("coe_d1_d2")(g).map((v) => Math.round(v * 10) / 10), [1.1, 1.1, 1.1]);
  assert.deepEqual(rewardByName("majority_vote")(g), [1, 0, 1]);
  assert.deepEqual(rewardByName("math_accuracy")(g), [1, 0, 1]);
  assert.deepEqual(rewardByName("format")(g), [1, 0, 1]);
  assert.deepEqual(rewardByName("easyr1_math")(g), [1, 0, 1]);
  assert.deepEqual(
    rewardByName("countdown")(group(["<answer>2</answer>"], { meta: { target: 2, nums: [2] } })),
    [1],
  );
});

Deno.test("registry: specs say what a reward needs and expose the vote", () => {
  const sc = resolveReward("self_certainty");
  assert.deepEqual([sc.kind, sc.needsStats, sc.needsGroundTruth, sc.vote], [
    "intrinsic",
    true,
    false,
    undefined,
  ]);
  const mv = resolveReward("majority_vote");
  assert.deepEqual([mv.kind, mv.needsStats, mv.needsGroundTruth], ["ensemble", false, false]);
  assert.equal(mv.vote!(g).label, "2");
  assert.equal(mv.vote!(g).labelCorrect, true);
  // Self-certainty 1, 5, 2: "3" ranks first; p = 2 gives "3" 3² = 9 against "2" 1² + 2² = 5.
  const borda = resolveReward("borda_vote", { power: 2 });
  assert.deepEqual(borda.fn(g), [0, 1, 0]);
  assert.equal(borda.vote!(g).label, "3");
  assert.deepEqual(resolveReward("borda_vote").fn(g), [1, 0, 1]);
  assert.equal(resolveReward("math_accuracy").needsGroundTruth, true);
  assert.equal(resolveReward("countdown").needsGroundTruth, false);
});

Deno.test("registry: options reach the rewards", () => {
  const prefilled = group(["t</think>\\boxed{2}"], { groundTruth: "2" });
  assert.deepEqual(rewardByName("format", { prefill: "<think>" })(prefilled), [1]);
  assert.deepEqual(rewardByName("format")(prefilled), [0]);
  assert.deepEqual(rewardByName("easyr1_math", { format_weight: 0.5 })(prefilled), [0.5]);
  assert.deepEqual(rewardByName("easyr1_math", { format_weight: 0.5, prefill: "<think>" })(prefilled), [1]);
});

Deno.test("registry: hybrid from a config mixes shaped components", () => {
  const spec = resolveReward("hybrid", {
    components: [
      { name: "math_accuracy", weight: 1 },
      { name: "self_certainty", weight: 0.5, shaping: "minmax" },
      {
        name: "borda_vote",
        weight: 2,
        options: { power: 2 },
        shaping: { name: "discretize", top: 0.34, bottom: 0.34 },
      },
    ],
  });
  // accuracy [1, 0, 1]; minmax of [1, 5, 2] = [0, 1, 0.25]; borda [0, 1, 0] discretized = [0.5, 1, 0.5]
  // (the two zeros tie at both cuts).
  assert.deepEqual(spec.fn(g), [1 + 0 + 1, 0 + 0.5 + 2, 1 + 0.125 + 1]);
  assert.deepEqual([spec.kind, spec.needsStats, spec.needsGroundTruth], ["hybrid", true, true]);
  const zs = resolveReward("hybrid", {
    components: [{ name: "self_certainty", shaping: { name: "zscore", std: "population", eps: 0 } }],
  });
  const z = zs.fn(g);
  // mean 8/3, population variance 26/9.
  assertClose(z, [-5 / 3, 7 / 3, -2 / 3].map((d) => d / Math.sqrt(26 / 9)), { atol: 1e-12 }, "zscore");
});

Deno.test("registry: unknown names and options list what is valid", async () => {
  await assertThrowsWith(
    () => rewardByName("selfcertainty"),
    'unknown reward "selfcertainty"',
    "self_certainty, neg_entropy",
    "hybrid",
  );
  await assertThrowsWith(
    () => rewardByName("borda_vote", { powr: 1 }),
    'unknown key reward "borda_vote".powr',
    "did you mean power?",
    "known: power",
  );
  await assertThrowsWith(
    () => rewardByName("self_certainty", { power: 1 }),
    'unknown key reward "self_certainty".power',
    "it takes none",
  );
  await assertThrowsWith(
    () => rewardByName("borda_vote", { power: "high" }),
    'reward "borda_vote".power: expected a number, got "high"',
  );
  await assertThrowsWith(
    () => rewardByName("format", { prefill: 3 }),
    'reward "format".prefill: expected a string, got 3',
  );
  await assertThrowsWith(() => rewardByName("hybrid"), 'reward "hybrid".components is required (a list)');
  await assertThrowsWith(
    () => rewardByName("hybrid", { components: [{ name: "nope" }] }),
    'reward "hybrid".components[0].name: "nope" is not one of self_certainty',
  );
  await assertThrowsWith(
    () => rewardByName("hybrid", { components: [{ name: "format", weight: "1" }] }),
    'reward "hybrid".components[0].weight: expected a number, got "1"',
  );
  await assertThrowsWith(
    () => rewardByName("hybrid", { components: [{ name: "hybrid" }] }),
    'components[0].name: "hybrid" is not one of',
  );
  await assertThrowsWith(
    () => rewardByName("hybrid", { components: [{ name: "format", scale: 2 }] }),
    'unknown key reward "hybrid".components[0].scale (known: name, weight, options, shaping)',
  );
  await assertThrowsWith(
    () => rewardByName("hybrid", { components: [{ name: "format", shaping: { top: 0.5 } }] }),
    "components[0].shaping",
  );
});

Deno.test("registry: shapings by name", async () => {
  assert.deepEqual([...SHAPING_NAMES], ["none", "zscore", "minmax", "percentile", "discretize"]);
  assert.deepEqual(shapingByName("none")([3, 1]), [3, 1]);
  assert.deepEqual(shapingByName("minmax")([3, 1]), [1, 0]);
  assertClose(
    shapingByName("zscore", { eps: 0 })([1, 3]),
    [-Math.SQRT1_2, Math.SQRT1_2],
    { atol: 1e-15 },
    "z",
  );
  assert.deepEqual(shapingByName("percentile", { top: 0.25, bottom: 0.25 })([5, 1, 3, 4]), [5, 1, 0, 0]);
  assert.deepEqual(shapingByName("discretize", { top: 0.5, bottom: 0.5, middle: 0 })([1, 2]), [0, 1]);
  await assertThrowsWith(() => shapingByName("rank"), 'shaping.name: "rank" is not one of', "zscore, minmax");
  assert.deepEqual(shapingByName("percentile", { top: 0.25 })([5, 1, 3, 4]), [5, 1, 3, 0]);
  await assertThrowsWith(
    () => shapingByName("zscore", { std: "unbiased" }),
    '"unbiased" is not one of sample, population',
  );
  await assertThrowsWith(() => shapingByName("minmax", { eps: 1 }), "unknown key shaping.eps", "known: name");
});

Deno.test("registry: top_gap's span option picks RLSF's answer-only disparity", () => {
  const answer = group(["\\boxed{2}", "none"], {
    stats: [stats({ tokenTopGap: [0.1, 0.9, 0.7] }), stats({ tokenTopGap: [0.2, 0.4] })],
  });
  answer.rollouts[0].answerSpan = { start: 1, end: 3 };
  answer.rollouts[1].answerSpan = null;
  assertClose(
    rewardByName("top_gap", { span: "answer" })(answer),
    [0.8, 0],
    { atol: 1e-15, rtol: 0 },
    "answer",
  );
  assert.deepEqual(rewardByName("top_gap")(answer), [0.45, 0.45]);
  assertThrowsWith(() => rewardByName("top_gap", { span: "tokens" }), "span");
});

import assert from "node:assert/strict";
import { gradeAnswer } from "../../lib/grading/grade.ts";
import { mathAccuracyScore } from "../../lib/rewards/math_accuracy.ts";
import {
  resolveReward,
  type RewardConfig,
  rewardCountdownRules,
  rewardGraders,
} from "../../lib/rewards/registry.ts";
import { assertThrowsWith } from "../support/numeric.ts";
import { group } from "./fixtures.ts";

// A pair on which the graders disagree: qwen_math compares numbers with a relative tolerance of 1e-4,
// rlif compares the decimal as written.
const BOXED = "<think>8</think>\\boxed{8}";
const GOLD = "8.0001";

Deno.test("the pair the grader tests rely on: rlif and qwen_math disagree on it", () => {
  assert.equal(gradeAnswer(BOXED, GOLD, "rlif"), false);
  assert.equal(gradeAnswer(BOXED, GOLD, "qwen_math"), true);
  assert.equal(mathAccuracyScore(BOXED, GOLD), 0);
  assert.equal(mathAccuracyScore(BOXED, GOLD, "qwen_math"), 1);
});

Deno.test("rlif's reward reads the last box only; another grader does its reference's own extraction", () => {
  assert.equal(mathAccuracyScore("the answer is 2", "2"), 0);
  assert.equal(
    mathAccuracyScore("the answer is 2", "2", "qwen_math"),
    gradeAnswer("the answer is 2", "2", "qwen_math") ? 1 : 0,
  );
});

Deno.test("math_accuracy and easyr1_math take `grader` from their options, else the context's, else rlif", () => {
  const g = group([BOXED, "\\boxed{7}"], { groundTruth: GOLD });
  assert.deepEqual(resolveReward("math_accuracy").fn(g), [0, 0]);
  assert.deepEqual(resolveReward("math_accuracy", { grader: "qwen_math" }).fn(g), [1, 0]);
  assert.deepEqual(resolveReward("math_accuracy", {}, { grader: "qwen_math" }).fn(g), [1, 0]);
  // A grader the reward names wins over the run's.
  assert.deepEqual(resolveReward("math_accuracy", { grader: "rlif" }, { grader: "qwen_math" }).fn(g), [0, 0]);
  assert.deepEqual(resolveReward("easyr1_math", {}).fn(g), [0.1, 0]);
  assert.deepEqual(resolveReward("easyr1_math", { grader: "qwen_math" }).fn(g), [1, 0]);
  const hybrid = resolveReward("hybrid", {
    components: [{ name: "math_accuracy", weight: 2, options: {} }],
  }, { grader: "qwen_math" });
  assert.deepEqual(hybrid.fn(g), [2, 0]);
});

Deno.test("an unknown grader is an error naming the option and the valid graders", async () => {
  await assertThrowsWith(
    () => resolveReward("math_accuracy", { grader: "sympy" }),
    "grader",
    "rlif",
    "math_verify",
    "gsm8k_flexible",
  );
  await assertThrowsWith(() => resolveReward("countdown", { rule: "verl" }), "rule", "tinyzero");
});

Deno.test("countdown takes `rule`: tinyzero reads the last line only", () => {
  const g = group(["<answer>(6 - 2) * 5</answer>\n", "<answer>(6 - 2) * 5</answer>"], {
    meta: { target: 20, nums: [2, 5, 6] },
  });
  assert.deepEqual(resolveReward("countdown").fn(g), [1, 1]);
  assert.deepEqual(resolveReward("countdown", { rule: "rlif" }).fn(g), [1, 1]);
  assert.deepEqual(resolveReward("countdown", { rule: "tinyzero" }).fn(g), [0, 1]);
});

Deno.test("rewardGraders lists the graders a reward section names; rewardCountdownRules its rules", () => {
  const base = { scorer: "online" as const, shaping: { name: "none" as const } };
  const section = (x: Record<string, unknown>) => ({ ...base, ...x }) as RewardConfig;
  assert.deepEqual(rewardGraders(section({ name: "self_certainty" })), []);
  assert.deepEqual(rewardGraders(section({ name: "math_accuracy" })), []);
  assert.deepEqual(rewardGraders(section({ name: "math_accuracy", grader: "mathruler" })), ["mathruler"]);
  const hybrid = section({
    name: "hybrid",
    components: [
      { name: "math_accuracy", weight: 1, options: { grader: "dapo" } },
      { name: "easyr1_math", weight: 1, options: { grader: "mathruler" } },
      { name: "countdown", weight: 1, options: { rule: "tinyzero" } },
    ],
  });
  assert.deepEqual(rewardGraders(hybrid), ["dapo", "mathruler"]);
  assert.deepEqual(rewardCountdownRules(hybrid), ["tinyzero"]);
  assert.deepEqual(rewardCountdownRules(section({ name: "countdown", rule: "rlif" })), ["rlif"]);
  assert.deepEqual(rewardCountdownRules(section({ name: "math_accuracy" })), []);
  // self_verify reads the answer it asks about by a rule too, TinyZero's unless told.
  assert.deepEqual(rewardCountdownRules(section({ name: "self_verify" })), ["tinyzero"]);
  assert.deepEqual(rewardCountdownRules(section({ name: "self_verify", rule: "rlif" })), ["rlif"]);
});

import assert from "node:assert/strict";
import { mathAccuracy, mathAccuracyScore } from "../../lib/rewards/math_accuracy.ts";
import { formatReward, formatScore } from "../../lib/rewards/format.ts";
import { easyR1Math } from "../../lib/rewards/easyr1_math.ts";
import { assertThrowsWith } from "../support/numeric.ts";
import { group } from "./fixtures.ts";

Deno.test("math accuracy: the last box against the ground truth", () => {
  assert.equal(mathAccuracyScore("\\boxed{\\frac{1}{2}}", "0.5"), 1);
  assert.equal(mathAccuracyScore("\\boxed{1} no, \\boxed{2}", "2"), 1);
  assert.equal(mathAccuracyScore("\\boxed{2} no, \\boxed{1}", "2"), 0);
  assert.equal(mathAccuracyScore("the answer is 2", "2"), 0);
  assert.equal(mathAccuracyScore("\\boxed{2", "2"), 0);
  const g = group(["\\boxed{2}", "\\boxed{3}", "2"], { groundTruth: "2" });
  assert.deepEqual(mathAccuracy(g), [1, 0, 0]);
});

Deno.test("math accuracy: a group without ground truth is an error", async () => {
  await assertThrowsWith(() => mathAccuracy(group(["\\boxed{2}"])), "mathAccuracy", "no groundTruth");
  await assertThrowsWith(() => mathAccuracy(group(["\\boxed{2}"], { groundTruth: null })), "got null");
});

Deno.test("format: one leading think block, then a box", () => {
  const ok = [
    "<think>2+2 is 4</think> The answer is \\boxed{4}.",
    "\n  <think>\nmulti\nline\n</think>\n\n$\\boxed{\\frac{1}{2}}$\n",
    "<think></think>\\boxed{}",
    "<think>a</think>\\boxed{1} and later \\boxed{2}",
  ];
  const bad = [
    "The answer is \\boxed{4}.", // no think block
    "<think>4</think> The answer is 4.", // no box
    "Sure. <think>4</think>\\boxed{4}", // think block not first
    "<think>a</think><think>b</think>\\boxed{4}", // two think blocks
    "<think>\\boxed{4}</think>", // box only inside the think block
    "<think>unclosed \\boxed{4}", // think never closed
    "<think>a</think>\\boxed{4}</think>", // stray closing tag
    "<think>a</think>\\boxed{4", // box never closed
    "<think>a</think>\\boxed 4", // no braces
  ];
  for (const t of ok) assert.equal(formatScore(t), 1, t);
  for (const t of bad) assert.equal(formatScore(t), 0, t);
  assert.deepEqual(formatReward(group([...ok, ...bad])), [...ok.map(() => 1), ...bad.map(() => 0)]);
});

Deno.test("format: a prefill from the prompt is prepended before matching", () => {
  const completion = "reasoning here</think> so \\boxed{7}";
  assert.equal(formatScore(completion), 0);
  assert.equal(formatScore(completion, { prefill: "<think>" }), 1);
  assert.deepEqual(formatReward(group([completion]), { prefill: "<think>" }), [1]);
});

Deno.test("easyR1Math: 0.9 accuracy + 0.1 format", () => {
  const g = group(
    [
      "<think>1+1</think>\\boxed{2}", // right, formatted
      "\\boxed{2}", // right, no think
      "<think>1+1</think>\\boxed{3}", // wrong, formatted
      "3", // wrong, unformatted
    ],
    { groundTruth: "2" },
  );
  const r = easyR1Math(g);
  [1, 0.9, 0.1, 0].forEach((want, i) => assert.ok(Math.abs(r[i] - want) < 1e-12, `${i}: ${r[i]} vs ${want}`));
  assert.deepEqual(easyR1Math(g, { formatWeight: 0.5 }), [1, 0.5, 0.5, 0]);
  assert.deepEqual(easyR1Math(g, { formatWeight: 0 }), [1, 1, 0, 0]);
});

Deno.test("easyR1Math: bad weights and missing ground truth are errors", async () => {
  await assertThrowsWith(
    () => easyR1Math(group(["x"], { groundTruth: "1" }), { formatWeight: 1.5 }),
    "formatWeight",
    "[0, 1]",
  );
  await assertThrowsWith(() => easyR1Math(group(["x"])), "easyR1Math", "no groundTruth");
});

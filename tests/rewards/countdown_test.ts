import assert from "node:assert/strict";
import {
  countdown,
  countdownEquation,
  countdownReward,
  countdownVerdict,
  extractAnswerTagContent,
} from "../../lib/rewards/countdown.ts";
import { assertThrowsWith } from "../support/numeric.ts";
import { group } from "./fixtures.ts";

const P = { target: 20, nums: [2, 5, 6] };
const score = (equation: string, problem = P) =>
  countdownReward(`<think>working</think>\n<answer>${equation}</answer>`, problem);

Deno.test("countdown: a correct equation scores 1", () => {
  assert.equal(score("(6 - 2) * 5"), 1);
  assert.equal(score("5 * (6 - 2)"), 1);
  assert.equal(score("  ( 6-2 )*5  "), 1);
  // Unary signs are accepted, as the reference's Python eval accepts them.
  assert.equal(score("-(2 - 6) * 5"), 1);
});

Deno.test("countdown: each number exactly once — reuse, missing and extra numbers score 0.1", () => {
  assert.equal(score("5 * 5 - 5"), 0.1, "reuse");
  assert.equal(score("(6 - 2) * 5", { target: 20, nums: [1, 2, 5, 6] }), 0.1, "missing 1");
  assert.equal(score("(6 - 2) * 5 * 1"), 0.1, "extra 1");
  assert.equal(score("6 * 5 - 10"), 0.1, "number not given");
  // Repeated given numbers must each be used: a multiset, not a set.
  assert.equal(score("5 * 5 + 2", { target: 27, nums: [5, 5, 2] }), 1);
  assert.equal(score("5 * 5 + 2", { target: 27, nums: [5, 2, 2] }), 0.1);
  assert.equal(score("25 + 2", { target: 27, nums: [5, 5, 2] }), 0.1, "digits joined");
});

Deno.test("countdown: division is true division, with 1e-5 tolerance", () => {
  assert.equal(score("6 / 2 + 17", { target: 20, nums: [6, 2, 17] }), 1);
  assert.equal(score("8 / (3 - 8 / 3)", { target: 24, nums: [3, 3, 8, 8] }), 1);
  assert.equal(score("5 / 2", { target: 2.5, nums: [2, 5] }), 1);
  assert.equal(score("1 / 3", { target: 0.33333, nums: [1, 3] }), 1); // |Δ| = 3.3e-6
  assert.equal(score("1 / 3", { target: 0.3333, nums: [1, 3] }), 0.1); // |Δ| = 3.3e-5
  assert.equal(score("7 / 2", { target: 3, nums: [7, 2] }), 0.1, "no floor division");
  assert.equal(score("3 / (5 - 5)", { target: 3, nums: [3, 5, 5] }), 0.1, "division by zero");
});

Deno.test("countdown: invalid equations score 0.1", () => {
  assert.equal(score("(6 - 2 * 5"), 0.1, "unbalanced (");
  assert.equal(score("6 - 2) * 5"), 0.1, "unbalanced )");
  assert.equal(score("2.5 * 8", { target: 20, nums: [2, 5, 8] }), 0.1, "non-integer literal");
  assert.equal(score("(6 - 2) * 5 = 20"), 0.1, "equals sign");
  assert.equal(score("2 ** 4 + 6 - 2", { target: 20, nums: [2, 4, 6, 2] }), 0.1, "power");
  assert.equal(score("6 // 2", { target: 3, nums: [6, 2] }), 0.1, "floor division");
  assert.equal(score("5(6 - 2)"), 0.1, "implicit product");
  assert.equal(score("(6 − 2) × 5"), 0.1, "unicode operators");
  assert.equal(score(""), 0.1, "empty answer");
  assert.equal(
    score("(".repeat(5000) + "1" + ")".repeat(5000), { target: 1, nums: [1] }),
    0.1,
    "deep nesting",
  );
});

Deno.test("countdown: the last <answer> counts; no tag scores 0", () => {
  assert.equal(countdownReward("<answer>6 * 5</answer> no wait <answer>(6 - 2) * 5</answer>", P), 1);
  assert.equal(countdownReward("<answer>(6 - 2) * 5</answer> no wait <answer>6 * 5</answer>", P), 0.1);
  assert.equal(countdownReward("<answer>\n(6 - 2)\n* 5\n</answer>", P), 1);
  assert.equal(countdownReward("(6 - 2) * 5 = 20", P), 0);
  assert.equal(countdownReward("<answer>(6 - 2) * 5", P), 0, "unclosed tag");
  assert.equal(countdownReward("", P), 0);
  assert.equal(extractAnswerTagContent("<answer> a </answer><answer>b</answer>"), "b");
  assert.equal(extractAnswerTagContent("none"), null);
});

Deno.test("countdown: verdicts say why", () => {
  assert.equal(countdownVerdict("(6 - 2) * 5", P), null);
  assert.equal(countdownVerdict("6 * 5 - 2", P), "evaluates to 28, not 20");
  assert.equal(countdownVerdict("6 * 5", P), "uses [6, 5], must use each of [2, 5, 6] exactly once");
  assert.equal(countdownVerdict("6 / (5 - 5)", { target: 1, nums: [6, 5, 5] }), "divides by zero");
  assert.match(countdownVerdict("6 +", P)!, /^not a valid equation: /);
});

Deno.test("countdown: the group reward reads target and nums from meta", async () => {
  const g = group(["<answer>(6 - 2) * 5</answer>", "<answer>6 * 5</answer>", "twenty"], {
    meta: { target: 20, nums: [2, 5, 6] },
  });
  assert.deepEqual(countdown(g), [1, 0.1, 0]);
  await assertThrowsWith(() => countdown(group(["x"])), "group.meta.target", "countdown");
  await assertThrowsWith(
    () => countdown(group(["x"], { meta: { target: 3, nums: "1 2" } })),
    "group.meta.nums",
    '"1 2"',
  );
  await assertThrowsWith(
    () => countdown(group(["x"], { meta: { target: 3, nums: [1.5] } })),
    "non-negative integers",
  );
  await assertThrowsWith(() => countdown(group(["x"], { meta: { target: "3", nums: [1] } })), 'got "3"');
});

Deno.test("countdown: the tinyzero rule reads <answer> on the last line only, the default anywhere", async () => {
  const earlier = "<think>try</think>\n<answer>(6 - 2) * 5</answer>\nI am done.";
  const lastLine = "<think>try\nmore</think> <answer>6 * 5 - 2</answer> <answer>(6 - 2) * 5</answer>";
  const trailingNewline = "<think>x</think><answer>(6 - 2) * 5</answer>\n";
  const spansLines = "<think>x</think>\n<answer>(6 - 2)\n* 5</answer>";
  assert.equal(countdownReward(earlier, P), 1);
  assert.equal(countdownReward(earlier, P, { rule: "tinyzero" }), 0);
  assert.equal(countdownReward(lastLine, P, { rule: "tinyzero" }), 1);
  assert.equal(countdownReward(trailingNewline, P), 1);
  assert.equal(countdownReward(trailingNewline, P, { rule: "tinyzero" }), 0);
  assert.equal(countdownReward(spansLines, P), 1);
  assert.equal(countdownReward(spansLines, P, { rule: "tinyzero" }), 0);
  assert.equal(countdownEquation("a\n<answer> 1+2 </answer>", "tinyzero"), "1+2");
  const g = group([earlier, lastLine], { meta: { target: 20, nums: [2, 5, 6] } });
  assert.deepEqual(countdown(g), [1, 1]);
  assert.deepEqual(countdown(g, { rule: "tinyzero" }), [0, 1]);
  await assertThrowsWith(
    () => countdownEquation("x", "other" as "rlif"),
    'rule must be "rlif" or "tinyzero"',
  );
});

import assert from "node:assert/strict";
import {
  dapoComputeScore,
  dapoExtractAnswer,
  dapoGrade,
  dapoNormalizeFinalAnswer,
} from "../../lib/grading/graders/dapo.ts";
import { ADVERSARIAL, assertAgreement, assertBounded, loadGraderCases } from "./grader_cases.ts";

// Every case is a full response graded by dapoGrade (compute_score's verdict).
Deno.test("dapo: agreement with verl's math_dapo.compute_score on the conformance cases", () => {
  assertAgreement("dapo", loadGraderCases("dapo"), (c) => dapoGrade(c.response!, c.gold));
});

Deno.test("dapo: normalize_final_answer steps", () => {
  assert.equal(dapoNormalizeFinalAnswer("x = \\$1,000"), "1000");
  assert.equal(dapoNormalizeFinalAnswer("1,000"), "1000");
  assert.equal(dapoNormalizeFinalAnswer("(1, 2)"), "(1,2)"); // commas kept: not a digit string
  assert.equal(dapoNormalizeFinalAnswer("\\frac12"), "\\frac{1}{2}");
  assert.equal(dapoNormalizeFinalAnswer("\\sqrt2"), "\\sqrt{2}");
  assert.equal(dapoNormalizeFinalAnswer("$\\frac{3}{4}$ and $5$"), "\\frac{3}{4}");
  assert.equal(dapoNormalizeFinalAnswer("\\text{(A)}"), "(A)");
  assert.equal(dapoNormalizeFinalAnswer("\\boxed{\\text{5}}"), "5");
  assert.equal(dapoNormalizeFinalAnswer("an apple"), "apple");
  assert.equal(dapoNormalizeFinalAnswer("mean value"), "mevalue"); // "an " is removed anywhere, as in verl
  assert.equal(dapoNormalizeFinalAnswer("12 students"), "12");
  assert.equal(dapoNormalizeFinalAnswer("45^\\circ"), "45");
});

Deno.test("dapo: extraction and score", () => {
  assert.equal(dapoExtractAnswer("answer: 4\nANSWER : 5 apples\n"), "5 apples");
  assert.equal(dapoExtractAnswer("The answer is \\boxed{5}"), "[INVALID]");
  assert.deepEqual(dapoComputeScore("Answer: $5$", "5"), { score: 1, acc: true, pred: "5" });
  assert.deepEqual(dapoComputeScore("\\boxed{5}", "5"), { score: -1, acc: false, pred: "[INVALID]" });
  // Only the last 300 characters are read.
  assert.equal(dapoGrade("Answer: 5\n" + "x".repeat(300), "5"), false);
  assert.equal(dapoGrade("Answer: 5\n" + "x".repeat(289), "5"), true);
  // Python counts code points: an astral character is one of the 300.
  assert.equal(dapoGrade("Answer: 5\n" + "😀".repeat(291), "5"), false);
  assert.equal(dapoGrade("Answer: 5\n" + "😀".repeat(290), "5"), true);
});

Deno.test("dapo: adversarial inputs stay bounded", () => {
  assertBounded("dapo", ADVERSARIAL, dapoGrade);
  assertBounded("dapo (ground truth)", ADVERSARIAL.map(([a, b]) => ["Answer: 1", a + b]), dapoGrade);
});

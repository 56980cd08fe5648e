import assert from "node:assert/strict";
import { gradeAnswer, GRADERS, rlifGrade } from "../../lib/grading/grade.ts";
import { isEquivalent } from "../../lib/grading/equivalence.ts";

Deno.test("gradeAnswer: rlif (the default) extracts the answer, then compares with isEquivalent", () => {
  assert.equal(gradeAnswer("The answer is $\\boxed{12}$.", "12"), true);
  assert.equal(gradeAnswer("so $x = \\boxed{\\dfrac{1}{2}}$", "0.5", "rlif"), true);
  assert.equal(gradeAnswer("work\n#### 1,000", "1000"), true);
  assert.equal(gradeAnswer("\\boxed{0.333}", "\\frac{1}{3}"), false);
  assert.equal(gradeAnswer("\\boxed{10^{400}}", "10^{401}"), false);
  assert.equal(gradeAnswer("no answer at all", "4"), false);
  // The boxed answer is graded, not an earlier number of the text.
  assert.equal(gradeAnswer("3 tries, then \\boxed{7}", "3"), false);
  for (const [r, g] of [["\\boxed{2x+2}", "2(x+1)"], ["Answer: 5", "6"]]) {
    assert.equal(gradeAnswer(r, g), rlifGrade(r, g));
  }
  assert.equal(rlifGrade("\\boxed{2x+2}", "2(x+1)"), isEquivalent("2x+2", "2(x+1)"));
});

Deno.test("gradeAnswer: an unknown grader name is an error listing the valid names", () => {
  assert.throws(
    () => gradeAnswer("\\boxed{1}", "1", "sympy" as "rlif"),
    (e: Error) =>
      e instanceof RangeError && e.message.includes('"sympy"') && GRADERS.every((g) => e.message.includes(g)),
  );
  assert.deepEqual([...GRADERS], [
    "rlif",
    "mathruler",
    "math_verify",
    "qwen_math",
    "hendrycks",
    "dapo",
    "gsm8k_strict",
    "gsm8k_flexible",
  ]);
});

Deno.test("gradeAnswer: every named grader is wired to its reproduction, extraction included", () => {
  // Per grader: a response its reference accepts for gold 12, and one it rejects (another extraction rule,
  // or an answer only some graders call equal).
  const cases: Record<string, [accepted: string, rejected: string]> = {
    rlif: ["The answer is $\\boxed{12}$.", "\\boxed{13}"],
    mathruler: ["so \\boxed{12}", "12 with no box"],
    math_verify: ["The final answer is $\\boxed{12}$", "$\\boxed{13}$"],
    qwen_math: ["\\boxed{12.0}", "\\boxed{12.01}"],
    hendrycks: ["\\boxed{12}", "\\boxed{12.0}"],
    dapo: ["work\nAnswer: 12", "\\boxed{12}"],
    gsm8k_strict: ["so #### 12", "so the answer is 12"],
    gsm8k_flexible: ["so the answer is 12", "so the answer is 13"],
  };
  assert.deepEqual(Object.keys(cases), [...GRADERS]);
  for (const grader of GRADERS) {
    const [yes, no] = cases[grader];
    assert.equal(gradeAnswer(yes, "12", grader), true, `${grader}: ${yes}`);
    assert.equal(gradeAnswer(no, "12", grader), false, `${grader}: ${no}`);
  }
});

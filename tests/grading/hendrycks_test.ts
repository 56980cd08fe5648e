import assert from "node:assert/strict";
import {
  hendrycksFixASlashB,
  hendrycksFixFracs,
  hendrycksFixSqrt,
  hendrycksGrade,
  hendrycksIsEquiv,
  hendrycksLastBoxedOnlyString,
  hendrycksRemoveBoxed,
  hendrycksRemoveRightUnits,
  hendrycksStripString,
} from "../../lib/grading/graders/hendrycks.ts";
import {
  ADVERSARIAL,
  assertAgreement,
  assertBounded,
  dropMathDollars,
  type GraderCase,
  loadGraderCases,
} from "./grader_cases.ts";

// Response cases (`response`) go through hendrycksGrade; pair cases (`pred`, from the shared
// conformance file) go straight to hendrycksIsEquiv. The shared file's extracted answers drop an
// enclosing `$…$` (its verdicts match the reference only under that reading), so the test does too.

const KNOWN_MISSES = new Map([
  [
    JSON.stringify(["28 %", "$28\\%$"]),
    "the shared file says false; MATH's is_equiv run on these strings says true ('28' both sides)",
  ],
]);

Deno.test("hendrycks: agreement with MATH's is_equiv on the conformance cases", () => {
  assertAgreement(
    "hendrycks",
    loadGraderCases("hendrycks"),
    (c: GraderCase) =>
      c.pred !== undefined
        ? hendrycksIsEquiv(dropMathDollars(c.pred), dropMathDollars(c.gold))
        : hendrycksGrade(c.response!, c.gold),
    KNOWN_MISSES,
  );
});

Deno.test("hendrycks: normalisation steps", () => {
  assert.equal(hendrycksFixFracs("\\frac12"), "\\frac{1}{2}");
  assert.equal(hendrycksFixFracs("\\frac1{72}"), "\\frac{1}{72}");
  assert.equal(hendrycksFixFracs("\\frac{72}1"), "\\frac{72}1");
  assert.equal(hendrycksFixFracs("\\frac1"), "\\frac1"); // too short: the input unchanged
  assert.throws(() => hendrycksFixFracs("3\\frac"));
  assert.equal(hendrycksFixASlashB("3/4"), "\\frac{3}{4}");
  assert.equal(hendrycksFixASlashB("-3/4"), "\\frac{-3}{4}");
  assert.equal(hendrycksFixASlashB("03/4"), "03/4"); // int("03") prints as "3"
  assert.equal(hendrycksFixASlashB("a/4"), "a/4");
  assert.equal(hendrycksFixSqrt("\\sqrt3+\\sqrt{2}"), "\\sqrt{3}+\\sqrt{2}");
  assert.throws(() => hendrycksFixSqrt("2\\sqrt"));
  assert.equal(hendrycksRemoveRightUnits("5\\text{ cm}"), "5");
  assert.throws(() => hendrycksRemoveRightUnits("5\\text{ cm}\\text{ m}"));
  assert.equal(hendrycksStripString("k = .5"), "\\frac{1}{2}");
  assert.equal(hendrycksStripString("\\left( 1, 2 \\right)"), "(1,2)");
  assert.equal(hendrycksStripString("45^\\circ"), "45");
  assert.equal(hendrycksStripString("abc = 5"), "abc=5"); // a left side over two characters stays
  // Where stripping raises, is_equiv compares the raw strings.
  assert.equal(hendrycksIsEquiv("2\\sqrt", "2\\sqrt"), true);
  assert.equal(hendrycksIsEquiv("2\\sqrt", "2\\sqrt "), false);
  assert.equal(hendrycksIsEquiv(null, null), true);
  assert.equal(hendrycksIsEquiv(null, "1"), false);
});

Deno.test("hendrycks: extraction (last \\boxed, else \\fbox; remove_boxed needs \\boxed{…})", () => {
  assert.equal(hendrycksLastBoxedOnlyString("a \\boxed{1} b \\boxed{2}"), "\\boxed{2}");
  assert.equal(hendrycksLastBoxedOnlyString("\\fbox{3}"), "\\fbox{3}");
  assert.equal(hendrycksLastBoxedOnlyString("\\boxed{3"), null);
  assert.equal(hendrycksRemoveBoxed("\\fbox{3}"), null);
  assert.equal(hendrycksRemoveBoxed("\\boxed{{3}}"), "{3}");
  assert.equal(hendrycksGrade("so \\boxed{\\dfrac12}", "0.5"), true);
  assert.equal(hendrycksGrade("no box: 0.5", "0.5"), false);
});

Deno.test("hendrycks: adversarial inputs stay bounded", () => {
  assertBounded("hendrycks", ADVERSARIAL, hendrycksGrade);
});

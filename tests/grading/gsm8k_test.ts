import assert from "node:assert/strict";
import {
  GSM8K_FALLBACK,
  gsm8kExactMatch,
  gsm8kFlexibleFilter,
  gsm8kFlexibleGrade,
  gsm8kStrictFilter,
  gsm8kStrictGrade,
} from "../../lib/grading/graders/gsm8k.ts";
import { normalizeGsm8k } from "../../lib/grading/extract.ts";
import { ADVERSARIAL, assertAgreement, assertBounded, loadGraderCases } from "./grader_cases.ts";

// Every case is a full response; `grader` says which filter (strict-match or flexible-extract).
const cases = loadGraderCases("gsm8k");

Deno.test("gsm8k_strict: agreement with lm-evaluation-harness on the conformance cases", () => {
  assertAgreement(
    "gsm8k_strict",
    cases.filter((c) => c.grader === "gsm8k_strict"),
    (c) => gsm8kStrictGrade(c.response!, c.gold),
  );
});

Deno.test("gsm8k_flexible: agreement with lm-evaluation-harness on the conformance cases", () => {
  assertAgreement(
    "gsm8k_flexible",
    cases.filter((c) => c.grader === "gsm8k_flexible"),
    (c) => gsm8kFlexibleGrade(c.response!, c.gold),
  );
});

Deno.test("gsm8k: filters and exact_match's regexes_to_ignore", () => {
  assert.equal(gsm8kStrictFilter("#### 70\n#### 72"), "70"); // take_first
  assert.equal(gsm8kStrictFilter("The answer is 72"), GSM8K_FALLBACK);
  assert.equal(gsm8kFlexibleFilter("3 + 4 = 7."), "7.");
  assert.equal(gsm8kFlexibleFilter("It costs $1,200."), "$1,200.");
  assert.equal(gsm8kFlexibleFilter("none"), GSM8K_FALLBACK);
  assert.equal(normalizeGsm8k("$1,200."), "1200");
  assert.equal(normalizeGsm8k("a\n#### b\n#### 5"), "5"); // through the last "#### "
  assert.equal(normalizeGsm8k("5.\n"), "5\n"); // Python's `\.$` also matches before a final newline
  assert.equal(normalizeGsm8k("5.."), "5.");
  assert.equal(gsm8kExactMatch("72.", "Some work.\n#### 72"), true);
  assert.equal(gsm8kExactMatch("72.0", "72"), false);
});

Deno.test("gsm8k: adversarial inputs stay bounded", () => {
  assertBounded("gsm8k_strict", ADVERSARIAL, gsm8kStrictGrade);
  assertBounded("gsm8k_flexible", ADVERSARIAL, gsm8kFlexibleGrade);
});

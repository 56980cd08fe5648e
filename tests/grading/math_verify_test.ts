/**
 * math_verify grader: conformance with Math-Verify's own tests (tests/test_all.py, cases run with the
 * default LaTeX + expression extraction) and with the shared conformance file's `math_verify_boxed`
 * verdicts (there pred and gold are extracted answers, so each is wrapped in `\boxed{}` as that
 * column was computed). Every case goes through `mathVerifyGrade(response, gold)`.
 */
import assert from "node:assert/strict";
import {
  mathVerifyGrade,
  mathVerifyParse,
  mathVerifyVerify,
  normalizeLatex,
} from "../../lib/grading/graders/math_verify.ts";
import { extractBoxedContent } from "../../lib/grading/graders/math_verify/normalize.ts";
import { parseLatex } from "../../lib/grading/graders/math_verify/parse_latex.ts";

interface Case {
  response: string;
  gold: string;
  expected: boolean;
  source: string;
}

const cases: Case[] = Deno.readTextFileSync(
  new URL("../fixtures/grading/math_verify_cases.jsonl", import.meta.url),
)
  .trim().split("\n").map((l) => JSON.parse(l));

Deno.test("math_verify: agreement with Math-Verify's tests and the shared conformance verdicts", () => {
  const misses: string[] = [];
  for (const c of cases) {
    if (mathVerifyGrade(c.response, c.gold) !== c.expected) {
      misses.push(
        `${JSON.stringify(c.gold)} vs ${JSON.stringify(c.response)}: expected ${c.expected} (${c.source})`,
      );
    }
  }
  const agree = cases.length - misses.length;
  console.log(`math_verify: ${agree}/${cases.length} agree (${(100 * agree / cases.length).toFixed(1)}%)`);
  for (const m of misses) console.log(`  miss: ${m}`);
  assert.ok(cases.length >= 40);
  assert.ok(agree / cases.length >= 0.95, `agreement ${agree}/${cases.length} below 95%`);
});

Deno.test("math_verify: normalization steps", () => {
  // \boxed extraction: "all" joins every box, "last" keeps the last one and close neighbours.
  assert.equal(extractBoxedContent("\\boxed{1} and \\boxed{2}", "all"), "1,2");
  assert.equal(extractBoxedContent("\\boxed{1} no no no no no no \\boxed{2}", "last"), "2");
  assert.equal(extractBoxedContent("no box", "last"), "no box");
  // basic LaTeX: \dfrac, \left/\right, dollars, \! spacing.
  assert.equal(normalizeLatex("\\left( \\dfrac{1}{3} \\right)"), "( \\frac{1}{3} )");
  assert.equal(normalizeLatex("11,\\! 111"), "11,111");
  // units, nits and malformed operators.
  assert.equal(normalizeLatex("\\frac{1}{3} \\text{meters}"), "\\frac{1}{3}");
  assert.equal(normalizeLatex(".5"), "\\frac{1}{2}");
  assert.equal(normalizeLatex("\\frac13"), "\\frac{1}{3}");
  assert.equal(normalizeLatex("\\sqrt3"), "\\sqrt{3}");
  assert.equal(normalizeLatex("2/3"), "\\frac{2}{3}");
  assert.equal(normalizeLatex("28 percent"), "28\\%");
});

Deno.test("math_verify: parse and verify on their own", () => {
  // The best match wins, and the first match's string follows as fallback.
  const parsed = mathVerifyParse("so $x = 2$ and the final answer is $\\frac{1}{2}$");
  assert.equal(parsed[0].kind, "value");
  assert.ok(mathVerifyVerify(mathVerifyParse("$0.5$"), parsed));
  // Floats compare after rounding to 6 decimals; exact numbers compare exactly.
  assert.ok(mathVerifyGrade("$0.333333$", "$\\frac{1}{3}$"));
  assert.ok(!mathVerifyGrade("$0.333$", "$\\frac{1}{3}$"));
  assert.ok(!mathVerifyGrade("$\\frac{1}{3}$", "$\\frac{1}{4}$"));
  // Unparseable input yields no match, and no verdict of equality.
  assert.deepEqual(mathVerifyParse(""), []);
  assert.throws(() => parseLatex("\\frac{1"));
});

Deno.test("math_verify: adversarial inputs stay time-bounded", () => {
  const inputs = [
    "{".repeat(10_000) + "1" + "}".repeat(10_000),
    "\\boxed{" + "{".repeat(10_000) + "}",
    "$" + "(".repeat(10_000) + "1" + ")".repeat(10_000) + "$",
    "x".repeat(1_000_000),
    "1 ".repeat(500_000),
    "$10^{10^{10}}$",
    "$1000000!$",
    "$2^{2^{2^{2^{2^{2}}}}}$",
    "The answer is " + "$1$ and ".repeat(20_000),
    "\\boxed{" + "\\frac{1}{".repeat(3_000) + "2" + "}".repeat(3_000) + "}",
    "$" + "1+".repeat(20_000) + "1$",
    "$" + "\\sqrt{".repeat(5_000) + "2" + "}".repeat(5_000) + "$",
    "$$" + "\\boxed{1}".repeat(10_000),
  ];
  let worst = 0;
  for (const input of inputs) {
    const t0 = performance.now();
    mathVerifyGrade(input, "$10^{10^{10}}$");
    mathVerifyGrade("$1$", input);
    worst = Math.max(worst, performance.now() - t0);
    assert.ok(performance.now() - t0 < 2000, `slow on ${input.slice(0, 40)}`);
  }
  console.log(`math_verify: worst adversarial pair ${worst.toFixed(0)} ms`);
});

import assert from "node:assert/strict";
import { isEquivalent } from "../../lib/grading/equivalence.ts";
import { gradeAnswer } from "../../lib/grading/grade.ts";
import { exactEqual, exactEvaluator, INEXACT, TOO_LARGE } from "../../lib/grading/exact.ts";
import { expressionsEqual, parseExactLiteral } from "../../lib/grading/symbolic.ts";

const product = Array.from({ length: 60 }, (_, i) => `(x+${i + 1})`).join("");

// Each of these compared equal while values were doubles (overflow to Infinity, rounding of 60!).
const DIFFERENT: [string, string][] = [
  ["10^{400}", "10^{401}"],
  ["1e400", "2e400"],
  ["171!", "172!"],
  ["2^{1024}", "3^{1024}"],
  ["\\infty", "10^{400}"],
  ["1/0", "2/0"],
  [product, `${product}+1`],
  ["0.333", "\\frac{1}{3}"],
  ["-\\infty", "\\infty"],
  ["12345678901234567891", "12345678901234567890"],
  ["1000.0001", "1000"],
  ["0.0001", "\\frac{1}{7000}"],
  ["(x-1)(x-2)(x-3)", "0"],
];

const EQUAL: [string, string][] = [
  ["0.5", "\\frac{1}{2}"],
  ["1e400", "10^{400}"],
  ["171!", "171 \\cdot 170!"],
  ["2^{1024}", "4^{512}"],
  ["\\infty", "\\infty"],
  [product, `1+${product}-1`],
  ["0.3333", "\\frac{1}{3}"],
  ["0.0833333333333333", "\\frac{1}{12}"],
  ["\\frac{\\sqrt{4}}{4}", "0.5"],
  ["\\binom{100}{50}", "100891344545564193334812497256"],
];

Deno.test("exact comparison: large values, infinities and division by zero are their own values", () => {
  assert.deepEqual(DIFFERENT.filter(([p, g]) => isEquivalent(p, g)), []);
  assert.deepEqual(EQUAL.filter(([p, g]) => !isEquivalent(p, g)), []);
});

Deno.test("exact evaluator: rationals, infinity, undefined, and sizes past the bound", () => {
  const value = (s: string) => exactEvaluator(s)!(new Map(), Infinity);
  assert.deepEqual(value("3/6 + 1"), { kind: "rational", num: 3n, den: 2n });
  assert.deepEqual(value("1 / 0"), { kind: "undefined" });
  assert.deepEqual(value("Infinity - Infinity"), { kind: "undefined" });
  assert.deepEqual(value("-Infinity * 2"), { kind: "infinity", sign: -1 });
  assert.equal(value("sqrt(2)"), INEXACT);
  assert.deepEqual(value("sqrt(9/4)"), { kind: "rational", num: 3n, den: 2n });
  assert.equal(value("10^(10^10)"), TOO_LARGE);
  assert.equal(value("1000000!"), TOO_LARGE);
  assert.equal(exactEqual(value("1/0") as never, value("1/0") as never), false);
  assert.deepEqual(parseExactLiteral("1e400")?.value.kind, "rational");
  assert.equal(parseExactLiteral("1e400")!.decimals, null);
  assert.deepEqual(parseExactLiteral("1/0"), { value: { kind: "undefined" }, decimals: null });
  // A value too large to compare exactly is "cannot tell", never an approximate "equal".
  assert.equal(expressionsEqual("10^{100000}", "10^{100001}"), null);
});

Deno.test("isEquivalent and gradeAnswer finish on adversarial inputs", () => {
  const inputs: [string, string][] = [
    ["{".repeat(10000) + "1" + "}".repeat(10000), "1"],
    ["\\boxed{" + "x+".repeat(500_000) + "1}", "1"],
    ["1".repeat(1_000_000), "1".repeat(999_999) + "2"],
    ["$x$ ".repeat(250_000), "y"],
    ["\\boxed{1} and ".repeat(70_000), "2"],
    ["The answer is " + "1 ".repeat(500_000), "2"],
    ["([{".repeat(330_000), "1"],
    ["10^10^10", "1"],
    ["10^{10^{10}}", "10^{10^{11}}"],
    ["1000000!", "1000001!"],
    ["1e1000000", "2e1000000"],
    ["(x+1)^{100000}", "(x+1)^{100001}"],
    [`${product}^{30}`, `${product}^{31}`],
    ["2^{2^{2^{2^{2}}}}", "2^{65536}"],
  ];
  let worst = 0;
  for (const [p, g] of inputs) {
    for (const grade of [isEquivalent, gradeAnswer]) {
      const t0 = performance.now();
      const r = grade(p, g);
      const ms = performance.now() - t0;
      worst = Math.max(worst, ms);
      // gradeAnswer may fall back to the last number (the `1` inside 10k braces); isEquivalent may not.
      if (grade === isEquivalent) assert.equal(r, false, `${p.slice(0, 30)} vs ${g.slice(0, 30)}`);
      else assert.equal(typeof r, "boolean");
      // A hang guard (catastrophic backtracking, an unbounded bignum), not a speed target: calls take
      // milliseconds, so only a blow-up reaches ten seconds, however loaded the machine.
      assert.ok(ms < 10_000, `${grade.name}: ${p.slice(0, 30)}… took ${ms.toFixed(0)} ms`);
    }
  }
  console.log(`adversarial inputs: worst ${worst.toFixed(0)} ms per call`);
});

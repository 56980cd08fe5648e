import assert from "node:assert/strict";
import { isolateAnswer, parseAnswer } from "../../lib/grading/answer_parse.ts";
import { isEquivalent, normalizeAnswer } from "../../lib/grading/equivalence.ts";
import { cleanLatex } from "../../lib/grading/latex.ts";
import { decimalMatches, expressionsEqual, parseExactLiteral } from "../../lib/grading/symbolic.ts";

const EQUAL: [string, string][] = [
  // LaTeX normalisation
  ["\\dfrac{3}{4}", "\\frac{3}{4}"],
  ["\\tfrac34", "3/4"],
  ["\\left( 2, 3 \\right)", "(2,3)"],
  ["12\\text{ cm}", "12"],
  ["12 \\mbox{ meters}^2", "12"],
  ["45^\\circ", "45"],
  ["45^{\\circ}", "45"],
  ["50\\%", "50"],
  ["50\\%", "0.5"],
  ["x = 5", "5"],
  ["5", "y=5"],
  ["1,234,567", "1234567"],
  ["12,\\!345", "12345"],
  ["7.", "7"],
  ["\\$25", "25"],
  ["3 \\, 000", "3000"],
  ["\\frac {1} {2}", "\\frac12"],
  // numbers
  ["0.5", "\\frac{1}{2}"],
  ["-0.25", "-\\frac14"],
  ["2.5e3", "2500"],
  ["2.5 \\times 10^{3}", "2500"],
  ["0.3333", "\\frac{1}{3}"],
  ["3.1416", "\\pi"],
  ["1000.0", "1000"],
  // structures
  ["\\{1, 2, 3\\}", "\\{3, 2, 1\\}"],
  ["3, 1, 2", "1, 2, 3"],
  ["(1, \\frac{1}{2})", "(1, 0.5)"],
  ["[2, 5)", "[2,5)"],
  ["(-\\infty, 3]", "(-\\infty,3]"],
  ["(0, 1) \\cup (2, 3)", "(2,3)\\cup(0,1)"],
  ["2 < x \\le 5", "(2, 5]"],
  ["\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{bmatrix}1\\\\2\\end{bmatrix}"],
  ["1 \\pm \\sqrt{2}", "1 - \\sqrt2, 1 + \\sqrt 2"],
  // symbolic
  ["\\frac{\\sqrt{8}}{2}", "\\sqrt{2}"],
  ["2\\sqrt{3}\\cdot\\sqrt{3}", "6"],
  ["x^2 - 1", "(x-1)(x+1)"],
  ["\\frac{\\pi}{2}", "\\frac12\\pi"],
  ["\\sin^2 x + \\cos^2 x", "1"],
  ["2^{10}", "1024"],
  ["\\sqrt[3]{27}", "3"],
  ["e^{\\ln 2}", "2"],
  ["\\binom{5}{2}", "10"],
  ["|{-3}|", "3"],
  ["ab + ba", "2ab"],
  ["a_1 + a_2", "a_2 + a_1"],
  // relations
  ["y = 2x + 1", "2x - y + 1 = 0"],
  ["x \\geq 3", "3 \\le x"],
  ["x = 2 + 3 = 5", "5"],
  ["x \\ge 1", "[1, \\infty)"],
  ["(-\\infty, 2)", "x < 2"],
  ["\\frac{1}{2} < x", "(0.5, \\infty)"],
  // texts
  ["\\text{(B)}", "B"],
  ["\\textbf{Even}", "even"],
  ["The answer is $\\boxed{12}$.", "12"],
  ["so $x=\\boxed{\\frac{1}{2}}$.", "0.5"],
];

const DIFFERENT: [string, string][] = [
  ["\\frac{1}{3}", "0.33"],
  ["0.3", "\\frac{1}{3}"],
  ["1000.1", "1000"],
  ["(1, 2)", "(2, 1)"],
  ["[2, 5)", "(2, 5)"],
  ["\\{1, 2\\}", "\\{1, 2, 3\\}"],
  ["x^2 + 1", "(x+1)^2"],
  ["\\sqrt{2}", "1.41"],
  ["2x + 3 = 0", "3"],
  ["x > 3", "x < 3"],
  ["x > 3", "x \\ge 3"],
  ["x \\ge 1", "(1, \\infty)"],
  ["x \\le 1", "(-\\infty, 1)"],
  ["dog", "god"],
  ["\\text{A}", "B"],
  ["12", "21"],
  ["5", "\\pm 5"],
  ["", "0"],
  ["0", ""],
];

Deno.test("isEquivalent accepts equivalent spellings", () => {
  const failures = EQUAL.filter(([p, g]) => !isEquivalent(p, g));
  assert.deepEqual(failures, []);
});

Deno.test("isEquivalent rejects different answers", () => {
  const failures = DIFFERENT.filter(([p, g]) => isEquivalent(p, g));
  assert.deepEqual(failures, []);
});

Deno.test("cleanLatex applies the normalisations and reports percentages", () => {
  assert.deepEqual(cleanLatex("\\left(\\dfrac13\\right)\\%"), { text: "(\\frac{1}{3})", percent: true });
  assert.deepEqual(cleanLatex("  $1,000.50$. "), { text: "1000.50", percent: false });
  assert.equal(cleanLatex("\\sqrt3 + \\frac3{4}").text, "\\sqrt{3} + \\frac{3}{4}");
  assert.equal(cleanLatex("28 percent").percent, true);
  assert.equal(cleanLatex("10\\text{ and }20").text, "10 and 20");
});

Deno.test("isolateAnswer finds boxed values, joined boxes and math regions", () => {
  assert.equal(isolateAnswer("roots $\\boxed{1}$ and $\\boxed{-2}$."), "1, -2");
  assert.equal(isolateAnswer("try \\boxed{1}, no wait \\boxed{2}"), "2");
  assert.equal(isolateAnswer("Thus $x \\ge 5$ is the solution."), "x \\ge 5");
  assert.equal(isolateAnswer("the answer is 42. Next sentence 7."), "42");
  // Inline math does not span lines.
  assert.equal(isolateAnswer("cost $5\nand $6"), "cost $5\nand $6");
});

Deno.test("parseAnswer recognises lists, tuples, intervals, relations", () => {
  assert.equal(parseAnswer("1, 2").kind, "list");
  assert.deepEqual(parseAnswer("[0, 1)"), {
    kind: "tuple",
    open: "[",
    close: ")",
    items: [{ kind: "expr", text: "0" }, { kind: "expr", text: "1" }],
  });
  assert.equal(parseAnswer("x + y = 1").kind, "relation");
  assert.equal(parseAnswer("(1, 2) \\cup (3, 4)").kind, "union");
  assert.equal(parseAnswer("\\{\\}").kind, "list");
});

Deno.test("numeric literals and the decimal-approximation rule", () => {
  const rational = (num: bigint, den: bigint) => ({ kind: "rational" as const, num, den });
  assert.deepEqual(parseExactLiteral("1.50"), { value: rational(3n, 2n), decimals: 2 });
  assert.deepEqual(parseExactLiteral("-\\frac{3}{4}"), { value: rational(-3n, 4n), decimals: null });
  assert.equal(parseExactLiteral("x"), null);
  assert.deepEqual(parseExactLiteral("1/0"), { value: { kind: "undefined" }, decimals: null });
  const literal = (s: string) => parseExactLiteral(s)!;
  assert.equal(decimalMatches(literal("2.6667"), rational(8n, 3n)), true);
  assert.equal(decimalMatches(literal("2.66"), rational(8n, 3n)), false);
  assert.equal(decimalMatches(literal("0.25"), rational(3n, 10n)), false);
  assert.equal(decimalMatches(literal("3.1416"), Math.PI), true);
  assert.equal(decimalMatches(literal("3.14"), Math.PI), false);
});

Deno.test("expressionsEqual compares at random points and reports unparseable input as null", () => {
  assert.equal(expressionsEqual("\\frac{x}{7}+\\frac{2}{7}", "\\frac{x+2}{7}"), true);
  assert.equal(expressionsEqual("\\sec^2(y)", "\\tan^2(y)+1"), true);
  assert.equal(expressionsEqual("x+1", "x+2"), false);
  assert.equal(expressionsEqual("\\unknowncommand{x}", "x"), null);
});

Deno.test("normalizeAnswer gives equal keys to spellings that clean to the same text", () => {
  assert.equal(normalizeAnswer("The answer is $\\boxed{\\dfrac{1}{2}}$."), normalizeAnswer("\\frac12"));
  assert.notEqual(normalizeAnswer("\\boxed{2}"), normalizeAnswer("\\boxed{3}"));
});

Deno.test("isEquivalent never throws and returns promptly on pathological input", () => {
  const nasty: [unknown, unknown][] = [
    ["(".repeat(5000) + "1" + ")".repeat(5000), "1"],
    ["\\frac".repeat(3000) + "{1}{2}", "1"],
    ["\\sqrt{".repeat(300) + "2" + "}".repeat(300), "2"],
    ["10^{10^{10^{10}}}", "1"],
    ["99999999999!", "1"],
    ["1,".repeat(5000) + "1", "1"],
    ["\\boxed{".repeat(10000), "1"],
    [" ".repeat(100000) + "1", "1"],
    ["x^{x^{x^{x^{x^{x^{x^{x}}}}}}}", "x"],
    ["\\pm".repeat(50) + "1", "1"],
    ["|".repeat(1001), "1"],
    ["a".repeat(100000), "b"],
    [null, "1"],
    [undefined, undefined],
    [42, "42"],
  ];
  for (const [p, g] of nasty) {
    const t0 = performance.now();
    const r = isEquivalent(p as string, g as string);
    const ms = performance.now() - t0;
    assert.equal(typeof r, "boolean");
    assert.ok(ms < 1500, `${String(p).slice(0, 30)}… took ${ms.toFixed(0)} ms`);
  }
});

Deno.test("isEquivalent stays total on random LaTeX-like strings", () => {
  const tokens = [
    "\\frac",
    "\\sqrt",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "1",
    "x",
    "+",
    "^",
    "_",
    ",",
    "=",
    "<",
    "\\pm",
    "\\boxed",
    "$",
    "\\text",
    "\\left",
    "\\",
    "|",
    "\\begin{pmatrix}",
    "&",
    "\\\\",
    "%",
    "and",
    "\\infty",
    "\\cup",
    "\\{",
    "!",
    "0.333",
  ];
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  for (let k = 0; k < 1500; k++) {
    const make = () =>
      Array.from({ length: Math.floor(random() * 30) }, () => tokens[Math.floor(random() * tokens.length)])
        .join("");
    const a = make();
    const b = random() < 0.3 ? a : make();
    const r = isEquivalent(a, b);
    assert.equal(typeof r, "boolean", `${a} vs ${b}`);
    if (a === b && a.trim() !== "") assert.equal(r, true, `${a} should equal itself`);
  }
});

Deno.test("the timeout option bounds the comparison", () => {
  const t0 = performance.now();
  isEquivalent("x^2 + 2x + 1", "(x+1)^2", { timeoutMs: 0 });
  assert.ok(performance.now() - t0 < 500);
});

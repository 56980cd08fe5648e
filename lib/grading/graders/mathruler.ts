/**
 * EasyR1's answer grader, reproduced: hiyouga/MathRuler, mathruler/grader.py (`grade_answer`,
 * `_normalize`, `split_tuple`, `extract_boxed_content`) and mathruler/math_normalize.py
 * (`normalize_answer`, the MATH `_strip_string` pipeline), as EasyR1's
 * examples/reward_function/math.py (`accuracy_reward`) calls them.
 *
 * `grade_answer` accepts when the MATH normalisations agree, or when MathRuler's own normalisations
 * agree, or — element by element for tuples and intervals — when sympy simplifies the difference to
 * 0, except that integers must match as integers and fractions `a/b` only literally. pylatexenc's
 * LaTeX-to-text step is ./mathruler_latex2text.ts; the sympy step is ./mathruler_sympy.ts, exact on
 * rationals and approximated (documented there) where symbols or irrational constants appear.
 *
 * @module
 */

import { hendrycksStripString } from "./hendrycks.ts";
import { latexToText } from "./mathruler_latex2text.ts";
import { sympyDifferenceIsZero } from "./mathruler_sympy.ts";

// Python's str.isspace() characters, for strip() and `\s`.
const PY_WS =
  " \\t\\n\\r\\f\\v\\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_STRIP = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, "g");

function pyStrip(s: string): string {
  return s.replace(PY_STRIP, "");
}

function replaceAll(s: string, from: string, to: string): string {
  return s.split(from).join(to);
}

// `^\\text\{(?P<text>.+?)\}$`: Python's `.` stops at `\n`, its `$` also matches before a final `\n`.
const ENCLOSING_TEXT = /^\\text\{([^\n]+?)\}\n?$/;

/**
 * `normalize_answer` (math_normalize.py): strip, drop an enclosing `\text{}`, then MATH's
 * `_strip_string`; where that raises, the answer as it stood.
 */
export function mathrulerNormalizeAnswer(answer: string): string {
  let a = pyStrip(answer);
  try {
    const m = ENCLOSING_TEXT.exec(a);
    if (m) a = pyStrip(m[1]);
    return hendrycksStripString(a);
  } catch (e) {
    if (e instanceof RangeError) throw e;
    return a;
  }
}

/** Python's `float(s)`, or null where it raises. */
export function pyFloat(s: string): number | null {
  const t = pyStrip(s);
  const m =
    /^([+-]?)(?:(inf(?:inity)?|nan)|((?:[0-9](?:_?[0-9])*)?(?:\.(?:[0-9](?:_?[0-9])*)?)?)(?:[eE]([+-]?[0-9](?:_?[0-9])*))?)$/i
      .exec(t);
  if (!m) return null;
  if (m[2]) return m[2].toLowerCase() === "nan" ? NaN : (m[1] === "-" ? -Infinity : Infinity);
  const mantissa = m[3];
  if (!/[0-9]/.test(mantissa)) return null;
  return Number(t.replace(/_/g, ""));
}

/** `_is_int` on a float: within 1e-7 of an integer (false for inf and nan, where Python raises). */
function isIntFloat(x: number): boolean {
  return Number.isFinite(x) && Math.abs(x - Math.round(x)) <= 1e-7;
}

/** `_strip_properly_formatted_commas`, as its fixed point: commas between a digit and exactly three. */
export function mathrulerStripCommas(expr: string): string {
  return expr.replace(/(?<=\p{Nd}),(?=\p{Nd}{3}(?!\p{Nd}))/gu, "");
}

/** `_str_is_int`: the string (commas between thousands dropped) is a float within 1e-7 of an integer. */
function strIsInt(x: string): boolean {
  const f = pyFloat(mathrulerStripCommas(x));
  return f !== null && isIntFloat(f);
}

/** `_str_to_int`: all commas dropped, then `int(float(x))` (truncation). */
function strToInt(x: string): string {
  const f = pyFloat(replaceAll(x, ",", ""))!;
  return BigInt(Math.trunc(f)).toString();
}

const UNITS = [
  "degree",
  "cm",
  "centimeter",
  "meter",
  "mile",
  "second",
  "minute",
  "hour",
  "day",
  "week",
  "month",
  "year",
  "foot",
  "feet",
  "inch",
  "yard",
].map((u) => new RegExp(`${u}(es)?(s)? *(\\^[0-9]+)?`, "g"));

/** `_parse_latex`: `\frac` variants spaced out (mixed numbers), pylatexenc's text, symbols renamed. */
export function mathrulerParseLatex(expr: string): string {
  let e = replaceAll(expr, "\\tfrac", "\\frac");
  e = replaceAll(e, "\\dfrac", "\\frac");
  e = replaceAll(e, "\\frac", " \\frac");
  e = latexToText(e);
  e = replaceAll(e, "√", "sqrt");
  e = replaceAll(e, "π", "pi");
  e = replaceAll(e, "∞", "inf");
  e = replaceAll(e, "∪", "U");
  e = replaceAll(e, "·", "*");
  e = replaceAll(e, "×", "*");
  return pyStrip(e);
}

/** `_normalize` (grader.py): MathRuler's own normalisation, lower-cased, spaces and braces dropped. */
export function mathrulerNormalize(input: string): string {
  let expr = input;
  const m = ENCLOSING_TEXT.exec(expr);
  if (m) expr = m[1];
  expr = replaceAll(expr, "\\%", "%");
  expr = replaceAll(expr, "\\$", "$");
  expr = replaceAll(expr, "$", "");
  expr = replaceAll(expr, "%", "");
  expr = replaceAll(expr, " or ", " , ");
  expr = replaceAll(expr, " and ", " , ");
  expr = replaceAll(expr, "million", "*10^6");
  expr = replaceAll(expr, "billion", "*10^9");
  expr = replaceAll(expr, "trillion", "*10^12");
  for (const unit of UNITS) expr = expr.replace(unit, "");
  expr = expr.replace(/\^ *\\circ/g, "");
  if (expr.length > 0 && expr[0] === "{" && expr[expr.length - 1] === "}") expr = expr.slice(1, -1);
  expr = expr.replace(/,\\! */g, "");
  const f = pyFloat(expr);
  if (f !== null && isIntFloat(f)) expr = BigInt(Math.round(f)).toString();
  if (expr.includes("\\")) {
    try {
      expr = mathrulerParseLatex(expr);
    } catch (e) {
      if (e instanceof RangeError) throw e;
    }
  }
  expr = expr.replace(/- */g, "-");
  expr = expr.replace(/([0-9]) +([0-9])/g, "$1+$2");
  expr = replaceAll(expr, " ", "");
  expr = replaceAll(expr, "{", "");
  expr = replaceAll(expr, "}", "");
  expr = expr.toLowerCase();
  if (strIsInt(expr)) expr = strToInt(expr);
  return expr;
}

/** `count_unknown_letters_in_expr` > 2 or a sympy-hanging pattern (`^{`, `^(`, `^12`, `^1^`) blocks sympy. */
export function mathrulerShouldAllowEval(expr: string): boolean {
  const letters = new Set<string>();
  for (const m of replaceAll(replaceAll(expr, "sqrt", ""), "frac", "").matchAll(/\p{L}/gu)) {
    letters.add(m[0]);
    if (letters.size > 2) return false;
  }
  if (expr.includes("^{") || expr.includes("^(")) return false;
  return !/\^[0-9]+\^/.test(expr) && !/\^[0-9][0-9]+/.test(expr);
}

/** `are_equal_under_sympy`: `simplify((gt)-(given)) == 0`, where `should_allow_eval` lets sympy run. */
export function mathrulerAreEqualUnderSympy(groundTruthNormalized: string, givenNormalized: string): boolean {
  const expr = `(${groundTruthNormalized})-(${givenNormalized})`;
  if (!mathrulerShouldAllowEval(expr)) return false;
  return sympyDifferenceIsZero(replaceAll(expr, "^", "**"));
}

const TUPLE_CHARS = "()[]";

/** `split_tuple`: the elements of a bracketed tuple or interval, else the expression itself. */
export function mathrulerSplitTuple(input: string): string[] {
  const expr = mathrulerStripCommas(input);
  if (expr.length === 0) return [];
  const inner = expr.slice(1, -1);
  if (
    expr.length > 2 && TUPLE_CHARS.includes(expr[0]) && TUPLE_CHARS.includes(expr[expr.length - 1]) &&
    ![...TUPLE_CHARS].some((c) => inner.includes(c))
  ) return inner.split(",").map(pyStrip);
  return [expr];
}

// `_is_frac`: `^-?[0-9]+.?/0*[1-9][0-9]*.?$` (`.` not a newline, `$` before a final newline too).
const IS_FRAC = /^-?[0-9]+[^\n]?\/0*[1-9][0-9]*[^\n]?\n?$/;

/**
 * `grade_answer(given_answer, ground_truth)`; `null` stands for Python's `None`.
 *
 * @example
 * ```ts
 * mathrulerGradeAnswer("\\frac{1}{2}", "0.5"); // true
 * mathrulerGradeAnswer("0.333", "\\frac{1}{3}"); // false
 * ```
 */
export function mathrulerGradeAnswer(givenAnswer: string | null, groundTruth: string): boolean {
  if (givenAnswer === null) return false;
  if (mathrulerNormalizeAnswer(groundTruth) === mathrulerNormalizeAnswer(givenAnswer)) return true;
  const gt = mathrulerNormalize(groundTruth);
  const given = mathrulerNormalize(givenAnswer);
  if (gt === given) return true;
  if (given.length === 0) return false;
  const gtElems = mathrulerSplitTuple(gt);
  const givenElems = mathrulerSplitTuple(given);
  if (gtElems.length > 1 && (gt[0] !== given[0] || gt[gt.length - 1] !== given[given.length - 1])) {
    return false;
  }
  if (gtElems.length !== givenElems.length) return false;
  for (let i = 0; i < gtElems.length; i++) {
    const g = gtElems[i];
    const p = givenElems[i];
    let ok: boolean;
    if (IS_FRAC.test(g) && IS_FRAC.test(p)) ok = g === p;
    else if (strIsInt(g) !== strIsInt(p)) ok = false;
    else ok = mathrulerAreEqualUnderSympy(g, p);
    if (!ok) return false;
  }
  // Python leaves `is_correct` unbound (a NameError) for two empty tuples; only "" vs "" gets there,
  // and that already returned true above.
  return gtElems.length > 0;
}

/**
 * `extract_boxed_content`: the last `\boxed{…}`'s contents, stripped, or the string `"None"` (which
 * `grade_answer` then grades like any answer).
 */
export function mathrulerExtractBoxedContent(text: string): string {
  const start = text.lastIndexOf("\\boxed{");
  if (start < 0) return "None";
  let depth = 0;
  const from = start + "\\boxed{".length;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "{") depth++;
    else if (c === "}") depth--;
    if (depth === -1) return pyStrip(text.slice(from, i));
  }
  return "None";
}

const AROUND_TAG_CHARS = new RegExp(`[${PY_WS}]*(<|>|/)[${PY_WS}]*`, "g");

/**
 * The accuracy part of EasyR1's math reward (examples/reward_function/math.py): whitespace around
 * `<`, `>`, `/` removed from the response, then
 * `grade_answer(extract_boxed_content(response), ground_truth)`.
 */
export function mathrulerGrade(response: string, gold: string): boolean {
  const cleaned = response.replace(AROUND_TAG_CHARS, "$1");
  return mathrulerGradeAnswer(mathrulerExtractBoxedContent(cleaned), gold);
}

/**
 * Reproduction of Qwen2.5-Math's answer grading: `math_equal(strip_string(pred), strip_string(gold))`
 * with `include_percentage=True, is_close=True` (Qwen2.5-Math, evaluation/grader.py, math_equal;
 * evaluation/parser.py, strip_string and extract_answer). Quirks are kept on purpose: unit words are
 * deleted wherever they stand alone (`\sec^2` loses `sec`, `a` vanishes from `(a+5)`), `and` is
 * removed from any string, number words become digits, and a float that overflows to infinity
 * equals any other infinity (Python's `isclose(inf, inf)`), so `10^{400}` equals `10^{401}` as in the
 * reference, whose numeric fallback compares `float(N(a))` with `float(N(b))`.
 *
 * sympy is approximated: LaTeX is read by rlif's LaTeX-to-mathjs converter instead of
 * `parse_latex`/`latex2sympy` (so `\sum`, `\int` and other constructs it lacks are unparseable,
 * equal only as identical text; `e` and `i` are plain symbols, as parse_latex reads them; roots are
 * principal powers). `a.equals(b) or simplify(a - b) == 0` becomes evaluation at seeded random
 * points: exact (bigint rationals at integer points) when both sides are polynomials or rational
 * functions, with factorials and integer powers, else float64 with relative tolerance 1e-9. Numbers
 * stay exact there, so with free symbols `10^{400}x` and `10^{401}x` differ as in sympy; only the
 * constant fallback `float(N(a))` rounds. Relations follow `Relational.equals` and the
 * `abs(lhs - rhs)` comparison; matrix entries are rounded half away from zero rather than half to
 * even. The reference's evaluation
 * (evaluation/evaluate.py) runs each `math_equal` in a process pool with a 3 s timeout and scores a
 * timeout as wrong; here a one-second deadline plays that part, and nesting deeper than Python's
 * recursion limit is likewise false.
 *
 * @module
 */

import { type MathNode, parse } from "mathjs";
import { latexToMathjs } from "../latex_to_mathjs.ts";
import { seededRandom } from "../../data/rng.ts";

// deno-fmt-ignore
const BASE_UNITS = [
  "east", "degree", "mph", "kmph", "ft", "m sqaure", " m east", "sq m", "deg", "mile", "q .", "monkey",
  "prime", "ratio", "profit of rs", "rd", "o", "gm", "p . m", "lb", "tile", "per", "dm", "lt", "gain", "ab",
  "way", "west", "a .", "b .", "c .", "d .", "e .", "f .", "g .", "h .", "t", "a", "h", "no change", "men",
  "soldier", "pie", "bc", "excess", "st", "inches", "noon", "percent", "by", "gal", "kmh", "c", "acre",
  "rise", "a . m", "th", "π r 2", "sq", "mark", "l", "toy", "coin", "sq . m", "gallon", "° f", "profit",
  "minw", "yr", "women", "feet", "am", "pm", "hr", "cu cm", "square", "v â € ™", "are", "rupee", "rounds",
  "cubic", "cc", "mtr", "s", "ohm", "number", "kmph", "day", "hour", "minute", "min", "second", "man",
  "woman", "sec", "cube", "mt", "sq inch", "mp", "∏ cm ³", "hectare", "more", "sec", "unit", "cu . m",
  "cm 2", "rs .", "rs", "kg", "g", "month", "km", "m", "cm", "mm", "apple", "liter", "loss", "yard", "pure",
  "year", "increase", "decrease", "d", "less", "Surface", "litre", "pi sq m", "s .", "metre", "meter",
  "inch",
];

/** The unit words strip_string deletes (parser.py's `unit_texts`, plurals appended as there). */
export const QWEN_UNIT_TEXTS: readonly string[] = [...BASE_UNITS, ...BASE_UNITS.map((t) => `${t}s`)];

// Python's `\W` on str patterns is Unicode-aware; a unit is a regex source there (`.` matches any char).
const NON_WORD = "[^\\p{L}\\p{N}_]";
const UNIT_PATTERNS = QWEN_UNIT_TEXTS.map((unit) => ({
  // The longest dot-free piece must occur for the pattern to match: a cheap pre-check on long inputs.
  literal: unit.split(".").reduce((a, b) => (b.length > a.length ? b : a), ""),
  re: new RegExp(`(^|${NON_WORD})${unit}($|${NON_WORD})`, "gu"),
}));

// deno-fmt-ignore
const SMALL_NUMBERS = [
  "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
  "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
];
const TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/** word2number's `american_number_system` without "point", which it treats separately. */
const WORD_VALUES: Record<string, number> = {
  ...Object.fromEntries(SMALL_NUMBERS.map((w, i) => [w, i])),
  ...Object.fromEntries(TENS.map((w, i) => [w, 20 + 10 * i])),
  hundred: 100,
  thousand: 1000,
  million: 1000000,
  billion: 1000000000,
};

function numberFormation(words: string[]): number {
  const n = words.map((w) => WORD_VALUES[w]);
  if (n.length === 0) throw new RangeError("empty number phrase");
  if (n.length === 4) return n[0] * n[1] + n[2] + n[3];
  if (n.length === 3) return n[0] * n[1] + n[2];
  if (n.length === 2) return n.includes(100) ? n[0] * n[1] : n[0] + n[1];
  return n[0];
}

/**
 * word2number's `w2n.word_to_num` as strip_string uses it: the number named by the number words in
 * `text` (other words are ignored), or null where word2number raises. Returns the string Python's
 * `str()` gives for the result.
 */
export function wordToNumber(text: string): string | null {
  const s = text.replaceAll("-", " ").toLowerCase();
  if (/^\d+$/.test(s)) return s.length > 4300 ? null : BigInt(s).toString();
  const words = s.trim().split(/\s+/).filter((w) => w in WORD_VALUES || w === "point");
  if (words.length === 0) return null;
  const count = (w: string) => words.filter((x) => x === w).length;
  if (["thousand", "million", "billion", "point"].some((w) => count(w) > 1)) return null;
  let ints = words;
  let decimals: string[] = [];
  const point = words.indexOf("point");
  if (point >= 0) {
    decimals = words.slice(point + 1);
    ints = words.slice(0, point);
  }
  const bi = ints.indexOf("billion");
  const mi = ints.indexOf("million");
  const th = ints.indexOf("thousand");
  if ((th > -1 && (th < mi || th < bi)) || (mi > -1 && mi < bi)) return null;
  let total = 0;
  try {
    if (ints.length === 1) total += WORD_VALUES[ints[0]];
    else if (ints.length > 1) {
      if (bi > -1) total += numberFormation(ints.slice(0, bi)) * 1e9;
      if (mi > -1) total += numberFormation(ints.slice(bi > -1 ? bi + 1 : 0, mi)) * 1e6;
      if (th > -1) total += numberFormation(ints.slice(mi > -1 ? mi + 1 : bi > -1 ? bi + 1 : 0, th)) * 1000;
      const last = ints.length - 1;
      if (th > -1 && th !== last) total += numberFormation(ints.slice(th + 1));
      else if (mi > -1 && mi !== last && th !== last) total += numberFormation(ints.slice(mi + 1));
      else if (bi > -1 && bi !== last) total += numberFormation(ints.slice(bi + 1));
      else if (th === -1 && mi === -1 && bi === -1) total += numberFormation(ints);
    }
  } catch {
    return null;
  }
  if (decimals.length > 0) {
    const digits = decimals.map((w) => WORD_VALUES[w]);
    // get_decimal_sum returns the int 0 when a word after "point" is not a digit word.
    if (digits.some((d) => d === undefined || d >= 10)) return String(total);
    return pyFloatStr(total + Number(`0.${digits.join("")}`));
  }
  return String(total);
}

/** Python's `str(float)`: integral values keep a `.0`. */
function pyFloatStr(x: number): string {
  return Number.isInteger(x) && Math.abs(x) < 1e16 ? `${x}.0` : String(x);
}

function fixFracs(s: string): string {
  const parts = s.split("\\frac");
  let out = parts[0];
  for (const sub of parts.slice(1)) {
    out += "\\frac";
    if (sub.length > 0 && sub[0] === "{") out += sub;
    else if (sub.length < 2) return s;
    else if (sub[1] !== "{") out += `{${sub[0]}}{${sub[1]}}${sub.slice(2)}`;
    else out += `{${sub[0]}}${sub[1]}${sub.slice(2)}`;
  }
  return out;
}

function fixSlash(s: string): string {
  const parts = s.split("/");
  if (parts.length !== 2) return s;
  // Python's `int(x)` then `assert string == f"{a}/{b}"`: only canonical integers survive the round trip.
  const ok = (p: string) => p.includes("sqrt") || /^(?:0|-?[1-9]\d*)$/.test(p);
  return ok(parts[0]) && ok(parts[1]) ? `\\frac{${parts[0]}}{${parts[1]}}` : s;
}

/** Python's `str.isspace()` for one UTF-16 unit (scanned by hand: a `\s+$` regex is quadratic in V8). */
function isPySpace(c: number): boolean {
  return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f ||
    c === 0x3000;
}

function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isPySpace(s.charCodeAt(start))) start++;
  while (end > start && isPySpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/**
 * Python's `re.sub(open + r"(.*?)" + close, template)`, scanned by hand: V8's backtracking makes
 * the regex quadratic on inputs with many `open`s and no `close`. `keep` says whether the inner text
 * is kept (`\1`) or the whole match dropped; `replacement` replaces the opening marker.
 */
function replaceLazy(s: string, open: string, close: string, keep: boolean, replacement = ""): string {
  let out = "";
  let pos = 0;
  while (true) {
    const start = s.indexOf(open, pos);
    if (start < 0) break;
    const end = s.indexOf(close, start + open.length);
    // A later opening has no closing after it either, and `.` in Python stops at a newline.
    if (end < 0) break;
    const inner = s.slice(start + open.length, end);
    if (inner.includes("\n")) {
      out += s.slice(pos, start + 1);
      pos = start + 1;
      continue;
    }
    out += s.slice(pos, start) + replacement + (keep ? inner : "");
    pos = end + close.length;
  }
  return out + s.slice(pos);
}

/** Python's `str.strip(chars)`. */
function stripChars(s: string, chars: string): string {
  return lstripChars(rstripChars(s, chars), chars);
}

function rstripChars(s: string, chars: string): string {
  let end = s.length;
  while (end > 0 && chars.includes(s[end - 1])) end--;
  return s.slice(0, end);
}

function lstripChars(s: string, chars: string): string {
  let start = 0;
  while (start < s.length && chars.includes(s[start])) start++;
  return s.slice(start);
}

/**
 * parser.py's `strip_string`: removes layout, units, `\text{}`, dollars and percent signs,
 * normalises fractions and `a/b`, converts number words, and drops a short `k =` prefix.
 */
export function qwenStripString(input: string, skipUnit = false): string {
  let s = pyStrip(input).replaceAll("\n", "");
  s = rstripChars(s, ".").replaceAll("\\!", "");
  s = replaceLazy(s, "\\begin{array}{", "}", false, "\\begin{pmatrix}").replaceAll(
    "\\end{array}",
    "\\end{pmatrix}",
  );
  s = s.replaceAll("bmatrix", "pmatrix").replaceAll("tfrac", "frac").replaceAll("dfrac", "frac");
  s = s.replaceAll("\\neq", "\\ne").replaceAll("\\leq", "\\le").replaceAll("\\geq", "\\ge");
  s = s.replaceAll("\\left", "").replaceAll("\\right", "").replaceAll("\\{", "{").replaceAll("\\}", "}");
  // `re.sub(r"\\text{.*?}$", "", s)`: from the first `\text{` when the string ends in a later `}`.
  const text = s.indexOf("\\text{");
  const noTrailingText = text >= 0 && s.endsWith("}") && s.length - 1 >= text + 6 && !s.includes("\n", text)
    ? pyStrip(s.slice(0, text))
    : s;
  if (noTrailingText !== "" && noTrailingText !== s) s = noTrailingText;
  if (!skipUnit) {
    for (let round = 0; round < 2; round++) {
      for (const { literal, re } of UNIT_PATTERNS) {
        if (!s.includes(literal)) continue;
        const t = s.replace(re, "$1$2");
        if (t !== "") s = t;
      }
    }
  }
  s = s.replaceAll("^{\\circ}", "").replaceAll("^\\circ", "");
  s = s.replaceAll("\\$", "").replaceAll("$", "").replaceAll("\\(", "").replaceAll("\\)", "");
  s = wordToNumber(s) ?? s;
  s = replaceLazy(s, "\\text{", "}", true);
  for (const key of ["x=", "y=", "z=", "x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to"]) {
    s = s.replaceAll(key, "");
  }
  s = s.replaceAll("\\emptyset", "{}").replaceAll("(-\\infty,\\infty)", "\\mathbb{R}");
  s = s.replaceAll("\\%", "").replaceAll("%", "");
  s = s.replaceAll(" .", " 0.").replaceAll("{.", "{0.");
  // parser.py's unwrapping of `{x}`/`(x)`/`[x]` requires `str.isalnum()` of a string that starts with a
  // bracket, which never holds: it is a no-op there and omitted here.
  s = s.replaceAll("infinity", "\\infty");
  if (!s.includes("\\infty")) s = s.replaceAll("inf", "\\infty");
  s = s.replaceAll("+\\inity", "\\infty").replaceAll("and", "").replaceAll("\\mathbf", "");
  s = replaceLazy(s, "\\mbox{", "}", false);
  if (s.includes("j") && !s.includes("i")) s = s.replaceAll("j", "i");
  // `(\d+)\.0*([^\d])` and `(\d+)\.0*$`, anchored at the start of a digit run (where every match
  // starts) and with the run taken atomically, so long digit runs cost linear time.
  s = s.replace(/(?<!\d)(?=(\d+))\1\.0*([^\d])/g, "$1$2").replace(/(?<!\d)(?=(\d+))\1\.0*$/, "$1");
  if (s.length === 0) return s;
  if (s[0] === ".") s = `0${s}`;
  const sides = s.split("=");
  if (sides.length === 2 && sides[0].length <= 2) s = sides[1];
  s = s.replace(/\\sqrt([\p{L}\p{N}_]+)/gu, "\\sqrt{$1}").replaceAll(" ", "");
  return fixSlash(fixFracs(s));
}

function lastBoxedContent(text: string): string {
  const i = text.lastIndexOf("boxed");
  const ans = text.slice(i + "boxed".length);
  if (ans.length === 0) return "";
  if (ans[0] !== "{") return pyStrip(ans.split("$")[0]);
  let depth = 1;
  for (let k = 1; k < ans.length; k++) {
    if (ans[k] === "{") depth++;
    else if (ans[k] === "}" && --depth === 0) return ans.slice(1, k);
  }
  return ans.slice(1);
}

/**
 * parser.py's `extract_answer(pred_str, "math")`: the minerva "final answer is $…$. I hope" form,
 * else the last `boxed` argument, else the text after "he answer is" / "final answer is" / "答案是",
 * else the last number; then line joins, edge `:`/`.`/`/` trimming and {@link qwenStripString}.
 */
export function qwenExtractAnswer(response: string): string {
  const text = response.replaceAll("\u043a\u0438", "");
  let pred: string;
  const minerva = text.indexOf("final answer is $");
  if (minerva >= 0 && text.includes("$. I hope")) {
    pred = pyStrip(text.slice(minerva + "final answer is $".length).split("$. I hope")[0]);
  } else if (text.includes("boxed")) {
    pred = lastBoxedContent(text);
  } else if (text.includes("he answer is")) {
    pred = pyStrip(text.slice(text.lastIndexOf("he answer is") + "he answer is".length));
  } else if (text.includes("final answer is")) {
    pred = pyStrip(text.slice(text.lastIndexOf("final answer is") + "final answer is".length));
  } else if (text.includes("答案是")) {
    pred = pyStrip(pyStrip(text.split("答案是")[1]).split("\n\n")[0]);
  } else {
    const numbers = text.replaceAll(",", "").match(/-?\d*\.?\d+/g);
    pred = numbers ? numbers[numbers.length - 1] : "";
  }
  pred = pred.replace(/\n\s*/g, "");
  if (pred.startsWith(":")) pred = pred.slice(1);
  if (pred.endsWith(".")) pred = pred.slice(0, -1);
  if (pred.endsWith("/")) pred = pred.slice(0, -1);
  return qwenStripString(pred);
}

/** Python's `float(s)`: decimal, exponent, underscores between digits, inf/infinity/nan; else null. */
export function pythonFloat(text: string): number | null {
  const s = pyStrip(text);
  if (/^[+-]?(?:inf|infinity)$/i.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(s)) return NaN;
  const digits = "\\d(?:_?\\d)*";
  const re = new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  return re.test(s) ? Number(s.replaceAll("_", "")) : null;
}

/** grader.py's `parse_digits`: commas removed, then a float, or a percentage divided by 100. */
export function qwenParseDigits(text: string): number | null {
  let s = text.replaceAll(",", "");
  const value = pythonFloat(s);
  if (value !== null) return value;
  if (s.endsWith("%")) {
    s = s.slice(0, -1);
    if (s.endsWith("\\")) s = s.slice(0, -1);
    const v = pythonFloat(s);
    if (v !== null) return v / 100;
  }
  return null;
}

/** Python's `math.isclose(a, b, rel_tol=1e-4)`: infinities are close only to themselves. */
export function qwenNumericEqual(prediction: number, reference: number): boolean {
  if (prediction === reference) return true;
  if (!Number.isFinite(prediction) || !Number.isFinite(reference)) return false;
  return Math.abs(prediction - reference) <= 1e-4 * Math.max(Math.abs(prediction), Math.abs(reference));
}

/** The numeric step of math_equal: a verdict when both sides are numbers, else null. */
function numericalVerdict(
  pred: string,
  ref: string,
  includePercentage: boolean,
  isClose: boolean,
): boolean | null {
  const p = qwenParseDigits(pred);
  const r = qwenParseDigits(ref);
  if (p === null || r === null) return null;
  const targets = includePercentage ? [r / 100, r, r * 100] : [r];
  return targets.some((t) => isClose ? qwenNumericEqual(p, t) : t === p);
}

function choiceAnswerClean(pred: string): string {
  let s = lstripChars(
    rstripChars(rstripChars(rstripChars(pred.replace(/^\n+|\n+$/g, ""), "."), "/"), " "),
    ":",
  );
  s = lstripChars(s, " ");
  const letters = s.toUpperCase().match(/\b[A-E]\b/g);
  s = letters ? letters[letters.length - 1] : stripChars(pyStrip(s), ".");
  return rstripChars(rstripChars(s, "."), "/");
}

/**
 * grader.py's `str_to_pmatrix`. `re.findall(r"\{.*,.*\}")` on a line finds at most one match: from the
 * first `{` to the last `}`, when a comma lies between them.
 */
function strToPmatrix(text: string): string {
  const s = pyStrip(text);
  const open = s.indexOf("{");
  const comma = open < 0 ? -1 : s.indexOf(",", open + 1);
  const close = s.lastIndexOf("}");
  if (s.includes("\n")) return (s.match(/\{.*,.*\}/g) ?? []).map(toPmatrix).join(", ");
  if (open < 0 || comma < 0 || close < comma) return "";
  return toPmatrix(s.slice(open, close + 1));
}

function toPmatrix(braced: string): string {
  return `\\begin{pmatrix}${stripChars(braced, "{}").replaceAll(",", "\\")}\\end{pmatrix}`;
}

const isListFormat = (s: string) => /^[([].+[)\]]/.test(s);
const isMatrixFormat = (s: string) =>
  (s.startsWith("\\begin{pmatrix}") || s.startsWith("\\begin{bmatrix}")) &&
  (s.endsWith("\\end{pmatrix}") || s.endsWith("\\end{bmatrix}"));

/** Python's recursion limit: deeper nesting raises there, which the evaluation scores as wrong. */
const MAX_DEPTH = 900;

interface Budget {
  deadline: number;
  depth: number;
}

/**
 * grader.py's `math_equal(prediction, reference, include_percentage, is_close)` on already stripped
 * answers, as on the repository's main branch (2025-08; an interim refactor returned early from the
 * list and matrix steps): text equality, choice letters, numbers (with percentage variants, final
 * when both sides are numbers), bracket-insensitive text, lists and matrices element by element,
 * equations, then {@link qwenSymbolicEqual}. Bounded by a one-second deadline; a comparison that
 * runs out of time is false, as in the reference.
 */
export function qwenMathEqual(
  prediction: string,
  reference: string,
  includePercentage = true,
  isClose = true,
): boolean {
  return mathEqual(prediction, reference, includePercentage, isClose, {
    deadline: performance.now() + 1000,
    depth: 0,
  });
}

function mathEqual(pred: string, ref: string, pct: boolean, close: boolean, budget: Budget): boolean {
  if (budget.depth > MAX_DEPTH || performance.now() > budget.deadline) return false;
  const inner: Budget = { deadline: budget.deadline, depth: budget.depth + 1 };
  if (pyStrip(pred).toLowerCase() === pyStrip(ref).toLowerCase()) return true;
  if (["A", "B", "C", "D", "E"].includes(ref) && choiceAnswerClean(pred) === ref) return true;
  // Two numbers are decided here and nowhere else.
  const numeric = numericalVerdict(pred, ref, pct, close);
  if (numeric !== null) return numeric;
  if (!pred) return false;
  let reference = pyStrip(ref);
  const prediction = pyStrip(pred);
  if (prediction.includes("pmatrix") && !reference.includes("pmatrix")) reference = strToPmatrix(reference);
  let p = prediction;
  let r = reference;
  if (
    (p.startsWith("[") && p.endsWith("]") && !r.startsWith("(")) ||
    (p.startsWith("(") && p.endsWith(")") && !r.startsWith("["))
  ) {
    p = stripChars(p, "[]()");
    r = stripChars(r, "[]()");
  }
  p = p.replace(/[{}()]/g, "");
  r = r.replace(/[{}()]/g, "");
  if (p.toLowerCase() === r.toLowerCase()) return true;
  // Each structured comparison below returns only on success; a failure falls through to the next.
  if (isListFormat(prediction) && isListFormat(reference)) {
    const a = prediction.slice(1, -1).split(",");
    const b = reference.slice(1, -1).split(",");
    if (a.length === b.length && a.every((x, i) => mathEqual(x, b[i], pct, close, inner))) return true;
  }
  if (isMatrixFormat(prediction) && isMatrixFormat(reference)) {
    if (compareMatrices(prediction, reference, pct, close, inner)) return true;
  }
  const eqCount = (s: string) => s.split("=").length - 1;
  const simpleEquation = (s: string) => eqCount(s) === 1 && pyStrip(s.split("=")[0]).length <= 2;
  if (eqCount(prediction) === 1 && eqCount(reference) === 1) {
    const form = (s: string) => `${pyStrip(s.split("=")[0])} - (${pyStrip(s.split("=")[1])})`;
    if (
      symbolicEqual(form(prediction), form(reference), inner.deadline) ||
      symbolicEqual(`-(${form(prediction)})`, form(reference), inner.deadline)
    ) return true;
  } else if (simpleEquation(prediction) && !reference.includes("=")) {
    if (mathEqual(prediction.split("=")[1], reference, pct, close, inner)) return true;
  } else if (simpleEquation(reference) && !prediction.includes("=")) {
    if (mathEqual(prediction, reference.split("=")[1], pct, close, inner)) return true;
  }
  return symbolicEqual(prediction, reference, inner.deadline);
}

function compareMatrices(pred: string, ref: string, pct: boolean, close: boolean, budget: Budget): boolean {
  const rows = (s: string) =>
    s.slice("\\begin{pmatrix}".length, -"\\end{pmatrix}".length).split("\\\\").map(pyStrip).filter((l) => l);
  const a = rows(pred);
  const b = rows(ref);
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i].split("&");
    const y = b[i].split("&");
    if (x.length !== y.length || !x.every((c, j) => mathEqual(c, y[j], pct, close, budget))) return false;
  }
  return true;
}

// ---- symbolic_equal ----

/** Inputs longer than this are not parsed: sympy would not finish them within the timeout either. */
const MAX_SYMBOLIC_LENGTH = 2000;
const MAX_NODES = 600;
const POINTS = 6;

/** A parsed side: a scalar expression or a matrix of them. */
type Parsed =
  | { kind: "scalar"; node: MathNode }
  | { kind: "relation"; relation: Relation }
  | { kind: "matrix"; cells: MathNode[][] };

/** sympy's roots are principal powers: `\\sqrt[3]{-8}` is complex there, unlike mathjs's `nthRoot`. */
function principalRoots(node: MathNode): MathNode {
  return node.transform((n) => {
    const f = n as unknown as { type: string; fn?: { name?: string }; args?: MathNode[] };
    if (f.type !== "FunctionNode" || f.fn?.name !== "nthRoot" || f.args?.length !== 2) return n;
    return parse(`(${f.args[0].toString()}) ^ (1 / (${f.args[1].toString()}))`);
  });
}

/**
 * Prefix of the symbols that stand for long numeric literals: mathjs would round them to doubles,
 * while sympy keeps `100000000000000000001` exact.
 */
const LITERAL = "qwenlit_";

function literalText(name: string): string | null {
  return name.startsWith(LITERAL) ? name.slice(LITERAL.length).replace("_", ".") : null;
}

function protectLongLiterals(mathjs: string): string {
  return mathjs.replace(
    /(?<![\w.])(\d{16,}(?:\.\d*)?|\d*\.\d{16,}|\d+\.\d+)(?![\w.])/g,
    (m) => m.replace(/\D/g, "").length > 15 ? LITERAL + m.replace(".", "_") : m,
  );
}

function parseScalar(latex: string): MathNode | null {
  try {
    const node = principalRoots(parse(protectLongLiterals(latexToMathjs(latex))));
    let count = 0;
    node.traverse(() => count++);
    return count > MAX_NODES ? null : node;
  } catch {
    return null;
  }
}

/** A relation `lhs op rhs` as sympy's parse_latex reads it (`\\ge` binds even before a letter). */
interface Relation {
  op: "=" | "<" | ">" | "<=" | ">=" | "!=";
  lhs: MathNode;
  rhs: MathNode;
}

const RELATION = /<=|>=|!=|=|<|>|\\(?:le|ge|lt|gt)|\\ne(?!g|w)/g;
const RELATION_OPS: Record<string, Relation["op"]> = {
  "<=": "<=",
  ">=": ">=",
  "!=": "!=",
  "=": "=",
  "<": "<",
  ">": ">",
  "\\le": "<=",
  "\\ge": ">=",
  "\\lt": "<",
  "\\gt": ">",
  "\\ne": "!=",
};

function parseRelation(text: string): Relation | null {
  const ops = [...text.matchAll(RELATION)];
  if (ops.length !== 1) return null;
  const at = ops[0].index!;
  const lhs = parseScalar(text.slice(0, at));
  const rhs = parseScalar(text.slice(at + ops[0][0].length));
  return lhs && rhs ? { op: RELATION_OPS[ops[0][0]], lhs, rhs } : null;
}

function parseSide(text: string): Parsed | null {
  if (text.length > MAX_SYMBOLIC_LENGTH) return null;
  const m = /^\(?\s*\\begin\{[pb]matrix\}(.*)\\end\{[pb]matrix\}\s*\)?$/s.exec(text);
  if (m) {
    const rows = m[1].split("\\\\").map(pyStrip).filter((r) => r !== "");
    const cells = rows.map((r) => r.split("&").map(parseScalar));
    if (cells.length === 0 || cells.some((r) => r.some((c) => c === null) || r.length !== cells[0].length)) {
      return null;
    }
    return { kind: "matrix", cells: cells as MathNode[][] };
  }
  // `_parse` tries each parser on the text with `\\\\` turned into `\\` first, then on the text as is.
  const unescaped = text.replaceAll("\\\\", "\\");
  for (const s of [unescaped, text]) {
    const relation = parseRelation(s);
    if (relation) return { kind: "relation", relation };
    const node = parseScalar(s);
    if (node) return { kind: "scalar", node };
  }
  return null;
}

// parse_latex reads `e` and `i` as plain symbols; only `\\pi` and `\\infty` are constants.
const CONSTANTS = new Set(["pi", "Infinity", "NaN"]);

function freeSymbols(node: MathNode, into: Set<string>): Set<string> {
  node.traverse((n, path, parent) => {
    if (n.type === "SymbolNode" && !(parent?.type === "FunctionNode" && path === "fn")) {
      const name = (n as unknown as { name: string }).name;
      if (!CONSTANTS.has(name) && literalText(name) === null) into.add(name);
    }
  });
  return into;
}

/** An exact rational: numerator and positive denominator, in lowest terms. */
type Rational = [bigint, bigint];

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
}

function rat(n: bigint, d: bigint): Rational {
  if (d === 0n) throw new RangeError("division by zero");
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return [n / g, d / g];
}

function decimalRational(text: string): Rational | null {
  const m = /^(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/.exec(text);
  if (!m || text.length > 400) return null;
  const frac = m[2] ?? "";
  const exp = BigInt(m[3] ?? "0") - BigInt(frac.length);
  const digits = BigInt((m[1] || "0") + frac);
  if (exp > 400n || exp < -400n) return null;
  return exp >= 0n ? [digits * 10n ** exp, 1n] : rat(digits, 10n ** -exp);
}

/** Bits a rational may grow to before exact evaluation gives up (the float path decides instead). */
const MAX_BITS = 1 << 15;

function bitLength(r: Rational): number {
  return (r[0] < 0n ? -r[0] : r[0]).toString(16).length * 4 + r[1].toString(16).length * 4;
}

const factorials = new Map<bigint, bigint>();

/** n! for 0 ≤ n ≤ 2000, cached: an input may repeat the same factorial many times. */
function factorial(n: bigint): bigint | null {
  if (n < 0n || n > 2000n) return null;
  let f = factorials.get(n);
  if (f === undefined) {
    f = 1n;
    for (let k = 2n; k <= n; k++) f *= k;
    if (factorials.size > 64) factorials.clear();
    factorials.set(n, f);
  }
  return f;
}

/**
 * Exact value of a polynomial or rational-function expression at a rational point; null where the
 * expression uses anything else (roots, functions, non-integer powers) or grows too large.
 */
function evalRational(node: MathNode, scope: Map<string, Rational>): Rational | null {
  const n = node as unknown as {
    type: string;
    value?: unknown;
    name?: string;
    op?: string;
    fn?: string;
    args?: MathNode[];
    content?: MathNode;
  };
  switch (n.type) {
    case "ConstantNode":
      return typeof n.value === "number" && Number.isFinite(n.value)
        ? decimalRational(String(n.value).replace("e+", "e"))
        : null;
    case "SymbolNode": {
      const literal = literalText(n.name!);
      return literal !== null ? decimalRational(literal) : scope.get(n.name!) ?? null;
    }
    case "ParenthesisNode":
      return evalRational(n.content!, scope);
    case "FunctionNode": {
      if ((n.fn as unknown as { name?: string })?.name !== "abs" || n.args!.length !== 1) return null;
      const v = evalRational(n.args![0], scope);
      return v && [v[0] < 0n ? -v[0] : v[0], v[1]];
    }
    case "OperatorNode": {
      const args = n.args!.map((a) => evalRational(a, scope));
      if (args.some((a) => a === null)) return null;
      const [a, b] = args as Rational[];
      let out: Rational;
      if (n.fn === "unaryMinus") out = [-a[0], a[1]];
      else if (n.fn === "unaryPlus") out = a;
      else if (n.fn === "add") out = rat(a[0] * b[1] + b[0] * a[1], a[1] * b[1]);
      else if (n.fn === "subtract") out = rat(a[0] * b[1] - b[0] * a[1], a[1] * b[1]);
      else if (n.fn === "multiply") out = rat(a[0] * b[0], a[1] * b[1]);
      else if (n.fn === "divide") {
        if (b[0] === 0n) return null;
        out = rat(a[0] * b[1], a[1] * b[0]);
      } else if (n.fn === "factorial") {
        const f = a[1] === 1n ? factorial(a[0]) : null;
        if (f === null) return null;
        out = [f, 1n];
      } else if (n.fn === "pow") {
        const e = b[0] < 0n ? -b[0] : b[0];
        if (b[1] !== 1n || BigInt(bitLength(a)) * e > BigInt(MAX_BITS)) return null;
        let p: Rational = [a[0] ** e, a[1] ** e];
        if (b[0] < 0n) {
          if (p[0] === 0n) return null;
          p = rat(p[1], p[0]);
        }
        out = p;
      } else return null;
      return bitLength(out) > MAX_BITS ? null : out;
    }
    default:
      return null;
  }
}

type Value = { re: number; im: number }[];

function evalFloat(node: MathNode, scope: Record<string, number>): Value | null {
  const literals: Record<string, number> = {};
  node.traverse((n) => {
    const name = (n as unknown as { name?: string }).name;
    const literal = n.type === "SymbolNode" && name ? literalText(name) : null;
    if (literal !== null) literals[name!] = Number(literal);
  });
  try {
    return flatten(node.compile().evaluate({ ...scope, ...literals }));
  } catch {
    return null;
  }
}

function flatten(v: unknown): Value | null {
  if (typeof v === "number") return [{ re: v, im: 0 }];
  if (v && typeof v === "object" && "re" in v && "im" in v) {
    const c = v as { re: number; im: number };
    return [{ re: c.re, im: c.im }];
  }
  return null;
}

/** Seeded sample points: random integers (for exact evaluation) and reals in (1/2, 5/2) (for floats). */
function points(
  symbols: string[],
  count: number,
): { exact: Map<string, Rational>; real: Record<string, number> }[] {
  const random = seededRandom(0x9e37 + symbols.length);
  // Integers keep every denominator small, so the exact path never pays for big gcds; they are
  // large enough that a rational function is unlikely to hit a pole at one.
  return Array.from({ length: count }, () => ({
    exact: new Map(symbols.map((s) => [s, [BigInt(Math.floor(1000 + 9000 * random())), 1n] as Rational])),
    real: Object.fromEntries(symbols.map((s) => [s, 0.5 + 2 * random()])),
  }));
}

/**
 * Stand-in for `a.equals(b) or simplify(a - b) == 0`: equal exact values at seeded rational points when
 * both sides are rational functions, else equal float values (relative 1e-9) at every point where both
 * are defined, with at least three such points.
 */
function identicallyEqual(a: MathNode, b: MathNode, deadline: number): boolean {
  const symbols = [...freeSymbols(b, freeSymbols(a, new Set()))];
  if (symbols.length > 12) return false;
  const scopes = points(symbols, POINTS);
  let exact = true;
  for (const sc of scopes) {
    if (performance.now() > deadline) return false;
    const x = evalRational(a, sc.exact);
    const y = evalRational(b, sc.exact);
    if (!x || !y) {
      exact = false;
      break;
    }
    if (x[0] !== y[0] || x[1] !== y[1]) return false;
  }
  if (exact) return true;
  let valid = 0;
  for (const sc of scopes) {
    if (performance.now() > deadline) return false;
    const f = sc.real;
    const x = evalFloat(a, f);
    const y = evalFloat(b, f);
    if (!x || !y || [...x, ...y].some((c) => !Number.isFinite(c.re) || !Number.isFinite(c.im))) continue;
    const near = (u: number, v: number) => Math.abs(u - v) <= 1e-9 * Math.max(1, Math.abs(u), Math.abs(v));
    if (!near(x[0].re, y[0].re) || !near(x[0].im, y[0].im)) return false;
    valid++;
  }
  return valid >= Math.min(3, scopes.length);
}

/** `float(N(x))` of a constant expression: its real value (±inf on overflow), or null. */
function floatValue(node: MathNode): number | null {
  if (freeSymbols(node, new Set()).size > 0) return null;
  const v = evalFloat(node, {});
  if (!v || Number.isNaN(v[0].re)) return null;
  return v[0].im === 0 ? v[0].re : null;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const REVERSED: Record<Relation["op"], Relation["op"]> = {
  "=": "=",
  "!=": "!=",
  "<": ">",
  ">": "<",
  "<=": ">=",
  ">=": "<=",
};

/**
 * Relations in symbolic_equal: sympy's `Relational.equals` (same relation, possibly reversed, with
 * equal sides; either side order for `=`/`≠`), then `abs(a.lhs - a.rhs).equals(abs(b.lhs - b.rhs))`,
 * which ignores the relation symbols (so `-x > -1` equals `x < 1`).
 */
function relationsEqual(a: Relation, b: Relation, deadline: number): boolean {
  const same = (x: MathNode, y: MathNode) =>
    x.toString() === y.toString() || identicallyEqual(x, y, deadline);
  const symmetric = a.op === "=" || a.op === "!=";
  if (a.op === b.op && same(a.lhs, b.lhs) && same(a.rhs, b.rhs)) return true;
  if (
    (symmetric || a.op === REVERSED[b.op]) && a.op === REVERSED[b.op] && same(a.lhs, b.rhs) &&
    same(a.rhs, b.lhs)
  ) {
    return true;
  }
  const gap = (r: Relation) => parse(`abs((${r.lhs.toString()}) - (${r.rhs.toString()}))`);
  return identicallyEqual(gap(a), gap(b), deadline);
}

/**
 * grader.py's `symbolic_equal(a, b)`: same parse, `simplify(a - b) == 0` (see
 * {@link identicallyEqual}), `isclose(float(N(a)), float(N(b)), rel_tol=1e-4)`, and matrices equal
 * entry-wise or after rounding entries to three decimals. Unparseable sides are equal only as text.
 */
export function qwenSymbolicEqual(a: string, b: string, deadline = performance.now() + 1000): boolean {
  return symbolicEqual(a, b, deadline);
}

function symbolicEqual(a: string, b: string, deadline: number): boolean {
  if (performance.now() > deadline) return false;
  const pa = parseSide(a);
  const pb = parseSide(b);
  if (!pa || !pb) return !pa && !pb && a === b;
  if (pa.kind === "scalar" && pb.kind === "scalar") {
    if (pa.node.toString() === pb.node.toString()) return true;
    if (identicallyEqual(pa.node, pb.node, deadline)) return true;
    const x = floatValue(pa.node);
    const y = floatValue(pb.node);
    return x !== null && y !== null && qwenNumericEqual(x, y);
  }
  if (pa.kind === "relation" && pb.kind === "relation") {
    return relationsEqual(pa.relation, pb.relation, deadline);
  }
  if (pa.kind === "matrix" && pb.kind === "matrix") {
    const ca = pa.cells;
    const cb = pb.cells;
    if (ca.length !== cb.length || ca[0].length !== cb[0].length) return false;
    const cells = ca.flatMap((row, i) => row.map((c, j) => [c, cb[i][j]] as const));
    if (cells.every(([x, y]) => x.toString() === y.toString() || identicallyEqual(x, y, deadline))) {
      return true;
    }
    return cells.every(([x, y]) => {
      const u = floatValue(x);
      const v = floatValue(y);
      return u !== null && v !== null && round3(u) === round3(v);
    });
  }
  return false;
}

/**
 * The Qwen2.5-Math verdict for a full response: {@link qwenExtractAnswer} on the response (the
 * `extract_answer(..., "math")` pipeline: last `\boxed{}` first), {@link qwenStripString} on the gold
 * answer, then {@link qwenMathEqual}.
 */
export function qwenMathGrade(response: string, gold: string): boolean {
  return qwenMathEqual(qwenExtractAnswer(response), qwenStripString(gold));
}

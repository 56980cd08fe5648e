/**
 * Mathematical answer equivalence: normalise both sides, parse their structure, then compare as
 * strings, as numbers, element by element (sets, tuples, intervals, unions), as relations
 * (equations and inequalities up to a constant factor) and symbolically through mathjs.
 *
 * @module
 */

import { type AnswerNode, isNameLike, isolateAnswer, parseAnswer, type RelationOp } from "./answer_parse.ts";
import { cleanLatex, nestingDepth } from "./latex.ts";
import { exactEqual, type ExactValue, rational, TOO_LARGE } from "./exact.ts";
import {
  constantExactValue,
  constantValue,
  decimalMatches,
  type ExactLiteral,
  expressionsEqual,
  parseExactLiteral,
  proportional,
} from "./symbolic.ts";

/** Options of {@link isEquivalent}. */
export interface EquivalenceOptions {
  /** Time budget in milliseconds; past it the comparison stops and answers false. Default 500. */
  timeoutMs?: number;
  /** Skip finding the answer inside the texts (they are answers already). Default false. */
  answersOnly?: boolean;
}

// Longer answers are compared as strings only: the structural parsers are not meant for essays.
const MAX_STRUCTURED_LENGTH = 2000;
const MAX_CLEANED_LENGTH = 20000;
const MAX_NESTING = 40;
const MAX_LIST_ITEMS = 64;

interface Context {
  deadline: number;
  predPercent: boolean;
  goldPercent: boolean;
}

/**
 * The normalised form of an answer: its answer part isolated (boxed value, last math region, …) and
 * cleaned. Two answers with the same normal form are equivalent; useful as a majority-vote key.
 *
 * @example
 * ```ts
 * import { normalizeAnswer } from "./mod.ts";
 * normalizeAnswer("The answer is $\\boxed{\\dfrac{1}{2}}$."); // "\\frac{1}{2}"
 * ```
 */
export function normalizeAnswer(text: string): string {
  try {
    const { text: clean, percent } = cleanLatex(isolateAnswer(text));
    // Spaces only matter between two letters or digits (`\pi x`, `10 and 20`).
    const spaced = clean.replace(/ (?![A-Za-z0-9])|(?<![A-Za-z0-9]) /g, "");
    return percent ? `${spaced}\\%` : spaced;
  } catch {
    return text.trim();
  }
}

const compact = (s: string) => s.replace(/\s+/g, "");

/**
 * Is the predicted answer mathematically equivalent to the reference? Both may be bare answers
 * (`"1/2"`) or texts containing them (`"so $x=\\boxed{\\frac12}$."`). Never throws; a comparison that
 * runs past `timeoutMs` answers false.
 *
 * @example
 * ```ts
 * import { isEquivalent } from "./mod.ts";
 * isEquivalent("\\dfrac{1}{2}", "0.5"); // true
 * isEquivalent("x = 5", "5"); // true
 * isEquivalent("(1, 4.5)", "(1, \\frac{9}{2})"); // true
 * isEquivalent("[0, 1)", "(0, 1)"); // false
 * ```
 */
export function isEquivalent(pred: string, gold: string, options: EquivalenceOptions = {}): boolean {
  try {
    if (typeof pred !== "string" || typeof gold !== "string") return false;
    if (pred.trim() !== "" && pred.trim() === gold.trim()) return true;
    const deadline = performance.now() + (options.timeoutMs ?? 500);
    const pa = options.answersOnly ? pred : isolateAnswer(pred);
    const ga = options.answersOnly ? gold : isolateAnswer(gold);
    if (pa.length > MAX_CLEANED_LENGTH || ga.length > MAX_CLEANED_LENGTH) return compact(pa) === compact(ga);
    const p = cleanLatex(pa);
    const g = cleanLatex(ga);
    if (p.text === "" || g.text === "") return false;
    if (compact(p.text) === compact(g.text) && p.percent === g.percent) return true;
    if (p.text.length > MAX_STRUCTURED_LENGTH || g.text.length > MAX_STRUCTURED_LENGTH) return false;
    if (nestingDepth(p.text) > MAX_NESTING || nestingDepth(g.text) > MAX_NESTING) return false;
    const ctx: Context = { deadline, predPercent: p.percent, goldPercent: g.percent };
    return nodesEqual(parseAnswer(p.text), parseAnswer(g.text), ctx);
  } catch {
    return false;
  }
}

function nodesEqual(p: AnswerNode, g: AnswerNode, ctx: Context): boolean {
  if (performance.now() > ctx.deadline) return false;
  if (p.kind === "relation" && g.kind === "relation") return relationsEqual(p, g, ctx);
  if (p.kind === "relation" && g.kind === "tuple") {
    const interval = inequalityToInterval(p);
    if (interval) return nodesEqual(interval, g, ctx);
  }
  if (g.kind === "relation" && p.kind === "tuple") {
    const interval = inequalityToInterval(g);
    if (interval) return nodesEqual(p, interval, ctx);
  }
  if (p.kind === "relation") {
    // The prediction's value is the end of its equality chain: `x = 2 + 3 = 5` answers 5.
    return p.ops.every((o) => o === "=") && nodesEqual(parseAnswer(p.parts[p.parts.length - 1]), g, ctx);
  }
  if (g.kind === "relation") {
    // A reference `x = 5` asks for 5; a reference `2x + z = 1` asks for the equation itself.
    return g.ops.every((o) => o === "=") && isNameLike(g.parts[0]) &&
      nodesEqual(p, parseAnswer(g.parts[g.parts.length - 1]), ctx);
  }
  if (p.kind === "list" && g.kind === "list") return sameMultiset(p.items, g.items, ctx);
  if (p.kind === "union" && g.kind === "union") return sameMultiset(p.items, g.items, ctx);
  if (p.kind === "tuple" && g.kind === "tuple") {
    return p.open === g.open && p.close === g.close && sameSequence(p.items, g.items, ctx);
  }
  // A bare list `1, 3` is the tuple `(1, 3)` written without parentheses.
  if (p.kind === "list" && !p.braced && g.kind === "tuple" && g.open === "(" && g.close === ")") {
    return sameSequence(p.items, g.items, ctx);
  }
  if (g.kind === "list" && !g.braced && p.kind === "tuple" && p.open === "(" && p.close === ")") {
    return sameSequence(p.items, g.items, ctx);
  }
  if (p.kind === "expr" && g.kind === "expr") return expressionEqual(p.text, g.text, ctx);
  const pd = decimalComma(p), gd = decimalComma(g);
  if (pd !== null && g.kind === "expr") return expressionEqual(pd, g.text, ctx);
  if (gd !== null && p.kind === "expr") return expressionEqual(p.text, gd, ctx);
  return false;
}

/**
 * `1000,99` read with a decimal comma, when the comma cannot be a thousands separator or the number
 * is compared with a single value: a list of exactly two unsigned digit runs with no space.
 */
function decimalComma(n: AnswerNode): string | null {
  if (n.kind !== "list" || n.braced || n.source === undefined) return null;
  return /^\d+,\d+$/.test(n.source) ? n.source.replace(",", ".") : null;
}

/** `x \ge 1` as the interval `[1, \infty)`: one name-like side, one constant side. */
function inequalityToInterval(r: { parts: string[]; ops: RelationOp[] }): AnswerNode | null {
  if (r.ops.length !== 1 || !INEQUALITIES.has(r.ops[0])) return null;
  let [left, right] = r.parts;
  let op = r.ops[0];
  if (!isNameLike(left)) {
    [left, right] = [right, left];
    op = ({ "<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le" } as Record<string, RelationOp>)[op];
  }
  if (!isNameLike(left) || constantValue(right) === null) return null;
  const bound: AnswerNode = { kind: "expr", text: right };
  const strict = op === "<" || op === ">";
  if (op === ">" || op === "\\ge") {
    return {
      kind: "tuple",
      open: strict ? "(" : "[",
      close: ")",
      items: [bound, { kind: "expr", text: "\\infty" }],
    };
  }
  return {
    kind: "tuple",
    open: "(",
    close: strict ? ")" : "]",
    items: [{ kind: "expr", text: "-\\infty" }, bound],
  };
}

function sameSequence(a: AnswerNode[], b: AnswerNode[], ctx: Context): boolean {
  return a.length === b.length && a.every((x, i) => nodesEqual(x, b[i], ctx));
}

/** Unordered comparison: a perfect matching between equal elements (augmenting paths). */
function sameMultiset(a: AnswerNode[], b: AnswerNode[], ctx: Context): boolean {
  if (a.length !== b.length || a.length > MAX_LIST_ITEMS) return false;
  const cache = new Map<number, boolean>();
  const equal = (i: number, j: number) => {
    const key = i * b.length + j;
    if (!cache.has(key)) cache.set(key, nodesEqual(a[i], b[j], ctx));
    return cache.get(key)!;
  };
  const matchOfB = new Array<number>(b.length).fill(-1);
  const tryAssign = (i: number, seen: boolean[]): boolean => {
    for (let j = 0; j < b.length; j++) {
      if (seen[j] || !equal(i, j)) continue;
      seen[j] = true;
      if (matchOfB[j] < 0 || tryAssign(matchOfB[j], seen)) {
        matchOfB[j] = i;
        return true;
      }
    }
    return false;
  };
  for (let i = 0; i < a.length; i++) {
    if (!tryAssign(i, new Array<boolean>(b.length).fill(false))) return false;
  }
  return true;
}

const INEQUALITIES = new Set<RelationOp>(["<", ">", "\\le", "\\ge"]);

/** `L op R` as `f > 0` / `f ≥ 0`. */
function inequalityForm(left: string, op: RelationOp, right: string): { f: string; strict: boolean } {
  const strict = op === "<" || op === ">";
  const f = op === ">" || op === "\\ge" ? `(${left})-(${right})` : `(${right})-(${left})`;
  return { f, strict };
}

function relationsEqual(
  p: { parts: string[]; ops: RelationOp[] },
  g: { parts: string[]; ops: RelationOp[] },
  ctx: Context,
): boolean {
  const allEq = (r: { ops: RelationOp[] }) => r.ops.every((o) => o === "=");
  if (allEq(p) && allEq(g)) {
    const pl = p.parts[0], pr = p.parts[p.parts.length - 1];
    const gl = g.parts[0], gr = g.parts[g.parts.length - 1];
    if (isNameLike(pl) && isNameLike(gl) && compact(pl) === compact(gl)) {
      if (nodesEqual(parseAnswer(pr), parseAnswer(gr), ctx)) return true;
    }
    return proportional(`(${pl})-(${pr})`, `(${gl})-(${gr})`, false, ctx.deadline) === true;
  }
  if (p.ops.length === 1 && g.ops.length === 1 && INEQUALITIES.has(p.ops[0]) && INEQUALITIES.has(g.ops[0])) {
    const a = inequalityForm(p.parts[0], p.ops[0], p.parts[1]);
    const b = inequalityForm(g.parts[0], g.ops[0], g.parts[1]);
    if (a.strict !== b.strict) return false;
    if (compact(a.f) === compact(b.f)) return true;
    return proportional(a.f, b.f, true, ctx.deadline) === true;
  }
  if (p.ops.length === 1 && g.ops.length === 1 && p.ops[0] === "\\ne" && g.ops[0] === "\\ne") {
    return proportional(
      `(${p.parts[0]})-(${p.parts[1]})`,
      `(${g.parts[0]})-(${g.parts[1]})`,
      false,
      ctx.deadline,
    ) ===
      true;
  }
  return p.ops.length === g.ops.length && p.ops.every((o, i) => o === g.ops[i]) &&
    p.parts.every((part, i) => expressionEqual(part, g.parts[i], ctx));
}

const WORD = /^[A-Za-z]{2,}(?:\s+[A-Za-z]+)*$/;

/** A literal as written and, for a percentage, its value divided by 100 (no longer a written decimal). */
function percentReadings(l: ExactLiteral, percent: boolean): ExactLiteral[] {
  if (!percent || l.value.kind !== "rational") return [l];
  const hundredth: ExactValue | typeof TOO_LARGE = rational(l.value.num, l.value.den * 100n);
  return hundredth === TOO_LARGE ? [l] : [l, { value: hundredth, decimals: null }];
}

/** Exact equality, or a written decimal approximating the other literal (see {@link decimalMatches}). */
function literalsEqual(x: ExactLiteral, y: ExactLiteral): boolean {
  if (x.decimals !== null && y.decimals === null) return decimalMatches(x, y.value);
  if (y.decimals !== null && x.decimals === null) return decimalMatches(y, x.value);
  return exactEqual(x.value, y.value);
}

function expressionEqual(p: string, g: string, ctx: Context): boolean {
  if (compact(p) === compact(g)) return true;
  // Words are names, not products of single-letter variables: "dog" is not "god".
  if (WORD.test(p.trim()) || WORD.test(g.trim())) {
    return compact(p).toLowerCase() === compact(g).toLowerCase();
  }
  const pl = parseExactLiteral(p);
  const gl = parseExactLiteral(g);
  if (pl && gl) {
    for (const x of percentReadings(pl, ctx.predPercent)) {
      for (const y of percentReadings(gl, ctx.goldPercent)) {
        if (literalsEqual(x, y)) return true;
      }
    }
    return false;
  }
  // A literal against a constant expression (`1e400` and `10^{400}`, `0.3333` and `\frac{\pi}{3}`).
  const literalVsConstant = (l: ExactLiteral, percent: boolean, other: string) => {
    const v = constantExactValue(other, ctx.deadline);
    if (v === null || (typeof v === "number" && l.decimals === null)) return null;
    return percentReadings(l, percent).some((x) => decimalMatches(x, v));
  };
  const verdict = pl
    ? literalVsConstant(pl, ctx.predPercent, g)
    : gl
    ? literalVsConstant(gl, ctx.goldPercent, p)
    : null;
  if (verdict !== null) return verdict;
  if (expressionsEqual(p, g, ctx.deadline) === true) return true;
  if (ctx.goldPercent && !ctx.predPercent) {
    return expressionsEqual(p, `\\frac{${g}}{100}`, ctx.deadline) === true;
  }
  if (ctx.predPercent && !ctx.goldPercent) {
    return expressionsEqual(`\\frac{${p}}{100}`, g, ctx.deadline) === true;
  }
  return false;
}

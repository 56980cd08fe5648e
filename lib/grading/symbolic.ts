/**
 * Numeric and symbolic comparison through mathjs: literals compared as exact rationals (with a rule
 * for decimal approximations), expressions compared at seeded random rational points — exactly
 * where both sides are rational functions, in floating point (relative tolerance) only where a side
 * is irrational — with `simplify(a - b)` as the fallback when the points fail to evaluate. Every
 * entry point is bounded by a deadline.
 *
 * @module
 */

import { type MathNode, parse, simplify } from "mathjs";
import { seededRandom } from "../data/rng.ts";
import {
  exactEqual,
  exactEvaluator,
  type ExactResult,
  type ExactValue,
  INEXACT,
  isTerminating,
  rational,
  toNumber,
  TOO_LARGE,
} from "./exact.ts";
import { latexToMathjs, UnsupportedLatexError } from "./latex_to_mathjs.ts";

/** A verdict that may be "cannot tell" (null): unparseable input or a passed deadline. */
export type Verdict = boolean | null;

/** A numeric literal as an exact value: integers, decimals, scientific notation, fractions. */
export interface ExactLiteral {
  /** The exact value (undefined for `1/0`). */
  value: ExactValue;
  /** Digits after the decimal point when written as a decimal; null for integers and fractions. */
  decimals: number | null;
}

/**
 * Parses integers, decimals, scientific notation (`1.5e3`, `1.5 \times 10^{3}`), `a/b` and
 * `\frac{a}{b}` with integer parts, exactly: `1e400` and `2e400` stay different, `1/0` is the
 * undefined value. Null for anything else, and for literals past the exact size bound.
 *
 * @example
 * ```ts
 * import { parseExactLiteral } from "./symbolic.ts";
 * parseExactLiteral("-\\frac{10}{9}"); // { value: { kind: "rational", num: -10n, den: 9n }, decimals: null }
 * parseExactLiteral(".25"); // { value: { kind: "rational", num: 1n, den: 4n }, decimals: 2 }
 * ```
 */
export function parseExactLiteral(text: string): ExactLiteral | null {
  const s = text.replace(/\s+/g, "");
  const decimal = (sgn: string, digits: string, exp: string | undefined) => {
    const point = digits.indexOf(".");
    const frac = point < 0 ? "" : digits.slice(point + 1);
    const shift = Number(exp ?? 0) - frac.length;
    if (!Number.isSafeInteger(shift) || Math.abs(shift) > 10000) return null;
    const n = BigInt((point < 0 ? digits : digits.slice(0, point) || "0") + frac) * (sgn === "-" ? -1n : 1n);
    const v = shift >= 0 ? rational(n * 10n ** BigInt(shift), 1n) : rational(n, 10n ** BigInt(-shift));
    return v === TOO_LARGE ? null : v;
  };
  let m = /^([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?$/.exec(s);
  if (m) {
    const v = decimal(m[1], m[2], m[3]);
    const decimals = m[2].includes(".") && m[3] === undefined ? m[2].length - m[2].indexOf(".") - 1 : null;
    return v && { value: v, decimals };
  }
  m = /^([+-]?)(\d+\.?\d*|\.\d+)(?:\\times|\\cdot|\*)10\^(?:\{([+-]?\d+)\}|([+-]?\d))$/.exec(s);
  if (m) {
    const v = decimal(m[1], m[2], m[3] ?? m[4]);
    return v && { value: v, decimals: null };
  }
  m = /^([+-]?)(\d+)\/(\d+)$/.exec(s) ?? /^([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}$/.exec(s);
  if (m) {
    if (m[2].length + m[3].length > 3000) return null;
    const num = BigInt(m[2]) * (m[1] === "-" ? -1n : 1n), den = BigInt(m[3]);
    if (den === 0n) return { value: { kind: "undefined" }, decimals: null };
    const v = rational(num, den);
    return v === TOO_LARGE ? null : { value: v, decimals: null };
  }
  return null;
}

// Qwen2.5-Math's `numeric_equal` (math_equal) accepts a relative error of 1e-4; no public grader
// accepts more, and MathRuler, Math-Verify and MATH's is_equiv accept less.
const APPROXIMATION_RTOL = 1e-4;

/**
 * Is the decimal `d` (written with `places` digits after the point) an approximation of `v`, a value
 * with no finite decimal expansion (1/3, π, √2)? It must be `v` rounded to those places and within a
 * relative 1e-4 of it: `0.3333` and `3.1416` approximate 1/3 and π, `0.333` and `3.14` do not.
 */
function approximates(d: number, places: number, v: number): boolean {
  if (!Number.isFinite(d) || !Number.isFinite(v)) return false;
  const err = Math.abs(d - v);
  return err <= 0.5 * 10 ** -places * (1 + 1e-9) && err <= APPROXIMATION_RTOL * Math.abs(v) * (1 + 1e-9);
}

/**
 * Does the decimal literal `d` equal `v`? Exactly equal values do (`0.5` = 1/2); a decimal matches a
 * rational without a finite decimal expansion, or an irrational value given as a double, only as its
 * rounding within Qwen2.5-Math's relative tolerance of 1e-4.
 */
export function decimalMatches(d: ExactLiteral, v: ExactValue | number): boolean {
  if (typeof v === "number") {
    return d.decimals !== null && approximates(toNumber(d.value), d.decimals, v);
  }
  if (exactEqual(d.value, v)) return true;
  if (d.decimals === null || v.kind !== "rational" || isTerminating(v)) return false;
  return approximates(toNumber(d.value), d.decimals, toNumber(v));
}

const CONSTANTS = new Set(["pi", "e", "i", "Infinity"]);
const MAX_NODES = 400;
const SAMPLE_POINTS = 12;

/** A parsed mathjs expression with its free variables and, where it parses, an exact evaluator. */
interface Compiled {
  node: MathNode;
  evaluate: (scope: Record<string, number>) => unknown;
  exact: ((scope: ReadonlyMap<string, ExactValue>, deadline: number) => ExactResult) | null;
  symbols: string[];
}

function compile(mathjs: string): Compiled | null {
  let node: MathNode;
  try {
    node = parse(mathjs);
  } catch {
    return null;
  }
  let count = 0;
  const symbols = new Set<string>();
  node.traverse((n, path, parent) => {
    count++;
    if (n.type === "SymbolNode" && !(parent?.type === "FunctionNode" && path === "fn")) {
      const name = (n as unknown as { name: string }).name;
      if (!CONSTANTS.has(name)) symbols.add(name);
    }
  });
  if (count > MAX_NODES) return null;
  const code = node.compile();
  return {
    node,
    evaluate: (scope) => code.evaluate({ ...scope }),
    exact: exactEvaluator(mathjs),
    symbols: [...symbols],
  };
}

/** Flattens a mathjs value (number, Complex, Matrix, nested array) to [re, im] pairs plus a shape. */
function flatten(value: unknown): { shape: string; values: [number, number][] } | null {
  if (typeof value === "number") return { shape: "", values: [[value, 0]] };
  if (value && typeof value === "object") {
    const v = value as { re?: number; im?: number; toArray?: () => unknown[] };
    if (typeof v.re === "number" && typeof v.im === "number") return { shape: "", values: [[v.re, v.im]] };
    const arr = typeof v.toArray === "function" ? v.toArray() : Array.isArray(value) ? value : null;
    if (arr) {
      const parts = arr.map(flatten);
      if (parts.some((p) => p === null)) return null;
      const shapes = new Set(parts.map((p) => p!.shape));
      if (shapes.size > 1) return null;
      return { shape: `${arr.length}[${[...shapes][0] ?? ""}]`, values: parts.flatMap((p) => p!.values) };
    }
  }
  return null;
}

function isReal(values: [number, number][]): boolean {
  return values.every(([re, im]) => Math.abs(im) <= 1e-12 * Math.max(1, Math.abs(re)));
}

/** Relative closeness of finite doubles; a tiny absolute floor absorbs cancellation (`sin²+cos²−1`). */
function close(x: number, y: number, rtol: number): boolean {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
  return Math.abs(x - y) <= rtol * Math.max(Math.abs(x), Math.abs(y)) || Math.abs(x - y) <= 1e-12;
}

const allFinite = (values: [number, number][]) => values.every(([re, im]) => Number.isFinite(re + im));

/** Converts LaTeX to a compiled mathjs expression, or null when unsupported. */
function compileLatex(latex: string): Compiled | null {
  try {
    return compile(latexToMathjs(latex));
  } catch (e) {
    if (e instanceof UnsupportedLatexError || e instanceof RangeError || e instanceof SyntaxError) {
      return null;
    }
    return null;
  }
}

/** A sample point: exact rational coordinates and their doubles. */
interface Point {
  exact: Map<string, ExactValue>;
  float: Record<string, number>;
}

// Coordinates k/1021 in (0.5, 2.5): a prime denominator keeps them off integers and simple
// fractions, where polynomials such as (x-1)(x-2) vanish by coincidence.
const POINT_DENOMINATOR = 1021;

function points(symbols: string[], count: number): Point[] {
  // A fixed seed keeps verdicts reproducible run to run.
  const random = seededRandom(0x5eed + symbols.length);
  return Array.from({ length: count }, () => {
    const exact = new Map<string, ExactValue>();
    const float: Record<string, number> = {};
    for (const s of symbols) {
      let k = 0;
      while (k % POINT_DENOMINATOR === 0) k = Math.floor(POINT_DENOMINATOR * (0.5 + 2 * random()));
      exact.set(s, { kind: "rational", num: BigInt(k), den: BigInt(POINT_DENOMINATOR) });
      float[s] = k / POINT_DENOMINATOR;
    }
    return { exact, float };
  });
}

function exactAt(c: Compiled, scope: ReadonlyMap<string, ExactValue>, deadline: number): ExactResult {
  if (!c.exact) return INEXACT;
  try {
    return c.exact(scope, deadline);
  } catch {
    return INEXACT;
  }
}

function evaluateAt(c: Compiled, scope: Record<string, number>) {
  try {
    return flatten(c.evaluate(scope));
  } catch {
    return null;
  }
}

/**
 * Compares two LaTeX expressions at seeded random rational points: exactly where both sides are
 * rational (so `2^{1024}` ≠ `3^{1024}`, `171!` ≠ `172!`, and a degree-60 polynomial ≠ itself plus 1),
 * else as doubles with relative tolerance 1e-8, never trusting an overflowed double; falling back to
 * `simplify(a - b) == 0`. Returns null when either side cannot be parsed, a value is too large to
 * compare exactly, or time runs out.
 *
 * @example
 * ```ts
 * import { expressionsEqual } from "./mod.ts";
 * expressionsEqual("\\frac{x}{7}+\\frac{2}{7}", "\\frac{x+2}{7}"); // true
 * expressionsEqual("\\sec^2(y)", "\\tan^2(y)+1"); // true
 * ```
 */
export function expressionsEqual(a: string, b: string, deadline: number = performance.now() + 1000): Verdict {
  const ca = compileLatex(a);
  const cb = compileLatex(b);
  if (!ca || !cb) return null;
  const symbols = [...new Set([...ca.symbols, ...cb.symbols])];
  if (symbols.length > 12) return null;
  let valid = 0;
  for (const point of points(symbols, symbols.length === 0 ? 1 : SAMPLE_POINTS)) {
    if (performance.now() > deadline) return null;
    const ea = exactAt(ca, point.exact, deadline);
    const eb = exactAt(cb, point.exact, deadline);
    if (ea === TOO_LARGE || eb === TOO_LARGE) return null;
    if (ea !== INEXACT && eb !== INEXACT) {
      if (ea.kind === "undefined" || eb.kind === "undefined") {
        // 1/0 is a value of its own; at a point of a variable's domain edge it says nothing.
        if (symbols.length === 0) return false;
        continue;
      }
      if (!exactEqual(ea, eb)) return false;
      valid++;
      continue;
    }
    if ((ea !== INEXACT && ea.kind !== "rational") || (eb !== INEXACT && eb.kind !== "rational")) {
      if (symbols.length === 0) return false;
      continue;
    }
    const va = evaluateAt(ca, point.float);
    const vb = evaluateAt(cb, point.float);
    if (!va || !vb) continue;
    if (!allFinite(va.values) || !allFinite(vb.values)) continue;
    if (va.values.some(([re, im]) => Number.isNaN(re) || Number.isNaN(im))) continue;
    if (vb.values.some(([re, im]) => Number.isNaN(re) || Number.isNaN(im))) continue;
    if (va.shape !== vb.shape) return false;
    // Outside a real domain mathjs takes principal complex roots where `\sqrt[3]` stays real, so a
    // point where only one side is real says nothing about equality.
    if (isReal(va.values) !== isReal(vb.values)) continue;
    for (let k = 0; k < va.values.length; k++) {
      if (!close(va.values[k][0], vb.values[k][0], 1e-8) || !close(va.values[k][1], vb.values[k][1], 1e-8)) {
        return false;
      }
    }
    valid++;
  }
  if (valid >= (symbols.length === 0 ? 1 : 3)) return true;
  return simplifiesToZero(ca, cb, deadline);
}

function simplifiesToZero(ca: Compiled, cb: Compiled, deadline: number): Verdict {
  if (performance.now() > deadline) return null;
  let nodes = 0;
  ca.node.traverse(() => nodes++);
  cb.node.traverse(() => nodes++);
  if (nodes > 60) return null;
  try {
    const diff = simplify(`(${ca.node.toString()}) - (${cb.node.toString()})`);
    return diff.type === "ConstantNode" && (diff as unknown as { value: number }).value === 0 ? true : null;
  } catch {
    return null;
  }
}

/** The real value of a constant LaTeX expression (no variables) as a finite double, or null. */
export function constantValue(latex: string): number | null {
  const c = compileLatex(latex);
  if (!c || c.symbols.length > 0) return null;
  const v = evaluateAt(c, {});
  if (!v || v.shape !== "" || Math.abs(v.values[0][1]) > 1e-12 || !Number.isFinite(v.values[0][0])) {
    return null;
  }
  return v.values[0][0];
}

/**
 * The value of a constant LaTeX expression: exact when it is rational (or infinite, or undefined),
 * else a finite double; null when it has variables, is not real, or is too large to know exactly.
 */
export function constantExactValue(
  latex: string,
  deadline: number = performance.now() + 1000,
): ExactValue | number | null {
  const c = compileLatex(latex);
  if (!c || c.symbols.length > 0) return null;
  const e = exactAt(c, new Map(), deadline);
  if (e === TOO_LARGE) return null;
  if (e !== INEXACT) return e;
  return constantValue(latex);
}

/**
 * Are `fa` and `fb` (LaTeX) constant multiples of each other, `fa = c·fb`? With `positive`, c must be
 * positive (inequalities keep their direction). Used for equations `f = 0` and inequalities `f > 0`.
 */
export function proportional(fa: string, fb: string, positive: boolean, deadline: number): Verdict {
  const ca = compileLatex(fa);
  const cb = compileLatex(fb);
  if (!ca || !cb) return null;
  const symbols = [...new Set([...ca.symbols, ...cb.symbols])];
  if (symbols.length === 0 || symbols.length > 12) return null;
  let ratio: number | null = null;
  let valid = 0;
  for (const { float: scope } of points(symbols, SAMPLE_POINTS)) {
    if (performance.now() > deadline) return null;
    const va = evaluateAt(ca, scope);
    const vb = evaluateAt(cb, scope);
    if (!va || !vb || va.shape !== "" || vb.shape !== "") return null;
    const [x, xi] = va.values[0];
    const [y, yi] = vb.values[0];
    if (!Number.isFinite(x) || !Number.isFinite(y) || Math.abs(xi) > 1e-12 || Math.abs(yi) > 1e-12) continue;
    if (Math.abs(y) < 1e-12 || Math.abs(x) < 1e-12) {
      if (Math.abs(y) < 1e-12 && Math.abs(x) < 1e-12) continue;
      return false;
    }
    const r = x / y;
    if (ratio === null) ratio = r;
    else if (!close(r, ratio, 1e-8)) return false;
    valid++;
  }
  if (valid < 3 || ratio === null) return null;
  return positive ? ratio > 0 : true;
}

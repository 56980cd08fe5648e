/**
 * Numeric and symbolic comparison through mathjs: literals compared as numbers (with a rule for
 * decimal approximations), expressions compared at seeded random points, with `simplify(a - b)` as
 * the fallback when the points fail to evaluate. Every entry point is bounded by a deadline.
 *
 * @module
 */

import { type MathNode, parse, simplify } from "mathjs";
import { seededRandom } from "../data/rng.ts";
import { latexToMathjs, UnsupportedLatexError } from "./latex_to_mathjs.ts";

/** A verdict that may be "cannot tell" (null): unparseable input or a passed deadline. */
export type Verdict = boolean | null;

/** A numeric literal: its value and, for decimals, how many digits follow the point. */
export interface NumericLiteral {
  /** The value. */
  value: number;
  /** Digits after the decimal point when written as a decimal; null for integers and fractions. */
  decimals: number | null;
}

/**
 * Parses integers, decimals, scientific notation (`1.5e3`, `1.5 \times 10^{3}`), `a/b` and
 * `\frac{a}{b}` with integer parts. Returns null for anything else.
 *
 * @example
 * ```ts
 * import { parseNumericLiteral } from "./mod.ts";
 * parseNumericLiteral("-\\frac{10}{9}"); // { value: -1.111…, decimals: null }
 * parseNumericLiteral(".25"); // { value: 0.25, decimals: 2 }
 * ```
 */
export function parseNumericLiteral(text: string): NumericLiteral | null {
  const s = text.replace(/\s+/g, "");
  let m = /^([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?$/.exec(s);
  if (m) {
    const decimals = m[2].includes(".") && m[3] === undefined ? m[2].length - m[2].indexOf(".") - 1 : null;
    return { value: Number(m[1] + m[2] + (m[3] !== undefined ? `e${m[3]}` : "")), decimals };
  }
  m = /^([+-]?)(\d+\.?\d*|\.\d+)(?:\\times|\\cdot|\*)10\^(?:\{([+-]?\d+)\}|([+-]?\d))$/.exec(s);
  if (m) return { value: Number(`${m[1]}${m[2]}e${m[3] ?? m[4]}`), decimals: null };
  m = /^([+-]?)(\d+)\/(\d+)$/.exec(s) ?? /^([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}$/.exec(s);
  if (m) {
    const den = Number(m[3]);
    if (den === 0) return null;
    return { value: (m[1] === "-" ? -1 : 1) * Number(m[2]) / den, decimals: null };
  }
  return null;
}

/**
 * Are two numbers equal? Exact values compare to 1e-9 relative. A decimal with three or more digits
 * after the point also matches a value that rounds to it (`2.6667` ≈ 8/3), because such a decimal is
 * an approximation of an exact answer; a short decimal (`0.33`) is not accepted for 1/3.
 */
export function numbersEqual(
  a: number,
  b: number,
  aDecimals: number | null,
  bDecimals: number | null,
): boolean {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  if (Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))) return true;
  const approx = (d: number | null) => d !== null && d >= 3;
  if (approx(aDecimals) && !approx(bDecimals) && bDecimals === null) {
    return Math.abs(a - b) <= 0.5 * 10 ** -aDecimals! + 1e-12 * Math.max(1, Math.abs(b));
  }
  if (approx(bDecimals) && !approx(aDecimals) && aDecimals === null) {
    return Math.abs(a - b) <= 0.5 * 10 ** -bDecimals! + 1e-12 * Math.max(1, Math.abs(a));
  }
  return false;
}

const CONSTANTS = new Set(["pi", "e", "i", "Infinity"]);
const MAX_NODES = 400;
const SAMPLE_POINTS = 12;

/** A parsed mathjs expression with its free variables. */
interface Compiled {
  node: MathNode;
  evaluate: (scope: Record<string, number>) => unknown;
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
  return { node, evaluate: (scope) => code.evaluate({ ...scope }), symbols: [...symbols] };
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

function close(x: number, y: number, rtol: number): boolean {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  return Math.abs(x - y) <= rtol * Math.max(1, Math.abs(x), Math.abs(y));
}

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

function points(symbols: string[], count: number): Record<string, number>[] {
  // A fixed seed keeps verdicts reproducible run to run.
  const random = seededRandom(0x5eed + symbols.length);
  return Array.from({ length: count }, () => Object.fromEntries(symbols.map((s) => [s, 0.5 + 2 * random()])));
}

function evaluateAt(c: Compiled, scope: Record<string, number>) {
  try {
    return flatten(c.evaluate(scope));
  } catch {
    return null;
  }
}

/**
 * Compares two LaTeX expressions: equal values at seeded random points (relative tolerance 1e-8),
 * else `simplify(a - b) == 0`. Returns null when either side cannot be parsed or time runs out.
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
  for (const scope of points(symbols, symbols.length === 0 ? 1 : SAMPLE_POINTS)) {
    if (performance.now() > deadline) return null;
    const va = evaluateAt(ca, scope);
    const vb = evaluateAt(cb, scope);
    if (!va || !vb) continue;
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
  if (valid >= Math.min(3, symbols.length === 0 ? 1 : 3)) return true;
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

/** The real value of a constant LaTeX expression (no variables), or null. */
export function constantValue(latex: string): number | null {
  const c = compileLatex(latex);
  if (!c || c.symbols.length > 0) return null;
  const v = evaluateAt(c, {});
  if (!v || v.shape !== "" || Math.abs(v.values[0][1]) > 1e-12) return null;
  return v.values[0][0];
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
  for (const scope of points(symbols, SAMPLE_POINTS)) {
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

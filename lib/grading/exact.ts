/**
 * Exact evaluation of mathjs expressions over the rationals (BigInt numerator and denominator), with
 * infinity and "undefined" (a division by zero, ∞ − ∞) as values of their own. Large powers and
 * factorials never round into each other: a result past a size bound is reported as too large, never
 * approximated.
 *
 * @module
 */

import { all, create, type MathNode } from "mathjs";

/** An exact value: a reduced rational (den > 0), a signed infinity, or undefined (equal to nothing). */
export type ExactValue =
  | { kind: "rational"; num: bigint; den: bigint }
  | { kind: "infinity"; sign: 1 | -1 }
  | { kind: "undefined" };

/** The expression needs irrational or unsupported operations (`\sqrt{2}`, `\pi`, `\sin`). */
export const INEXACT = "inexact";
/**
 * An exact value exists but is past {@link MAX_EXACT_BITS} (or the deadline passed before it was
 * known); it must not be compared approximately.
 */
export const TOO_LARGE = "too large";
/** The outcome of an exact evaluation. */
export type ExactResult = ExactValue | typeof INEXACT | typeof TOO_LARGE;

/** Largest numerator + denominator size, in bits, kept exactly (about 2,500 decimal digits). */
export const MAX_EXACT_BITS = 1 << 13;
const MAX_FACTORIAL = 800;

// Parsed with BigNumber literals so that `12345678901234567890` keeps every digit.
let bigParser: ((text: string) => MathNode) | null = null;
function parseBig(text: string): MathNode {
  if (!bigParser) {
    const math = create(all, { number: "BigNumber", precision: 64 });
    bigParser = (t) => math.parse(t);
  }
  return bigParser(text);
}

const abs = (n: bigint) => (n < 0n ? -n : n);
function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}
const bits = (n: bigint) => (n === 0n ? 0 : abs(n).toString(16).length * 4);

/** The reduced rational num/den (den ≠ 0); TOO_LARGE past {@link MAX_EXACT_BITS}. */
export function rational(num: bigint, den: bigint): ExactValue | typeof TOO_LARGE {
  if (den < 0n) [num, den] = [-num, -den];
  const g = gcd(num, den);
  if (g > 1n) [num, den] = [num / g, den / g];
  if (bits(num) + bits(den) > MAX_EXACT_BITS) return TOO_LARGE;
  return { kind: "rational", num, den };
}

const UNDEFINED: ExactValue = { kind: "undefined" };
const ZERO: ExactValue = { kind: "rational", num: 0n, den: 1n };
const sign = (v: ExactValue): number =>
  v.kind === "infinity" ? v.sign : v.kind === "rational" ? (v.num > 0n ? 1 : v.num < 0n ? -1 : 0) : NaN;

/** Are two exact values equal? Undefined equals nothing, not even itself. */
export function exactEqual(a: ExactValue, b: ExactValue): boolean {
  if (a.kind === "rational" && b.kind === "rational") return a.num === b.num && a.den === b.den;
  if (a.kind === "infinity" && b.kind === "infinity") return a.sign === b.sign;
  return false;
}

/** The nearest double to a rational (±Infinity past the double range). */
export function toNumber(v: ExactValue): number {
  if (v.kind === "infinity") return v.sign * Infinity;
  if (v.kind === "undefined") return NaN;
  const small = BigInt(Number.MAX_SAFE_INTEGER);
  // Both exact as doubles: one correctly rounded division.
  if (abs(v.num) <= small && v.den <= small) return Number(v.num) / Number(v.den);
  const shift = Math.max(0, bits(v.num) - bits(v.den) - 1000, bits(v.den) - bits(v.num) - 1000);
  if (shift > 0) return bits(v.num) > bits(v.den) ? sign(v) * Infinity : 0;
  const scale = 10n ** 40n;
  return Number((v.num * scale) / v.den) / 1e40;
}

/** Does the rational have a finite decimal expansion (denominator 2^a·5^b)? */
export function isTerminating(v: ExactValue): boolean {
  if (v.kind !== "rational") return false;
  let d = v.den;
  while (d % 2n === 0n) d /= 2n;
  while (d % 5n === 0n) d /= 5n;
  return d === 1n;
}

type Result = ExactResult;
const isValue = (r: Result): r is ExactValue => typeof r === "object";

function add(a: ExactValue, b: ExactValue): Result {
  if (a.kind === "undefined" || b.kind === "undefined") return UNDEFINED;
  if (a.kind === "infinity" || b.kind === "infinity") {
    if (a.kind === "infinity" && b.kind === "infinity") return a.sign === b.sign ? a : UNDEFINED;
    return a.kind === "infinity" ? a : b;
  }
  return rational(a.num * b.den + b.num * a.den, a.den * b.den);
}

function negate(a: ExactValue): ExactValue {
  if (a.kind === "rational") return { kind: "rational", num: -a.num, den: a.den };
  if (a.kind === "infinity") return { kind: "infinity", sign: a.sign === 1 ? -1 : 1 };
  return a;
}

function multiply(a: ExactValue, b: ExactValue): Result {
  if (a.kind === "undefined" || b.kind === "undefined") return UNDEFINED;
  if (a.kind === "infinity" || b.kind === "infinity") {
    const s = sign(a) * sign(b);
    return s === 0 ? UNDEFINED : { kind: "infinity", sign: s > 0 ? 1 : -1 };
  }
  return rational(a.num * b.num, a.den * b.den);
}

function divide(a: ExactValue, b: ExactValue): Result {
  if (a.kind === "undefined" || b.kind === "undefined") return UNDEFINED;
  if (b.kind === "infinity") return a.kind === "infinity" ? UNDEFINED : ZERO;
  if (b.num === 0n) return UNDEFINED;
  if (a.kind === "infinity") return { kind: "infinity", sign: a.sign * sign(b) > 0 ? 1 : -1 };
  return rational(a.num * b.den, a.den * b.num);
}

function power(a: ExactValue, b: ExactValue): Result {
  if (a.kind !== "rational" || b.kind !== "rational") {
    return a.kind === "undefined" || b.kind === "undefined" ? UNDEFINED : INEXACT;
  }
  if (b.den !== 1n) return INEXACT;
  if (b.num === 0n) return a.num === 0n ? UNDEFINED : rational(1n, 1n);
  if (a.num === 0n) return b.num < 0n ? UNDEFINED : ZERO;
  if (a.den === 1n && abs(a.num) === 1n) return rational(b.num % 2n === 0n ? 1n : a.num, 1n);
  // Size before computing: 10^(10^10) is known to be too large without building it.
  const e = abs(b.num);
  if (e > BigInt(MAX_EXACT_BITS) || (bits(a.num) + bits(a.den) - 2) * Number(e) > MAX_EXACT_BITS) {
    return TOO_LARGE;
  }
  const num = a.num ** e, den = a.den ** e;
  return b.num > 0n ? rational(num, den) : rational(den, num);
}

function factorial(a: ExactValue): Result {
  if (a.kind !== "rational" || a.den !== 1n || a.num < 0n) {
    return a.kind === "undefined" ? UNDEFINED : INEXACT;
  }
  if (a.num > BigInt(MAX_FACTORIAL)) return TOO_LARGE;
  let f = 1n;
  for (let k = 2n; k <= a.num; k++) f *= k;
  return rational(f, 1n);
}

function integerSqrt(n: bigint): bigint {
  if (n < 2n) return n;
  // Newton's iteration from a power of two above the root decreases monotonically to floor(√n).
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

function squareRoot(a: ExactValue): Result {
  if (a.kind !== "rational" || a.num < 0n) return a.kind === "undefined" ? UNDEFINED : INEXACT;
  const n = integerSqrt(a.num), d = integerSqrt(a.den);
  return n * n === a.num && d * d === a.den ? rational(n, d) : INEXACT;
}

function floorDiv(a: ExactValue, up: boolean): Result {
  if (a.kind !== "rational") return a.kind === "undefined" ? UNDEFINED : INEXACT;
  let q = a.num / a.den;
  const exact = q * a.den === a.num;
  if (!exact && a.num < 0n && !up) q -= 1n;
  if (!exact && a.num > 0n && up) q += 1n;
  return rational(q, 1n);
}

function combinations(n: ExactValue, k: ExactValue): Result {
  if (n.kind !== "rational" || k.kind !== "rational" || n.den !== 1n || k.den !== 1n) return INEXACT;
  if (n.num < 0n || k.num < 0n || k.num > n.num) return INEXACT;
  if (n.num > BigInt(MAX_FACTORIAL)) return TOO_LARGE;
  let r = 1n;
  const kk = k.num < n.num - k.num ? k.num : n.num - k.num;
  for (let i = 1n; i <= kk; i++) r = (r * (n.num - kk + i)) / i;
  return rational(r, 1n);
}

/** A literal's digits as an exact rational (`1.25` → 5/4). */
function fromDecimalString(text: string): Result {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!m) return INEXACT;
  const frac = m[3] ?? "";
  const exp = Number(m[4] ?? 0) - frac.length;
  if (Math.abs(exp) > MAX_EXACT_BITS / 3) return TOO_LARGE;
  const digits = BigInt((m[2] || "0") + frac) * (m[1] ? -1n : 1n);
  return exp >= 0 ? rational(digits * 10n ** BigInt(exp), 1n) : rational(digits, 10n ** BigInt(-exp));
}

function evaluateNode(node: MathNode, scope: ReadonlyMap<string, ExactValue>, deadline: number): Result {
  if (performance.now() > deadline) return TOO_LARGE;
  const n = node as unknown as {
    type: string;
    fn?: string | { name: string };
    name?: string;
    args?: MathNode[];
    content?: MathNode;
    value?: { toFixed?: () => string };
  };
  const args = (): Result[] => (n.args ?? []).map((a) => evaluateNode(a, scope, deadline));
  switch (n.type) {
    case "ConstantNode": {
      const text = typeof n.value?.toFixed === "function" ? n.value.toFixed() : "";
      if (text === "Infinity" || text === "-Infinity") {
        return { kind: "infinity", sign: text === "Infinity" ? 1 : -1 };
      }
      return fromDecimalString(text);
    }
    case "ParenthesisNode":
      return evaluateNode(n.content!, scope, deadline);
    case "SymbolNode":
      if (n.name === "Infinity") return { kind: "infinity", sign: 1 };
      return scope.get(n.name!) ?? INEXACT;
    case "OperatorNode": {
      const vs = args();
      // Too large anywhere wins over inexact: the caller must then not fall back to floats.
      if (vs.includes(TOO_LARGE)) return TOO_LARGE;
      if (!vs.every(isValue)) return INEXACT;
      const [a, b] = vs as ExactValue[];
      switch (n.fn) {
        case "add":
          return add(a, b);
        case "subtract":
          return add(a, negate(b));
        case "multiply":
          return multiply(a, b);
        case "divide":
          return divide(a, b);
        case "pow":
          return power(a, b);
        case "unaryMinus":
          return negate(a);
        case "unaryPlus":
          return a;
        case "factorial":
          return factorial(a);
      }
      return INEXACT;
    }
    case "FunctionNode": {
      const fn = typeof n.fn === "object" ? n.fn.name : undefined;
      const vs = args();
      if (vs.includes(TOO_LARGE)) return TOO_LARGE;
      if (!vs.every(isValue)) return INEXACT;
      const [a, b] = vs as ExactValue[];
      if (fn === "abs" && vs.length === 1) return sign(a) < 0 ? negate(a) : a;
      if (fn === "sqrt" && vs.length === 1) return squareRoot(a);
      if ((fn === "floor" || fn === "ceil") && vs.length === 1) return floorDiv(a, fn === "ceil");
      if (fn === "combinations" && vs.length === 2) return combinations(a, b);
      return INEXACT;
    }
  }
  return INEXACT;
}

/**
 * An exact evaluator for a mathjs expression, the free symbols taken from the scope; null when the
 * text does not parse. It returns {@link INEXACT} for anything outside exact rational arithmetic
 * (roots that are not perfect squares, `pi`, trigonometry, unknown symbols) and {@link TOO_LARGE}
 * past the size bound or the deadline (a `performance.now()` time).
 *
 * @example
 * ```ts
 * import { exactEvaluator } from "./exact.ts";
 * exactEvaluator("171! - 172!")!(new Map(), Infinity); // { kind: "rational", num: -171·171!, den: 1n }
 * exactEvaluator("1 / 0")!(new Map(), Infinity); // { kind: "undefined" }
 * ```
 */
export function exactEvaluator(
  mathjs: string,
): ((scope: ReadonlyMap<string, ExactValue>, deadline: number) => ExactResult) | null {
  let node: MathNode;
  try {
    node = parseBig(mathjs);
  } catch {
    return null;
  }
  return (scope, deadline) => evaluateNode(node, scope, deadline);
}

/**
 * Synthetic tasks generated from a seed, so training and tests run without downloads: two-operand
 * arithmetic (in a question form and a compact form for tiny byte-level models) and Countdown problems
 * that are solvable by construction, with a brute-force solver.
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { randomChoice, randomInt, seededRandom, shuffled } from "./rng.ts";

/** An arithmetic operator the synthetic tasks use. */
export type ArithmeticOp = "+" | "-" | "*" | "/";

const ALL_OPS: readonly ArithmeticOp[] = ["+", "-", "*", "/"];

/** Options for {@link arithmeticTask}. */
export interface ArithmeticTaskOptions {
  /** Number of rows. */
  count: number;
  /** Seed; the same options give the same rows. */
  seed: number;
  /** Largest operand (default 99). */
  maxOperand?: number;
  /** Smallest operand (default 0). */
  minOperand?: number;
  /** Operators to draw from, uniformly (default `["+", "-", "*"]`). */
  ops?: readonly ArithmeticOp[];
  /**
   * `"question"`: `What is 37 + 48?`; `"compact"`: `37+48=`, the shortest form, for tiny byte-level
   * models (default "question").
   */
  format?: "question" | "compact";
}

/** One arithmetic problem and its answer as text. */
export interface ArithmeticRow {
  /** The question, e.g. "What is 37 + 48?" or "37+48=". */
  problem: string;
  /** The exact result, e.g. "85". */
  answer: string;
  /** Index signature so rows can be mapped like dataset rows. */
  [field: string]: unknown;
}

function checkInt(what: string, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new DataError(`${what}: ${name} must be an integer >= ${min}, got ${v}`);
  }
}

/**
 * Two-operand arithmetic problems. Operands are uniform in [minOperand, maxOperand]. Answers are
 * non-negative integers: for `-` the larger operand comes first, and for `/` the dividend is drawn as a
 * multiple of the divisor (divisor ≥ 1, dividend within the operand range).
 *
 * @example
 * ```ts
 * import { arithmeticTask } from "./mod.ts";
 * arithmeticTask({ count: 2, seed: 7, ops: ["+"] });
 * // [{ problem: "What is 6 + 97?", answer: "103" }, { problem: "What is 52 + 40?", answer: "92" }]
 * arithmeticTask({ count: 2, seed: 7, ops: ["+"], format: "compact" });
 * // [{ problem: "6+97=", answer: "103" }, { problem: "52+40=", answer: "92" }]
 * ```
 */
export function arithmeticTask(options: ArithmeticTaskOptions): ArithmeticRow[] {
  const what = "arithmeticTask";
  const { count, seed } = options;
  const lo = options.minOperand ?? 0, hi = options.maxOperand ?? 99;
  const ops = options.ops ?? ["+", "-", "*"];
  const format = options.format ?? "question";
  checkInt(what, "count", count, 0);
  checkInt(what, "minOperand", lo, 0);
  checkInt(what, "maxOperand", hi, lo);
  if (!Number.isFinite(seed)) throw new DataError(`${what}: seed must be a number, got ${seed}`);
  if (ops.length === 0 || !ops.every((op) => ALL_OPS.includes(op))) {
    throw new DataError(
      `${what}: ops must be a non-empty list of ${ALL_OPS.join(" ")}, got ${JSON.stringify(ops)}`,
    );
  }
  if (format !== "question" && format !== "compact") {
    throw new DataError(`${what}: format must be "question" or "compact", got ${JSON.stringify(format)}`);
  }
  if (ops.includes("/") && hi === 0) throw new DataError(`${what}: "/" needs maxOperand >= 1 for a divisor`);
  const rand = seededRandom(seed);
  const rows: ArithmeticRow[] = [];
  for (let n = 0; n < count; n++) {
    const op = randomChoice(rand, ops);
    let a = randomInt(rand, lo, hi), b = randomInt(rand, lo, hi), value: number;
    if (op === "+") value = a + b;
    else if (op === "-") {
      if (a < b) [a, b] = [b, a];
      value = a - b;
    } else if (op === "*") value = a * b;
    else {
      // Redraw until the divisor has a multiple inside [lo, hi]; b = hi with quotient 1 (or 0 when
      // lo = 0) always does, so this ends.
      for (;;) {
        b = randomInt(rand, Math.max(1, lo), hi);
        const qLo = Math.ceil(lo / b), qHi = Math.floor(hi / b);
        if (qLo <= qHi) {
          value = randomInt(rand, qLo, qHi);
          a = value * b;
          break;
        }
      }
    }
    const problem = format === "compact" ? `${a}${op}${b}=` : `What is ${a} ${op} ${b}?`;
    rows.push({ problem, answer: String(value) });
  }
  return rows;
}

/** Options for {@link countdownTask}. */
export interface CountdownTaskOptions {
  /** Number of rows. */
  count: number;
  /** Seed; the same options give the same rows. */
  seed: number;
  /** How many numbers each problem gives: 3 or 4 as in Countdown-Tasks-3to4 (2–6 accepted; default 4). */
  numCount?: number;
  /** Smallest number (default 1). */
  minNumber?: number;
  /** Largest number (default 99). */
  maxNumber?: number;
  /** Smallest target (default 1). */
  minTarget?: number;
  /** Largest target (default 100). */
  maxTarget?: number;
}

/** One Countdown problem, with the expression it was built from. */
export interface CountdownRow {
  /** The number to reach. */
  target: number;
  /** The numbers to use, each exactly once, in random order. */
  nums: number[];
  /** An equation over `nums` that evaluates to `target` (one of possibly many). */
  solution: string;
  /** Index signature so rows can be mapped like dataset rows. */
  [field: string]: unknown;
}

interface Term {
  value: number;
  expr: string;
  atom: boolean;
}

const wrap = (t: Term) => (t.atom ? t.expr : `(${t.expr})`);

/** Attempts per row before giving up on options that admit (almost) no target. */
const MAX_ATTEMPTS = 10_000;

/**
 * Countdown problems solvable by construction: draw the numbers, then combine random pairs with random
 * operators until one value is left, keeping every intermediate a non-negative integer (subtraction
 * larger minus smaller, division only when exact); rows whose value falls outside [minTarget, maxTarget]
 * are redrawn.
 *
 * @example
 * ```ts
 * import { countdownTask } from "./mod.ts";
 * countdownTask({ count: 1, seed: 3, numCount: 3 });
 * // [{ target: 43, nums: [29, 67, 53], solution: "(29 + 67) - 53" }]
 * ```
 */
export function countdownTask(options: CountdownTaskOptions): CountdownRow[] {
  const what = "countdownTask";
  const { count, seed } = options;
  const k = options.numCount ?? 4;
  const lo = options.minNumber ?? 1, hi = options.maxNumber ?? 99;
  const tLo = options.minTarget ?? 1, tHi = options.maxTarget ?? 100;
  checkInt(what, "count", count, 0);
  if (!Number.isInteger(k) || k < 2 || k > 6) {
    throw new DataError(`${what}: numCount must be 2..6 (3 or 4 usual), got ${k}`);
  }
  checkInt(what, "minNumber", lo, 0);
  checkInt(what, "maxNumber", hi, lo);
  checkInt(what, "minTarget", tLo, 0);
  checkInt(what, "maxTarget", tHi, tLo);
  if (!Number.isFinite(seed)) throw new DataError(`${what}: seed must be a number, got ${seed}`);
  const rand = seededRandom(seed);
  const rows: CountdownRow[] = [];
  for (let n = 0; n < count; n++) {
    let row: CountdownRow | null = null;
    for (let attempt = 0; attempt < MAX_ATTEMPTS && row === null; attempt++) {
      const nums = Array.from({ length: k }, () => randomInt(rand, lo, hi));
      let pool: Term[] = nums.map((v) => ({ value: v, expr: String(v), atom: true }));
      while (pool.length > 1) {
        pool = shuffled(rand, pool);
        let [a, b] = pool;
        const rest = pool.slice(2);
        const op = randomChoice(rand, ALL_OPS);
        let value: number;
        if (op === "+") value = a.value + b.value;
        else if (op === "*") value = a.value * b.value;
        else if (op === "-") {
          if (a.value < b.value) [a, b] = [b, a];
          value = a.value - b.value;
        } else {
          if (b.value === 0 || a.value % b.value !== 0) {
            if (a.value !== 0 && b.value % a.value === 0) [a, b] = [b, a];
            else continue; // reshuffle and draw another pair / operator
          }
          value = a.value / b.value;
        }
        pool = [...rest, { value, expr: `${wrap(a)} ${op} ${wrap(b)}`, atom: false }];
      }
      const [result] = pool;
      if (Number.isInteger(result.value) && result.value >= tLo && result.value <= tHi) {
        row = { target: result.value, nums, solution: result.expr };
      }
    }
    if (row === null) {
      throw new DataError(
        `${what}: no target in [${tLo}, ${tHi}] after ${MAX_ATTEMPTS} draws from [${lo}, ${hi}]; widen the ranges`,
      );
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Brute-force Countdown solver: tries every way of combining the numbers pairwise with + − × ÷ (real
 * division, any intermediate) and returns the first equation using each number exactly once whose value
 * is within `tolerance` of the target, or null when there is none.
 *
 * @example
 * ```ts
 * import { solveCountdown } from "./mod.ts";
 * solveCountdown([3, 3, 8, 8], 24); // "8 / (3 - (8 / 3))"
 * solveCountdown([1, 1], 5); // null
 * ```
 */
export function solveCountdown(nums: readonly number[], target: number, tolerance = 1e-5): string | null {
  if (nums.length === 0) return null;
  const search = (pool: Term[]): string | null => {
    if (pool.length === 1) return Math.abs(pool[0].value - target) < tolerance ? pool[0].expr : null;
    for (let i = 0; i < pool.length; i++) {
      for (let j = i + 1; j < pool.length; j++) {
        const a = pool[i], b = pool[j];
        const rest = pool.filter((_, m) => m !== i && m !== j);
        const candidates: Term[] = [
          { value: a.value + b.value, expr: `${wrap(a)} + ${wrap(b)}`, atom: false },
          { value: a.value * b.value, expr: `${wrap(a)} * ${wrap(b)}`, atom: false },
          { value: a.value - b.value, expr: `${wrap(a)} - ${wrap(b)}`, atom: false },
          { value: b.value - a.value, expr: `${wrap(b)} - ${wrap(a)}`, atom: false },
        ];
        if (b.value !== 0) {
          candidates.push({ value: a.value / b.value, expr: `${wrap(a)} / ${wrap(b)}`, atom: false });
        }
        if (a.value !== 0) {
          candidates.push({ value: b.value / a.value, expr: `${wrap(b)} / ${wrap(a)}`, atom: false });
        }
        for (const c of candidates) {
          const found = search([...rest, c]);
          if (found !== null) return found;
        }
      }
    }
    return null;
  };
  return search(nums.map((v) => ({ value: v, expr: String(v), atom: true })));
}

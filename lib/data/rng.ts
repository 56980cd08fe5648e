/**
 * A small seeded PRNG for generating data deterministically on the CPU.
 *
 * @module
 */

/**
 * mulberry32: a fast 32-bit generator whose stream is fully determined by `seed` (any number; only its
 * low 32 bits matter). Returns floats in [0, 1).
 *
 * @example
 * ```ts
 * import { seededRandom } from "./mod.ts";
 * const rand = seededRandom(42);
 * rand(); // same value on every run
 * ```
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in [lo, hi] (both inclusive). */
export function randomInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** A uniformly chosen element of a non-empty list. */
export function randomChoice<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

/** Fisher–Yates shuffle into a new array. */
export function shuffled<T>(rand: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Seeded PRNG (mulberry32, lib/data/rng.ts's `seededRandom`) so every test input is reproducible. */
export { seededRandom as rng } from "../../lib/data/rng.ts";

/** `n` standard-normal draws (Box–Muller), scaled by `std`, as float64. */
export function randn(rand: () => number, n: number, std = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12), v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Values rounded through float32, as float64, so the reference sees exactly what the GPU sees. */
export function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise; the message names the first and
 * worst offending index so a failing kernel test says where it broke.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: { atol: number; rtol?: number },
  what: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  const rtol = tol.rtol ?? 0;
  let bad = -1, worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const limit = tol.atol + rtol * Math.abs(expected[i]);
    if (!(err <= limit)) {
      if (bad < 0) bad = i;
      if (!(err <= worstErr)) {
        worstErr = err;
        worst = i;
      }
    }
  }
  if (bad >= 0) {
    throw new Error(
      `${what}: index ${bad}: got ${actual[bad]}, expected ${expected[bad]}; worst index ${worst}: got ` +
        `${actual[worst]}, expected ${expected[worst]} (|err| ${worstErr}, atol ${tol.atol}, rtol ${rtol})`,
    );
  }
}

/**
 * Central finite differences of a scalar float64 function at `x` for the listed coordinates (all when
 * omitted). Used to check that a float64 reference backward is the true derivative.
 */
export function finiteDiff(
  f: (x: Float64Array) => number,
  x: Float64Array,
  h = 1e-6,
  coords?: number[],
): Float64Array {
  const g = new Float64Array(x.length);
  for (const i of coords ?? x.keys()) {
    const keep = x[i];
    x[i] = keep + h;
    const up = f(x);
    x[i] = keep - h;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Dot product in float64 (projects a gradient onto a random direction for a scalar loss). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Throws unless `fn` throws an error whose message contains every fragment. */
export async function assertThrowsWith(fn: () => unknown, ...fragments: string[]): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const msg = (e as Error).message;
    for (const f of fragments) {
      if (!msg.includes(f)) {
        throw new Error(`error message ${JSON.stringify(msg)} lacks ${JSON.stringify(f)}`);
      }
    }
    return;
  }
  throw new Error(`expected an error mentioning ${fragments.map((f) => JSON.stringify(f)).join(", ")}`);
}

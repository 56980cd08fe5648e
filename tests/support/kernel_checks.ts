/**
 * Checks of GPU kernels against error bounds derived from their evaluation order: per-element bounds,
 * bit-for-bit equality, and finite differences of a loss the GPU computes.
 *
 * @module
 */

/** Elementwise |actual - expected| <= bound[i]; names the worst index. */
export function assertWithin(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  bound: ArrayLike<number>,
  what: string,
): void {
  let worst = -1, ratio = 0;
  for (let i = 0; i < expected.length; i++) {
    const q = Math.abs(actual[i] - expected[i]) / bound[i];
    if (!(q <= ratio)) {
      ratio = q;
      worst = i;
    }
  }
  if (!(ratio <= 1)) {
    throw new Error(
      `${what}: index ${worst}: got ${actual[worst]}, expected ${expected[worst]}, bound ${bound[worst]}`,
    );
  }
}

/** Asserts two float32 arrays are identical bit for bit (so −0 ≠ 0); names the first difference. */
export function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) throw new Error(`${what}: index ${i} differs (${a[i]} vs ${b[i]})`);
  }
}

/**
 * Central difference of a scalar GPU loss along coordinate `i` of an f32 input: sets `host[i]` to the
 * f32-rounded value ± `step`, uploads `host` to `dev` before each evaluation of `loss`, restores both, and
 * divides by the step actually taken (the difference of the two rounded points).
 */
export async function gpuCentralDiff(
  loss: () => Promise<number>,
  host: Float32Array | Float64Array,
  dev: { write(data: ArrayLike<number>): void },
  i: number,
  step: number,
): Promise<number> {
  const keep = host[i];
  const up = Math.fround(keep + step), down = Math.fround(keep - step);
  host[i] = up;
  dev.write(host);
  const lUp = await loss();
  host[i] = down;
  dev.write(host);
  const lDown = await loss();
  host[i] = keep;
  dev.write(host);
  return (lUp - lDown) / (up - down);
}

/**
 * The float64 matmul reference shared by the matmul tests: C = alpha op(A) op(B) + bias + beta C0 with a
 * per-element error bound for an f32 kernel, and helpers for the operand shapes of a problem.
 *
 * @module
 */
import type { Gpu } from "../../lib/gpu/device.ts";
import type { Tensor } from "../../lib/gpu/tensor.ts";
import type { WeightDType } from "../../lib/gpu/dtype.ts";

/** Unit roundoff of f32. */
export const EPS = 2 ** -24;

/** Values rounded through f16 (weights of an inference model), as float64. */
export function f16(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float16Array.from(values));
}

/** One product: sizes, batches of A / B (0: a rank-2 operand shared by every batch), transposes. */
export interface Problem {
  m: number;
  n: number;
  k: number;
  /** Batch of A / B; 0 for a rank-2 operand shared by every batch. */
  batchA: number;
  batchB: number;
  transA: boolean;
  transB: boolean;
}

/** The batch count of the product. */
export const batchOf = (p: Problem) => Math.max(p.batchA, p.batchB, 1);
/** The stored shape of A. */
export const shapeA = (
  p: Problem,
) => [...(p.batchA ? [p.batchA] : []), ...(p.transA ? [p.k, p.m] : [p.m, p.k])];
/** The stored shape of B. */
export const shapeB = (
  p: Problem,
) => [...(p.batchB ? [p.batchB] : []), ...(p.transB ? [p.n, p.k] : [p.k, p.n])];
/** The shape of C. */
export const shapeC = (p: Problem) => [...(p.batchA || p.batchB ? [batchOf(p)] : []), p.m, p.n];

/**
 * float64 C = alpha op(A) op(B) + bias + beta C0, with a per-element error bound for an f32 kernel: the K
 * products and adds plus at most 4 epilogue operations each round once (relative error <= 2^-24), so
 * |err| <= (K + 5) eps (|alpha| sum_k |a b| + |bias| + |beta C0|) (the classic gamma_n bound of a
 * recursive sum; any summation order within one dot product satisfies it).
 */
export function reference(
  p: Problem,
  a: Float64Array,
  b: Float64Array,
  o: { alpha?: number; beta?: number; bias?: Float64Array; c0?: Float64Array } = {},
): { y: Float64Array; bound: Float64Array } {
  const { m, n, k } = p;
  const alpha = o.alpha ?? 1, beta = o.beta ?? 0;
  const batch = batchOf(p);
  const y = new Float64Array(batch * m * n), bound = new Float64Array(batch * m * n);
  for (let z = 0; z < batch; z++) {
    const oa = p.batchA ? z * m * k : 0, ob = p.batchB ? z * k * n : 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, abs = 0;
        for (let q = 0; q < k; q++) {
          const av = a[oa + (p.transA ? q * m + i : i * k + q)];
          const bv = b[ob + (p.transB ? j * k + q : q * n + j)];
          s += av * bv;
          abs += Math.abs(av * bv);
        }
        const at = (z * m + i) * n + j;
        const bias = o.bias ? o.bias[j] : 0;
        const old = beta !== 0 ? beta * o.c0![at] : 0;
        y[at] = alpha * s + bias + old;
        bound[at] = (k + 5) * EPS * (Math.abs(alpha) * abs + Math.abs(bias) + Math.abs(old)) + 1e-30;
      }
    }
  }
  return { y, bound };
}

/** Throws naming the first element outside the reference's bound. */
export function assertWithin(
  actual: ArrayLike<number>,
  ref: { y: Float64Array; bound: Float64Array },
  what: string,
) {
  if (actual.length !== ref.y.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${ref.y.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - ref.y[i]);
    if (!(err <= ref.bound[i])) {
      throw new Error(
        `${what}: index ${i}: got ${actual[i]}, expected ${ref.y[i]} (|err| ${err} > ${ref.bound[i]})`,
      );
    }
  }
}

/** Uploads float64 values as a tensor of `dtype` (f16 and bf16 round to nearest even). */
export function upload(gpu: Gpu, values: Float64Array, shape: number[], dtype: WeightDType = "f32"): Tensor {
  return gpu.fromArray(values, shape, dtype);
}

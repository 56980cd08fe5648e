import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "rope.wgsl";
const INPLACE: KernelSpec = {
  name: "rope.inplace",
  file: FILE,
  entry: "rope_inplace",
  bindings: ["positions", "invFreq", "x"],
};
const OUT: KernelSpec = {
  name: "rope.out",
  file: FILE,
  entry: "rope_out",
  bindings: ["positions", "invFreq", "x", "out"],
};

/** How {@link ropeForward} / {@link ropeBackward} rotate. */
export interface RopeOptions {
  /** Head dimension D (even); q and k rows hold whole heads of D elements. */
  readonly headDim: number;
  /** Base of the frequencies (`rope_theta` in config.json); required unless `invFreq` is given. */
  readonly theta?: number;
  /** Llama 3 frequency scaling applied to the `theta` frequencies (`rope_scaling` of Llama-3.1/3.2). */
  readonly scaling?: Llama3RopeScaling;
  /** Custom f32 [D/2] inverse frequencies (other scaled RoPE variants); overrides `theta` and `scaling`. */
  readonly invFreq?: Tensor;
  /** Rotate q and k in place instead of into new tensors (default false). */
  readonly inPlace?: boolean;
  /** Destination for the rotated q (out-of-place only). */
  readonly qOut?: Tensor;
  /** Destination for the rotated k (out-of-place only). */
  readonly kOut?: Tensor;
}

/** Rotated tensors returned by {@link ropeForward} and {@link ropeBackward}. */
export interface RopeResult {
  /** Rotated q (or dq). */
  readonly q: Tensor;
  /** Rotated k (or dk); null when none was given. */
  readonly k: Tensor | null;
}

/**
 * Hugging Face's f32 inverse frequencies `1 / theta^(2i/D)`, i < D/2: the exponent is an f32 quotient,
 * the power and the reciprocal are each rounded to f32, as `torch` computes them.
 */
export function ropeInvFreq(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    out[i] = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / headDim))));
  }
  return out;
}

/** Llama 3's RoPE scaling (`"rope_type": "llama3"` in config.json's `rope_scaling`). */
export interface Llama3RopeScaling {
  /** Wavelengths longer than the original context / `lowFreqFactor` are slowed by this factor. */
  readonly factor: number;
  /** `low_freq_factor`. */
  readonly lowFreqFactor: number;
  /** `high_freq_factor`; wavelengths under the original context / this are left alone. */
  readonly highFreqFactor: number;
  /** `original_max_position_embeddings`: the context the unscaled model was trained for. */
  readonly originalMaxPositionEmbeddings: number;
}

/**
 * Llama 3's scaled inverse frequencies, computed in f32 step by step as Hugging Face's
 * `_compute_llama3_parameters` does in torch: long wavelengths are divided by `factor`, short ones kept,
 * and the band between is interpolated smoothly.
 */
export function llama3InvFreq(invFreq: Float32Array, scaling: Llama3RopeScaling): Float32Array {
  const f = Math.fround;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: context } = scaling;
  // Python computes these bounds in double; torch compares them with the f32 wavelengths as f32.
  const lowFreqWavelen = f(context / lowFreqFactor);
  const highFreqWavelen = f(context / highFreqFactor);
  return invFreq.map((inv) => {
    // torch evaluates `scalar / tensor` as reciprocal(tensor) · f32(scalar): two roundings, kept here.
    const wavelen = f(f(1 / inv) * f(2 * Math.PI));
    const scaled = wavelen > lowFreqWavelen ? f(inv / f(factor)) : inv;
    if (wavelen < highFreqWavelen || wavelen > lowFreqWavelen) return scaled;
    const smooth = f(
      f(f(f(1 / wavelen) * f(context)) - f(lowFreqFactor)) / f(highFreqFactor - lowFreqFactor),
    );
    return f(f(f(f(1 - smooth) * scaled) / f(factor)) + f(smooth * scaled));
  });
}

/**
 * Rotary embedding of q (f32 [T, nHeads·D]) and optionally k (f32 [T, nKv·D]) at per-token positions
 * (i32 [T]; batched decoding has one position per sequence), rotate-half convention. Angles are
 * f32(pos) · inv_freq in f32 as in Hugging Face; cos/sin are accurate for |angle| up to ~1e5.
 */
export function ropeForward(
  gpu: Gpu,
  q: Tensor,
  k: Tensor | null,
  positions: Tensor,
  opts: RopeOptions,
): RopeResult {
  return rope(gpu, "rope.forward", 1, q, k, positions, opts, ["q", "k"]);
}

/**
 * Gradient of {@link ropeForward}: rotates dq / dk by the negative angles (the transpose of the
 * rotation). Same options; `inPlace` overwrites dq / dk.
 */
export function ropeBackward(
  gpu: Gpu,
  dq: Tensor,
  dk: Tensor | null,
  positions: Tensor,
  opts: RopeOptions,
): RopeResult {
  return rope(gpu, "rope.backward", -1, dq, dk, positions, opts, ["dq", "dk"]);
}

function rope(
  gpu: Gpu,
  kernel: string,
  sign: number,
  q: Tensor,
  k: Tensor | null,
  positions: Tensor,
  opts: RopeOptions,
  names: [string, string],
): RopeResult {
  const d = opts.headDim;
  expectInt(kernel, "headDim", d, 2);
  if (d % 2 !== 0) throw new KernelArgumentError(kernel, "headDim", `must be even, got ${d}`);
  expectTensor(kernel, "positions", positions, { dtype: "i32", shape: [null] });
  const tokens = positions.shape[0];
  const inputs: [string, Tensor, string][] = [[names[0], q, "qOut"]];
  if (k !== null) inputs.push([names[1], k, "kOut"]);
  for (const [name, t] of inputs) {
    expectTensor(kernel, name, t, { dtype: "f32", shape: [tokens, null] });
    if (t.shape[1] % d !== 0) {
      throw new KernelArgumentError(kernel, name, `width ${t.shape[1]} is not a multiple of headDim ${d}`);
    }
  }
  let invFreq: Tensor;
  if (opts.invFreq !== undefined) {
    invFreq = opts.invFreq;
    expectTensor(kernel, "invFreq", invFreq, { dtype: "f32", shape: [d / 2] });
  } else {
    const theta = opts.theta;
    if (theta === undefined || !Number.isFinite(theta) || theta <= 0) {
      throw new KernelArgumentError(kernel, "theta", `must be a finite number > 0, got ${theta}`);
    }
    invFreq = cachedInvFreq(gpu, d, theta, opts.scaling);
  }
  const outs: Tensor[] = [];
  for (const [name, t, outName] of inputs) {
    const given = outName === "qOut" ? opts.qOut : opts.kOut;
    if (opts.inPlace && given !== undefined) {
      throw new KernelArgumentError(kernel, outName, "cannot be given together with inPlace");
    }
    const dst = opts.inPlace ? t : given ?? gpu.empty(t.shape, "f32", `${kernel}.${name}`);
    if (!opts.inPlace) {
      expectTensor(kernel, outName, dst, { dtype: "f32", shape: t.shape });
      if (dst.buffer === t.buffer) {
        throw new KernelArgumentError(kernel, outName, `shares a buffer with ${name}; use inPlace`);
      }
    }
    const heads = t.shape[1] / d;
    const pairs = tokens * heads * (d / 2);
    if (pairs > 0) {
      gpu.dispatch(opts.inPlace ? INPLACE : OUT, {
        bindings: opts.inPlace ? [positions, invFreq, t] : [positions, invFreq, t, dst],
        params: { pairs, half: d / 2, heads, sign },
        workgroups: Math.ceil(pairs / 256),
      });
    }
    outs.push(dst);
  }
  return { q: outs[0], k: k === null ? null : outs[1] };
}

const invFreqCache = new WeakMap<Gpu, Map<string, Tensor>>();

/**
 * The f32 [D/2] inverse frequencies (Llama 3 scaled when `scaling` is given) on the GPU, uploaded once per
 * device and kept: an upload submits pending work, so it must not happen per call or per decode step.
 */
export function cachedInvFreq(gpu: Gpu, headDim: number, theta: number, scaling?: Llama3RopeScaling): Tensor {
  let m = invFreqCache.get(gpu);
  if (!m) invFreqCache.set(gpu, m = new Map());
  const key = JSON.stringify([headDim, theta, scaling ?? null]);
  let t = m.get(key);
  if (!t) {
    const base = ropeInvFreq(headDim, theta);
    t = gpu.fromArray(scaling ? llama3InvFreq(base, scaling) : base, [headDim / 2], "f32", "rope.invFreq");
    m.set(key, t);
  }
  return t;
}

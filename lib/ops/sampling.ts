import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const SAMPLE: KernelSpec = {
  name: "sampling.sample",
  file: "sampling.wgsl",
  entry: "sample",
  bindings: ["logits", "streams", "steps", "seeds", "tokens", "logprobs"],
};

// Top-k counts are summed in f32, exact only below 2^24.
const MAX_VOCAB = 2 ** 24;

// Threads per row: 256 once the row gives each thread several tokens, down to 16 for tiny vocabularies.
function threadsFor(vocab: number): number {
  return Math.min(256, Math.max(16, 2 ** Math.ceil(Math.log2(Math.ceil(vocab / 8)))));
}

/** Options of {@link sampleTokens}. */
export interface SamplingOptions {
  /** Softmax temperature; 0 picks the argmax (lowest index among ties). Default 1. */
  readonly temperature?: number;
  /** Keep only tokens whose logit is at least the k-th largest (ties at it are all kept); 0 = off. */
  readonly topK?: number;
  /**
   * Keep the tokens whose logit is at least the largest threshold τ with P(z ≥ τ) ≥ topP, measured on
   * the distribution renormalised over the top-k survivors (ties at τ are all kept); 1 = off.
   */
  readonly topP?: number;
  /** Run seed of every row, an integer in [0, 2^53); give this or `seeds`. */
  readonly seed?: number;
  /**
   * Per-row seeds `u32[B, 2]` (low word, high word) in place of `seed`, so rows with different seeds
   * share a dispatch; {@link seedWords} packs them.
   */
  readonly seeds?: Tensor;
}

/** Sampled tokens `i32[B]` and their log-probabilities `f32[B]`. */
export interface SampledTokens {
  /** The sampled token per row. */
  readonly tokens: Tensor;
  /**
   * log softmax(logits / T)[token] under the full distribution, before top-k / top-p filtering
   * (log softmax(logits) when T = 0).
   */
  readonly logprobs: Tensor;
}

/**
 * Samples one token per row of `logits` `f32[B, V]` on the GPU by the Gumbel-max trick. The noise of
 * token i in row r comes from Philox-4x32-10 keyed by (seed, `streams[r]`, `steps[r]`, i) — the seed
 * being `options.seed`, or row r's own from `options.seeds` — see
 * {@link samplingBits} — so a row's token does not depend on the other rows of the batch, and the
 * generation loop can advance `steps` (`u32[B]`, e.g. per-row positions) on the GPU between submits.
 */
export function sampleTokens(
  gpu: Gpu,
  logits: Tensor,
  streams: Tensor,
  steps: Tensor,
  options: SamplingOptions,
  out: Partial<SampledTokens> = {},
): SampledTokens {
  const kernel = SAMPLE.name;
  expectTensor(kernel, "logits", logits, { dtype: "f32", shape: [null, null] });
  const [rows, vocab] = logits.shape;
  expectInt(kernel, "logits.shape[1] (vocabulary)", vocab, 1, MAX_VOCAB);
  expectTensor(kernel, "streams", streams, { dtype: "u32", shape: [rows] });
  expectTensor(kernel, "steps", steps, { dtype: "u32", shape: [rows] });
  const { temperature = 1, topK = 0, topP = 1, seed, seeds } = options;
  if (!(Number.isFinite(temperature) && temperature >= 0)) {
    throw new KernelArgumentError(kernel, "temperature", `must be a finite number >= 0, got ${temperature}`);
  }
  expectInt(kernel, "topK", topK, 0, 2 ** 32 - 1);
  if (!(topP > 0 && topP <= 1)) {
    throw new KernelArgumentError(kernel, "topP", `must be in (0, 1], got ${topP}`);
  }
  if ((seed === undefined) === (seeds === undefined)) {
    throw new KernelArgumentError(kernel, "seed", "give exactly one of seed and seeds");
  }
  if (seeds) expectTensor(kernel, "seeds", seeds, { dtype: "u32", shape: [rows, 2] });
  else expectInt(kernel, "seed", seed!, 0, Number.MAX_SAFE_INTEGER);
  const tokens = out.tokens ?? gpu.empty([rows], "i32", `${kernel}.tokens`);
  const logprobs = out.logprobs ?? gpu.empty([rows], "f32", `${kernel}.logprobs`);
  expectTensor(kernel, "tokens", tokens, { dtype: "i32", shape: [rows] });
  expectTensor(kernel, "logprobs", logprobs, { dtype: "f32", shape: [rows] });
  if (rows > 0) {
    gpu.dispatch(SAMPLE, {
      // Without per-row seeds the kernel never reads the seeds binding: streams stands in for it.
      bindings: [logits, streams, steps, seeds ?? streams, tokens, logprobs],
      params: {
        rows,
        vocab,
        temperature,
        top_k: topK,
        top_p: topP,
        seed_lo: (seed ?? 0) >>> 0,
        seed_hi: Math.floor((seed ?? 0) / 2 ** 32),
        per_row_seed: seeds ? 1 : 0,
      },
      workgroups: rows,
      variant: { constants: { WG: threadsFor(vocab) } },
    });
  }
  return { tokens, logprobs };
}

/** Seeds in [0, 2^53) as the (low word, high word) pairs of {@link SamplingOptions.seeds}. */
export function seedWords(seeds: readonly number[]): Uint32Array {
  const words = new Uint32Array(2 * seeds.length);
  seeds.forEach((s, i) => {
    if (!(Number.isInteger(s) && s >= 0 && s <= Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`seed ${i} = ${s} is not an integer in [0, 2^53)`);
    }
    words[2 * i] = s >>> 0;
    words[2 * i + 1] = Math.floor(s / 2 ** 32);
  });
  return words;
}

// 32x32 -> 64-bit product as [hi, lo], the same 16-bit split as the kernel.
function mulhilo(a: number, b: number): [number, number] {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p01 = a0 * b1, p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return [(a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0, Math.imul(a, b) >>> 0];
}

/** Philox-4x32-10 (Salmon et al., 2011) on the host: four u32 counter words and two u32 key words. */
export function philox4x32(counter: readonly number[], key: readonly number[]): Uint32Array {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return Uint32Array.of(c0, c1, c2, c3);
}

/**
 * The 32 random bits {@link sampleTokens} draws for `token` of a row with this stream and step; the
 * token's noise is G = −log E with E = −log(1 − (bits + 0.5) / 2^32). For reproducing a draw on the host.
 */
export function samplingBits(seed: number, stream: number, step: number, token: number): number {
  const key = [seed >>> 0, Math.floor(seed / 2 ** 32)];
  return philox4x32([Math.floor(token / 4), step, stream, 0], key)[token % 4];
}

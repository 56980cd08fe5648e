/**
 * What a transformer step costs in arithmetic and memory traffic, and the time an ideal GPU would need for
 * it (a roofline: the larger of FLOPs at peak FMA rate and bytes at peak bandwidth). Measured times on the
 * CPU adapter say nothing about a GPU; these formulas say what a GPU could at best do with the same work.
 *
 * @module
 */
import type { ModelConfig } from "../model/config.ts";
import { BufferPool } from "../gpu/buffer_pool.ts";
import { EMBED_TOKENS } from "../model/weights.ts";

/** Peak rates of a device, for {@link roofline}. */
export interface RooflineDevice {
  /** What the rates describe. */
  readonly name: string;
  /** Peak arithmetic rate, FLOP/s. */
  readonly flopsPerSecond: number;
  /** Peak memory bandwidth, bytes/s. */
  readonly bytesPerSecond: number;
}

/**
 * An H100 SXM as WGSL sees it: f32 vector FMA (no tensor cores: ~67 TF/s) and HBM3 at 3.35 TB/s.
 */
export const H100: RooflineDevice = {
  name: "H100 SXM: 67 TF/s f32 vector FMA, 3.35 TB/s HBM3",
  flopsPerSecond: 67e12,
  bytesPerSecond: 3.35e12,
};

/** The sizes the cost formulas read. */
export type CostConfig = Pick<
  ModelConfig,
  | "vocabSize"
  | "hiddenSize"
  | "intermediateSize"
  | "numLayers"
  | "numHeads"
  | "numKvHeads"
  | "headDim"
  | "tieWordEmbeddings"
>;

/**
 * Weights every token multiplies through: each layer's q, k, v, o, gate, up and down projections, and the
 * LM head (the embedding matrix when tied). The embedding lookup is a gather, not a matmul.
 */
export function matmulParams(config: CostConfig): number {
  const { hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim } = config;
  const q = numHeads * headDim, kv = numKvHeads * headDim;
  const perLayer = h * q + 2 * h * kv + q * h + 3 * h * inter;
  return config.numLayers * perLayer + config.vocabSize * h;
}

/**
 * Forward FLOPs of one token that attends to `context` keys: 2 per matmul weight (multiply and add) plus
 * attention's scores (q·k) and weighted sum (p·v), 2·headDim each per head and key, in every layer.
 */
export function forwardFlopsPerToken(config: CostConfig, context: number): number {
  const attention = 4 * config.numHeads * config.headDim * context * config.numLayers;
  return 2 * matmulParams(config) + attention;
}

/** Training FLOPs of one token: the forward, then a backward that costs twice as much (dx and dW). */
export function trainFlopsPerToken(config: CostConfig, context: number): number {
  return 3 * forwardFlopsPerToken(config, context);
}

/**
 * FLOPs per token that per-layer activation recomputation adds to a training step: every decoder layer's
 * forward again, less its down projection (the recomputation needs the layer's activations, not its
 * output); the LM head is not rerun.
 */
export function recomputeFlopsPerToken(config: CostConfig, context: number): number {
  const head = 2 * config.vocabSize * config.hiddenSize;
  const down = 2 * config.numLayers * config.intermediateSize * config.hiddenSize;
  return forwardFlopsPerToken(config, context) - head - down;
}

/** One parameter tensor, as the byte count needs it. */
export interface ParamSize {
  /** Hugging Face name; a row block of a split vocabulary matrix may carry an `@i` suffix. */
  readonly name: string;
  /** Number of elements. */
  readonly elements: number;
  /** Bytes per stored element (4 for f32, 2 for bf16 / f16). */
  readonly bytesPerElement: number;
}

/**
 * Weight bytes one forward pass over `rows` token rows reads, each weight once: every parameter at its
 * stored width, except that an untied embedding matrix is only gathered (`rows` rows of it). A tied
 * embedding is read whole, as the LM head.
 */
export function weightBytesPerForward(
  config: CostConfig,
  params: Iterable<ParamSize>,
  rows: number,
): number {
  let bytes = 0;
  for (const p of params) {
    const base = p.name.replace(/@\d+$/, "");
    if (base === EMBED_TOKENS && !config.tieWordEmbeddings) continue;
    bytes += p.elements * p.bytesPerElement;
  }
  if (!config.tieWordEmbeddings) {
    const embed = [...params].find((p) => p.name.replace(/@\d+$/, "") === EMBED_TOKENS);
    bytes += Math.min(rows, config.vocabSize) * config.hiddenSize * (embed?.bytesPerElement ?? 4);
  }
  return bytes;
}

/**
 * Bytes one forward + backward over `rows` rows moves for the weights: the weights read twice (forward,
 * and the backward's dx products) and every f32 gradient accumulator read and written once.
 */
export function trainBytesPerStep(config: CostConfig, params: Iterable<ParamSize>, rows: number): number {
  const list = [...params];
  const gradients = list.reduce((n, p) => n + p.elements, 0) * 4 * 2;
  return 2 * weightBytesPerForward(config, list, rows) + gradients;
}

/**
 * KV-cache bytes one decode step reads: keys and values of `context` positions in every layer, for each
 * of `batch` sequences.
 */
export function kvCacheBytesPerStep(
  config: CostConfig,
  batch: number,
  context: number,
  bytesPerElement = 4,
): number {
  return batch * config.numLayers * 2 * config.numKvHeads * config.headDim * context * bytesPerElement;
}

/** The ideal time of a piece of work on `device`, and which limit sets it. */
export interface RooflineEstimate {
  /** max(FLOPs / peak FLOP/s, bytes / peak bandwidth). */
  readonly seconds: number;
  /** Whether arithmetic or memory traffic takes longer. */
  readonly bound: "compute" | "memory";
}

/** The roofline time of `flops` FLOPs that move `bytes` bytes on `device` (default {@link H100}). */
export function roofline(flops: number, bytes: number, device: RooflineDevice = H100): RooflineEstimate {
  const compute = flops / device.flopsPerSecond, memory = bytes / device.bytesPerSecond;
  return compute >= memory ? { seconds: compute, bound: "compute" } : { seconds: memory, bound: "memory" };
}

/** The micro-batch a training step runs, for {@link trainingPeakMemory}. */
export interface TrainingShape {
  /** Sequences per micro-batch. */
  readonly batch: number;
  /** Padded tokens per sequence. */
  readonly seqLen: number;
  /** Rows the loss reads through the LM head (default every row, batch · seqLen). */
  readonly lossRows?: number;
  /** LM-head rows per logits chunk (`logitChunkRows(model)`: 64 MiB of f32 logits). */
  readonly logitChunkRows: number;
  /** Per-layer activation recomputation (`forward`'s `recompute`). */
  readonly recompute: boolean;
  /** Count AdamW's two f32 moments per parameter (default true). */
  readonly optimizer?: boolean;
}

/** Peak GPU bytes of one training step, and what they are made of. */
export interface TrainingMemory {
  /** The parameters at their stored width, in exact-size buffers. */
  readonly weights: number;
  /** One f32 gradient accumulator per parameter tensor. */
  readonly gradients: number;
  /** AdamW's first and second moments and its norm and clip scalars (0 when not counted). */
  readonly optimizer: number;
  /** What the forward keeps for the backward: every layer's activations, or only each layer's input. */
  readonly savedActivations: number;
  /**
   * The rest of the peak: the batch's ids and positions, the LM head's input and gradient, one layer's
   * working buffers (the recomputed activations and the backward's gradients), the logits chunk and
   * kernels' scratch, as the pool keeps them.
   */
  readonly transient: number;
  /** The pool's peak: the sum of the above. */
  readonly peakBytes: number;
}

/**
 * Peak GPU bytes of one training step (forward, the LM head's chunked backward, backward, AdamW) over one
 * micro-batch, with f32 weights, gradients and moments, as the buffer pool (lib/gpu/buffer_pool.ts) holds
 * them. The pool never gives memory back within a step and reuses a buffer only for a request of the same
 * quarter-octave bucket. So the step is modelled as phases — each layer's forward, each logits chunk, each
 * layer's backward — each holding every buffer it touches, and the peak is, bucket by bucket, the most
 * buffers any phase holds, times the bucket's size. That is an upper bound: the pool hands a buffer released
 * inside a phase to the phase's next kernel-filled tensor of its bucket at once, which the small models
 * measure as up to ~20% less (tests/model/recompute_test.ts).
 *
 * Not counted: attention's split-K scratch (a forward whose batch · KV heads · query tiles is below 256
 * workgroups, i.e. short batches of long sequences), the LM head's per-block copies when its matrix is
 * split into row blocks, and gradient-norm partial sums (4 bytes per 2^k gradient elements).
 */
export function trainingPeakMemory(
  config: CostConfig,
  params: Iterable<ParamSize>,
  shape: TrainingShape,
): TrainingMemory {
  const { batch, seqLen, logitChunkRows, recompute } = shape;
  const t = batch * seqLen;
  const lossRows = shape.lossRows ?? t;
  for (
    const [name, v, min] of [["batch", batch, 1], ["seqLen", seqLen, 1], [
      "logitChunkRows",
      logitChunkRows,
      1,
    ]]
  ) {
    if (!Number.isInteger(v) || (v as number) < (min as number)) {
      throw new RangeError(`trainingPeakMemory: ${name} must be an integer >= ${min}, got ${v}`);
    }
  }
  if (!Number.isInteger(lossRows) || lossRows < 0 || lossRows > t) {
    throw new RangeError(
      `trainingPeakMemory: lossRows must be an integer in [0, batch · seqLen = ${t}], got ${lossRows}`,
    );
  }
  const { hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, numLayers, vocabSize } =
    config;
  const q = numHeads * headDim, kv = numKvHeads * headDim;
  const f32 = (...dims: number[]) => Math.max(4, 4 * dims.reduce((a, b) => a * b, 1));
  const list = [...params];
  const weights = list.reduce(
    (n, p) => n + Math.max(4, Math.ceil((p.elements * p.bytesPerElement) / 4) * 4),
    0,
  );
  const grads = list.map((p) => f32(p.elements));
  const moments = shape.optimizer === false ? [] : [...grads, ...grads, f32(1), f32(1)];
  // ids and positions [T], pastLen and kvLen [B] (i32); RoPE's inverse frequencies, kept per device.
  const batchInputs = [f32(t), f32(t), f32(batch), f32(batch), f32(headDim / 2)];
  const persistent = [...grads, ...moments, ...batchInputs];

  const hidden = f32(t, h), rows = f32(t);
  const normPartial = f32(Math.ceil(t / 64), h);
  // One layer's forward activations as layerForward allocates them (attnOut is released at the layer's end).
  const activations = [
    hidden,
    rows,
    f32(t, q),
    f32(t, kv),
    f32(t, kv),
    f32(t, q),
    f32(t, numHeads),
    f32(t, h), // h1 … lse, attnOut
    hidden,
    hidden,
    rows,
    f32(t, inter),
    f32(t, inter),
    f32(t, inter), // x2, h2, rstd2, gate, up, act
  ];
  const attnOutAt = 7;
  const keptPerLayer = activations.filter((_, i) => i !== attnOutAt);
  const layerSaved = (layers: number) =>
    Array.from({ length: layers }, () => (recompute ? [hidden] : [hidden, ...keptPerLayer])).flat();
  const forwardLayer = [hidden, ...activations, hidden, hidden]; // the input, …, down, the layer's output
  // The layer backward's buffers, all held until the submit that ends the layer: dAct, dgate, dup, dh2,
  // norm partial, dx2, dx2 + dOut, dO, dq, dk, dv, delta, dh1, norm partial, dxIn, dx.
  const backwardLayer = [
    f32(t, inter),
    f32(t, inter),
    f32(t, inter),
    hidden,
    normPartial,
    hidden,
    hidden,
    f32(t, q),
    f32(t, q),
    f32(t, kv),
    f32(t, kv),
    f32(t, numHeads),
    hidden,
    normPartial,
    hidden,
    hidden,
  ];
  const allSaved = [...layerSaved(numLayers), hidden, rows]; // + the last layer's output and the final rstd
  const headChunk = (c: number) => [f32(c), f32(c, h), f32(c, vocabSize), f32(c), f32(c), f32(c, h)];
  const phases: number[][] = [
    // The last layer's forward holds the most saved activations.
    [...persistent, ...layerSaved(numLayers - 1), ...forwardLayer],
    [...persistent, ...allSaved, hidden], // the final norm's output
  ];
  // The LM head: its input and gradient, and one chunk of rows (each chunk starts with an upload, a submit).
  const head = [...persistent, ...allSaved, hidden, hidden];
  const full = Math.min(logitChunkRows, lossRows);
  const last = lossRows > logitChunkRows && lossRows % logitChunkRows > 0 ? lossRows % logitChunkRows : full;
  if (full > 0) phases.push([...head, ...headChunk(full)]);
  if (last !== full) phases.push([...head, ...headChunk(last)]);
  // The last layer's backward also holds the final norm's dx and partial sums, and the last logits chunk's
  // buffers, released but not yet submitted; recompute adds the layer's activations (attnOut included).
  phases.push([
    ...head,
    ...(last > 0 ? headChunk(last) : []),
    hidden,
    normPartial,
    ...(recompute ? activations : []),
    ...backwardLayer,
  ]);
  // The embedding backward: the gradient reaching the embeddings and the upload of its row grouping.
  phases.push([...head, hidden, f32(2 * Math.min(t, vocabSize) + 1 + t)]);
  const most = new Map<number, number>();
  for (const phase of phases) {
    const counts = new Map<number, number>();
    for (const bytes of phase) {
      const b = BufferPool.bucket(bytes);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    for (const [b, n] of counts) most.set(b, Math.max(most.get(b) ?? 0, n));
  }
  const pooled = [...most].reduce((n, [b, count]) => n + b * count, 0);
  const bucketed = (xs: number[]) => xs.reduce((n, x) => n + BufferPool.bucket(x), 0);
  const gradients = bucketed(grads), optimizer = bucketed(moments);
  const savedActivations = bucketed(layerSaved(numLayers));
  const peakBytes = weights + pooled;
  return {
    weights,
    gradients,
    optimizer,
    savedActivations,
    transient: peakBytes - weights - gradients - optimizer - savedActivations,
    peakBytes,
  };
}

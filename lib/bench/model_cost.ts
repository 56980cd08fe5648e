/**
 * What a transformer step costs in arithmetic and memory traffic, and the time an ideal GPU would need for
 * it (a roofline: the larger of FLOPs at peak FMA rate and bytes at peak bandwidth). Measured times on the
 * CPU adapter say nothing about a GPU; these formulas say what a GPU could at best do with the same work.
 *
 * @module
 */
import type { ModelConfig } from "../model/config.ts";
import { BufferPool } from "../gpu/buffer_pool.ts";
import { EMBED_TOKENS, LM_HEAD } from "../model/weights.ts";
import { PoolReplay, type ReplayBuffer } from "./pool_replay.ts";

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

/**
 * The sizes the cost formulas read, and the family's layout (q/k norms, OLMo-2's output norms in place of
 * input norms), which decides the activations a training step holds.
 */
export type CostConfig = Pick<
  ModelConfig,
  | "qkNorm"
  | "postNorms"
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
 * RMSNorms (Qwen3's q/k norms and OLMo-2's output norms among them), RoPE and SwiGLU cost a few FLOPs per
 * activation rather than two per weight (about 0.1% of a layer at the published shapes) and are left out.
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
  /** Count AdamW: its two f32 moments per parameter and the gradient norm's scratch (default true). */
  readonly optimizer?: boolean;
  /**
   * The micro-batch's token ids (batch · seqLen, padding included). The embedding backward uploads the
   * rows grouped by id, one entry per distinct id; without the ids every token counts as a distinct id,
   * the largest grouping.
   */
  readonly ids?: ArrayLike<number>;
}

/** Peak GPU bytes of one training step, and what they are made of. */
export interface TrainingMemory {
  /** The parameters at their stored width, in exact-size buffers. */
  readonly weights: number;
  /** One f32 gradient accumulator per parameter tensor. */
  readonly gradients: number;
  /** AdamW's first and second moments and its norm and clip scalars (0 when not counted). */
  readonly optimizer: number;
  /** What the forward keeps for the backward: every layer's input and activations, or only its input. */
  readonly savedActivations: number;
  /**
   * The rest of the peak: the RoPE table and every other buffer the step creates — the batch's upload,
   * one layer's working buffers (the recomputed activations and the backward's gradients), the LM head's
   * input, output and gradient, the logits chunk, kernels' scratch and the embedding gradient's row
   * grouping — where the pool has no released buffer of the bucket to hand out.
   */
  readonly transient: number;
  /** The pool's peak: the sum of the above. */
  readonly peakBytes: number;
}

/**
 * Peak GPU bytes of one training step over one micro-batch — `lossBackward` (lib/model/train_step.ts):
 * the batch's upload, the forward with saved activations (or, with recompute, only each layer's input),
 * the LM head's chunked backward, the decoder backward, the embedding backward — and, unless `optimizer`
 * is false, AdamW's update, with f32 weights, gradients and moments, as the buffer pool
 * (lib/gpu/buffer_pool.ts) holds them. The step is replayed on a {@link PoolReplay}: every tensor the
 * code allocates and releases, in the code's order, temporaries inside ops included (attention's lse and
 * delta, RMSNorm's rstd and weight-gradient partial sums, linearBackward's dx, the LM head's row
 * blocks), in the family's layout (`qkNorm`: Qwen3's q/k norms per head, OLMo-2's over the projection;
 * `postNorms`: OLMo-2's output norms in place of input norms). The pool's rules make the count exact:
 *
 * - every request gets a quarter-octave bucket (at most 25% slack) and is served only from that bucket;
 * - a tensor that kernels fill (`gpu.empty`, `gpu.zeros`) takes a buffer released earlier in the
 *   recording at once; an upload (`gpu.fromArray`) takes only one released before the last submit. The
 *   step submits nothing, so its two uploads (the batch, the embedding backward's row grouping) are new;
 * - nothing is destroyed between trims, so the peak is the pool's size at the step's end: the weights
 *   (exact-size buffers), the gradients and moments, the RoPE table (cached per device) and every buffer
 *   the step created.
 *
 * It counts from an empty pool (the first micro-batch after `pool.trim()`, as the benchmarks and tests
 * measure it); a later micro-batch reuses those buffers, and adds only its two uploads when no submit
 * came between. Assumed, so the count is an upper bound where they do not hold: the recorder submits
 * nothing on its own within the step (it does when its 1 MiB of dispatch params fills, 4096 dispatches
 * at 256-byte alignment; the row grouping's upload may then reuse a buffer); the loss is the weighted
 * log-probability (SFT: three segments per logits chunk in the upload, GRPO's two); attention's split-K
 * scratch (only for a batch of few sequences of 512 tokens or more) is that of 32-row tiles, the most
 * splits; no gradient is split for the gradient norm's binding limit (that adds a few partial sums).
 */
export function trainingPeakMemory(
  config: CostConfig,
  params: Iterable<ParamSize>,
  shape: TrainingShape,
): TrainingMemory {
  const { batch, seqLen, logitChunkRows } = shape;
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
  const { vocabSize } = config;
  const ids = shape.ids;
  if (ids !== undefined) {
    if (ids.length !== t) {
      throw new RangeError(`trainingPeakMemory: ids must hold batch · seqLen = ${t} ids, got ${ids.length}`);
    }
    for (let i = 0; i < t; i++) {
      if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] >= vocabSize) {
        throw new RangeError(
          `trainingPeakMemory: ids must lie in [0, ${vocabSize - 1}], got ${ids[i]} at ${i}`,
        );
      }
    }
  }
  const list = [...params];
  const weights = list.reduce(
    (n, p) => n + Math.max(4, Math.ceil((p.elements * p.bytesPerElement) / 4) * 4),
    0,
  );
  const bucketed = (sizes: number[]) => sizes.reduce((n, b) => n + BufferPool.bucket(b), 0);
  const grads = list.map((p) => f32Bytes(p.elements));
  const moments = shape.optimizer === false ? [] : [...grads, ...grads, f32Bytes(1), f32Bytes(1)];
  const gradients = bucketed(grads), optimizer = bucketed(moments);
  const step = replayTrainingStep(config, list, { ...shape, lossRows });
  const rope = BufferPool.bucket(f32Bytes(config.headDim / 2));
  const peakBytes = weights + gradients + optimizer + rope + step.createdBytes;
  return {
    weights,
    gradients,
    optimizer,
    savedActivations: step.savedBytes,
    transient: peakBytes - weights - gradients - optimizer - step.savedBytes,
    peakBytes,
  };
}

/** What gpu.empty asks the pool for, of an f32 or i32 tensor: 4 bytes an element, 4 bytes at least. */
function f32Bytes(...dims: number[]): number {
  return Math.max(4, 4 * dims.reduce((a, b) => a * b, 1));
}

/**
 * Replays `lossBackward` (and AdamW's gradient norm, unless `optimizer` is false) on an empty
 * {@link PoolReplay}: the bytes of the buffers the step creates, and of those its forward keeps for the
 * backward. Each block follows the code it names, allocation by allocation.
 */
function replayTrainingStep(
  config: CostConfig,
  params: readonly ParamSize[],
  shape: TrainingShape & { readonly lossRows: number },
): { createdBytes: number; savedBytes: number } {
  const { batch, seqLen, lossRows, logitChunkRows, recompute, ids } = shape;
  const { hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, numLayers, vocabSize } =
    config;
  const t = batch * seqLen, q = numHeads * headDim, kv = numKvHeads * headDim;
  const pool = new PoolReplay();
  const empty = (...dims: number[]) => pool.acquire(f32Bytes(...dims));
  const release = (...buffers: ReplayBuffer[]) => buffers.forEach((b) => pool.release(b));

  // lossBackward's one upload: ids, positions, pastLen, kvLen, then each chunk's rows, targets and loss
  // weights, every segment padded to 64 elements.
  const chunks: number[] = [];
  for (let a = 0; a < lossRows; a += logitChunkRows) chunks.push(Math.min(logitChunkRows, lossRows - a));
  const segments = [t, t, batch, batch, ...chunks.flatMap((n) => [n, n, n])];
  const upload = pool.acquireForUpload(
    4 * segments.reduce((n, s) => n + Math.ceil(Math.max(1, s) / 64) * 64, 0),
  );

  const splits = attentionSplits(batch, seqLen, numHeads / numKvHeads, numKvHeads);
  const { qkNorm, postNorms } = config;
  // rmsnormForward: y and rstd, one rstd per row of the view ([rows, cols]) it normalizes.
  const normForward = (rows: number, cols: number) => ({ y: empty(rows, cols), rstd: empty(rows) });
  // The q or k norm (qkNormForward): Qwen3's normalizes each head's headDim values (rows T · heads), OLMo-2's
  // the whole projection (rows T); either way y is [T, heads · headDim], then rstd.
  const qkRows = (heads: number) => (qkNorm === "head" ? t * heads : t);
  const qkCols = (heads: number) => (qkNorm === "head" ? headDim : heads * headDim);
  // layerForward: the activations in activationTensors order, and the output unless only recomputing (a
  // pre-norm layer then stops before its down projection; OLMo-2's runs it, for its norm's statistics).
  const layerForward = (output: boolean) => {
    const acts: ReplayBuffer[] = [];
    if (!postNorms) {
      const inNorm = normForward(t, h);
      acts.push(inNorm.y, inNorm.rstd); // h1, rstd1
    }
    let qOut = empty(t, q), kOut = empty(t, kv);
    const v = empty(t, kv);
    if (qkNorm !== "none") {
      const qy = empty(t, q), qRstd = empty(qkRows(numHeads));
      const ky = empty(t, kv), kRstd = empty(qkRows(numKvHeads));
      acts.push(qOut, qRstd, kOut, kRstd); // qPre, qRstd, kPre, kRstd
      [qOut, kOut] = [qy, ky];
    }
    acts.push(qOut, kOut, v);
    acts.push(empty(t, q), empty(t, numHeads)); // attention's o and lse
    if (splits > 1) release(empty(splits, t, q), empty(splits, t, numHeads));
    const attnOut = empty(t, h);
    if (postNorms) {
      const attnNorm = normForward(t, h);
      acts.push(attnOut, attnNorm.rstd, empty(t, h)); // attnOut, attnRstd, x2
      release(attnNorm.y);
    } else {
      acts.push(empty(t, h)); // x2
      release(attnOut);
      const mlpNorm = normForward(t, h);
      acts.push(mlpNorm.y, mlpNorm.rstd); // h2, rstd2
    }
    acts.push(empty(t, inter), empty(t, inter), empty(t, inter)); // gate, up, act
    if (!output && !postNorms) return { acts, out: null };
    const down = empty(t, h);
    if (!postNorms) {
      const out = empty(t, h);
      release(down);
      return { acts, out };
    }
    const mlpOutNorm = normForward(t, h);
    acts.push(down, mlpOutNorm.rstd); // mlpOut, mlpRstd
    const out = output ? empty(t, h) : null;
    release(mlpOutNorm.y);
    return { acts, out };
  };
  // rmsnormBackward over a [rows, cols] view: dx, then the weight gradient's partial sums per 64 rows.
  const normBackward = (rows = t, cols = h) => {
    const dx = empty(rows, cols);
    release(empty(Math.ceil(rows / 64), cols));
    return dx;
  };
  const layerBackward = () => {
    const dDown = postNorms ? normBackward() : null;
    const dAct = empty(t, inter);
    if (dDown) release(dDown);
    const dgate = empty(t, inter), dup = empty(t, inter);
    release(dAct);
    const dh2 = empty(t, h);
    release(dgate, dup);
    let dx2 = dh2;
    if (!postNorms) {
      dx2 = normBackward();
      release(dh2);
    }
    const dx2Total = empty(t, h);
    release(dx2);
    const dAttnProj = postNorms ? normBackward() : null;
    const dO = empty(t, q);
    if (dAttnProj) release(dAttnProj);
    let dq = empty(t, q), dk = empty(t, kv);
    const dv = empty(t, kv);
    release(empty(t, numHeads)); // attention's delta
    release(dO);
    if (qkNorm !== "none") {
      const dqPre = normBackward(qkRows(numHeads), qkCols(numHeads));
      const dkPre = normBackward(qkRows(numKvHeads), qkCols(numKvHeads));
      release(dq, dk);
      [dq, dk] = [dqPre, dkPre];
    }
    const dh1 = empty(t, h);
    release(dq, dk, dv);
    let dxIn = dh1;
    if (!postNorms) {
      dxIn = normBackward();
      release(dh1);
    }
    const dx = empty(t, h);
    release(dxIn, dx2Total);
    return dx;
  };

  // forward: the embedding lookup, the layers (keeping their inputs, and their activations unless
  // recomputing), the final norm.
  const saved: ReplayBuffer[] = [];
  let x = empty(t, h);
  for (let l = 0; l < numLayers; l++) {
    const { acts, out } = layerForward(true);
    if (recompute) release(...acts);
    else saved.push(...acts);
    saved.push(x);
    x = out!;
  }
  const final = empty(t, h), finalRstd = empty(t);

  // headLossBackward: dFinal, then per chunk the gathered rows, the logits (overwritten by their
  // gradient) and dx; a head split into row blocks adds one block-wide product per block, each way.
  const headBlocks = vocabBlocks(config, params, config.tieWordEmbeddings ? EMBED_TOKENS : LM_HEAD);
  const dFinal = empty(t, h);
  for (const n of chunks) {
    const rows = empty(n, h), logits = empty(n, vocabSize);
    if (headBlocks.length > 1) headBlocks.forEach((b) => release(empty(n, b)));
    const dx = empty(n, h);
    if (headBlocks.length > 1) headBlocks.forEach((b) => release(empty(n, b)));
    release(rows, logits, dx);
  }

  // backward: the final norm, each layer (recomputed first), then each embedding block's row grouping.
  let dx = normBackward();
  for (let l = numLayers - 1; l >= 0; l--) {
    const acts = recompute ? layerForward(false).acts : [];
    const dxIn = layerBackward();
    release(...acts, dx);
    dx = dxIn;
  }
  let first = 0;
  for (const rows of vocabBlocks(config, params, EMBED_TOKENS)) {
    const unique = ids ? distinctIn(ids, first, first + rows) : Math.min(t, rows);
    if (unique > 0 && h > 0) release(pool.acquireForUpload(4 * (2 * unique + 1 + t)));
    first += rows;
  }
  release(dx, dFinal, ...saved, x, finalRstd, final, upload);
  if (shape.optimizer !== false) {
    // gradNorm's partial sums: one per 4096 elements of every gradient.
    const partials = params.reduce((n, p) => n + Math.ceil(p.elements / 4096), 0);
    release(empty(Math.max(1, partials)));
  }
  return { createdBytes: pool.createdBytes, savedBytes: saved.reduce((n, b) => n + b.bucket, 0) };
}

/**
 * Rows of each block of a vocabulary matrix (`name@0`, `name@1`, … in `params`; the whole matrix when it
 * is not split).
 */
function vocabBlocks(config: CostConfig, params: readonly ParamSize[], name: string): number[] {
  const blocks = params
    .map((p) => ({ index: Number(p.name.match(/@(\d+)$/)?.[1]), base: p.name.replace(/@\d+$/, ""), p }))
    .filter((b) => b.base === name && Number.isInteger(b.index))
    .sort((a, b) => a.index - b.index)
    .map((b) => b.p.elements / config.hiddenSize);
  return blocks.length > 0 ? blocks : [config.vocabSize];
}

/** Distinct values of `ids` in [lo, hi). */
function distinctIn(ids: ArrayLike<number>, lo: number, hi: number): number {
  const seen = new Set<number>();
  for (let i = 0; i < ids.length; i++) if (ids[i] >= lo && ids[i] < hi) seen.add(ids[i]);
  return seen.size;
}

/**
 * attentionForward's split-K count for a training batch (lib/ops/attention.ts autoSplits, keys = queries
 * = seqLen) with 32-row tiles: splits only when batch · KV heads · query tiles is under 256 workgroups.
 */
function attentionSplits(batch: number, seqLen: number, group: number, numKvHeads: number): number {
  const tile = 32;
  const base = Math.ceil((seqLen * group) / tile) * batch * numKvHeads;
  if (base >= 256) return 1;
  const wanted = Math.max(1, Math.min(Math.ceil(512 / base), Math.floor(seqLen / 256)));
  const chunk = Math.ceil(Math.ceil(seqLen / wanted) / tile) * tile;
  return Math.ceil(seqLen / chunk);
}

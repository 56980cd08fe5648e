/**
 * The LM head over selected rows, in chunks: logits [chunk, V] exist for one chunk at a time (the largest
 * tensor of the model — 151,936 columns for Qwen), turned into per-row statistics or, in the backward,
 * overwritten in place by their own gradient before the next chunk.
 *
 * @module
 */
import { expectTensor } from "../gpu/check.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { linear, linearBackward } from "../ops/matmul.ts";
import { LOGIT_STAT_COUNT, logitStats, logitStatsBackward } from "../ops/logit_stats.ts";
import { copyColumns, gatherRows, scatterAddRows } from "../ops/rows.ts";
import type { Model } from "./model.ts";
import type { Gradients } from "./transformer.ts";
import { LM_HEAD } from "./weights.ts";

/** Bytes one logits chunk may take: small enough for any binding limit, big enough for full GPU tiles. */
const CHUNK_BYTES = 64 * 1024 * 1024;

/** Rows per logits chunk for this model on this device. */
export function logitChunkRows(model: Model): number {
  const budget = Math.min(CHUNK_BYTES, model.gpu.limits.maxStorageBufferBindingSize);
  return Math.max(1, Math.floor(budget / (model.config.vocabSize * 4)));
}

function chunks(total: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < total; s += size) out.push([s, Math.min(total, s + size)]);
  return out;
}

/**
 * Logits x · Wᵀ (f32 [R, V]) of hidden rows x [R, H], assembled from the LM head's row blocks; into `out`
 * when given (the decode loop's workspace).
 */
export function lmHeadLogits(model: Model, x: Tensor, out?: Tensor): Tensor {
  const { gpu } = model;
  const shards = model.vocabShards(LM_HEAD);
  if (shards.length === 1) return linear(gpu, x, shards[0].tensor, undefined, out);
  const logits = out ?? gpu.empty([x.shape[0], model.config.vocabSize], "f32", "head.logits");
  for (const s of shards) {
    const part = linear(gpu, x, s.tensor);
    copyColumns(gpu, part, 0, logits, s.first, s.tensor.shape[0]);
    part.release();
  }
  return logits;
}

/**
 * Backward of {@link lmHeadLogits}: adds dL/dW into each block's gradient (unless the head is frozen, under
 * a LoRA adapter) and returns dL/dx [R, H]. `dLogits` is consumed (its buffer may be reused by the caller
 * afterwards).
 */
function lmHeadBackward(model: Model, dLogits: Tensor, x: Tensor, grads: Gradients): Tensor {
  const { gpu } = model;
  const grad = (key: string) => {
    if (model.adapter) return false;
    const t = grads.get(key);
    if (!t) throw new Error(`headBackward: no gradient buffer for ${key}`);
    return t;
  };
  const shards = model.vocabShards(LM_HEAD);
  if (shards.length === 1) {
    return linearBackward(gpu, dLogits, x, shards[0].tensor, { dw: grad(shards[0].key), accumulate: true })
      .dx!;
  }
  const dx = gpu.empty(x.shape, "f32", "head.dx");
  shards.forEach((s, i) => {
    const rows = s.tensor.shape[0];
    const part = gpu.empty([x.shape[0], rows], "f32", "head.dLogitsPart");
    copyColumns(gpu, dLogits, s.first, part, 0, rows);
    linearBackward(gpu, part, x, s.tensor, { dx, accumulateDx: i > 0, dw: grad(s.key), accumulate: true });
    part.release();
  });
  return dx;
}

/** Logits of the selected rows of `final` (f32 [R, V]); for tests and small decodes. */
export function headLogits(model: Model, final: Tensor, rows: Int32Array): Tensor {
  const { gpu } = model;
  const idx = gpu.fromArray(rows, [rows.length], "i32", "head.rows");
  const x = gatherRows(gpu, final, idx);
  const logits = lmHeadLogits(model, x);
  x.release();
  idx.release();
  return logits;
}

/**
 * Per-row statistics of logits / temperature for the selected rows: [R · 6] in the column order of
 * `LOGIT_STAT` (logsumexp, mean logit, entropy, top-1 − top-2 probability, target log-probability, argmax),
 * in one readback.
 */
export async function headStats(
  model: Model,
  final: Tensor,
  rows: Int32Array,
  targets: Int32Array,
  temperature: number,
): Promise<Float32Array> {
  const out = model.gpu.empty([rows.length, LOGIT_STAT_COUNT], "f32", "head.stats");
  recordHeadStats(model, final, rows, targets, temperature, out);
  const stats = (await out.read()) as Float32Array;
  out.release();
  return stats;
}

/** One logits chunk of a batch on the GPU: the rows of the final hidden states and their targets. */
export interface HeadChunk {
  /** i32 [n]: rows of the final hidden states. */
  readonly rows: Tensor;
  /** i32 [n]: the token each row predicts. */
  readonly targets: Tensor;
  /** Index of the chunk's first row among all rows of the batch (and of the step, for the GRPO loss). */
  readonly first: number;
}

/**
 * Records the statistics {@link headStats} returns into rows [at, at + R) of `out` (f32 [N, 6]) and reads
 * nothing back, so that a caller can bring them home with other results in one readback.
 */
export function recordHeadStats(
  model: Model,
  final: Tensor,
  rows: Int32Array,
  targets: Int32Array,
  temperature: number,
  out: Tensor,
  at = 0,
): void {
  const { gpu } = model;
  expectTensor("recordHeadStats", "out", out, { dtype: "f32", shape: [null, LOGIT_STAT_COUNT] });
  if (at + rows.length > out.shape[0]) {
    throw new RangeError(
      `recordHeadStats: rows [${at}, ${at + rows.length}) outside out's ${out.shape[0]} rows`,
    );
  }
  for (const [a, b] of chunks(rows.length, logitChunkRows(model))) {
    const logits = headLogits(model, final, rows.subarray(a, b));
    const tgt = gpu.fromArray(targets.subarray(a, b), [b - a], "i32", "head.targets");
    const stats = logitStats(gpu, logits, tgt, temperature);
    gpu.copy(stats, out, (at + a) * LOGIT_STAT_COUNT);
    for (const t of [logits, tgt, stats]) t.release();
  }
}

/**
 * Turns one chunk's logits [n, V] into dL/dlogits in place (a kernel such as logitStatsBackward or the
 * GRPO loss); `index` is the chunk's position in the list.
 */
export type HeadLossGradient = (logits: Tensor, chunk: HeadChunk, index: number) => void;

/** The [start, end) row ranges of the logits chunks of `rows` head rows. */
export function logitChunks(model: Model, rows: number): [number, number][] {
  return chunks(rows, logitChunkRows(model));
}

/**
 * Backward of a loss of the selected rows' logits through the LM head, chunk by chunk: `lossGradient`
 * overwrites each chunk's logits with dL/dlogits, dL/dW goes into the head's gradient (the embeddings'
 * when tied), and dL/d final hidden states comes back, f32 [T, H] (zero on rows not selected). Records
 * only: nothing is submitted or read back.
 */
export function headLossBackward(
  model: Model,
  final: Tensor,
  headChunks: readonly HeadChunk[],
  lossGradient: HeadLossGradient,
  grads: Gradients,
): Tensor {
  model.requireTrainable("headBackward");
  const { gpu } = model;
  const dFinal = gpu.zeros(final.shape, "f32", "head.dFinal");
  headChunks.forEach((chunk, i) => {
    const x = gatherRows(gpu, final, chunk.rows);
    const logits = lmHeadLogits(model, x);
    lossGradient(logits, chunk, i);
    const dx = lmHeadBackward(model, logits, x, grads);
    scatterAddRows(gpu, dx, chunk.rows, dFinal);
    for (const t of [x, logits, dx]) t.release();
  });
  return dFinal;
}

/**
 * Backward of L = Σ_r weights[r] · log p(targets[r] | row r) through the LM head (host arrays, uploaded
 * per chunk); see {@link headLossBackward}.
 */
export function headBackward(
  model: Model,
  final: Tensor,
  rows: Int32Array,
  targets: Int32Array,
  weights: Float32Array,
  temperature: number,
  grads: Gradients,
): Tensor {
  model.requireTrainable("headBackward");
  const { gpu } = model;
  const uploaded = logitChunks(model, rows.length).map(([a, b]) => ({
    rows: gpu.fromArray(rows.subarray(a, b), [b - a], "i32", "head.rows"),
    targets: gpu.fromArray(targets.subarray(a, b), [b - a], "i32", "head.targets"),
    weights: gpu.fromArray(weights.subarray(a, b), [b - a], "f32", "head.weights"),
    first: a,
  }));
  const dFinal = headLossBackward(
    model,
    final,
    uploaded,
    (logits, chunk, i) => logitStatsBackward(gpu, logits, chunk.targets, uploaded[i].weights, temperature),
    grads,
  );
  for (const c of uploaded) [c.rows, c.targets, c.weights].forEach((t) => t.release());
  return dFinal;
}

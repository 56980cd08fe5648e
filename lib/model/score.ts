/**
 * Scoring: one forward pass of a model over (prompt, completion) pairs gives every intrinsic signal —
 * per-token log-probabilities and entropies, self-certainty, top-2 gap, and the chain-of-embedding
 * features of the hidden states pooled over the completion. Rewards are cheap views over these.
 *
 * @module
 */
import type { CompletionStats } from "../rewards/types.ts";
import { NonFiniteError } from "../gpu/errors.ts";
import { LOGIT_STAT, LOGIT_STAT_COUNT } from "../ops/logit_stats.ts";
import type { HostArray } from "../gpu/dtype.ts";
import { buildSequenceBatch, uploadBatch } from "./batch.ts";
import { chainOfEmbedding } from "./coe.ts";
import { recordHeadStats } from "./head.ts";
import type { Model } from "./model.ts";
import { forward } from "./transformer.ts";
import { sequencesPerPass } from "./pass_plan.ts";

/** A (prompt, completion) pair as token ids; generate's completions satisfy it. */
export interface ScoreItem {
  /** Prompt token ids (at least one). */
  readonly promptIds: readonly number[];
  /** Completion token ids (at least one). */
  readonly completionIds: readonly number[];
}

/** Options of {@link score}. */
export interface ScoreOptions {
  /** Logits are divided by this before every statistic (default 1; use the sampling temperature). */
  readonly temperature?: number;
  /** Sequences per forward pass (default 8). */
  readonly batchSize?: number;
}

/** One model's share of {@link scoreAll}: the completions it scores, and how. */
export interface ScoreJob {
  /** The scoring model. */
  readonly model: Model;
  /** The (prompt, completion) pairs. */
  readonly items: readonly ScoreItem[];
  /** Temperature and batch size. */
  readonly options?: ScoreOptions;
}

/**
 * Bytes of results (statistics and pooled states) that one readback brings home at most; a call with more
 * reads them in several parts, each in flight while the next part's batches run.
 */
const READBACK_BYTES = 64 * 1024 * 1024;

/**
 * Scores completions: for each item, the statistics of its completion tokens under `model`.
 * `selfCertainty` is Intuitor's mean over tokens of KL(U ‖ p) = logsumexp − mean(logits) − log V;
 * `topGap` the mean top-1 minus top-2 probability; `coe` the chain-of-embedding features of h_0 … h_L
 * mean-pooled over the completion tokens. Every batch's results stay on the GPU until one readback brings
 * them all home (one per 64 MiB of results). Throws a `NonFiniteError` when a statistic or hidden state
 * is NaN or infinite (corrupt weights, diverged training) rather than returning it.
 *
 * @example
 * ```ts
 * import { loadModel, score } from "./mod.ts";
 * const model = await loadModel("path/to/model");
 * const [s] = await score(model, [{ promptIds: [1, 2, 3], completionIds: [4, 5] }]);
 * console.log(s.selfCertainty, s.coe.d1);
 * ```
 */
export async function score(
  model: Model,
  items: readonly ScoreItem[],
  options: ScoreOptions = {},
): Promise<CompletionStats[]> {
  const [out] = await scoreAll([{ model, items, options }]);
  return out;
}

/**
 * {@link score} for several jobs on one GPU — the policy and a frozen reference over the same completions —
 * with the results of all of them brought home by one readback (one per 64 MiB of results). Returns each
 * job's statistics, in the order of `jobs`.
 */
export async function scoreAll(jobs: readonly ScoreJob[]): Promise<CompletionStats[][]> {
  const batches = jobs.flatMap((job, j) => planBatches(job, j));
  const gpu = jobs[0]?.model.gpu;
  if (jobs.some((job) => job.model.gpu !== gpu)) throw new Error("scoreAll: the models must share one GPU");
  const out = jobs.map((job) => new Array<CompletionStats>(job.items.length));
  const reads: Promise<void>[] = [];
  try {
    for (let start = 0; start < batches.length;) {
      // One readback and one binding hold a group's results.
      const cap = Math.min(READBACK_BYTES, gpu!.limits.maxStorageBufferBindingSize);
      let end = start + 1, bytes = resultBytes(batches[start]);
      while (end < batches.length && bytes + resultBytes(batches[end]) <= cap) {
        bytes += resultBytes(batches[end++]);
      }
      reads.push(scoreGroup(batches.slice(start, end), out));
      start = end;
    }
  } catch (e) {
    // Reads already in flight must not fail unobserved.
    await Promise.allSettled(reads);
    throw e;
  }
  await Promise.all(reads);
  return out;
}

/** One forward pass's worth of a job: which items, how many sequences and completion tokens, and how. */
interface PlannedBatch {
  readonly job: number;
  readonly model: Model;
  readonly items: readonly ScoreItem[];
  /** Indices into `items`, in the batch's order. */
  readonly idx: number[];
  /** Completion tokens of the batch: its rows of statistics. */
  readonly rows: number;
  readonly temperature: number;
}

/** Splits a job into batches of similar lengths (less padding); results go back to the callers' order. */
function planBatches(job: ScoreJob, j: number): PlannedBatch[] {
  const { model, items, options = {} } = job;
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError(`score: temperature must be > 0, got ${temperature}`);
  const batchSize = options.batchSize ?? 8;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new RangeError(`score: batchSize must be an integer >= 1, got ${batchSize}`);
  }
  const order = items.map((_, i) => i).sort((a, b) => length(items[a]) - length(items[b]));
  const out: PlannedBatch[] = [];
  for (let start = 0; start < order.length;) {
    // Sorted by length: a batch pads to its last item, and takes as many as the device's limits allow.
    let end = start + 1;
    while (
      end < order.length && end - start < batchSize &&
      sequencesPerPass(model, length(items[order[end]])) > end - start
    ) end++;
    sequencesPerPass(model, length(items[order[end - 1]])); // a single sequence too long is refused by name
    // Cut short by the device's limits rather than by batchSize or the end of the items: one more pass.
    if (end - start < batchSize && end < order.length) model.gpu.recorder.counters.splitPasses++;
    const idx = order.slice(start, end);
    const rows = idx.reduce((n, i) => n + items[i].completionIds.length, 0);
    out.push({ job: j, model, items, idx, rows, temperature });
    start = end;
  }
  return out;
}

/** Pooled states (h_0 … h_L per sequence) of a batch, in elements. */
function pooledSize(b: PlannedBatch): number {
  return (b.model.config.numLayers + 1) * b.idx.length * b.model.config.hiddenSize;
}

function resultBytes(b: PlannedBatch): number {
  return 4 * (b.rows * LOGIT_STAT_COUNT + pooledSize(b));
}

/**
 * Records the batches' forward passes, gathers their statistics and pooled states into two tensors, and
 * reads those back together; resolves once `out` holds the batches' results. A batch's activations go
 * back to the pool as soon as it is recorded, and the next batch's forward reuses them.
 */
function scoreGroup(batches: PlannedBatch[], out: CompletionStats[][]): Promise<void> {
  const { gpu } = batches[0].model;
  const totalRows = batches.reduce((n, b) => n + b.rows, 0);
  const stats = gpu.empty([totalRows, LOGIT_STAT_COUNT], "f32", "score.stats");
  const pooled = gpu.empty([batches.reduce((n, b) => n + pooledSize(b), 0)], "f32", "score.pooled");
  let read: Promise<HostArray[]>;
  try {
    let row = 0, at = 0;
    for (const b of batches) {
      const { model, items, idx } = b;
      const batch = buildSequenceBatch(
        idx.map((i) => items[i].promptIds),
        idx.map((i) => items[i].completionIds),
        0,
        model.config.maxPositionEmbeddings,
      );
      const inputs = uploadBatch(gpu, batch);
      const mask = gpu.fromArray(batch.completionMask, [batch.completionMask.length], "f32", "score.mask");
      const fwd = forward(model, inputs, { poolMask: mask });
      recordHeadStats(model, fwd.final, batch.rows, batch.targets, b.temperature, stats, row);
      for (const p of fwd.pooled) {
        gpu.copy(p, pooled, at);
        at += p.size;
      }
      row += b.rows;
      fwd.release();
      inputs.release();
      mask.release();
    }
    read = gpu.readAll([stats, pooled]);
  } finally {
    stats.release();
    pooled.release();
  }
  return read.then(([s, p]) => {
    let row = 0, at = 0;
    for (const b of batches) {
      const size = pooledSize(b);
      collect(
        b,
        s.subarray(row * LOGIT_STAT_COUNT) as Float32Array,
        p.subarray(at, at + size) as Float32Array,
        out,
      );
      row += b.rows;
      at += size;
    }
  });
}

/** A batch's completion statistics from its rows of statistics and its pooled states [L + 1, B, H]. */
function collect(b: PlannedBatch, stats: Float32Array, pooled: Float32Array, out: CompletionStats[][]): void {
  const { config } = b.model;
  const logV = Math.log(config.vocabSize);
  const h = config.hiddenSize;
  const layerStride = b.idx.length * h;
  let to = 0;
  b.idx.forEach((item, s) => {
    // A sequence's rows are its completion tokens, after the rows of the sequences before it.
    const from = to;
    to += b.items[item].completionIds.length;
    const col = (r: number, c: number) => stats[r * LOGIT_STAT_COUNT + c];
    const tokenLogprobs: number[] = [], tokenEntropy: number[] = [], tokenTopGap: number[] = [];
    let certainty = 0, gap = 0;
    for (let r = from; r < to; r++) {
      tokenLogprobs.push(col(r, LOGIT_STAT.targetLogprob));
      tokenEntropy.push(col(r, LOGIT_STAT.entropy));
      tokenTopGap.push(col(r, LOGIT_STAT.top2Gap));
      certainty += col(r, LOGIT_STAT.logsumexp) - col(r, LOGIT_STAT.meanLogit) - logV;
      gap += col(r, LOGIT_STAT.top2Gap);
    }
    const n = to - from;
    const trajectoryLogprob = tokenLogprobs.reduce((a, v) => a + v, 0);
    const hidden = Array.from(
      { length: config.numLayers + 1 },
      (_, l) => pooled.subarray(l * layerStride + s * h, l * layerStride + (s + 1) * h),
    );
    // A NaN would otherwise reach the caller as a plausible number (JSON null, a clamped 0 in topGap
    // or the CoE features): stop here, as generation and training do.
    const entropySum = tokenEntropy.reduce((a, v) => a + v, 0);
    for (
      const [what, v] of [
        ["self-certainty", certainty],
        ["token entropy", entropySum],
        ["log-probability", trajectoryLogprob],
        ["top-2 gap", gap],
      ] as const
    ) {
      if (!Number.isFinite(v)) throw nonFinite(item, `its ${what} is ${v}`);
    }
    if (hidden.some((layer) => layer.some((v) => !Number.isFinite(v)))) {
      throw nonFinite(item, "its hidden states hold NaN or Inf");
    }
    out[b.job][item] = {
      tokenLogprobs,
      tokenEntropy,
      selfCertainty: certainty / n,
      meanTokenEntropy: entropySum / n,
      trajectoryLogprob,
      meanLogprob: trajectoryLogprob / n,
      topGap: gap / n,
      tokenTopGap,
      coe: chainOfEmbedding(hidden),
    };
  });
}

function nonFinite(item: number, what: string): NonFiniteError {
  return new NonFiniteError(
    `score: completion ${item} is not finite (${what}): the model's weights or activations hold NaN or Inf`,
  );
}

function length(item: ScoreItem): number {
  return item.promptIds.length + item.completionIds.length;
}

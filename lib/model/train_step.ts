/**
 * The training step every objective shares (llm.c's gpt2_backward / gpt2_update): {@link lossBackward}
 * runs a batch forward with saved activations, the loss gradient through the LM head in logit chunks
 * (weighted target log-probabilities for SFT, the GPU GRPO loss for RL), and the decoder backward,
 * accumulating into the gradients; {@link optimizerStep} computes the gradient norm once, clips with it
 * inside the AdamW kernels, updates, and clears the gradients. Both only record GPU work: the caller
 * decides when to read anything back (GRPO: once per optimizer step).
 *
 * @module
 */
import type { Tensor } from "../gpu/tensor.ts";
import { AdamW } from "../ops/adamw.ts";
import {
  type GrpoKernelConfig,
  grpoLogRatio,
  grpoLossBackward,
  grpoLossReduce,
  grpoSequenceSums,
} from "../ops/grpo_loss.ts";
import { logitStatsBackward } from "../ops/logit_stats.ts";
import { gatherRows } from "../ops/rows.ts";
import type { SequenceBatch } from "./batch.ts";
import { type HeadChunk, headLossBackward, lmHeadLogits, logitChunks } from "./head.ts";
import type { Model } from "./model.ts";
import { backward, forward, type Gradients } from "./transformer.ts";

/** The loss whose gradient {@link lossBackward} accumulates, over the batch's completion-token rows. */
export type TokenLoss =
  | {
    /** L = Σ_r weights[r] · log softmax(logits_r / T)[target_r] (SFT: weights −1/N for mean cross-entropy). */
    readonly kind: "weights";
    /** One weight per row of `batch.rows`. */
    readonly weights: Float32Array;
    /** Softmax temperature T. */
    readonly temperature: number;
  }
  | {
    /** The GRPO loss of lib/ops/grpo_loss.ts over tokens `first …` of the step's token buffers. */
    readonly kind: "grpo";
    /** f32 [N, 4] per-token inputs of the whole step (logp_old, logp_ref, advantage, weight). */
    readonly tokens: Tensor;
    /** f32 [N, 8] per-token terms of the whole step (written). */
    readonly tokenStats: Tensor;
    /** Step token index of this batch's first row. */
    readonly first: number;
    /** Softmax temperature T of the rollouts. */
    readonly temperature: number;
    /** Clip, KL and dual-clip settings. */
    readonly config: GrpoKernelConfig;
  };

// Segments of the one i32 upload start on 64-element (256-byte) boundaries: the largest storage offset
// alignment WebGPU allows.
const ALIGN = 64;

/**
 * Accumulates dL/dθ of `loss` over `batch` into `grads` (forward with saved activations — or, with
 * `options.recompute`, only each layer's input, the rest recomputed layer by layer in the backward —
 * LM-head backward by logit chunks, decoder backward). The batch's ids, positions, lengths, head rows and
 * targets (and SFT weights) go up in one upload; the work is recorded, not submitted: the pool hands a
 * released activation buffer to the next kernel-filled tensor at once, so micro-batches reuse each other's
 * buffers without waiting.
 */
export function lossBackward(
  model: Model,
  batch: SequenceBatch,
  loss: TokenLoss,
  grads: Gradients,
  options: { readonly recompute?: boolean } = {},
): void {
  model.requireTrainable("lossBackward");
  const { gpu } = model;
  const tokens = batch.ids.length, nRows = batch.rows.length;
  if (loss.kind === "weights" && loss.weights.length !== nRows) {
    throw new RangeError(`lossBackward: ${loss.weights.length} weights for ${nRows} head rows`);
  }
  const parts: ArrayLike<number>[] = [batch.ids, batch.positions, new Int32Array(batch.batch), batch.lengths];
  const ranges = logitChunks(model, nRows);
  const weightBits = loss.kind === "weights" ? new Int32Array(Float32Array.from(loss.weights).buffer) : null;
  for (const [a, b] of ranges) {
    parts.push(batch.rows.subarray(a, b), batch.targets.subarray(a, b));
    if (weightBits) parts.push(weightBits.subarray(a, b));
  }
  const sequenceRatio = loss.kind === "grpo" && loss.config.ratio === "sequence";
  // Head rows are the completion tokens in sequence order, so the row offsets are the token offsets.
  if (sequenceRatio) parts.push(batch.rowOffsets);
  const offsets: number[] = [];
  let size = 0;
  for (const p of parts) {
    offsets.push(size);
    size += Math.ceil(Math.max(1, p.length) / ALIGN) * ALIGN;
  }
  const host = new Int32Array(size);
  parts.forEach((p, i) => host.set(p, offsets[i]));
  const upload = gpu.fromArray(host, [size], "i32", "train.batch");
  const part = (i: number, n: number) => upload.view([n], offsets[i]);
  const inputs = {
    batch: batch.batch,
    rowsPerSeq: batch.seqLen,
    ids: part(0, tokens),
    positions: part(1, tokens),
    pastLen: part(2, batch.batch),
    kvLen: part(3, batch.batch),
  };
  const per = weightBits ? 3 : 2;
  const chunks: (HeadChunk & { weights?: Tensor })[] = ranges.map(([a, b], c) => ({
    rows: part(4 + per * c, b - a),
    targets: part(5 + per * c, b - a),
    weights: weightBits ? part(6 + per * c, b - a).bitcast("f32") : undefined,
    first: a,
  }));
  const fwd = forward(model, inputs, { saveForBackward: true, recompute: options.recompute ?? false });
  if (sequenceRatio && loss.kind === "grpo") {
    // Every token's gradient needs its whole sequence's log-ratio: a forward-only pass over the logit
    // chunks first (the LM head once more, no decoder work), then the per-sequence sums.
    for (const chunk of chunks) {
      const x = gatherRows(gpu, fwd.final, chunk.rows);
      const logits = lmHeadLogits(model, x);
      x.release();
      grpoLogRatio(
        gpu,
        logits,
        chunk.targets,
        loss.tokens,
        loss.tokenStats,
        loss.first + chunk.first,
        loss.temperature,
      );
      logits.release();
    }
    grpoSequenceSums(gpu, loss.tokenStats, part(parts.length - 1, batch.batch + 1), loss.first);
  }
  const dFinal = headLossBackward(model, fwd.final, chunks, (logits, chunk, i) => {
    if (loss.kind === "weights") {
      logitStatsBackward(gpu, logits, chunk.targets, chunks[i].weights!, loss.temperature);
    } else {
      grpoLossBackward(
        gpu,
        logits,
        chunk.targets,
        loss.tokens,
        loss.tokenStats,
        loss.first + chunk.first,
        loss.temperature,
        loss.config,
      );
    }
  }, grads);
  backward(model, fwd, inputs, batch.ids, dFinal, grads);
  dFinal.release();
  fwd.release();
  upload.release();
}

/** The GRPO statistics {@link optimizerStep} reduces next to the gradient norm (lib/ops/grpo_loss.ts). */
export interface StepReport {
  /** f32 [N, 8] per-token terms written by the step's {@link lossBackward} calls. */
  readonly tokenStats: Tensor;
  /** The KL weight β (the loss is Σ w·pg + β · Σ w·kl). */
  readonly klCoef: number;
  /** f32 [9]: the column sums of `tokenStats`, then the gradient norm. */
  readonly report: Tensor;
}

/**
 * Records one optimizer step over the accumulated `grads` (index-aligned with the optimizer's
 * parameters): the gradient norm once (into `optimizer.gradNorm`) and the clip factor, the GRPO report
 * when given (a non-finite loss flags the clip factor), the AdamW update — skipped entirely on the GPU
 * when the norm or the loss is not finite — and a clear of every gradient for the next step (a real
 * clear: scaling by 0 would keep NaN).
 */
export function optimizerStep(
  optimizer: AdamW,
  grads: readonly Tensor[],
  lr: number,
  report?: StepReport,
): void {
  optimizer.clipGradients(grads);
  if (report) {
    grpoLossReduce(
      optimizer.gradNorm.gpu,
      report.tokenStats,
      report.klCoef,
      optimizer.gradNorm,
      optimizer.clipCoef,
      report.report,
    );
  }
  optimizer.update(grads, lr);
  for (const g of grads) g.gpu.clear(g);
}

/**
 * Whether a parameter takes weight decay: matrices and embeddings do; biases and norm weights do not
 * (the grouping of TRL / transformers and most LM recipes). The one rule every trainer uses.
 */
export function takesWeightDecay(name: string): boolean {
  return !(name.endsWith(".bias") || name.endsWith("norm.weight"));
}

/** AdamW settings of {@link createOptimizer} (torch.optim.AdamW's, plus the clip threshold). */
export interface OptimizerOptions {
  /** [β1, β2]. */
  readonly betas: readonly number[];
  /** Denominator epsilon. */
  readonly eps: number;
  /** Decay of the parameters {@link takesWeightDecay} selects. */
  readonly weightDecay: number;
  /** Global gradient-norm clip; ≤ 0 or Infinity disables it. */
  readonly maxGradNorm: number;
}

/**
 * AdamW over what `model` trains ({@link Model.trainable}: every parameter in `model.names` order, or a
 * LoRA adapter's factors), decay grouped by {@link takesWeightDecay}.
 */
export function createOptimizer(model: Model, options: OptimizerOptions): AdamW {
  if (options.betas.length !== 2) {
    throw new RangeError(`createOptimizer: betas has ${options.betas.length} entries; give [beta1, beta2]`);
  }
  model.requireTrainable("createOptimizer");
  const names = [...model.trainable.keys()];
  return new AdamW(model.gpu, names.map((n) => model.trainable.get(n)!), {
    beta1: options.betas[0],
    beta2: options.betas[1],
    eps: options.eps,
    weightDecay: names.map((n) => (takesWeightDecay(n) ? options.weightDecay : 0)),
    maxGradNorm: options.maxGradNorm,
  });
}

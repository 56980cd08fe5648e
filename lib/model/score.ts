/**
 * Scoring: one forward pass of a model over (prompt, completion) pairs gives every intrinsic signal —
 * per-token log-probabilities and entropies, self-certainty, top-2 gap, and the chain-of-embedding
 * features of the hidden states pooled over the completion. Rewards are cheap views over these.
 *
 * @module
 */
import type { CompletionStats } from "../rewards/types.ts";
import { LOGIT_STAT, LOGIT_STAT_COUNT } from "../ops/logit_stats.ts";
import { buildSequenceBatch, uploadBatch } from "./batch.ts";
import { chainOfEmbedding } from "./coe.ts";
import { headStats } from "./head.ts";
import type { Model } from "./model.ts";
import { forward } from "./transformer.ts";

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

/**
 * Scores completions: for each item, the statistics of its completion tokens under `model`.
 * `selfCertainty` is Intuitor's mean over tokens of KL(U ‖ p) = logsumexp − mean(logits) − log V;
 * `topGap` the mean top-1 minus top-2 probability; `coe` the chain-of-embedding features of h_0 … h_L
 * mean-pooled over the completion tokens.
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
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0)) throw new RangeError(`score: temperature must be > 0, got ${temperature}`);
  const batchSize = options.batchSize ?? 8;
  const { gpu, config } = model;
  const logV = Math.log(config.vocabSize);
  const out: CompletionStats[] = new Array(items.length);
  // Similar lengths together waste less padding; results go back to the callers' order.
  const order = items.map((_, i) => i).sort((a, b) => length(items[a]) - length(items[b]));
  for (let start = 0; start < order.length; start += batchSize) {
    const idx = order.slice(start, start + batchSize);
    const batch = buildSequenceBatch(
      idx.map((i) => items[i].promptIds),
      idx.map((i) => items[i].completionIds),
      0,
      config.maxPositionEmbeddings,
    );
    const inputs = uploadBatch(gpu, batch);
    const mask = gpu.fromArray(batch.completionMask, [batch.completionMask.length], "f32", "score.mask");
    const fwd = forward(model, inputs, { poolMask: mask });
    const pooledReads = Promise.all(fwd.pooled.map((t) => t.read()));
    const stats = await headStats(model, fwd.final, batch.rows, batch.targets, temperature);
    const pooled = await pooledReads;
    fwd.release();
    inputs.release();
    mask.release();
    const h = config.hiddenSize;
    idx.forEach((item, b) => {
      const [from, to] = [batch.rowOffsets[b], batch.rowOffsets[b + 1]];
      const col = (r: number, c: number) => stats[r * LOGIT_STAT_COUNT + c];
      const tokenLogprobs: number[] = [], tokenEntropy: number[] = [];
      let certainty = 0, gap = 0;
      for (let r = from; r < to; r++) {
        tokenLogprobs.push(col(r, LOGIT_STAT.targetLogprob));
        tokenEntropy.push(col(r, LOGIT_STAT.entropy));
        certainty += col(r, LOGIT_STAT.logsumexp) - col(r, LOGIT_STAT.meanLogit) - logV;
        gap += col(r, LOGIT_STAT.top2Gap);
      }
      const n = to - from;
      const trajectoryLogprob = tokenLogprobs.reduce((a, v) => a + v, 0);
      out[item] = {
        tokenLogprobs,
        tokenEntropy,
        selfCertainty: certainty / n,
        meanTokenEntropy: tokenEntropy.reduce((a, v) => a + v, 0) / n,
        trajectoryLogprob,
        meanLogprob: trajectoryLogprob / n,
        topGap: gap / n,
        coe: chainOfEmbedding(pooled.map((p) => p.subarray(b * h, (b + 1) * h))),
      };
    });
  }
  return out;
}

function length(item: ScoreItem): number {
  return item.promptIds.length + item.completionIds.length;
}

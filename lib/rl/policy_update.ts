/**
 * The GRPO update of one step: for each optimisation epoch, micro-batches of sequences go through the
 * policy's forward, the new log-probabilities come back once per micro-batch, the clipped-surrogate loss
 * and dL/dlogp are computed on the host in float64, and dL/dlogp becomes the per-token weight of the GPU
 * backward. Gradients accumulate over the micro-batches with the whole batch's normaliser, then AdamW
 * takes one step — after the gradient norm is read back and found finite.
 *
 * @module
 */
import { NonFiniteError } from "../gpu/errors.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { LOGIT_STAT, LOGIT_STAT_COUNT } from "../ops/logit_stats.ts";
import { type AdamW, gradNorm } from "../ops/adamw.ts";
import { buildSequenceBatch, uploadBatch } from "../model/batch.ts";
import { headBackward, headStats } from "../model/head.ts";
import type { Model } from "../model/model.ts";
import { backward, forward, type Gradients } from "../model/transformer.ts";
import type { GrpoConfig } from "./config.ts";
import { grpoTokenLoss, lossNormalizer } from "./grpo.ts";
import type { RolloutBatch } from "./rollout.ts";

/** What an update did, averaged over its epochs (token-weighted where the statistic is per token). */
export interface UpdateStats {
  loss: number;
  pgLoss: number;
  kl: number | null;
  clipFraction: number;
  ratioMean: number;
  gradNorm: number;
}

/**
 * Runs `algorithm.ppo_epochs` optimiser steps over the batch. `params` and `grads` are index-aligned with
 * the optimiser's parameter list.
 */
export async function updatePolicy(
  policy: Model,
  optimizer: AdamW,
  grads: Gradients,
  keys: readonly string[],
  batch: RolloutBatch,
  advantages: Float64Array,
  config: GrpoConfig,
  lr: number,
): Promise<UpdateStats> {
  policy.requireF32Weights("updatePolicy");
  const { gpu } = policy;
  const { algorithm, rollout, train } = config;
  const temperature = rollout.temperature;
  const lengths = batch.completions.map((c) => c.completionIds.length);
  const normalizer = lossNormalizer(lengths, rollout.max_new_tokens);
  const lossCfg = {
    clipLow: algorithm.clip_low,
    clipHigh: algorithm.clip_high,
    klCoef: algorithm.kl_coef,
    klEstimator: algorithm.kl_estimator,
    lossAgg: algorithm.loss_agg,
    dualClip: algorithm.dual_clip,
  };
  const gradList = keys.map((k) => grads.get(k)!);
  const total = { loss: 0, pgLoss: 0, kl: 0, clip: 0, ratio: 0, tokens: 0, norm: 0 };
  for (let epoch = 0; epoch < algorithm.ppo_epochs; epoch++) {
    for (const g of gradList) gpu.clear(g);
    for (let start = 0; start < batch.completions.length; start += train.micro_batch) {
      const idx = Array.from(
        { length: Math.min(train.micro_batch, batch.completions.length - start) },
        (_, i) => start + i,
      );
      const comps = idx.map((i) => batch.completions[i]);
      const sb = buildSequenceBatch(comps.map((c) => c.promptIds), comps.map((c) => c.completionIds), 0);
      const inputs = uploadBatch(gpu, sb);
      const fwd = forward(policy, inputs, { saveForBackward: true });
      const stats = await headStats(policy, fwd.final, sb.rows, sb.targets, temperature);
      const logpNew = new Float64Array(sb.rows.length);
      for (let r = 0; r < logpNew.length; r++) {
        logpNew[r] = stats[r * LOGIT_STAT_COUNT + LOGIT_STAT.targetLogprob];
      }
      const res = grpoTokenLoss(
        {
          logpNew,
          logpOld: idx.flatMap((i) => batch.stats[i].tokenLogprobs),
          logpRef: batch.refLogprobs ? idx.flatMap((i) => batch.refLogprobs![i]) : undefined,
          advantages: idx.map((i) => advantages[i]),
          lengths: idx.map((i) => lengths[i]),
        },
        lossCfg,
        normalizer,
      );
      if (!Number.isFinite(res.loss)) {
        fwd.release();
        inputs.release();
        throw new NonFiniteError(`the loss is ${res.loss} (micro-batch at sequence ${start})`);
      }
      const dFinal = headBackward(
        policy,
        fwd.final,
        sb.rows,
        sb.targets,
        Float32Array.from(res.dLogp),
        temperature,
        grads,
      );
      backward(policy, fwd, inputs, sb.ids, dFinal, grads);
      dFinal.release();
      fwd.release();
      inputs.release();
      total.loss += res.loss;
      total.pgLoss += res.stats.pgLoss;
      total.kl += (res.stats.kl ?? 0) * res.stats.tokens;
      total.clip += res.stats.clipFraction * res.stats.tokens;
      total.ratio += res.stats.ratioMean * res.stats.tokens;
      total.tokens += res.stats.tokens;
    }
    const { norm } = gradNorm(gpu, gradList, Infinity);
    const [value] = await norm.read();
    norm.release();
    if (!Number.isFinite(value)) throw new NonFiniteError(`the gradient norm is ${value}`);
    total.norm += value;
    optimizer.step(gradList as Tensor[], lr);
  }
  const epochs = algorithm.ppo_epochs, tokens = Math.max(1, total.tokens);
  return {
    loss: total.loss / epochs,
    pgLoss: total.pgLoss / epochs,
    kl: batch.refLogprobs ? total.kl / tokens : null,
    clipFraction: total.clip / tokens,
    ratioMean: total.ratio / tokens,
    gradNorm: total.norm / epochs,
  };
}

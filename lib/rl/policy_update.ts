/**
 * The GRPO update of one step, on the GPU end to end: the per-token old and reference log-probabilities,
 * advantages and aggregation weights of the whole batch go up once; each micro-batch runs the shared
 * training step ({@link lossBackward}) with the GPU GRPO loss over the LM head's logit chunks, nothing
 * waiting between micro-batches; gradients accumulate with the whole batch's normaliser; then
 * {@link optimizerStep} clips with the norm it computes once and AdamW updates. One readback per
 * optimizer step brings back the loss statistics and the gradient norm together; a non-finite loss or
 * norm has already made the AdamW kernels skip the update, and stops the run here.
 *
 * @module
 */
import { NonFiniteError } from "../gpu/errors.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { AdamW } from "../ops/adamw.ts";
import {
  GRPO_REPORT_NORM,
  GRPO_REPORT_SIZE,
  GRPO_STAT,
  GRPO_STAT_COUNT,
  GRPO_TOKEN_INPUT,
  GRPO_TOKEN_INPUT_COUNT,
} from "../ops/grpo_loss.ts";
import { buildSequenceBatch } from "../model/batch.ts";
import type { Model } from "../model/model.ts";
import { lossBackward, optimizerStep } from "../model/train_step.ts";
import type { Gradients } from "../model/transformer.ts";
import type { GrpoConfig } from "./config.ts";
import { aggregationWeights, lossNormalizer } from "./grpo.ts";
import type { RolloutBatch } from "./rollout.ts";

/** What an update did, averaged over its epochs (token-weighted where the statistic is per token). */
export interface UpdateStats {
  /** Total loss: policy-gradient loss plus the KL term. */
  loss: number;
  /** Policy-gradient (clipped surrogate) loss. */
  pgLoss: number;
  /** KL to the reference policy, or null without a reference. */
  kl: number | null;
  /** Fraction of tokens whose ratio was clipped. */
  clipFraction: number;
  /** Token mean of the importance ratio. */
  ratioMean: number;
  /** Token mean of the policy's entropy at the rollout temperature. */
  entropy: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/** The per-token inputs of the GPU loss, in the order micro-batch rows visit the tokens. */
function tokenInputs(
  batch: RolloutBatch,
  advantages: Float64Array,
  weights: Float64Array,
): Float32Array {
  const total = weights.length;
  const out = new Float32Array(total * GRPO_TOKEN_INPUT_COUNT);
  let t = 0;
  batch.completions.forEach((c, i) => {
    const a = advantages[i];
    if (!Number.isFinite(a)) {
      throw new RangeError(`updatePolicy: advantages[${i}] is ${a}; it must be finite`);
    }
    const old = batch.stats[i].tokenLogprobs, ref = batch.refLogprobs?.[i];
    for (const [name, lp] of [["old", old], ["reference", ref]] as const) {
      if (lp && lp.length !== c.completionIds.length) {
        throw new RangeError(
          `updatePolicy: sequence ${i} has ${c.completionIds.length} completion tokens but ${lp.length} ${name} ` +
            "log-probs",
        );
      }
    }
    for (let k = 0; k < c.completionIds.length; k++, t++) {
      const o = t * GRPO_TOKEN_INPUT_COUNT;
      const xr = ref ? ref[k] : 0;
      if (!Number.isFinite(old[k]) || !Number.isFinite(xr)) {
        throw new RangeError(
          `updatePolicy: token ${k} of sequence ${i} has ${
            Number.isFinite(old[k]) ? `reference log-prob ${xr}` : `old log-prob ${old[k]}`
          }; log-probs must be finite`,
        );
      }
      out[o + GRPO_TOKEN_INPUT.logpOld] = old[k];
      out[o + GRPO_TOKEN_INPUT.logpRef] = xr;
      out[o + GRPO_TOKEN_INPUT.advantage] = a;
      out[o + GRPO_TOKEN_INPUT.weight] = weights[t];
    }
  });
  return out;
}

/**
 * Runs `algorithm.ppo_epochs` optimiser steps over the batch. `grads` holds one buffer per name of
 * `keys`, which is index-aligned with the optimiser's parameter list.
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
  const n = batch.completions.length;
  if (advantages.length !== n) {
    throw new RangeError(`updatePolicy: ${advantages.length} advantages for ${n} sequences`);
  }
  const lengths = batch.completions.map((c) => c.completionIds.length);
  const total = lengths.reduce((a, b) => a + b, 0);
  const weights = aggregationWeights(
    total,
    { sequences: n, lengths },
    algorithm.loss_agg,
    lossNormalizer(lengths, rollout.max_new_tokens),
  );
  const hasRef = batch.refLogprobs != null;
  const lossConfig = {
    clipLow: algorithm.clip_low,
    clipHigh: algorithm.clip_high,
    klCoef: algorithm.kl_coef,
    klEstimator: algorithm.kl_estimator,
    dualClip: algorithm.dual_clip,
    hasRef,
  };
  const micro: { first: number; batch: ReturnType<typeof buildSequenceBatch> }[] = [];
  for (let start = 0, first = 0; start < n; start += train.micro_batch) {
    const comps = batch.completions.slice(start, start + train.micro_batch);
    micro.push({
      first,
      batch: buildSequenceBatch(comps.map((c) => c.promptIds), comps.map((c) => c.completionIds), 0),
    });
    first += comps.reduce((a, c) => a + c.completionIds.length, 0);
  }
  const gradList = keys.map((k) => grads.get(k)!) as Tensor[];
  const tokens = gpu.fromArray(tokenInputs(batch, advantages, weights), [total, GRPO_TOKEN_INPUT_COUNT]);
  const tokenStats = gpu.empty([total, GRPO_STAT_COUNT], "f32", "grpo.tokenStats");
  const report = gpu.empty([GRPO_REPORT_SIZE], "f32", "grpo.report");
  const sum = { loss: 0, pgLoss: 0, kl: 0, clip: 0, ratio: 0, entropy: 0, norm: 0 };
  try {
    for (let epoch = 0; epoch < algorithm.ppo_epochs; epoch++) {
      for (const m of micro) {
        lossBackward(
          policy,
          m.batch,
          {
            kind: "grpo",
            tokens,
            tokenStats,
            first: m.first,
            temperature: rollout.temperature,
            config: lossConfig,
          },
          grads,
          { recompute: train.recompute },
        );
      }
      optimizerStep(optimizer, gradList, lr, { tokenStats, klCoef: algorithm.kl_coef, report });
      const r = await report.read();
      const pgLoss = r[GRPO_STAT.pgLoss];
      const loss = pgLoss + (hasRef ? algorithm.kl_coef * r[GRPO_STAT.klLoss] : 0);
      const norm = r[GRPO_REPORT_NORM];
      if (!Number.isFinite(loss)) {
        throw new NonFiniteError(`the loss is ${loss} (epoch ${epoch + 1}); the update was not applied`);
      }
      if (!Number.isFinite(norm)) {
        throw new NonFiniteError(
          `the gradient norm is ${norm} (epoch ${epoch + 1}); the update was not applied`,
        );
      }
      sum.loss += loss;
      sum.pgLoss += pgLoss;
      sum.kl += r[GRPO_STAT.kl];
      sum.clip += r[GRPO_STAT.clipped];
      sum.ratio += r[GRPO_STAT.ratio];
      sum.entropy += r[GRPO_STAT.entropy];
      sum.norm += norm;
    }
  } finally {
    for (const t of [tokens, tokenStats, report]) t.release();
  }
  const epochs = algorithm.ppo_epochs, perToken = epochs * Math.max(1, total);
  return {
    loss: sum.loss / epochs,
    pgLoss: sum.pgLoss / epochs,
    kl: hasRef ? sum.kl / perToken : null,
    clipFraction: sum.clip / perToken,
    ratioMean: sum.ratio / perToken,
    entropy: sum.entropy / perToken,
    gradNorm: sum.norm / epochs,
  };
}

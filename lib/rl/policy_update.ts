/**
 * The GRPO update of one step, on the GPU end to end. The step's rollouts split into mini-batches of
 * `train.mini_batch` prompts (verl's ppo_mini_batch_size), each one optimizer update whose importance
 * ratio is against the old log-probabilities the rollout's scoring pass computed once, before the first
 * update — so from the second update on the ratio moves away from 1, as in verl. Each mini-batch's
 * per-token old and reference log-probabilities, advantages and aggregation weights go up once; each of
 * its micro-batches runs the shared training step ({@link lossBackward}) with the GPU GRPO loss over the
 * LM head's logit chunks, nothing waiting between micro-batches (where the length changes, the last
 * length's buffers go back to the device first: `Gpu.trim` submits, it does not wait); gradients
 * accumulate with the mini-batch's normaliser; then {@link optimizerStep} clips with the norm it computes
 * once and AdamW updates. One readback per step brings back every update's loss statistics and gradient norm together,
 * however many mini-batches and epochs; a non-finite loss or norm has already made the AdamW kernels skip
 * that update, and stops the run here.
 *
 * @module
 */
import { sequencesPerPass } from "../model/pass_plan.ts";
import { BufferPool } from "../gpu/buffer_pool.ts";
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
import { createOptimizer, lossBackward, optimizerStep } from "../model/train_step.ts";
import type { Gradients } from "../model/transformer.ts";
import type { GrpoConfig } from "./config.ts";
import { aggregationWeights, lossNormalizer } from "./grpo.ts";
import type { RolloutBatch } from "./rollout.ts";

/** AdamW over every parameter of `policy`, as the config's `train` section sets it up. */
export function policyOptimizer(policy: Model, train: GrpoConfig["train"]): AdamW {
  return createOptimizer(policy, {
    betas: train.betas,
    eps: train.eps,
    weightDecay: train.weight_decay,
    maxGradNorm: train.grad_clip,
  });
}

/**
 * What a step's updates did, averaged over its optimizer updates (mini-batches × epochs; token-weighted
 * where the statistic is per token).
 */
export interface UpdateStats {
  /** Optimizer updates the step took: prompts_per_step / mini_batch mini-batches × ppo_epochs. */
  updates: number;
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
  /** Global gradient norm before clipping, averaged over the updates. */
  gradNorm: number;
}

/**
 * The per-token inputs of the GPU loss for sequences [from, to) (`weights` has one entry per token), in
 * the order micro-batch rows visit the tokens.
 */
function tokenInputs(
  batch: RolloutBatch,
  from: number,
  to: number,
  advantages: Float64Array,
  weights: Float64Array,
): Float32Array {
  const total = weights.length;
  const out = new Float32Array(total * GRPO_TOKEN_INPUT_COUNT);
  let t = 0;
  for (let i = from; i < to; i++) {
    const c = batch.completions[i];
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
  }
  return out;
}

/**
 * Per-token aggregation weights of one mini-batch's sequences: the kept ones' weights with the
 * normaliser over the kept ones only, 0 for every token of a masked sequence (percentile filtering's
 * middle), which so adds nothing to the loss, its gradient or the token/sequence counts.
 */
function maskedWeights(lengths: number[], keep: boolean[] | undefined, config: GrpoConfig): Float64Array {
  const keptLengths = keep ? lengths.filter((_, i) => keep[i]) : lengths;
  const keptTotal = keptLengths.reduce((a, b) => a + b, 0);
  const kept = aggregationWeights(
    keptTotal,
    { sequences: keptLengths.length, lengths: keptLengths },
    config.algorithm.loss_agg,
    lossNormalizer(keptLengths, config.rollout.max_new_tokens),
  );
  if (!keep) return kept;
  const out = new Float64Array(lengths.reduce((a, b) => a + b, 0));
  for (let i = 0, t = 0, k = 0; i < lengths.length; t += lengths[i++]) {
    if (keep[i]) out.set(kept.subarray(k, k += lengths[i]), t);
  }
  return out;
}

/** One optimizer update's share of the step: its micro-batches and its per-token GPU buffers. */
interface MiniBatch {
  /** Micro-batches, each with the mini-batch token index of its first row. */
  readonly micro: { first: number; batch: ReturnType<typeof buildSequenceBatch> }[];
  /** f32 [N, 4] per-token inputs of the mini-batch's N completion tokens. */
  readonly tokens: Tensor;
  /** f32 [N, 8] per-token terms (written by the loss). */
  readonly tokenStats: Tensor;
}

/**
 * Splits the step's sequences, in order, into `train.mini_batch` prompts' worth each (all of them when
 * null) — whole groups, as verl splits its batch into ppo_mini_batch_size chunks — and uploads each
 * one's token inputs (no submit). Each mini-batch is its own loss: aggregation weights and the loss
 * normaliser are over its tokens, as verl aggregates the loss per mini-batch. A micro-batch longer than one
 * forward pass may hold on the device is split further (sequencesPerPass): the gradients add up the same.
 */
function miniBatches(
  policy: Model,
  batch: RolloutBatch,
  advantages: Float64Array,
  config: GrpoConfig,
): MiniBatch[] {
  const { gpu } = policy;
  const { rollout, train } = config;
  const n = batch.completions.length;
  const size = train.mini_batch === null ? n : train.mini_batch * rollout.n;
  if (n % size !== 0) {
    throw new RangeError(
      `updatePolicy: ${n} sequences do not split into mini-batches of train.mini_batch (${train.mini_batch}) ` +
        `prompts × rollout.n (${rollout.n}) = ${size} sequences`,
    );
  }
  const out: MiniBatch[] = [];
  for (let from = 0; from < n; from += size) {
    const comps = batch.completions.slice(from, from + size);
    const lengths = comps.map((c) => c.completionIds.length);
    const total = lengths.reduce((a, b) => a + b, 0);
    const weights = maskedWeights(lengths, batch.keep?.slice(from, from + size), config);
    const micro: MiniBatch["micro"] = [];
    for (let start = 0, first = 0; start < comps.length;) {
      const longest = (k: number) =>
        Math.max(...comps.slice(start, start + k).map((c) => c.promptIds.length + c.completionIds.length));
      let take = Math.min(train.micro_batch, comps.length - start);
      while (take > 1 && sequencesPerPass(policy, longest(take)) < take) take--;
      if (take < Math.min(train.micro_batch, comps.length - start)) gpu.recorder.counters.splitPasses++;
      sequencesPerPass(policy, longest(1)); // one sequence too long for a pass is refused by name
      const part = comps.slice(start, start + take);
      start += take;
      micro.push({
        first,
        batch: buildSequenceBatch(part.map((c) => c.promptIds), part.map((c) => c.completionIds), 0),
      });
      first += part.reduce((a, c) => a + c.completionIds.length, 0);
    }
    out.push({
      micro,
      tokens: gpu.fromArray(tokenInputs(batch, from, from + comps.length, advantages, weights), [
        total,
        GRPO_TOKEN_INPUT_COUNT,
      ]),
      tokenStats: gpu.empty([total, GRPO_STAT_COUNT], "f32", "grpo.tokenStats"),
    });
  }
  return out;
}

/**
 * Runs `algorithm.ppo_epochs` passes over the batch's mini-batches, one optimiser step each. `grads` holds one buffer per name of
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
  policy.requireTrainable("updatePolicy");
  const { gpu } = policy;
  const { algorithm, rollout, train } = config;
  const n = batch.completions.length;
  if (advantages.length !== n) {
    throw new RangeError(`updatePolicy: ${advantages.length} advantages for ${n} sequences`);
  }
  if (batch.keep && batch.keep.length !== n) {
    throw new RangeError(`updatePolicy: batch.keep has ${batch.keep.length} entries for ${n} sequences`);
  }
  const hasRef = batch.refLogprobs != null;
  const lossConfig = {
    clipLow: algorithm.clip_low,
    clipHigh: algorithm.clip_high,
    klCoef: algorithm.kl_coef,
    klEstimator: algorithm.kl_estimator,
    dualClip: algorithm.dual_clip,
    hasRef,
    ratio: algorithm.ratio,
  };
  const minis = miniBatches(policy, batch, advantages, config);
  const gradList = keys.map((k) => grads.get(k)!) as Tensor[];
  const reports: Tensor[] = [];
  const sum = { loss: 0, pgLoss: 0, kl: 0, clip: 0, ratio: 0, entropy: 0, norm: 0 };
  // Size class of the last micro-batch's residual stream [rows, hidden] (0 before the first).
  let lastClass = 0;
  try {
    for (let epoch = 0; epoch < algorithm.ppo_epochs; epoch++) {
      for (const mini of minis) {
        for (const m of mini.micro) {
          // The pool serves a request from its own size class only: beside a micro-batch of another length,
          // the buffers one of this length released would sit unused, so they go back to the device first
          // and the update holds one length's activations at a time, not the sum over its lengths. Equal
          // lengths keep reusing theirs.
          const sizeClass = BufferPool.bucket(4 * m.batch.ids.length * policy.config.hiddenSize);
          if (lastClass !== 0 && sizeClass !== lastClass) gpu.trim();
          lastClass = sizeClass;
          lossBackward(
            policy,
            m.batch,
            {
              kind: "grpo",
              tokens: mini.tokens,
              tokenStats: mini.tokenStats,
              first: m.first,
              temperature: rollout.temperature,
              config: lossConfig,
            },
            grads,
            { recompute: train.recompute },
          );
        }
        const report = gpu.empty([GRPO_REPORT_SIZE], "f32", "grpo.report");
        reports.push(report);
        optimizerStep(optimizer, gradList, lr, {
          tokenStats: mini.tokenStats,
          klCoef: algorithm.kl_coef,
          report,
        });
      }
    }
    // Every update's statistics in one readback: an update whose loss or norm is not finite was skipped on
    // the GPU, and the run stops here (the updates after it did run, from the weights before it).
    const read = await gpu.readAll(reports);
    read.forEach((r, k) => {
      const where = `epoch ${Math.floor(k / minis.length) + 1}, update ${
        (k % minis.length) + 1
      } of ${minis.length}`;
      const pgLoss = r[GRPO_STAT.pgLoss];
      const loss = pgLoss + (hasRef ? algorithm.kl_coef * r[GRPO_STAT.klLoss] : 0);
      const norm = r[GRPO_REPORT_NORM];
      if (!Number.isFinite(loss)) {
        throw new NonFiniteError(`the loss is ${loss} (${where}); that update was not applied`);
      }
      if (!Number.isFinite(norm)) {
        throw new NonFiniteError(`the gradient norm is ${norm} (${where}); that update was not applied`);
      }
      sum.loss += loss;
      sum.pgLoss += pgLoss;
      sum.kl += r[GRPO_STAT.kl];
      sum.clip += r[GRPO_STAT.clipped];
      sum.ratio += r[GRPO_STAT.ratio];
      sum.entropy += r[GRPO_STAT.entropy];
      sum.norm += norm;
    });
  } finally {
    for (const t of reports) t.release();
    for (const m of minis) for (const t of [m.tokens, m.tokenStats]) t.release();
  }
  const total = minis.reduce((a, m) => a + m.tokens.shape[0], 0);
  const updates = algorithm.ppo_epochs * minis.length;
  const perToken = algorithm.ppo_epochs * Math.max(1, total);
  return {
    updates,
    loss: sum.loss / updates,
    pgLoss: sum.pgLoss / updates,
    kl: hasRef ? sum.kl / perToken : null,
    clipFraction: sum.clip / perToken,
    ratioMean: sum.ratio / perToken,
    entropy: sum.entropy / perToken,
    gradNorm: sum.norm / updates,
  };
}

/**
 * The float64 host implementation of the GRPO loss (lib/rl/grpo.ts documents the formulas) and of the KL
 * estimators (lib/rl/kl.ts): the reference the GPU loss kernels (kernels/grpo_loss.wgsl) are checked
 * against; itself checked against torch.autograd (grpo_torch_test.ts) and finite differences.
 */
import { type LossAgg, type LossNormalizer, resolveLayout, weightsFor } from "../../lib/rl/grpo.ts";
import { isKlEstimator, KL_ESTIMATORS, type KlEstimator } from "../../lib/rl/kl.ts";

/** One (micro-)batch of per-token log-probs for {@link grpoTokenLoss}. */
export interface GrpoBatch {
  /** Log-prob of each sampled token under the policy being optimised. */
  logpNew: ArrayLike<number>;
  /** Log-prob under the policy that sampled the rollouts; omitted = `logpNew` (on-policy, ratio 1). */
  logpOld?: ArrayLike<number>;
  /** Log-prob under the reference policy; required when `klCoef > 0`. */
  logpRef?: ArrayLike<number>;
  /** One advantage per sequence. */
  advantages: ArrayLike<number>;
  /** Padded-layout 0/1 mask (see {@link TokenLayoutSpec}). */
  mask?: ArrayLike<number>;
  /** Packed-layout lengths (see {@link TokenLayoutSpec}). */
  lengths?: ArrayLike<number>;
}

/** Hyper-parameters of {@link grpoTokenLoss}. */
export interface GrpoLossConfig {
  /** Lower clip: ratios below `1 − clipLow` are clipped for negative advantages (PPO ε, 0.2). */
  clipLow: number;
  /** Upper clip: ratios above `1 + clipHigh` are clipped for positive advantages (DAPO: 0.28). */
  clipHigh: number;
  /** β, the weight of the KL term (0 disables it). */
  klCoef: number;
  /** Which per-token KL estimator to use; see kl.ts. */
  klEstimator: KlEstimator;
  /** How per-token losses are aggregated into the scalar loss. */
  lossAgg: LossAgg;
  /** Dual-clip constant `c > 1` (verl's `clip_ratio_c`); null/undefined disables it (TRL, Intuitor). */
  dualClip?: number | null;
}

/** Diagnostics of one {@link grpoTokenLoss} call. Token means are over this call's valid tokens. */
export interface GrpoLossStats {
  /** Aggregated clipped-surrogate part of the loss. */
  pgLoss: number;
  /** Aggregated KL part (before `klCoef`); null without `logpRef`. */
  klLoss: number | null;
  /** Token mean of the KL estimate; null without `logpRef`. */
  kl: number | null;
  /** Token fraction where the clipped branch is strictly active (verl's `pg_clipfrac`). */
  clipFraction: number;
  /** Part of `clipFraction` with A < 0 and ratio < 1 − clipLow. */
  clipFractionLow: number;
  /** Part of `clipFraction` with A > 0 and ratio > 1 + clipHigh. */
  clipFractionHigh: number;
  /** Token fraction where dual-clip is strictly active (verl's `pg_clipfrac_lower`). */
  dualClipFraction: number;
  /** Token mean of the ratio. */
  ratioMean: number;
  /** Smallest ratio (NaN when there are no valid tokens). */
  ratioMin: number;
  /** Largest ratio (NaN when there are no valid tokens). */
  ratioMax: number;
  /** Token mean of `logp_old − logp_new` (verl's `ppo_kl`). */
  ppoKl: number;
  /** Valid tokens in this call (to combine token means across micro-batches). */
  tokens: number;
  /** Non-empty sequences in this call. */
  sequences: number;
}

/** Output of {@link grpoTokenLoss}. */
export interface GrpoLossResult {
  /** The scalar loss (this micro-batch's share when a mini-batch normaliser is given). */
  loss: number;
  /** dLoss / dlogp_new per token, 0 at tokens that do not count. */
  dLogp: Float64Array;
  /** Diagnostics. */
  stats: GrpoLossStats;
}

/** Value and derivative w.r.t. `logp_new` of one token's KL estimate. */
export interface KlTerm {
  /** The estimate. */
  value: number;
  /** d value / d logp_new (the straight-through gradient for `+` names). */
  grad: number;
}

function baseTerm(base: string, logpNew: number, logpRef: number): KlTerm {
  const d = logpNew - logpRef;
  switch (base) {
    case "k1":
    case "kl":
      return { value: d, grad: 1 };
    case "abs":
      return { value: Math.abs(d), grad: d > 0 ? 1 : d < 0 ? -1 : 0 };
    case "k2":
    case "mse":
      return { value: 0.5 * d * d, grad: d };
    case "k3": {
      const e = Math.exp(-d);
      return { value: e + d - 1, grad: 1 - e };
    }
    case "low_var_kl": {
      const raw = logpRef - logpNew;
      const k = clamp(raw, -20, 20);
      const e = Math.exp(k);
      const kld = e - k - 1;
      const value = clamp(kld, -10, 10);
      const pass = raw >= -20 && raw <= 20 && kld >= -10 && kld <= 10;
      // d kld / dk = e − 1 and dk / dx = −1.
      return { value, grad: pass ? 1 - e : 0 };
    }
  }
  throw new RangeError(`unknown KL estimator "${base}"; use one of ${KL_ESTIMATORS.join(", ")}`);
}

/**
 * One token's KL estimate and its derivative with respect to `logpNew`.
 *
 * @example
 * ```ts
 * klTerm("k3", Math.log(0.5), Math.log(0.25)); // value exp(-ln 2) + ln 2 - 1 ≈ 0.1931, grad 0.5
 * ```
 */
export function klTerm(estimator: KlEstimator, logpNew: number, logpRef: number): KlTerm {
  if (!isKlEstimator(estimator)) {
    throw new RangeError(`unknown KL estimator "${estimator}"; use one of ${KL_ESTIMATORS.join(", ")}`);
  }
  const straightThrough = estimator.endsWith("+");
  const base = straightThrough ? estimator.slice(0, -1) : estimator;
  const term = baseTerm(base, logpNew, logpRef);
  if (straightThrough) term.grad = logpNew - logpRef;
  return term;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function checkConfig(cfg: GrpoLossConfig): void {
  const bad = (key: string, value: unknown, want: string) => {
    throw new RangeError(`grpoTokenLoss: ${key} is ${value}; ${want}`);
  };
  if (!(cfg.clipLow >= 0 && cfg.clipLow < 1)) bad("clipLow", cfg.clipLow, "it must be in [0, 1)");
  if (!(cfg.clipHigh >= 0) || !Number.isFinite(cfg.clipHigh)) {
    bad("clipHigh", cfg.clipHigh, "it must be >= 0");
  }
  if (!(cfg.klCoef >= 0) || !Number.isFinite(cfg.klCoef)) bad("klCoef", cfg.klCoef, "it must be >= 0");
  if (!isKlEstimator(cfg.klEstimator)) {
    bad("klEstimator", `"${cfg.klEstimator}"`, `use one of ${KL_ESTIMATORS.join(", ")}`);
  }
  if (cfg.dualClip != null && !(cfg.dualClip > 1)) {
    bad("dualClip", cfg.dualClip, "dual-clip needs c > 1 (verl's clip_ratio_c, 3.0), or null to disable");
  }
}

function checkLength(name: string, arr: ArrayLike<number> | undefined, n: number): void {
  if (arr !== undefined && arr.length !== n) {
    throw new RangeError(`grpoTokenLoss: ${name} has ${arr.length} entries but logpNew has ${n}`);
  }
}

/**
 * The GRPO loss of a (micro-)batch, its gradient w.r.t. every token's `logp_new`, and diagnostics.
 * Pass `normalizer` (the whole mini-batch's, {@link lossNormalizer}) when the batch is one micro-batch
 * of several; without it the batch normalises itself. `weights` replaces the mode's per-token weights
 * (the f32 copy the GPU kernel receives), and then `cfg.lossAgg` and `normalizer` are not used.
 *
 * @example
 * ```ts
 * const r = grpoTokenLoss(
 *   { logpNew: [-1, -2, -0.5], advantages: [1, -1], lengths: [2, 1] },
 *   { clipLow: 0.2, clipHigh: 0.28, klCoef: 0, klEstimator: "low_var_kl", lossAgg: "token-mean" },
 * );
 * // on-policy (ratio 1): loss = (−1 − 1 + 1) / 3, dLogp = [−1/3, −1/3, 1/3]
 * ```
 */
export function grpoTokenLoss(
  batch: GrpoBatch,
  cfg: GrpoLossConfig,
  normalizer?: LossNormalizer,
  weights?: ArrayLike<number>,
): GrpoLossResult {
  checkConfig(cfg);
  const n = batch.logpNew.length;
  checkLength("logpOld", batch.logpOld, n);
  checkLength("logpRef", batch.logpRef, n);
  if (cfg.klCoef > 0 && batch.logpRef === undefined) {
    throw new TypeError(
      `grpoTokenLoss: klCoef is ${cfg.klCoef} but the batch has no logpRef; run the reference forward ` +
        `or set the KL coefficient to 0`,
    );
  }
  const seqCount = batch.advantages.length;
  for (let i = 0; i < seqCount; i++) {
    if (!Number.isFinite(batch.advantages[i])) {
      throw new RangeError(`grpoTokenLoss: advantages[${i}] is ${batch.advantages[i]}; it must be finite`);
    }
  }
  const layout = resolveLayout(
    n,
    { sequences: seqCount, mask: batch.mask, lengths: batch.lengths },
    "grpoTokenLoss",
  );
  const w = weights ?? weightsFor(layout, cfg.lossAgg, normalizer, "grpoTokenLoss");
  const lo = 1 - cfg.clipLow, hi = 1 + cfg.clipHigh;
  const c = cfg.dualClip ?? null;
  const logpOld = batch.logpOld ?? batch.logpNew;
  const logpRef = batch.logpRef;

  const dLogp = new Float64Array(n);
  let pgLoss = 0, klLoss = 0, klSum = 0, ratioSum = 0, ppoKlSum = 0;
  let ratioMin = Infinity, ratioMax = -Infinity;
  let tokens = 0, clipLowCount = 0, clipHighCount = 0, dualCount = 0;
  for (let t = 0; t < n; t++) {
    const i = layout.seqOf[t];
    if (i < 0) continue;
    const x = batch.logpNew[t], xo = logpOld[t];
    if (
      !Number.isFinite(x) || !Number.isFinite(xo) || (logpRef !== undefined && !Number.isFinite(logpRef[t]))
    ) {
      const what = !Number.isFinite(x)
        ? `logpNew ${x}`
        : !Number.isFinite(xo)
        ? `logpOld ${xo}`
        : `logpRef ${logpRef![t]}`;
      throw new RangeError(
        `grpoTokenLoss: token ${t} (sequence ${i}) has ${what}; log-probs of counted tokens must be finite`,
      );
    }
    tokens++;
    const a = batch.advantages[i];

    const logRatio = x - xo;
    const ratio = Math.exp(clamp(logRatio, -20, 20));
    const dRatio = logRatio >= -20 && logRatio <= 20 ? ratio : 0;
    const pg1 = -a * ratio, dpg1 = -a * dRatio;
    const pg2 = -a * clamp(ratio, lo, hi), dpg2 = ratio >= lo && ratio <= hi ? -a * dRatio : 0;
    let pg: number, dpg: number;
    if (pg1 > pg2) [pg, dpg] = [pg1, dpg1];
    else if (pg2 > pg1) {
      [pg, dpg] = [pg2, dpg2];
      if (a > 0) clipHighCount++;
      else clipLowCount++;
    } else [pg, dpg] = [pg1, 0.5 * (dpg1 + dpg2)];
    if (c !== null && a < 0) {
      const pg3 = -a * c;
      if (pg3 < pg) {
        [pg, dpg] = [pg3, 0];
        dualCount++;
      } else if (pg3 === pg) dpg *= 0.5;
    }

    let dT = dpg;
    if (logpRef !== undefined) {
      const kl = klTerm(cfg.klEstimator, x, logpRef[t]);
      klLoss += w[t] * kl.value;
      klSum += kl.value;
      dT += cfg.klCoef * kl.grad;
    }
    pgLoss += w[t] * pg;
    dLogp[t] = w[t] * dT;

    ratioSum += ratio;
    ppoKlSum += -logRatio;
    if (ratio < ratioMin) ratioMin = ratio;
    if (ratio > ratioMax) ratioMax = ratio;
  }
  const mean = (s: number) => (tokens > 0 ? s / tokens : 0);
  const hasRef = logpRef !== undefined;
  const loss = pgLoss + (hasRef ? cfg.klCoef * klLoss : 0);
  if (!Number.isFinite(loss)) {
    throw new RangeError(`grpoTokenLoss: the loss is ${loss}; check the log-probs and advantages`);
  }
  return {
    loss,
    dLogp,
    stats: {
      pgLoss,
      klLoss: hasRef ? klLoss : null,
      kl: hasRef ? mean(klSum) : null,
      clipFraction: mean(clipLowCount + clipHighCount),
      clipFractionLow: mean(clipLowCount),
      clipFractionHigh: mean(clipHighCount),
      dualClipFraction: mean(dualCount),
      ratioMean: mean(ratioSum),
      ratioMin: tokens > 0 ? ratioMin : NaN,
      ratioMax: tokens > 0 ? ratioMax : NaN,
      ppoKl: mean(ppoKlSum),
      tokens,
      sequences: layout.lengths.filter((len) => len > 0).length,
    },
  };
}

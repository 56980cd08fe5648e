/**
 * Group-relative advantages for GRPO: each completion's reward minus the mean reward of the completions
 * sampled for the same prompt, optionally divided by a standard deviation.
 *
 * Conventions (both checked against the public trainers):
 * - The standard deviation is the **sample** (Bessel-corrected, n − 1) one. verl's
 *   `compute_grpo_outcome_advantage` uses `torch.std(scores)` and TRL's `GRPOTrainer` uses
 *   `rewards.view(-1, G).std(dim=1)`; both default to `unbiased=True`.
 * - `stdScaling: "batch"` keeps the per-group mean but divides by the std of all rewards in the batch
 *   (TRL's `scale_rewards="batch"`); `"none"` is Dr. GRPO's unscaled `r − mean` (verl's
 *   `norm_adv_by_std_in_grpo=False`, TRL's `scale_rewards="none"`).
 * - `eps` defaults to 1e-6 as in verl (`epsilon: float = 1e-6`); TRL adds 1e-4 instead.
 *
 * Rewards are laid out group-major: completions `g·G … g·G + G − 1` belong to prompt `g`.
 *
 * @module
 */

/** How group-relative advantages are scaled after subtracting the group mean. */
export type AdvStdScaling = "group" | "batch" | "none";

/** The allowed {@link AdvStdScaling} values, for validation and docs. */
export const ADV_STD_SCALINGS: readonly AdvStdScaling[] = ["group", "batch", "none"];

/** Options of {@link groupAdvantages}. */
export interface GroupAdvantageOptions {
  /** Divide by the group's std (GRPO, default), the batch's std, or not at all (Dr. GRPO). */
  stdScaling?: AdvStdScaling;
  /** Added to the std before dividing; 1e-6 as in verl. */
  eps?: number;
  /**
   * Which completions take part (a shaping's keep-mask, e.g. percentile filtering), one per reward; the
   * others get advantage 0 and are left out of every mean and std. Default: all of them.
   */
  mask?: ArrayLike<boolean>;
}

/** Per-group reward statistics, for logging next to the advantages. */
export interface GroupRewardStats {
  /** Mean reward of each group. */
  mean: Float64Array;
  /** Sample (n − 1) standard deviation of each group. */
  std: Float64Array;
  /** Sample standard deviation over the whole batch. */
  batchStd: number;
  /** Fraction of groups whose rewards are all equal (they contribute no policy gradient). */
  zeroStdFraction: number;
}

function checkRewards(rewards: ArrayLike<number>, groupSize: number): void {
  if (!Number.isInteger(groupSize) || groupSize < 2) {
    throw new RangeError(
      `groupAdvantages: groupSize ${groupSize} is invalid; GRPO needs at least 2 samples per prompt ` +
        `(an integer >= 2) because advantages are relative to the other samples of the same prompt`,
    );
  }
  if (rewards.length === 0 || rewards.length % groupSize !== 0) {
    throw new RangeError(
      `groupAdvantages: ${rewards.length} rewards do not split into groups of ${groupSize}; ` +
        `pass prompts × groupSize rewards, group-major`,
    );
  }
  for (let i = 0; i < rewards.length; i++) {
    if (!Number.isFinite(rewards[i])) {
      throw new RangeError(
        `groupAdvantages: reward ${i} (group ${Math.floor(i / groupSize)}, sample ${i % groupSize}) ` +
          `is ${rewards[i]}; every reward must be a finite number`,
      );
    }
  }
}

function checkMask(mask: ArrayLike<boolean> | undefined, rewards: number): void {
  if (mask === undefined) return;
  if (mask.length !== rewards) {
    throw new RangeError(
      `groupAdvantages: mask has ${mask.length} entries for ${rewards} rewards; pass one per reward`,
    );
  }
  for (let i = 0; i < mask.length; i++) {
    if (typeof mask[i] !== "boolean") {
      throw new RangeError(
        `groupAdvantages: mask[${i}] is ${mask[i]}; the mask must hold true (kept) or false`,
      );
    }
  }
}

/**
 * Sample std of the kept values in [start, end) about `mean`. With fewer than two kept it is 0: there is
 * nothing to spread, and a lone value's centred advantage is 0 anyway.
 */
function keptStd(
  values: ArrayLike<number>,
  start: number,
  end: number,
  mask: ArrayLike<boolean> | undefined,
  mean: number,
): number {
  let ss = 0, kept = 0;
  for (let i = start; i < end; i++) {
    if (mask === undefined || mask[i]) {
      ss += (values[i] - mean) ** 2;
      kept++;
    }
  }
  return kept > 1 ? Math.sqrt(ss / (kept - 1)) : 0;
}

/**
 * Mean and sample std per group plus the batch std, over the completions `mask` keeps (all by default).
 *
 * @example
 * ```ts
 * groupRewardStats([1, 0, 1, 1], 2).zeroStdFraction; // 0.5
 * groupRewardStats([1, 0, 5, 3], 4, [true, true, false, true]).mean; // Float64Array [4 / 3]
 * ```
 */
export function groupRewardStats(
  rewards: ArrayLike<number>,
  groupSize: number,
  mask?: ArrayLike<boolean>,
): GroupRewardStats {
  checkRewards(rewards, groupSize);
  checkMask(mask, rewards.length);
  const groups = rewards.length / groupSize;
  const mean = new Float64Array(groups), std = new Float64Array(groups);
  let zero = 0, total = 0, totalKept = 0;
  for (let g = 0; g < groups; g++) {
    let s = 0, kept = 0;
    for (let i = g * groupSize; i < (g + 1) * groupSize; i++) {
      if (mask === undefined || mask[i]) {
        s += rewards[i];
        kept++;
      }
    }
    mean[g] = kept > 0 ? s / kept : 0;
    std[g] = keptStd(rewards, g * groupSize, (g + 1) * groupSize, mask, mean[g]);
    if (std[g] === 0) zero++;
    total += s;
    totalKept += kept;
  }
  const batchStd = keptStd(rewards, 0, rewards.length, mask, totalKept > 0 ? total / totalKept : 0);
  return { mean, std, batchStd, zeroStdFraction: zero / groups };
}

/**
 * GRPO advantages `(r − mean_group) / (std + eps)` per completion, group-major.
 *
 * @example
 * ```ts
 * // one prompt, two samples: mean 0.5, sample std √0.5
 * groupAdvantages([1, 0], 2); // ≈ [0.7071, -0.7071]
 * groupAdvantages([1, 0], 2, { stdScaling: "none" }); // [0.5, -0.5]
 * // percentile filtering keeps 1 and 4: the middle ones get 0 and do not move the mean
 * groupAdvantages([1, 2, 3, 4], 4, { stdScaling: "none", mask: [true, false, false, true] }); // [-1.5, 0, 0, 1.5]
 * ```
 */
export function groupAdvantages(
  rewards: ArrayLike<number>,
  groupSize: number,
  options: GroupAdvantageOptions = {},
): Float64Array {
  const scaling = options.stdScaling ?? "group";
  const eps = options.eps ?? 1e-6;
  if (!ADV_STD_SCALINGS.includes(scaling)) {
    throw new RangeError(
      `groupAdvantages: stdScaling "${scaling}" is not one of ${ADV_STD_SCALINGS.join(", ")}`,
    );
  }
  // eps = 0 would turn a group of equal rewards (std 0, centred values ~1e-17 from rounding) into
  // 0/0 or rounding noise blown up to O(1) advantages.
  if (!(eps > 0) || !Number.isFinite(eps)) {
    throw new RangeError(`groupAdvantages: eps ${eps} must be a finite number > 0 (verl uses 1e-6)`);
  }
  const mask = options.mask;
  const stats = groupRewardStats(rewards, groupSize, mask);
  const out = new Float64Array(rewards.length);
  for (let i = 0; i < rewards.length; i++) {
    if (mask !== undefined && !mask[i]) continue;
    const g = Math.floor(i / groupSize);
    const centred = rewards[i] - stats.mean[g];
    if (scaling === "none") out[i] = centred;
    else out[i] = centred / ((scaling === "group" ? stats.std[g] : stats.batchStd) + eps);
  }
  return out;
}

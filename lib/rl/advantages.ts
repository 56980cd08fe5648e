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

function sampleStd(values: ArrayLike<number>, start: number, end: number, mean: number): number {
  let ss = 0;
  for (let i = start; i < end; i++) ss += (values[i] - mean) ** 2;
  return Math.sqrt(ss / (end - start - 1));
}

/**
 * Mean and sample std per group plus the batch std.
 *
 * @example
 * ```ts
 * groupRewardStats([1, 0, 1, 1], 2).zeroStdFraction; // 0.5
 * ```
 */
export function groupRewardStats(rewards: ArrayLike<number>, groupSize: number): GroupRewardStats {
  checkRewards(rewards, groupSize);
  const groups = rewards.length / groupSize;
  const mean = new Float64Array(groups), std = new Float64Array(groups);
  let zero = 0, total = 0;
  for (let g = 0; g < groups; g++) {
    let s = 0;
    for (let i = g * groupSize; i < (g + 1) * groupSize; i++) s += rewards[i];
    mean[g] = s / groupSize;
    std[g] = sampleStd(rewards, g * groupSize, (g + 1) * groupSize, mean[g]);
    if (std[g] === 0) zero++;
    total += s;
  }
  const batchStd = sampleStd(rewards, 0, rewards.length, total / rewards.length);
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
  const stats = groupRewardStats(rewards, groupSize);
  const out = new Float64Array(rewards.length);
  for (let i = 0; i < rewards.length; i++) {
    const g = Math.floor(i / groupSize);
    const centred = rewards[i] - stats.mean[g];
    if (scaling === "none") out[i] = centred;
    else out[i] = centred / ((scaling === "group" ? stats.std[g] : stats.batchStd) + eps);
  }
  return out;
}

/**
 * The shared machinery of intrinsic rewards: each is one number read from a rollout's
 * {@link CompletionStats}, so a reward is a name plus a reader.
 *
 * @module
 */

import { RewardError } from "./errors.ts";
import type { CompletionStats, RolloutGroup } from "./types.ts";

/**
 * Reads one statistic from every rollout of the group. A rollout without stats, or a statistic that is
 * not a finite number, is an error naming the reward and the rollout: intrinsic rewards need the
 * scoring pass, and a NaN reward would silently poison the advantages.
 */
export function readStat(
  reward: string,
  field: string,
  group: RolloutGroup,
  read: (stats: CompletionStats) => number | undefined,
): number[] {
  return group.rollouts.map((rollout, i) => {
    if (!rollout.stats) {
      throw new RewardError(
        `${reward}: rollout ${i} of ${group.rollouts.length} has no stats; intrinsic rewards need the ` +
          `scoring pass (score the completions before computing rewards)`,
      );
    }
    const value = read(rollout.stats);
    if (value === undefined || !Number.isFinite(value)) {
      throw new RewardError(
        `${reward}: rollout ${i}: stats.${field} is ${value}, expected a finite number`,
      );
    }
    return value;
  });
}

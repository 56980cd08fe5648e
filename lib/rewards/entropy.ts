import { readStat } from "./stats_view.ts";
import type { RolloutGroup } from "./types.ts";

/**
 * RENT / EM-RL token-level reward: minus the mean token entropy, so lower-entropy (more decisive)
 * completions score higher.
 *
 * @example
 * ```ts
 * import { negativeEntropy } from "./mod.ts";
 * negativeEntropy({ prompt: "2+2?", rollouts }); // [-0.41, -1.2, ...]
 * ```
 */
export function negativeEntropy(group: RolloutGroup): number[] {
  return readStat("negativeEntropy", "meanTokenEntropy", group, (s) => -s.meanTokenEntropy);
}

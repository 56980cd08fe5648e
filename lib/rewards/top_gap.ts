import { readStat } from "./stats_view.ts";
import type { RolloutGroup } from "./types.ts";

/**
 * Disparity reward: mean gap between the top-1 and top-2 next-token probabilities; a wide gap means
 * the policy rarely hesitated between two continuations.
 *
 * @example
 * ```ts
 * import { topGap } from "./mod.ts";
 * topGap({ prompt: "2+2?", rollouts }); // [0.62, 0.18, ...]
 * ```
 */
export function topGap(group: RolloutGroup): number[] {
  return readStat("topGap", "topGap", group, (s) => s.topGap);
}

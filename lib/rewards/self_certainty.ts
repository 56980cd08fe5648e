import { readStat } from "./stats_view.ts";
import type { RolloutGroup } from "./types.ts";

/**
 * Intuitor's reward: each rollout's self-certainty (mean KL from the uniform distribution to the
 * policy's next-token distribution); higher means the model was more confident while writing it.
 *
 * @example
 * ```ts
 * import { selfCertainty } from "./mod.ts";
 * selfCertainty({ prompt: "2+2?", rollouts }); // [3.1, 2.7, ...], one per rollout
 * ```
 */
export function selfCertainty(group: RolloutGroup): number[] {
  return readStat("selfCertainty", "selfCertainty", group, (s) => s.selfCertainty);
}

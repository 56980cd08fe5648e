/**
 * Rewards from the probability of the whole completion: EM-RL's trajectory-level reward (sum or mean of
 * token log-probabilities) and RLSC's sequence probability.
 *
 * @module
 */

import { readStat } from "./stats_view.ts";
import type { RolloutGroup } from "./types.ts";

/**
 * EM-RL trajectory reward: log-probability of the completion (sum of token log-probabilities). It favours
 * short completions; {@link meanLogprob} removes that bias.
 *
 * @example
 * ```ts
 * import { trajectoryLogprob } from "./mod.ts";
 * trajectoryLogprob({ prompt: "2+2?", rollouts }); // [-12.5, -40.2, ...]
 * ```
 */
export function trajectoryLogprob(group: RolloutGroup): number[] {
  return readStat("trajectoryLogprob", "trajectoryLogprob", group, (s) => s.trajectoryLogprob);
}

/**
 * Length-normalised trajectory reward: mean token log-probability of the completion.
 *
 * @example
 * ```ts
 * import { meanLogprob } from "./mod.ts";
 * meanLogprob({ prompt: "2+2?", rollouts }); // [-0.21, -0.35, ...]
 * ```
 */
export function meanLogprob(group: RolloutGroup): number[] {
  return readStat("meanLogprob", "meanLogprob", group, (s) => s.meanLogprob);
}

/**
 * RLSC reward: probability of the completion, exp(sum of token log-probabilities). It underflows to 0 for
 * long completions, as the original objective does; {@link normalizedSequenceProbability} does not.
 *
 * @example
 * ```ts
 * import { sequenceProbability } from "./mod.ts";
 * sequenceProbability({ prompt: "2+2?", rollouts }); // [0.012, 3e-9, ...]
 * ```
 */
export function sequenceProbability(group: RolloutGroup): number[] {
  return readStat("sequenceProbability", "trajectoryLogprob", group, (s) => s.trajectoryLogprob).map(
    Math.exp,
  );
}

/**
 * Length-normalised RLSC reward: exp(mean token log-probability), the geometric mean of the token
 * probabilities, in (0, 1].
 *
 * @example
 * ```ts
 * import { normalizedSequenceProbability } from "./mod.ts";
 * normalizedSequenceProbability({ prompt: "2+2?", rollouts }); // [0.81, 0.70, ...]
 * ```
 */
export function normalizedSequenceProbability(group: RolloutGroup): number[] {
  return readStat("normalizedSequenceProbability", "meanLogprob", group, (s) => s.meanLogprob).map(Math.exp);
}

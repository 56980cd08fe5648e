/**
 * Verifiable math reward: the last `\boxed{…}` against the reference answer.
 *
 * @module
 */

import { extractBoxed } from "../grading/extract.ts";
import { isEquivalent } from "../grading/equivalence.ts";
import { RewardError } from "./errors.ts";
import type { RolloutGroup } from "./types.ts";

/**
 * 1 when the completion's last `\boxed{…}` is equivalent to `gold`, else 0 (also when nothing is boxed).
 *
 * @example
 * ```ts
 * import { mathAccuracyScore } from "./mod.ts";
 * mathAccuracyScore("so the answer is \\boxed{\\frac{1}{2}}", "0.5"); // 1
 * ```
 */
export function mathAccuracyScore(text: string, gold: string): number {
  const pred = extractBoxed(text);
  return pred !== null && isEquivalent(pred, gold) ? 1 : 0;
}

/** The group's ground truth, or an error naming the reward when the dataset has none. */
export function requireGroundTruth(reward: string, group: RolloutGroup): string {
  const gold = group.groundTruth;
  if (typeof gold !== "string") {
    throw new RewardError(
      `${reward}: the group has no groundTruth (got ${JSON.stringify(gold)}); verifiable rewards need a ` +
        `dataset with an answer field, label-free runs use an intrinsic or voting reward`,
    );
  }
  return gold;
}

/**
 * Accuracy reward for a group: {@link mathAccuracyScore} of every rollout against `group.groundTruth`.
 *
 * @example
 * ```ts
 * import { mathAccuracy } from "./mod.ts";
 * mathAccuracy({ prompt: "1+1?", groundTruth: "2", rollouts: [{ text: "\\boxed{2}" }, { text: "3" }] });
 * // [1, 0]
 * ```
 */
export function mathAccuracy(group: RolloutGroup): number[] {
  const gold = requireGroundTruth("mathAccuracy", group);
  return group.rollouts.map((r) => mathAccuracyScore(r.text, gold));
}

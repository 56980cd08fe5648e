/**
 * TTRL's majority-vote reward.
 *
 * @module
 */

import { classifyAnswers, extractAnswers, type VoteOutcome, voteOutcome } from "./answer_classes.ts";
import type { RolloutGroup } from "./types.ts";

/**
 * Majority vote with the details a trainer logs: each rollout's final answer is its last `\boxed{…}`;
 * answers are grouped with `isEquivalent`; the largest class is the pseudo-label (ties: the class whose
 * first member comes first, as Python's `Counter.most_common` orders them); rollouts in it get 1, all
 * others 0. Rollouts without an answer get 0 and do not vote. `labelCorrect` compares the pseudo-label
 * with `group.groundTruth` when there is one.
 *
 * @example
 * ```ts
 * import { majorityVoteOutcome } from "./mod.ts";
 * const out = majorityVoteOutcome({
 *   prompt: "1+1?",
 *   groundTruth: "2",
 *   rollouts: [{ text: "\\boxed{2}" }, { text: "\\boxed{3}" }, { text: "\\boxed{2.0}" }],
 * });
 * out.rewards; // [1, 0, 1]
 * out.label; // "2"
 * out.labelCorrect; // true
 * ```
 */
export function majorityVoteOutcome(group: RolloutGroup): VoteOutcome {
  const answers = extractAnswers(group);
  const { classes, classOf } = classifyAnswers(answers);
  for (const c of classes) c.weight = c.members.length;
  return voteOutcome(group, answers, classes, classOf);
}

/**
 * TTRL reward: 1 for rollouts whose answer agrees with the group's majority answer, else 0. See
 * {@link majorityVoteOutcome} for the pseudo-label and tie rule.
 *
 * @example
 * ```ts
 * import { majorityVote } from "./mod.ts";
 * majorityVote({ prompt: "1+1?", rollouts: [{ text: "\\boxed{2}" }, { text: "no idea" }] }); // [1, 0]
 * ```
 */
export function majorityVote(group: RolloutGroup): number[] {
  return majorityVoteOutcome(group).rewards;
}

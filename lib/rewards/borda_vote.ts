/**
 * Borda voting weighted by self-certainty rank.
 *
 * @module
 */

import { classifyAnswers, extractAnswers, type VoteOutcome, voteOutcome } from "./answer_classes.ts";
import { RewardError } from "./errors.ts";
import type { RolloutGroup } from "./types.ts";
import { z } from "zod";

/** The options `borda_vote` takes in a config (YAML keys), with their defaults. */
export const BORDA_VOTE_OPTIONS: z.ZodType<{ power: number }> = z.strictObject({
  power: z.number().min(0).default(0.5).describe(
    "Rank weight exponent: (N − r + 1)^power; 0 is majority voting.",
  ),
});

/** Options for {@link bordaVote}. */
export interface BordaVoteOptions {
  /** Exponent p of the rank weight (N − r + 1)^p; 0 is plain majority voting (default 0.5). */
  power?: number;
}

/**
 * Ranks of `values` in descending order, 1 = largest; tied values share the mean of the ranks they span,
 * so the weights do not depend on rollout order.
 */
export function descendingRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const mean = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]] = mean;
    start = end;
  }
  return ranks;
}

/**
 * Borda vote with details: the N rollouts that produced an answer are ranked by self-certainty
 * (1 = most certain; ties share their mean rank), rollout ranked r adds (N − r + 1)^p to its answer's
 * class, and the heaviest class wins (ties: more members, then first appearance). Rollouts without an
 * answer neither vote nor count towards N, and need no stats; voters without stats are an error.
 *
 * @example
 * ```ts
 * import { bordaVoteOutcome } from "./mod.ts";
 * // answers A, B, B with self-certainty 9, 1, 2 get ranks 1, 3, 2 of N = 3
 * bordaVoteOutcome(group, { power: 2 }).label; // "A": 3² = 9 beats 1² + 2² = 5
 * bordaVoteOutcome(group, { power: 0.5 }).label; // "B": √1 + √2 ≈ 2.41 beats √3 ≈ 1.73
 * ```
 */
export function bordaVoteOutcome(group: RolloutGroup, options: BordaVoteOptions = {}): VoteOutcome {
  const power = options.power ?? 0.5;
  if (!Number.isFinite(power) || power < 0) {
    throw new RewardError(`bordaVote: power must be a finite number >= 0, got ${power}`);
  }
  const answers = extractAnswers(group);
  const { classes, classOf } = classifyAnswers(answers);
  const voters = classOf.flatMap((k, i) => (k < 0 ? [] : [i]));
  const certainty = voters.map((i) => {
    const stats = group.rollouts[i].stats;
    if (!stats) {
      throw new RewardError(
        `bordaVote: rollout ${i} has an answer but no stats; Borda voting ranks voters by self-certainty, ` +
          `so score the completions first`,
      );
    }
    if (!Number.isFinite(stats.selfCertainty)) {
      throw new RewardError(`bordaVote: rollout ${i}: stats.selfCertainty is ${stats.selfCertainty}`);
    }
    return stats.selfCertainty;
  });
  const ranks = descendingRanks(certainty);
  const n = voters.length;
  voters.forEach((i, v) => {
    classes[classOf[i]].weight += Math.pow(n - ranks[v] + 1, power);
  });
  return voteOutcome(group, answers, classes, classOf);
}

/**
 * Borda-vote reward: 1 for rollouts in the class with the largest self-certainty-rank-weighted vote,
 * else 0. See {@link bordaVoteOutcome}.
 *
 * @example
 * ```ts
 * import { bordaVote } from "./mod.ts";
 * bordaVote(group, { power: 0.5 }); // [0, 1, 1] for the group above
 * ```
 */
export function bordaVote(group: RolloutGroup, options: BordaVoteOptions = {}): number[] {
  return bordaVoteOutcome(group, options).rewards;
}

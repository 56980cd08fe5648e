/**
 * Grouping a rollout group's final answers into equivalence classes, the common ground of majority and
 * Borda voting.
 *
 * @module
 */

import { extractBoxed } from "../grading/extract.ts";
import { isEquivalent } from "../grading/equivalence.ts";
import type { RolloutGroup } from "./types.ts";

/** One equivalence class of answers. */
export interface AnswerClass {
  /** The answer of the class's first member (lowest rollout index), used as its label. */
  answer: string;
  /** Rollout indices in the class, ascending. */
  members: number[];
  /** The class's vote: member count for majority voting, summed rank weights for Borda voting. */
  weight: number;
}

/** The outcome of a vote over one group: rewards, the pseudo-label and how the votes fell. */
export interface VoteOutcome {
  /** 1 for rollouts in the winning class, 0 for every other rollout (including those with no answer). */
  rewards: number[];
  /** The winning class's answer, or null when no rollout produced an answer. */
  label: string | null;
  /** Whether the label is equivalent to the group's ground truth; null when there is none (or no label). */
  labelCorrect: boolean | null;
  /** Each rollout's extracted answer, null where there is none. */
  answers: (string | null)[];
  /** Each rollout's class index into `classes`, -1 where it has no answer. */
  classOf: number[];
  /** The classes in order of first appearance. */
  classes: AnswerClass[];
  /** Index of the winning class in `classes`, -1 when there is none. */
  winner: number;
}

/**
 * The last `\boxed{…}` of each rollout, trimmed; empty boxes count as no answer.
 */
export function extractAnswers(group: RolloutGroup): (string | null)[] {
  return group.rollouts.map((r) => {
    const boxed = extractBoxed(r.text);
    const answer = boxed?.trim() ?? "";
    return answer === "" ? null : answer;
  });
}

/**
 * Groups answers into equivalence classes greedily in rollout order: an answer joins the first existing
 * class whose label it is equivalent to (`isEquivalent(answer, label)`), else it opens a new class. Only
 * labels are compared, so the result is well defined even where equivalence is not transitive.
 * Identical strings join without calling the grader.
 */
export function classifyAnswers(
  answers: readonly (string | null)[],
): { classes: AnswerClass[]; classOf: number[] } {
  const classes: AnswerClass[] = [];
  const classOf = answers.map((answer, i) => {
    if (answer === null) return -1;
    let found = classes.findIndex((c) => c.answer === answer);
    if (found < 0) found = classes.findIndex((c) => isEquivalent(answer, c.answer));
    if (found < 0) {
      classes.push({ answer, members: [i], weight: 0 });
      return classes.length - 1;
    }
    classes[found].members.push(i);
    return found;
  });
  return { classes, classOf };
}

/**
 * Picks the winner among weighted classes: the largest weight, then the most members, then the class
 * that appeared first. Weights within `1e-12` relative of each other count as tied, so the order in which
 * floating-point sums were formed cannot decide a vote.
 */
export function pickWinner(classes: readonly AnswerClass[]): number {
  let best = -1;
  for (let k = 0; k < classes.length; k++) {
    if (best < 0) {
      best = k;
      continue;
    }
    const a = classes[k], b = classes[best];
    const scale = Math.max(Math.abs(a.weight), Math.abs(b.weight), 1e-300);
    const diff = (a.weight - b.weight) / scale;
    if (diff > 1e-12 || (Math.abs(diff) <= 1e-12 && a.members.length > b.members.length)) best = k;
  }
  return best;
}

/** Builds the {@link VoteOutcome} once classes are weighted. */
export function voteOutcome(
  group: RolloutGroup,
  answers: (string | null)[],
  classes: AnswerClass[],
  classOf: number[],
): VoteOutcome {
  const winner = pickWinner(classes);
  const label = winner < 0 ? null : classes[winner].answer;
  const gold = group.groundTruth;
  const labelCorrect = label === null || gold === undefined || gold === null
    ? null
    : isEquivalent(label, gold);
  return {
    rewards: classOf.map((k) => (winner >= 0 && k === winner ? 1 : 0)),
    label,
    labelCorrect,
    answers,
    classOf,
    classes,
    winner,
  };
}

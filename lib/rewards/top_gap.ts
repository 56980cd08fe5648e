/**
 * Probability disparity: the gap between the two most likely next tokens, over the whole completion or,
 * as RLSF defines it (URLVR Table 1), over the final answer's tokens only.
 *
 * @module
 */

import { RewardError } from "./errors.ts";
import { readStat } from "./stats_view.ts";
import type { RolloutGroup } from "./types.ts";
import { z } from "zod";

/** Which completion tokens {@link topGap} averages over. */
export type TopGapSpan = "completion" | "answer";

/** The `top_gap` reward's options in a config. */
export const TOP_GAP_OPTIONS: z.ZodType<{ span: TopGapSpan }> = z.strictObject({
  span: z.enum(["completion", "answer"]).default("completion").describe(
    "Tokens averaged: the whole completion, or the final \\boxed answer only (RLSF, URLVR Table 1).",
  ),
});

/**
 * Disparity reward: mean gap between the top-1 and top-2 next-token probabilities; a wide gap means
 * the policy rarely hesitated between two continuations. With `span: "answer"` the mean runs over the
 * final answer's tokens only (RLSF's probability disparity, URLVR Table 1: 1/M Σ over the answer tokens
 * a_t given the reasoning c); a rollout without an answer gets 0, the smallest disparity.
 *
 * @example
 * ```ts
 * import { topGap } from "./mod.ts";
 * topGap({ prompt: "2+2?", rollouts }); // [0.62, 0.18, ...]
 * topGap({ prompt: "2+2?", rollouts }, { span: "answer" }); // [0.97, 0, ...]
 * ```
 */
export function topGap(group: RolloutGroup, options: { span?: TopGapSpan } = {}): number[] {
  const span = options.span ?? "completion";
  if (span === "completion") return readStat("topGap", "topGap", group, (s) => s.topGap);
  if (span !== "answer") {
    throw new RewardError(`topGap: span ${JSON.stringify(span)} must be "completion" or "answer"`);
  }
  return group.rollouts.map((rollout, i) => {
    const gaps = rollout.stats?.tokenTopGap;
    if (!gaps) {
      throw new RewardError(
        `topGap: rollout ${i} has no stats.tokenTopGap; span "answer" needs the scoring pass's per-token gaps`,
      );
    }
    if (rollout.answerSpan === undefined) {
      throw new RewardError(
        `topGap: rollout ${i} has no answerSpan; span "answer" needs the answer's tokens (the trainer's ` +
          `rollouts carry them)`,
      );
    }
    const a = rollout.answerSpan;
    if (a === null || a.end <= a.start) return 0;
    if (!(a.start >= 0 && a.end <= gaps.length)) {
      throw new RewardError(
        `topGap: rollout ${i}: answerSpan [${a.start}, ${a.end}) is outside its ${gaps.length} tokens`,
      );
    }
    let sum = 0;
    for (let t = a.start; t < a.end; t++) sum += gaps[t];
    const value = sum / (a.end - a.start);
    if (!Number.isFinite(value)) {
      throw new RewardError(
        `topGap: rollout ${i}: the answer's mean gap is ${value}, expected a finite number`,
      );
    }
    return value;
  });
}

/**
 * EasyR1's math reward: accuracy plus a small format bonus.
 *
 * @module
 */

import { RewardError } from "./errors.ts";
import { type FormatOptions, formatScore } from "./format.ts";
import type { GraderName } from "../grading/grade.ts";
import { GRADER_OPTION, mathAccuracyScore, requireGroundTruth } from "./math_accuracy.ts";
import type { RolloutGroup } from "./types.ts";
import { z } from "zod";

/** The options `easyr1_math` takes in a config (YAML keys), with their defaults. */
export const EASYR1_MATH_OPTIONS: z.ZodType<
  { format_weight: number; prefill: string; grader?: GraderName }
> = z.strictObject({
  format_weight: z.number().min(0).max(1).default(0.1).describe(
    "Weight w of the format term: (1 − w)·accuracy + w·format (EasyR1: 0.1).",
  ),
  prefill: z.string().default("").describe("As format's prefill."),
  grader: GRADER_OPTION,
});

/** Options for {@link easyR1Math}. */
export interface EasyR1MathOptions extends FormatOptions {
  /** Weight w of the format term: (1 − w)·accuracy + w·format (default 0.1). */
  formatWeight?: number;
  /**
   * Grader of the accuracy term (default `"rlif"`; see {@link mathAccuracyScore}). EasyR1's own is
   * `"mathruler"`: its reward grades the last boxed answer with MathRuler's `grade_answer`.
   */
  grader?: GraderName;
}

/**
 * (1 − w)·accuracy + w·format with w = 0.1 by default, so a correct, well-formatted answer scores 1, a
 * correct one without the think block 0.9 and a wrong but well-formatted one 0.1.
 *
 * @example
 * ```ts
 * import { easyR1Math } from "./mod.ts";
 * easyR1Math({ prompt: "1+1?", groundTruth: "2", rollouts: [{ text: "<think>1+1</think>\\boxed{2}" }] }); // [1]
 * ```
 */
export function easyR1Math(group: RolloutGroup, options: EasyR1MathOptions = {}): number[] {
  const w = options.formatWeight ?? 0.1;
  if (!(w >= 0 && w <= 1)) throw new RewardError(`easyR1Math: formatWeight must be in [0, 1], got ${w}`);
  const gold = requireGroundTruth("easyR1Math", group);
  return group.rollouts.map((r) =>
    (1 - w) * mathAccuracyScore(r.text, gold, options.grader) + w * formatScore(r.text, options)
  );
}

/**
 * Verifiable math reward: the completion's answer against the reference answer, by a named grader.
 *
 * @module
 */

import { extractBoxed } from "../grading/extract.ts";
import { isEquivalent } from "../grading/equivalence.ts";
import { gradeAnswer, type GraderName, GRADERS } from "../grading/grade.ts";
import { RewardError } from "./errors.ts";
import type { RolloutGroup } from "./types.ts";
import { z } from "zod";

/**
 * The `grader` option of the rewards that judge answers against a ground truth. Optional in the schema
 * so that a GRPO config can tell "not named" from a choice: unnamed, the reward grades with the config's
 * `grading.grader` (rlif when that is null too); outside a config the default is rlif.
 */
export const GRADER_OPTION: z.ZodType<GraderName | undefined> = z.enum(GRADERS).optional().describe(
  "Grader of the answer: rlif (the last \\boxed{} by rlif's equivalence) or a reproduced public grader " +
    "(its own extraction and comparison); unset: grading.grader, else rlif.",
);

/** The options `math_accuracy` takes in a config (YAML keys). */
export const MATH_ACCURACY_OPTIONS: z.ZodType<{ grader?: GraderName }> = z.strictObject({
  grader: GRADER_OPTION,
});

/** Options for {@link mathAccuracy}. */
export interface MathAccuracyOptions {
  /** Which grader judges the answer (default `"rlif"`; see {@link mathAccuracyScore}). */
  grader?: GraderName;
}

/**
 * 1 when the completion answers `gold` correctly by `grader`, else 0. With `"rlif"` (the default) the
 * answer is the completion's last `\boxed{…}`, compared by rlif's equivalence, so an unboxed answer
 * scores 0; any other grader sees the whole completion and does its reference's own extraction and
 * comparison ({@link gradeAnswer}: e.g. mathruler the last box, math_verify its LaTeX and expression
 * extraction, dapo the "Answer:" line).
 *
 * @example
 * ```ts
 * import { mathAccuracyScore } from "./mod.ts";
 * mathAccuracyScore("so the answer is \\boxed{\\frac{1}{2}}", "0.5"); // 1
 * mathAccuracyScore("\\boxed{0.3333}", "\\frac{1}{3}", "math_verify"); // 0
 * ```
 */
export function mathAccuracyScore(text: string, gold: string, grader: GraderName = "rlif"): number {
  if (grader !== "rlif") return gradeAnswer(text, gold, grader) ? 1 : 0;
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
 * Accuracy reward for a group: {@link mathAccuracyScore} of every rollout against `group.groundTruth`,
 * by `options.grader` (default rlif).
 *
 * @example
 * ```ts
 * import { mathAccuracy } from "./mod.ts";
 * mathAccuracy({ prompt: "1+1?", groundTruth: "2", rollouts: [{ text: "\\boxed{2}" }, { text: "3" }] });
 * // [1, 0]
 * ```
 */
export function mathAccuracy(group: RolloutGroup, options: MathAccuracyOptions = {}): number[] {
  const gold = requireGroundTruth("mathAccuracy", group);
  return group.rollouts.map((r) => mathAccuracyScore(r.text, gold, options.grader));
}

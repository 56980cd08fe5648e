/**
 * Correctness recomputed after the fact: each logged rollout's response text graded against its ground
 * truth by a named grader, in place of the `correct` the trainer logged (which used the run's grader).
 *
 * @module
 */

import { gradeAnswer, type GraderName } from "../grading/grade.ts";
import { InputFileError } from "../data/jsonl_input.ts";
import type { Rollout } from "./run_logs.ts";

/**
 * The rollouts with `correct` recomputed by `grader` from each one's `text` and `groundTruth`; a
 * rollout that lacks either gets `correct: null` (unknown), even if a correctness was logged. Fails,
 * naming `source`, when no rollout has both, since nothing could then be analysed.
 *
 * @example
 * ```ts
 * import { readRollouts, regradeRollouts } from "./mod.ts";
 * const rollouts = regradeRollouts(await readRollouts("runs/x"), "math_verify", "runs/x");
 * ```
 */
export function regradeRollouts(rollouts: readonly Rollout[], grader: GraderName, source: string): Rollout[] {
  const out = rollouts.map((r) => ({
    ...r,
    correct: r.text === null || r.groundTruth === null ? null : gradeAnswer(r.text, r.groundTruth, grader),
  }));
  if (out.length > 0 && out.every((r) => r.correct === null)) {
    throw new InputFileError(
      source,
      null,
      `regrading with ${grader} needs each rollout's response text and ground truth, and no rollout ` +
        `has both (metadata.jsonl logs "text" and "ground_truth"; a score row needs "text" or ` +
        `"completion" and "ground_truth")`,
    );
  }
  return out;
}

/**
 * Named graders: one verdict for a full model response against a reference answer, by rlif's own
 * grader or by a reproduction of a public one (each public grader reproduces its reference's
 * extraction and comparison, verdicts that are arguably wrong included).
 *
 * @module
 */

import { isEquivalent } from "./equivalence.ts";
import { extractAnswer } from "./extract.ts";
import { dapoGrade } from "./graders/dapo.ts";
import { gsm8kFlexibleGrade, gsm8kStrictGrade } from "./graders/gsm8k.ts";
import { hendrycksGrade } from "./graders/hendrycks.ts";
import { mathrulerGrade } from "./graders/mathruler.ts";
import { mathVerifyGrade } from "./graders/math_verify.ts";
import { qwenMathGrade } from "./graders/qwen_math.ts";

/**
 * The grader names {@link gradeAnswer} accepts; `rlif` is the default.
 *
 * @example
 * ```ts
 * import { GRADERS } from "./mod.ts";
 * GRADERS.includes("math_verify"); // true
 * ```
 */
export const GRADERS = [
  "rlif",
  "mathruler",
  "math_verify",
  "qwen_math",
  "hendrycks",
  "dapo",
  "gsm8k_strict",
  "gsm8k_flexible",
] as const;

/** A grader name: rlif's own grader or a public grader it reproduces. */
export type GraderName = typeof GRADERS[number];

/**
 * rlif's grader: the response's answer by {@link extractAnswer} (`<answer>` tag, last `\boxed{}`,
 * Minerva's "final answer is", an "Answer:" line, `####`, else the last number), then
 * {@link isEquivalent} with the reference — the pipeline of the eval report's accuracy.
 *
 * @example
 * ```ts
 * import { rlifGrade } from "./grade.ts";
 * rlifGrade("so $x = \\boxed{\\dfrac{1}{2}}$", "0.5"); // true
 * ```
 */
export function rlifGrade(response: string, gold: string): boolean {
  const { answer } = extractAnswer(response);
  return answer !== null && isEquivalent(answer, gold);
}

// Grader name → verdict for a full response; each public grader's file says which reference it follows.
const GRADE_FUNCTIONS: Record<GraderName, (response: string, gold: string) => boolean> = {
  rlif: rlifGrade,
  mathruler: mathrulerGrade,
  math_verify: mathVerifyGrade,
  qwen_math: qwenMathGrade,
  hendrycks: hendrycksGrade,
  dapo: dapoGrade,
  gsm8k_strict: gsm8kStrictGrade,
  gsm8k_flexible: gsm8kFlexibleGrade,
};

/**
 * Grades a full model response against the reference answer with the named grader (default `rlif`).
 * Throws a RangeError naming the valid graders for an unknown name.
 *
 * @example
 * ```ts
 * import { gradeAnswer } from "./mod.ts";
 * gradeAnswer("The answer is $\\boxed{12}$.", "12"); // true
 * gradeAnswer("\\boxed{0.333}", "\\frac{1}{3}", "rlif"); // false
 * ```
 */
export function gradeAnswer(response: string, gold: string, grader: GraderName = "rlif"): boolean {
  if (!(GRADERS as readonly string[]).includes(grader)) {
    throw new RangeError(
      `gradeAnswer: unknown grader ${JSON.stringify(grader)}; valid graders: ${GRADERS.join(", ")}`,
    );
  }
  return GRADE_FUNCTIONS[grader](response, gold);
}

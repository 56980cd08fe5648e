/**
 * Answer grading: extracting the final answer from a response (boxed, GSM8K, Minerva, answer tags),
 * deciding whether two answers are mathematically equivalent, and grading a response with a named
 * grader (`gradeAnswer`: rlif's own or a reproduced public one). Imports no file I/O, so a reward that
 * checks answers stays light.
 *
 * @example
 * ```ts
 * import { extractBoxed, isEquivalent } from "./mod.ts";
 * isEquivalent(extractBoxed("so $x = \\boxed{\\dfrac{1}{2}}$")!, "0.5"); // true
 * ```
 *
 * @module
 */

export {
  type BoxedSpan,
  extractAllBoxed,
  extractAnswer,
  extractAnswerLine,
  extractAnswerTag,
  extractBoxed,
  type ExtractedAnswer,
  extractGsm8kFlexible,
  extractGsm8kStrict,
  type ExtractionMethod,
  extractLastNumber,
  extractMinervaAnswer,
  findBoxed,
  gsm8kMatch,
  normalizeGsm8k,
} from "./extract.ts";
export { type EquivalenceOptions, isEquivalent, normalizeAnswer } from "./equivalence.ts";
export { gradeAnswer, type GraderName, GRADERS } from "./grade.ts";

/**
 * Metrics that say whether a signal tracks correctness (AUROC, AUPR, FPR at 95% TPR, Mann–Whitney U,
 * point-biserial correlation), sampling metrics (pass@k, maj@k, p_maj), pseudo-label and reward
 * accuracy, and the step where training collapsed.
 *
 * @example
 * ```ts
 * import { auroc, passAtK } from "./mod.ts";
 * auroc([0.9, 0.2, 0.7], [true, false, false]); // 1
 * passAtK(8, 2, 4); // 0.785…
 * ```
 *
 * @module
 */

export {
  aupr,
  auroc,
  avgAtK,
  type BinaryLabel,
  fprAt95,
  fprAtTpr,
  highestScoreCorrect,
  labelAccuracy,
  majAtK,
  type MajorityAnswer,
  majorityAnswer,
  majorityShare,
  type MannWhitneyAlternative,
  type MannWhitneyOptions,
  type MannWhitneyResult,
  mannWhitneyU,
  modelCollapseStep,
  passAtK,
  pointBiserial,
  rewardAccuracy,
  type VotedSample,
} from "./metrics.ts";

/**
 * Rewards over a group of rollouts: intrinsic signals read from one scoring pass (self-certainty,
 * entropy, trajectory probability, disparity, Chain-of-Embedding), ensemble votes (majority, Borda),
 * verifiable checks (math accuracy, format, Countdown), group shaping and weighted mixes, and a registry
 * by config name.
 *
 * @example
 * ```ts
 * import { rewardByName } from "./lib/rewards/mod.ts";
 * const reward = rewardByName("majority_vote");
 * reward({ prompt: "1+1?", rollouts: [{ text: "\\boxed{2}" }, { text: "\\boxed{2}" }, { text: "\\boxed{3}" }] });
 * // [1, 1, 0]
 * ```
 *
 * @module
 */

export type {
  AskingRewardFn,
  AskOptions,
  CoeStats,
  CompletionStats,
  GroupRollout,
  PolicyAsk,
  RewardFn,
  RolloutGroup,
  Shaping,
} from "./types.ts";
export { RewardError } from "./errors.ts";
export { selfCertainty } from "./self_certainty.ts";
export { parseVerdict, selfVerify, type SelfVerifyOptions, selfVerifyReward } from "./self_verify.ts";
export { negativeEntropy } from "./entropy.ts";
export {
  meanLogprob,
  normalizedSequenceProbability,
  sequenceProbability,
  trajectoryLogprob,
} from "./trajectory.ts";
export { topGap, type TopGapSpan } from "./top_gap.ts";
export { coeC, coeD1, coeD1D2, coeD2, coeR } from "./coe.ts";
export { type AnswerClass, classifyAnswers, extractAnswers, type VoteOutcome } from "./answer_classes.ts";
export { majorityVote, majorityVoteOutcome } from "./majority_vote.ts";
export { bordaVote, type BordaVoteOptions, bordaVoteOutcome, descendingRanks } from "./borda_vote.ts";
export { mathAccuracy, type MathAccuracyOptions, mathAccuracyScore } from "./math_accuracy.ts";
export { type FormatOptions, formatReward, formatScore, THINK_BOXED_FORMAT } from "./format.ts";
export { easyR1Math, type EasyR1MathOptions } from "./easyr1_math.ts";
export {
  ARITHMETIC_CHARACTERS,
  ArithmeticSyntaxError,
  MAX_NESTING,
  parseArithmetic,
  type ParsedExpression,
} from "./arithmetic_expression.ts";
export {
  countdown,
  COUNTDOWN_CORRECT,
  COUNTDOWN_FORMAT_ONLY,
  COUNTDOWN_TOLERANCE,
  type CountdownOptions,
  type CountdownProblem,
  countdownProblemFromMeta,
  countdownReward,
  type CountdownRule,
  countdownVerdict,
  extractAnswerTagContent,
} from "./countdown.ts";
export {
  discretize,
  type DiscretizeOptions,
  type ExtremeFractions,
  hybrid,
  type HybridComponent,
  inExtremeFraction,
  minMax,
  percentileFilter,
  percentileMask,
  type ShapingConfig,
  shapingFromConfig,
  zScore,
  type ZScoreOptions,
} from "./shaping.ts";
export {
  describeRewards,
  type HybridComponentConfig,
  resolveReward,
  REWARD_NAMES,
  rewardByName,
  type RewardConfig,
  type RewardContext,
  rewardFromConfig,
  rewardGraders,
  type RewardKind,
  type RewardOptions,
  type RewardSpec,
  SHAPING_NAMES,
  shapingByName,
} from "./registry.ts";

/**
 * Reinforcement learning pieces: GRPO advantages, KL estimators, loss aggregation, the GPU policy
 * update, learning-rate schedules, and the experiment config schema.
 *
 * @module
 */
export { ADV_STD_SCALINGS, groupAdvantages, groupRewardStats } from "./advantages.ts";
export type { AdvStdScaling, GroupAdvantageOptions, GroupRewardStats } from "./advantages.ts";
export { isKlEstimator, KL_ESTIMATORS } from "./kl.ts";
export type { KlBaseEstimator, KlEstimator } from "./kl.ts";
export { aggregateLoss, aggregationWeights, LOSS_AGGS, lossNormalizer, sequenceLengths } from "./grpo.ts";
export type { LossAgg, LossNormalizer, TokenLayoutSpec } from "./grpo.ts";
export { updatePolicy, type UpdateStats } from "./policy_update.ts";
export { learningRate, LR_SCHEDULES, lrMultiplier, resolveWarmupSteps } from "./schedule.ts";
export type { LrScheduleName, LrScheduleOptions } from "./schedule.ts";
export { ConfigError, configToYaml, GRPO_CONFIG, loadConfig, resolveConfig, runGrader } from "./config.ts";
export type {
  ConfigField,
  ConfigIssue,
  ConfigLeaf,
  ConfigOverride,
  ConfigSpec,
  FieldType,
  GrpoConfig,
  LoadConfigOptions,
  LoadedConfig,
  LoraConfig,
  SchemaOf,
} from "./config.ts";
export { type StepMetrics, trainGrpo, type TrainOptions, type TrainResult } from "./trainer.ts";
export { runExperiment } from "./experiment.ts";
export { type RolloutBatch } from "./rollout.ts";
export { checkpointDir, type FoundCheckpoint, latestCheckpoint, type TrainerState } from "./checkpoint.ts";
export { GRPO_RATIOS, type GrpoRatio } from "../ops/grpo_loss.ts";

/**
 * rlif: reinforcement learning from internal feedback for transformer language models, on WebGPU.
 *
 * This module is the small surface most users need: load a model, sample and score completions, grade
 * answers, measure how well a signal tracks correctness, read a run's logs, train with GRPO. The rest
 * lives behind subpath exports, one per folder: `@rlif/rlif/gpu`, `/model`, `/rl`, `/rewards`,
 * `/grading`, `/metrics`, `/report`, `/data` and `/bench`.
 *
 * @example
 * ```ts
 * import * as rlif from "./mod.ts";
 * const model = await rlif.loadModel("path/to/Qwen2.5-0.5B-Instruct");
 * const outs = await rlif.generate(model, ["What is 2+3?"], { chat: true, n: 4, temperature: 0.7, seed: 1 });
 * const stats = await rlif.score(model, outs, { temperature: 0.7 });
 * const correct = outs.map((o) => rlif.isEquivalent(rlif.extractBoxed(o.text) ?? "", "5"));
 * console.log(rlif.auroc(stats.map((s) => s.selfCertainty), correct));
 * ```
 * @module
 */

// Device and models.
export { RlifError } from "./lib/errors.ts";
export { getDevice, Gpu } from "./lib/gpu/device.ts";
export { loadModel, type LoadModelOptions, Model } from "./lib/model/model.ts";
export { loadTokenizer, Tokenizer } from "./lib/tokenizer/tokenizer.ts";
export { type Completion, generate, type GenerateOptions } from "./lib/generate/generate.ts";
export { score, type ScoreOptions } from "./lib/model/score.ts";
export type { CoeStats, CompletionStats } from "./lib/rewards/types.ts";

// Grading.
export { extractAnswer, extractBoxed, type ExtractionMethod } from "./lib/grading/extract.ts";
export { isEquivalent } from "./lib/grading/equivalence.ts";
export { gradeAnswer, type GraderName, GRADERS } from "./lib/grading/grade.ts";

// Metrics.
export {
  aupr,
  auroc,
  type BinaryLabel,
  fprAt95,
  majAtK,
  type MannWhitneyResult,
  mannWhitneyU,
  modelCollapseStep,
  passAtK,
} from "./lib/metrics/metrics.ts";

// Run logs and reports.
export { type MetricsRow, readMetrics, readRollouts, type Rollout } from "./lib/report/run_logs.ts";
export { signalTable, tableToCsv, tableToMarkdown } from "./lib/report/analysis.ts";
export { writeAnalysisReport } from "./lib/report/report.ts";

// Rewards, data, training and benchmarks.
export { rewardByName } from "./lib/rewards/registry.ts";
export { type Example, loadExamples } from "./lib/data/fields.ts";
export { GRPO_CONFIG, type GrpoConfig, loadConfig } from "./lib/rl/config.ts";
export { trainGrpo, type TrainResult } from "./lib/rl/trainer.ts";
export { evaluateBenchmark, loadBenchmark } from "./lib/bench/benchmarks.ts";

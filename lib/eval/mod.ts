/**
 * Evaluation and diagnostics: answer extraction and mathematical equivalence, the metrics that tell
 * whether an intrinsic signal tracks correctness, benchmark evaluation, run-log analysis, charts
 * (SVG and PNG) and checkpoint interpolation.
 *
 * @example
 * ```ts
 * import { auroc, extractBoxed, isEquivalent } from "./mod.ts";
 * isEquivalent(extractBoxed("so $x = \\boxed{\\dfrac{1}{2}}$")!, "0.5"); // true
 * auroc([0.9, 0.2, 0.7], [true, false, false]); // 1
 * ```
 *
 * One-liners over a run's `metadata.jsonl` (the repository ships a small one):
 *
 * ```sh
 * # AUROC of self-certainty for correctness, all steps pooled
 * deno eval 'import { auroc, readRollouts } from "./mod.ts";
 *   const rs = (await readRollouts("tests/fixtures/eval/run")).filter((r) => r.correct !== null);
 *   console.log(auroc(rs.map((r) => r.signals.selfCertainty), rs.map((r) => r.correct!)));'
 * # the reward–correctness table, one block per step
 * deno eval 'import { readRollouts, signalTable, tableToMarkdown } from "./mod.ts";
 *   console.log(tableToMarkdown(signalTable(await readRollouts("tests/fixtures/eval/run"), { steps: "each" })));'
 * # Mann–Whitney U of a CoE signal, correct against incorrect
 * deno eval 'import { mannWhitneyU, readRollouts } from "./mod.ts";
 *   const rs = await readRollouts("tests/fixtures/eval/run");
 *   const v = (ok: boolean) => rs.filter((r) => r.correct === ok).map((r) => r.signals["coe.d1"]);
 *   console.log(mannWhitneyU(v(true), v(false)));'
 * # grade an answer
 * deno eval 'import { isEquivalent } from "./mod.ts"; console.log(isEquivalent("\\boxed{\\dfrac{1}{2}}", "0.5"));'
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
  stripDollars,
} from "./extract.ts";
export { type EquivalenceOptions, isEquivalent, normalizeAnswer } from "./equivalence.ts";
export { type CleanedAnswer, cleanLatex } from "./latex.ts";
export { latexToMathjs, UnsupportedLatexError } from "./latex_to_mathjs.ts";
export { type AnswerNode, isolateAnswer, parseAnswer, type RelationOp } from "./answer_parse.ts";
export {
  expressionsEqual,
  numbersEqual,
  type NumericLiteral,
  parseNumericLiteral,
  type Verdict,
} from "./symbolic.ts";
export {
  aupr,
  auroc,
  averageRanks,
  type BinaryLabel,
  erfc,
  fprAt95,
  fprAtTpr,
  labelAccuracy,
  majAtK,
  type MajorityAnswer,
  majorityAnswer,
  type MannWhitneyResult,
  mannWhitneyU,
  modelCollapseStep,
  normalSf,
  passAtK,
  rewardAccuracy,
  type VotedSample,
} from "./metrics.ts";
export {
  type BenchmarkName,
  BENCHMARKS,
  type CompleteFn,
  DEFAULT_TEMPLATES,
  type EvalSummary,
  evaluateBenchmark,
  type EvaluateOptions,
  formatPrompt,
  gradeResponse,
  gsm8kFinalAnswer,
  loadBenchmark,
  type Problem,
  type ProblemResult,
  reportedKs,
  type SampleResult,
  scoreProblem,
  summarize,
  writeEvalOutputs,
} from "./benchmarks.ts";
export { InputFileError, type JsonlRecord, parseJsonl, readJsonlRecords, toJsonl } from "./io.ts";
export { type MetricsRow, readMetrics, readRollouts, type Rollout } from "./run_logs.ts";
export {
  type RankedRollout,
  rankRollouts,
  signalNames,
  type SignalRow,
  signalTable,
  stepAccuracies,
  type StepAccuracy,
  type StepSelection,
  tableToCsv,
  tableToMarkdown,
} from "./analysis.ts";
export { type Color, gridScene, type Scene, type Shape } from "./scene.ts";
export {
  formatTick,
  lineChart,
  type LineChartOptions,
  niceTicks,
  type RankedChartOptions,
  rankedRolloutChart,
  type Series,
} from "./charts.ts";
export { sceneToSvg } from "./svg.ts";
export { Raster, renderScene, type RGB, sceneToPng } from "./raster.ts";
export { crc32, encodePng } from "./png.ts";
export { checkSameLayout, interpolateWeights, parseAlphas, type WeightTensor } from "./interpolate.ts";
export { writeInterpolatedCheckpoint } from "./interpolate_checkpoint.ts";
export {
  type AnalysisReport,
  type AnalysisReportOptions,
  curvesScene,
  rankedScene,
  writeAnalysisReport,
} from "./report.ts";

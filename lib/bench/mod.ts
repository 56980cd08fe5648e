/**
 * Benchmark evaluation: loading MATH-500, GSM8K and math12k problems, sampling completions, grading
 * them with each benchmark's own rule, and pass@k / maj@k summaries.
 *
 * @example
 * ```ts
 * import { evaluateBenchmark, loadBenchmark } from "./mod.ts";
 * const { benchmark, problems } = await loadBenchmark("tests/fixtures/eval/gsm8k_sample.parquet");
 * const complete = async (prompts: string[], n: number) => prompts.map(() => Array(n).fill("#### 42"));
 * const { summary } = await evaluateBenchmark(problems, complete, { benchmark });
 * console.log(summary.accuracy);
 * ```
 *
 * @module
 */

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
  loadBenchmark,
  type Problem,
  type ProblemResult,
  type SampleResult,
  writeEvalOutputs,
} from "./benchmarks.ts";
export { modelCompleteFn } from "./model_complete.ts";

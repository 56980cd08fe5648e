/**
 * Math benchmarks in their published formats — MATH-500 (`test.jsonl`: problem, solution, answer,
 * subject, level, unique_id), GSM8K (parquet: question, answer ending in `#### N`) and MATH-12k
 * (parquet: problem, answer) — and the evaluation loop: prompt, sample through a `complete`
 * callback, extract, grade by a named grader (rlif's own by default), and summarise accuracy, GSM8K
 * strict/flexible, avg@n, pass@k and maj@k.
 *
 * @module
 */

import { readParquetObjects, type Row } from "../data/rows.ts";
import { normalizeAnswer } from "../grading/equivalence.ts";
import { extractAnswer, type ExtractionMethod, gsm8kMatch } from "../grading/extract.ts";
import { gradeAnswer, type GraderName, GRADERS } from "../grading/grade.ts";
import { writeFileAtomic } from "../log/atomic.ts";
import { InputFileError, parseJsonl, toJsonl } from "../data/jsonl_input.ts";
import { avgAtK, majAtK, passAtK } from "../metrics/metrics.ts";

/** Benchmarks with a known format and prompt. */
export type BenchmarkName = "math500" | "gsm8k" | "math12k";

/** The benchmark names accepted by {@link loadBenchmark} and `--benchmark`. */
export const BENCHMARKS: readonly BenchmarkName[] = ["math500", "gsm8k", "math12k"];

/** One benchmark problem. */
export interface Problem {
  /** Stable identifier (`unique_id` for MATH-500, else the row number). */
  id: string;
  /** The question as given to the model. */
  question: string;
  /** The reference final answer (for GSM8K the number after `####`). */
  answer: string;
  /** The full reference solution when the dataset has one (GSM8K's answer field, MATH's solution). */
  solution?: string;
  /** MATH subject, when present. */
  subject?: string;
  /** MATH difficulty level, when present. */
  level?: number;
}

async function readRows(path: string): Promise<{ rows: Row[]; lineOf: (i: number) => number | null }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new InputFileError(path, null, "no such file");
    throw e;
  }
  if (path.endsWith(".parquet")) {
    if (bytes.length === 0) throw new InputFileError(path, null, "the file is empty");
    let rows: Row[];
    try {
      rows = await readParquetObjects(bytes);
    } catch (e) {
      throw new InputFileError(
        path,
        null,
        `cannot read parquet (${(e as Error).message}); snappy, gzip and uncompressed files are supported`,
      );
    }
    if (rows.length === 0) throw new InputFileError(path, null, "the parquet file has no rows");
    return { rows, lineOf: () => null };
  }
  const text = new TextDecoder().decode(bytes);
  if (path.endsWith(".json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new InputFileError(path, null, `not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(parsed) || parsed.length === 0) {
      throw new InputFileError(path, null, "expected a non-empty JSON array of problems");
    }
    return { rows: parsed as Row[], lineOf: () => null };
  }
  const records = parseJsonl(text, path);
  return { rows: records.map((r) => r.value as Row), lineOf: (i) => records[i].line };
}

/** Where a row came from: a JSON Lines line number, else its row number. */
type RowPlace = { line: number | null; row: number };

function rowError(path: string, at: RowPlace, detail: string): InputFileError {
  return at.line === null
    ? new InputFileError(path, null, `row ${at.row}: ${detail}`)
    : new InputFileError(path, at.line, detail);
}

function field(path: string, at: RowPlace, row: Row, name: string, benchmark: string): string {
  const v = row[name];
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  const present = Object.keys(row).join(", ") || "none";
  throw rowError(
    path,
    at,
    `field "${name}" is ${v === undefined ? "missing" : JSON.stringify(v)}; the ${benchmark} format ` +
      `needs a string "${name}" (fields present: ${present})`,
  );
}

/** Guesses the benchmark from the first row's fields. */
function detect(path: string, row: Row): BenchmarkName {
  if ("question" in row && typeof row.answer === "string" && row.answer.includes("####")) return "gsm8k";
  if ("problem" in row && "answer" in row) return path.endsWith(".parquet") ? "math12k" : "math500";
  throw new InputFileError(
    path,
    null,
    `cannot tell the benchmark from fields ${Object.keys(row).join(", ")}; pass --benchmark ` +
      `(${BENCHMARKS.join(", ")}): math500 and math12k need problem/answer, gsm8k needs question/answer`,
  );
}

/** The number after `####` in a GSM8K solution, commas removed. */
export function gsm8kFinalAnswer(solution: string): string | null {
  const m = /####\s*(.+?)\s*$/.exec(solution.trim());
  return m ? m[1].replace(/,/g, "") : null;
}

/**
 * Loads a benchmark file: MATH-500 `.jsonl`, GSM8K `.parquet` (or `.jsonl`), MATH-12k `.parquet`
 * (or `.jsonl`). The benchmark is detected from the fields unless given.
 *
 * @example
 * ```ts
 * import { loadBenchmark } from "./mod.ts";
 * const { benchmark, problems } = await loadBenchmark("tests/fixtures/eval/gsm8k_sample.parquet");
 * console.log(benchmark, problems.length, problems[0].answer);
 * ```
 */
export async function loadBenchmark(
  path: string,
  benchmark?: BenchmarkName,
): Promise<{ benchmark: BenchmarkName; problems: Problem[] }> {
  if (benchmark !== undefined && !BENCHMARKS.includes(benchmark)) {
    throw new RangeError(
      `loadBenchmark: unknown benchmark "${benchmark}"; choose one of ${BENCHMARKS.join(", ")}`,
    );
  }
  const { rows, lineOf } = await readRows(path);
  const kind = benchmark ?? detect(path, rows[0]);
  const problems = rows.map((row, i): Problem => {
    const at = { line: lineOf(i), row: i + 1 };
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      throw rowError(path, at, `expected a JSON object with the ${kind} fields`);
    }
    if (kind === "gsm8k") {
      const solution = field(path, at, row, "answer", kind);
      const answer = gsm8kFinalAnswer(solution);
      if (answer === null) {
        throw rowError(
          path,
          at,
          `the GSM8K answer has no "#### N" line: ${JSON.stringify(solution.slice(-60))}`,
        );
      }
      return { id: String(row.id ?? i), question: field(path, at, row, "question", kind), answer, solution };
    }
    const problem: Problem = {
      id: String(row.unique_id ?? row.id ?? i),
      question: field(path, at, row, "problem", kind),
      answer: field(path, at, row, "answer", kind),
    };
    if (typeof row.solution === "string") problem.solution = row.solution;
    if (typeof row.subject === "string") problem.subject = row.subject;
    if (typeof row.level === "number") problem.level = row.level;
    return problem;
  });
  return { benchmark: kind, problems };
}

/** Default prompt per benchmark; `{question}` is replaced by the problem. */
export const DEFAULT_TEMPLATES: Record<BenchmarkName, string> = {
  math500: "{question}\nPlease reason step by step, and put your final answer within \\boxed{}.",
  math12k: "{question}\nPlease reason step by step, and put your final answer within \\boxed{}.",
  gsm8k: '{question}\nLet\'s think step by step and output the final answer after "####".',
};

/** Fills a prompt template (`{question}` placeholder). */
export function formatPrompt(template: string, problem: Problem): string {
  if (!template.includes("{question}")) {
    throw new RangeError(`formatPrompt: the template must contain {question}: ${template.slice(0, 80)}`);
  }
  return template.replaceAll("{question}", problem.question);
}

/** One graded sample. */
export interface SampleResult {
  /** The generated text. */
  text: string;
  /** The extracted answer (null when none was found). */
  answer: string | null;
  /** Which extraction rule found it. */
  method: ExtractionMethod;
  /** Whether the response is right by the evaluation's grader (rlif: `answer` equivalent to the reference). */
  correct: boolean;
  /** GSM8K harness strict match (GSM8K only). */
  gsm8kStrict?: boolean;
  /** GSM8K harness flexible match (GSM8K only). */
  gsm8kFlexible?: boolean;
}

/**
 * Grades one response against a problem: `correct` by `grader` ({@link gradeAnswer}; rlif, the default,
 * extracts the final answer and compares it with rlif's equivalence), the answer rlif extracts (for
 * votes and extraction rates, whatever the grader), and for GSM8K also the harness's strict and
 * flexible matches.
 *
 * @example
 * ```ts
 * import { gradeResponse } from "./mod.ts";
 * gradeResponse("3 + 4 = 7\n#### 7", { id: "0", question: "3+4?", answer: "7" }, "gsm8k").correct; // true
 * gradeResponse("\\boxed{0.3333}", { id: "0", question: "1/3?", answer: "\\frac{1}{3}" }, "math500", "math_verify").correct; // false
 * ```
 */
export function gradeResponse(
  text: string,
  problem: Problem,
  benchmark: BenchmarkName,
  grader: GraderName = "rlif",
): SampleResult {
  const { answer, method } = extractAnswer(text);
  const result: SampleResult = { text, answer, method, correct: gradeAnswer(text, problem.answer, grader) };
  if (benchmark === "gsm8k") {
    const reference = problem.solution ?? `#### ${problem.answer}`;
    result.gsm8kStrict = gsm8kMatch(text, reference, "strict");
    result.gsm8kFlexible = gsm8kMatch(text, reference, "flexible");
  }
  return result;
}

/** Per-problem outcome. */
export interface ProblemResult {
  /** Problem id. */
  id: string;
  /** Reference answer. */
  gold: string;
  /** The prompt sent. */
  prompt: string;
  /** Graded samples. */
  samples: SampleResult[];
  /** Number of correct samples. */
  correct: number;
  /** pass@k estimates for each reported k. */
  passAtK: Record<string, number>;
  /** maj@k outcomes (0 or 1) for each reported k. */
  majAtK: Record<string, number>;
  /** MATH subject, when known. */
  subject?: string;
  /** MATH level, when known. */
  level?: number;
}

/** Benchmark summary. */
export interface EvalSummary {
  /** Benchmark name. */
  benchmark: BenchmarkName;
  /** The grader that decided `accuracy`, pass@k and maj@k (GSM8K's strict and flexible are the harness's). */
  grader: GraderName;
  /** Number of problems. */
  problems: number;
  /** Samples per problem. */
  n: number;
  /** Mean fraction of samples per problem correct by `grader` (equals pass@1). */
  accuracy: number;
  /**
   * Fraction of samples whose answer a declared extraction rule found (`<answer>` tag, `\boxed{}`,
   * Minerva's "final answer is", an "Answer:" line, GSM8K's `####`); the last-number fallback does
   * not count here.
   */
  extractionRate: number;
  /** Fraction of samples graded on the last number of the text because no declared rule matched. */
  fallbackRate: number;
  /** Mean response length in characters. */
  meanResponseChars: number;
  /**
   * Mean avg@n over problems, keyed `avg@n` (n the samples per problem): the per-problem fraction of
   * correct samples, averaged (URLVR §4.1.1 reports avg@32 at temperature 0.6, top-p 0.95). It equals
   * `accuracy`; it is keyed by n so that tables put it beside pass@k and maj@k.
   */
  avgAtK: Record<string, number>;
  /** Mean pass@k over problems, keyed `pass@k` (when n > 1). */
  passAtK?: Record<string, number>;
  /** Mean maj@k over problems, keyed `maj@k` (when n > 1). */
  majAtK?: Record<string, number>;
  /** GSM8K harness metrics: strict (`#### N`) and flexible (last number) exact match. */
  gsm8k?: { strict: number; flexible: number };
  /** Accuracy per MATH subject, when subjects are known. */
  bySubject?: Record<string, number>;
  /** Accuracy per MATH level, when levels are known. */
  byLevel?: Record<string, number>;
}

/** Generates `n` completions for each prompt; result i holds prompt i's completions. */
export type CompleteFn = (prompts: string[], n: number) => Promise<string[][]>;

/** Options of {@link evaluateBenchmark}. */
export interface EvaluateOptions {
  /** Which benchmark (decides the prompt and the GSM8K metrics). */
  benchmark: BenchmarkName;
  /** Samples per problem (default 1). */
  n?: number;
  /** Prompts per `complete` call (default 32). */
  batchSize?: number;
  /** Prompt template with `{question}` (default per benchmark). */
  template?: string;
  /** The grader of `correct` and accuracy (default `"rlif"`); GSM8K's strict and flexible are reported besides. */
  grader?: GraderName;
  /** Called after each batch with the number of problems done. */
  onProgress?: (done: number, total: number) => void;
}

/** The k values reported for n samples: powers of two up to n, and n itself. */
export function reportedKs(n: number): number[] {
  const ks: number[] = [];
  for (let k = 1; k <= n; k *= 2) ks.push(k);
  if (ks[ks.length - 1] !== n) ks.push(n);
  return ks;
}

/** Grades the samples of one problem and computes its pass@k and maj@k. */
export function scoreProblem(
  problem: Problem,
  prompt: string,
  texts: string[],
  benchmark: BenchmarkName,
  grader: GraderName = "rlif",
): ProblemResult {
  const samples = texts.map((t) => gradeResponse(t, problem, benchmark, grader));
  const n = samples.length;
  const correct = samples.filter((s) => s.correct).length;
  const pass: Record<string, number> = {};
  const maj: Record<string, number> = {};
  // Votes group answers by their normal form: cheap, and equal forms are equivalent answers.
  const voted = samples.map((s) => ({
    answer: s.answer === null ? null : normalizeAnswer(s.answer),
    correct: s.correct,
  }));
  for (const k of reportedKs(n)) {
    pass[`pass@${k}`] = passAtK(n, correct, k);
    maj[`maj@${k}`] = majAtK(voted, k);
  }
  const result: ProblemResult = {
    id: problem.id,
    gold: problem.answer,
    prompt,
    samples,
    correct,
    passAtK: pass,
    majAtK: maj,
  };
  if (problem.subject !== undefined) result.subject = problem.subject;
  if (problem.level !== undefined) result.level = problem.level;
  return result;
}

const average = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

/** Aggregates per-problem results, graded by `grader` (default rlif), into the benchmark summary. */
export function summarize(
  results: readonly ProblemResult[],
  benchmark: BenchmarkName,
  grader: GraderName = "rlif",
): EvalSummary {
  if (results.length === 0) throw new RangeError("summarize: no results");
  const n = results[0].samples.length;
  const samples = results.flatMap((r) => r.samples);
  const summary: EvalSummary = {
    benchmark,
    grader,
    problems: results.length,
    n,
    accuracy: average(results.map((r) => r.correct / r.samples.length)),
    extractionRate: samples.filter((s) => s.answer !== null && s.method !== "last-number").length /
      samples.length,
    fallbackRate: samples.filter((s) => s.method === "last-number").length / samples.length,
    meanResponseChars: average(samples.map((s) => s.text.length)),
    avgAtK: { [`avg@${n}`]: average(results.map((r) => avgAtK(r.samples.map((s) => s.correct), n))) },
  };
  if (n > 1) {
    summary.passAtK = {};
    summary.majAtK = {};
    for (const k of reportedKs(n)) {
      summary.passAtK[`pass@${k}`] = average(results.map((r) => r.passAtK[`pass@${k}`]));
      summary.majAtK[`maj@${k}`] = average(results.map((r) => r.majAtK[`maj@${k}`]));
    }
  }
  if (benchmark === "gsm8k") {
    summary.gsm8k = {
      strict: average(samples.map((s) => (s.gsm8kStrict ? 1 : 0))),
      flexible: average(samples.map((s) => (s.gsm8kFlexible ? 1 : 0))),
    };
  }
  const groupBy = (key: (r: ProblemResult) => string | undefined) => {
    const groups = new Map<string, number[]>();
    for (const r of results) {
      const k = key(r);
      if (k === undefined) continue;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push(r.correct / r.samples.length);
    }
    return groups.size ? Object.fromEntries([...groups].sort().map(([k, v]) => [k, average(v)])) : undefined;
  };
  const bySubject = groupBy((r) => r.subject);
  const byLevel = groupBy((r) => (r.level === undefined ? undefined : String(r.level)));
  if (bySubject) summary.bySubject = bySubject;
  if (byLevel) summary.byLevel = byLevel;
  return summary;
}

/**
 * Runs a benchmark: formats prompts, asks `complete` for n samples per prompt in batches, grades
 * every sample and summarises. `complete` is the only dependency on a model, so this runs with a
 * fake in tests and with `generate` in `scripts/eval.ts`.
 *
 * @example
 * ```ts
 * import { evaluateBenchmark } from "./mod.ts";
 * const problems = [{ id: "0", question: "1+1?", answer: "2" }];
 * const { summary } = await evaluateBenchmark(problems, async (prompts, n) => prompts.map(() => Array(n).fill("\\boxed{2}")), { benchmark: "math500" });
 * summary.accuracy; // 1
 * ```
 */
export async function evaluateBenchmark(
  problems: readonly Problem[],
  complete: CompleteFn,
  options: EvaluateOptions,
): Promise<{ results: ProblemResult[]; summary: EvalSummary }> {
  const n = options.n ?? 1;
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`evaluateBenchmark: n = ${n} must be a positive integer`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`evaluateBenchmark: batchSize = ${batchSize} must be a positive integer`);
  }
  if (problems.length === 0) throw new RangeError("evaluateBenchmark: no problems");
  const grader = options.grader ?? "rlif";
  if (!(GRADERS as readonly string[]).includes(grader)) {
    throw new RangeError(
      `evaluateBenchmark: unknown grader ${JSON.stringify(grader)}; valid graders: ${GRADERS.join(", ")}`,
    );
  }
  const template = options.template ?? DEFAULT_TEMPLATES[options.benchmark];
  const results: ProblemResult[] = [];
  for (let start = 0; start < problems.length; start += batchSize) {
    const batch = problems.slice(start, start + batchSize);
    const prompts = batch.map((p) => formatPrompt(template, p));
    const outputs = await complete(prompts, n);
    if (!Array.isArray(outputs) || outputs.length !== batch.length) {
      throw new Error(`complete() returned ${outputs?.length} groups for ${batch.length} prompts`);
    }
    outputs.forEach((texts, i) => {
      if (!Array.isArray(texts) || texts.length !== n || texts.some((t) => typeof t !== "string")) {
        throw new Error(
          `complete() returned ${texts?.length} completions for prompt ${start + i}; expected ${n} strings`,
        );
      }
      results.push(scoreProblem(batch[i], prompts[i], texts, options.benchmark, grader));
    });
    options.onProgress?.(results.length, problems.length);
  }
  return { results, summary: summarize(results, options.benchmark, grader) };
}

/**
 * Writes `results.jsonl` (one line per problem) and `summary.json` into `outDir`, each atomically.
 */
export async function writeEvalOutputs(
  outDir: string,
  results: readonly ProblemResult[],
  summary: EvalSummary,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  await writeFileAtomic(`${outDir}/results.jsonl`, toJsonl(results));
  await writeFileAtomic(`${outDir}/summary.json`, JSON.stringify({ ...extra, ...summary }, null, 2) + "\n");
}

/**
 * Evaluates a model on a math benchmark: samples completions, extracts and grades answers (by the
 * grader `--grader` names, rlif's own by default), and writes per-problem results (`results.jsonl`) and
 * a summary (`summary.json`: the sampling settings, the grader and its accuracy; the extraction rate
 * of the declared rules and, apart, the last-number fallback rate; GSM8K strict and flexible; avg@n;
 * pass@k and maj@k when n > 1) into the output directory. Decoding is greedy by default, as Intuitor
 * evaluates (§4); URLVR's avg@32 (§4.1.1) is `--n 32 --temperature 0.6 --top-p 0.95`.
 *
 *   deno task eval --model DIR --data FILE [--benchmark math500|gsm8k|math12k] [--n 1]
 *     [--temperature 0] [--top-p 1] [--max-new-tokens 1024] [--limit K] [--seed 0]
 *     [--batch-size 32] [--template "…{question}…"] [--no-chat] [--grader rlif] [--out runs/eval-<time>]
 *
 * @module
 */

import { runMain, ScriptCli, timestampedPath } from "./_cli.ts";
import { BENCHMARKS, evaluateBenchmark, loadBenchmark, writeEvalOutputs } from "../lib/bench/benchmarks.ts";
import { EVAL_FLAG_OPTIONS, PROMPT_FLAG_USAGE, readEvalFlags } from "./_eval_flags.ts";

const USAGE = `usage: deno task eval --model DIR --data FILE [options]
  --benchmark NAME       ${BENCHMARKS.join(" | ")} (default: detected from the file's fields)
  --n N                  samples per problem (default 1); avg@N is reported, and pass@k and maj@k
                         when N > 1 (URLVR's avg@32: --n 32 --temperature 0.6 --top-p 0.95)
  --temperature T        sampling temperature (default 0: greedy, as Intuitor evaluates)
  --top-p P              nucleus sampling mass, in (0, 1] (default 1)
  --max-new-tokens M     generation limit per sample (default 1024)
  --limit K              evaluate the first K problems only
  --seed S               sampling seed (default 0)
  --batch-size B         prompts per generation call (default 32)
${PROMPT_FLAG_USAGE}
  --out DIR              output directory (default runs/eval-<timestamp>)`;

// Typed explicitly so that `cli.fail` (which never returns) narrows the flags checked with it.
const cli: ScriptCli = new ScriptCli(USAGE);
const { values } = cli.parse({
  options: {
    model: { type: "string" },
    // --data --benchmark --n --temperature --top-p --max-new-tokens --limit --seed --batch-size
    // --template --no-chat --grader --out --help
    ...EVAL_FLAG_OPTIONS,
  },
});

if (!values.model) cli.fail("--model is required (a Hugging Face model directory)");
if (!values.data) {
  cli.fail("--data is required (a benchmark file: MATH-500 .jsonl, GSM8K or MATH-12k .parquet)");
}
const {
  benchmark: benchmarkFlag,
  n,
  temperature,
  topP,
  maxNewTokens,
  limit,
  seed,
  batchSize,
  template,
  chat,
  grader,
} = readEvalFlags(cli, values);
const outDir = values.out ?? timestampedPath("runs/eval");
const modelDir = values.model, dataFile = values.data;

await runMain(async () => {
  const { benchmark, problems: all } = await loadBenchmark(dataFile, benchmarkFlag);
  const problems = all.slice(0, limit);
  console.log(
    `eval: ${benchmark}, ${problems.length} problems × ${n} samples from ${dataFile}, graded by ${grader}`,
  );

  // The model stack loads only now, so flag and data errors surface before any GPU work.
  const { loadModel } = await import("../lib/model/model.ts");
  const { modelCompleteFn } = await import("../lib/bench/model_complete.ts");
  const model = await loadModel(modelDir);

  const complete = modelCompleteFn(model, {
    temperature,
    topP,
    maxNewTokens,
    seed,
    chat,
  });

  const started = performance.now();
  const { results, summary } = await evaluateBenchmark(problems, complete, {
    benchmark,
    n,
    batchSize,
    template,
    grader,
    onProgress: (done, total) => {
      const secs = (performance.now() - started) / 1000;
      console.log(`  ${done}/${total} problems (${secs.toFixed(0)} s)`);
    },
  });
  model.release();

  const settings = {
    model: modelDir,
    data: dataFile,
    temperature,
    topP,
    maxNewTokens,
    seed,
    limit: Number.isFinite(limit) ? limit : null,
    template: template ?? null,
    chat,
  };
  await writeEvalOutputs(outDir, results, summary, settings);
  console.log(JSON.stringify({ ...settings, ...summary }, null, 2));
  console.log(`eval: wrote ${outDir}/results.jsonl and ${outDir}/summary.json`);
});

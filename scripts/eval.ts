/**
 * Evaluates a model on a math benchmark: samples completions, extracts and grades answers, and writes
 * per-problem results (`results.jsonl`) and a summary (`summary.json`: accuracy; GSM8K strict and
 * flexible; pass@k and maj@k when n > 1) into the output directory.
 *
 *   deno task eval --model DIR --data FILE [--benchmark math500|gsm8k|math12k] [--n 1]
 *     [--temperature 0.5] [--top-p 1] [--max-new-tokens 1024] [--limit K] [--seed 0]
 *     [--batch-size 32] [--template "…{question}…"] [--no-chat] [--out runs/eval-<time>]
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type BenchmarkName,
  BENCHMARKS,
  type CompleteFn,
  evaluateBenchmark,
  loadBenchmark,
  writeEvalOutputs,
} from "../lib/eval/mod.ts";

const USAGE = `usage: deno task eval --model DIR --data FILE [options]
  --benchmark NAME       ${BENCHMARKS.join(" | ")} (default: detected from the file's fields)
  --n N                  samples per problem (default 1; pass@k and maj@k are reported when N > 1)
  --temperature T        sampling temperature (default 0.5; 0 is greedy)
  --top-p P              nucleus sampling mass (default 1)
  --max-new-tokens M     generation limit per sample (default 1024)
  --limit K              evaluate the first K problems only
  --seed S               sampling seed (default 0)
  --batch-size B         prompts per generation call (default 32)
  --template STR         prompt with a {question} placeholder (default: the benchmark's)
  --no-chat              send the prompt as raw text instead of through the chat template
  --out DIR              output directory (default runs/eval-<timestamp>)`;

function fail(message: string): never {
  console.error(`eval: ${message}\n\n${USAGE}`);
  Deno.exit(2);
}

function numberFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  check: (v: number) => boolean,
): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  if (!Number.isFinite(v) || !check(v)) fail(`--${name} ${value} is not valid`);
  return v;
}

const { values } = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        model: { type: "string" },
        data: { type: "string" },
        benchmark: { type: "string" },
        n: { type: "string" },
        temperature: { type: "string" },
        "top-p": { type: "string" },
        "max-new-tokens": { type: "string" },
        limit: { type: "string" },
        seed: { type: "string" },
        "batch-size": { type: "string" },
        template: { type: "string" },
        "no-chat": { type: "boolean" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
})();

if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
if (!values.model) fail("--model is required (a Hugging Face model directory)");
if (!values.data) fail("--data is required (a benchmark file: MATH-500 .jsonl, GSM8K or MATH-12k .parquet)");
const benchmarkFlag = values.benchmark as BenchmarkName | undefined;
if (benchmarkFlag !== undefined && !BENCHMARKS.includes(benchmarkFlag)) {
  fail(`--benchmark ${benchmarkFlag} is unknown; choose one of ${BENCHMARKS.join(", ")}`);
}
const n = numberFlag(values.n, "n", 1, (v) => Number.isInteger(v) && v >= 1);
const temperature = numberFlag(values.temperature, "temperature", 0.5, (v) => v >= 0);
const topP = numberFlag(values["top-p"], "top-p", 1, (v) => v > 0 && v <= 1);
const maxNewTokens = numberFlag(
  values["max-new-tokens"],
  "max-new-tokens",
  1024,
  (v) => Number.isInteger(v) && v >= 1,
);
const limit = numberFlag(values.limit, "limit", Infinity, (v) => Number.isInteger(v) && v >= 1);
const seed = numberFlag(values.seed, "seed", 0, Number.isInteger);
const batchSize = numberFlag(values["batch-size"], "batch-size", 32, (v) => Number.isInteger(v) && v >= 1);
const outDir = values.out ?? `runs/eval-${new Date().toISOString().replace(/[:.]/g, "-")}`;

const { benchmark, problems: all } = await loadBenchmark(values.data, benchmarkFlag);
const problems = all.slice(0, limit);
console.log(`eval: ${benchmark}, ${problems.length} problems × ${n} samples from ${values.data}`);

// The model stack loads only now, so flag and data errors surface before any GPU work.
const { loadModel } = await import("../lib/model/model.ts");
const { generate } = await import("../lib/generate/generate.ts");
const model = await loadModel(values.model);

let call = 0;
const complete: CompleteFn = async (prompts, samples) => {
  // A different seed per call: generate derives randomness from (seed, row in the call).
  const outs = await generate(model, prompts, {
    n: samples,
    temperature,
    topP,
    maxNewTokens,
    seed: seed + 100_003 * call++,
    chat: !values["no-chat"],
  });
  const grouped: string[][] = prompts.map(() => []);
  for (const o of outs) grouped[o.promptIndex].push(o.text);
  return grouped;
};

const started = performance.now();
const { results, summary } = await evaluateBenchmark(problems, complete, {
  benchmark,
  n,
  batchSize,
  template: values.template,
  onProgress: (done, total) => {
    const secs = (performance.now() - started) / 1000;
    console.log(`  ${done}/${total} problems (${secs.toFixed(0)} s)`);
  },
});
model.release();

await writeEvalOutputs(outDir, results, summary, {
  model: values.model,
  data: values.data,
  temperature,
  topP,
  maxNewTokens,
  seed,
  limit: Number.isFinite(limit) ? limit : null,
  template: values.template ?? null,
  chat: !values["no-chat"],
});
console.log(JSON.stringify(summary, null, 2));
console.log(`eval: wrote ${outDir}/results.jsonl and ${outDir}/summary.json`);

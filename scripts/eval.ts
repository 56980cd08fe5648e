/**
 * Evaluates a model on a math benchmark: samples completions, extracts and grades answers (by the
 * grader `--grader` names, rlif's own by default), and writes per-problem results (`results.jsonl`) and
 * a summary (`summary.json`: the sampling settings, the grader and its accuracy; the extraction rate
 * of the declared rules and, apart, the last-number fallback rate; GSM8K strict and flexible; avg@n;
 * pass@k and maj@k when n > 1) into the output directory. Decoding is greedy by default, as Intuitor
 * evaluates (§4); URLVR's avg@32 (§4.1.1) is `--n 32 --temperature 0.6 --top-p 0.95`.
 *
 *   deno task eval --model DIR --data FILE [options]   (deno task eval --help lists them with defaults)
 *
 * @module
 */

import { ADAPTER_FLAG, checkOutput, runMain, ScriptCli } from "./_cli.ts";
import {
  DEFAULT_TEMPLATES,
  evaluateBenchmark,
  formatPrompt,
  loadBenchmark,
  writeEvalOutputs,
} from "../lib/bench/benchmarks.ts";
import { InputFileError } from "../lib/data/jsonl_input.ts";
import { freshRunPath } from "../lib/log/run_dir.ts";
import { EVAL_FLAGS, EVAL_INPUT, readEvalFlags } from "./_eval_flags.ts";

const cli = new ScriptCli({
  task: "eval",
  summary: "Evaluates a model on a math benchmark: samples completions, extracts and grades the answers, " +
    "and writes results.jsonl (per problem) and summary.json (settings, accuracy, extraction rates, " +
    "avg@n, pass@k and maj@k when n > 1) into the output directory.",
  flags: {
    model: { arg: "DIR", doc: "model directory: config.json, *.safetensors, tokenizer.json", required: true },
    adapter: { ...ADAPTER_FLAG, doc: `${ADAPTER_FLAG.doc}, merged into the weights at their width` },
    ...EVAL_FLAGS,
    out: {
      arg: "DIR",
      doc: "output directory (must not hold another evaluation)",
      defaultText: "runs/eval-<time>",
    },
  },
  input: EVAL_INPUT,
  examples: [
    "deno task eval --model models/Qwen2.5-1.5B-Instruct --data data/math500/test.jsonl --limit 50",
    "deno task eval --model DIR --data data/gsm8k/test.parquet --n 32 --temperature 0.6 --top-p 0.95",
  ],
});
const { values } = cli.parse();
const {
  benchmark: benchmarkFlag,
  n,
  temperature,
  topP,
  maxNewTokens,
  limit,
  seed,
  batchSize,
  template: templateFlag,
  chat,
  chatTemplateKwargs,
  grader,
} = readEvalFlags(cli);
const modelDir = values.model, dataFile = values.data;

await runMain(async () => {
  const outDir = values.out ?? await freshRunPath("runs", "eval");
  await checkOutput(outDir, "--out", { kind: "dir", notInto: ["results.jsonl", "summary.json"] });
  const { benchmark, problems: all } = await loadBenchmark(dataFile, benchmarkFlag);
  const problems = all.slice(0, limit);
  console.log(
    `eval: ${benchmark}, ${problems.length} problems × ${n} samples from ${dataFile}, graded by ${grader}`,
  );

  // The model stack loads only now, so flag and data errors surface before any GPU work.
  const { loadModel } = await import("../lib/model/model.ts");
  const { modelCompleteFn } = await import("../lib/bench/model_complete.ts");
  const { promptIds } = await import("../lib/generate/generate.ts");
  const model = await loadModel(modelDir, { adapter: values.adapter });
  // Every prompt must leave room in the model's context; found now rather than at its batch.
  const context = model.config.maxPositionEmbeddings;
  const template = templateFlag ?? DEFAULT_TEMPLATES[benchmark];
  const lengths = promptIds(model, problems.map((p) => formatPrompt(template, p)), chat, chatTemplateKwargs)
    .map((ids) => ids.length);
  const longest = lengths.indexOf(Math.max(...lengths));
  if (lengths[longest] >= context) {
    throw new InputFileError(
      dataFile,
      null,
      `problem ${problems[longest].id}: its prompt is ${lengths[longest]} tokens, which leaves no room in ` +
        `the model's ${context}-token context (max_position_embeddings)`,
    );
  }
  if (lengths[longest] + maxNewTokens > context) {
    console.error(
      `note: --max-new-tokens ${maxNewTokens} is capped by the model's ${context}-token context: the ` +
        `longest prompt (${lengths[longest]} tokens) leaves ${context - lengths[longest]}`,
    );
  }

  const complete = modelCompleteFn(model, {
    temperature,
    topP,
    maxNewTokens,
    seed,
    chat,
    chatTemplateKwargs,
  });

  const started = performance.now();
  const { results, summary } = await evaluateBenchmark(problems, complete, {
    benchmark,
    n,
    batchSize,
    template: templateFlag,
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
    template: templateFlag ?? null,
    chat,
    chat_template_kwargs: chatTemplateKwargs ?? null,
  };
  await writeEvalOutputs(outDir, results, summary, settings);
  console.log(JSON.stringify({ ...settings, ...summary }, null, 2));
  console.log(`eval: wrote ${outDir}/results.jsonl and ${outDir}/summary.json`);
});

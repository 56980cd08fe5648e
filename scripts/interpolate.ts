/**
 * Evaluates weight interpolations between two checkpoints, θ(α) = (1 − α)·base + α·tuned, on a
 * benchmark: for each α it writes the interpolated checkpoint, evaluates it, and records the
 * summary. Writes interpolation.{json,csv,svg,png} plus each α's results into the output directory.
 *
 *   deno task interpolate --base A --tuned B --data FILE [options]   (--help lists them with defaults)
 *
 * @module
 */

import { checkOutput, runMain, ScriptCli } from "./_cli.ts";
import { freshRunPath } from "../lib/log/run_dir.ts";
import { writeFileAtomic } from "../lib/log/atomic.ts";
import {
  type EvalSummary,
  evaluateBenchmark,
  loadBenchmark,
  writeEvalOutputs,
} from "../lib/bench/benchmarks.ts";
import { parseAlphas } from "../lib/model/interpolate.ts";
import { lineChart, type Series } from "../lib/report/charts.ts";
import { sceneToPng } from "../lib/report/png.ts";
import { sceneToSvg } from "../lib/report/svg.ts";
import { writeInterpolatedCheckpoint } from "../lib/model/interpolate_checkpoint.ts";
import { EVAL_FLAGS, readEvalFlags } from "./_eval_flags.ts";

const cli = new ScriptCli({
  task: "interpolate",
  summary: "Evaluates weight interpolations θ(α) = (1 − α)·base + α·tuned on a benchmark: for each α it " +
    "writes the interpolated checkpoint, evaluates it and records the summary. Writes " +
    "interpolation.{json,csv,svg,png} plus each α's results into the output directory.",
  flags: {
    base: { arg: "DIR", doc: "the checkpoint at α = 0", required: true },
    tuned: { arg: "DIR", doc: "the checkpoint at α = 1 (same architecture and shapes)", required: true },
    alphas: { arg: "A1,A2,…", doc: "the α values, comma-separated", default: "0,0.25,0.5,0.75,1" },
    ...EVAL_FLAGS,
    "keep-checkpoints": { doc: "keep each interpolated checkpoint under OUT/alpha-<a>/model" },
    out: {
      arg: "DIR",
      doc: "output directory (must not hold another sweep)",
      defaultText: "runs/interpolate-<time>",
    },
  },
  input: {
    from: "--data",
    format:
      "a benchmark file, as for deno task eval: MATH-500 .jsonl (problem, answer), GSM8K or MATH-12k .parquet",
    example: '{"problem": "What is 12+7?", "answer": "19"}',
  },
  examples: [
    "deno task interpolate --base models/Qwen2.5-1.5B --tuned runs/intuitor-20261130-152411/checkpoints/step-000100 --data data/math500/test.jsonl --alphas 0,0.5,1 --limit 50",
  ],
});
const { values } = cli.parse();
const alphas = (() => {
  try {
    return parseAlphas(values.alphas);
  } catch (e) {
    return cli.fail((e as Error).message);
  }
})();
const { benchmark: benchmarkFlag, n, temperature, topP, maxNewTokens, limit, seed, batchSize } =
  readEvalFlags(cli);
const baseDir = values.base, tunedDir = values.tuned, dataFile = values.data;

await runMain(async () => {
  const outDir = values.out ?? await freshRunPath("runs", "interpolate");
  await checkOutput(outDir, "--out", { kind: "dir", notInto: ["interpolation.json"] });
  const { benchmark, problems: all } = await loadBenchmark(dataFile, benchmarkFlag);
  const problems = all.slice(0, limit);
  const { loadModel } = await import("../lib/model/model.ts");
  const { modelCompleteFn } = await import("../lib/bench/model_complete.ts");
  await Deno.mkdir(outDir, { recursive: true });

  const sweep: { alpha: number; summary: EvalSummary }[] = [];
  for (const alpha of alphas) {
    const alphaDir = `${outDir}/alpha-${alpha}`;
    const ckptDir = values["keep-checkpoints"]
      ? `${alphaDir}/model`
      : await Deno.makeTempDir({ prefix: "rlif-interp-" });
    console.log(`interpolate: α = ${alpha}: writing weights to ${ckptDir}`);
    await writeInterpolatedCheckpoint(baseDir, tunedDir, alpha, ckptDir);
    const model = await loadModel(ckptDir);
    const complete = modelCompleteFn(model, { temperature, topP, maxNewTokens, seed, chat: true });
    const { results, summary } = await evaluateBenchmark(problems, complete, { benchmark, n, batchSize });
    model.release();
    if (!values["keep-checkpoints"]) await Deno.remove(ckptDir, { recursive: true });
    await writeEvalOutputs(alphaDir, results, summary, {
      alpha,
      base: baseDir,
      tuned: tunedDir,
      temperature,
      topP,
    });
    sweep.push({ alpha, summary });
    console.log(`interpolate: α = ${alpha}: accuracy ${summary.accuracy.toFixed(4)}`);
  }

  const metricKeys = (s: EvalSummary) => ({
    accuracy: s.accuracy,
    ...(s.n > 1 ? s.avgAtK : {}),
    ...(s.passAtK ?? {}),
    ...(s.majAtK ?? {}),
    ...(s.gsm8k ? { "gsm8k strict": s.gsm8k.strict, "gsm8k flexible": s.gsm8k.flexible } : {}),
  });
  const columns = Object.keys(metricKeys(sweep[0].summary));
  const csv = [
    ["alpha", ...columns].join(","),
    ...sweep.map(({ alpha, summary }) =>
      [alpha, ...columns.map((c) => metricKeys(summary)[c as "accuracy"])].join(",")
    ),
  ].join("\n") + "\n";
  // avg@n is accuracy under another name (kept in the table beside pass@k and maj@k): one line suffices.
  const series: Series[] = columns.filter((c) => !c.startsWith("avg@")).map((c) => ({
    name: c,
    points: sweep.map((
      { alpha, summary },
    ): [number, number] => [alpha, metricKeys(summary)[c as "accuracy"]]),
  }));
  const chart = lineChart({
    title: `${benchmark}: accuracy along the interpolation`,
    series,
    xLabel: "alpha",
    yLabel: "score",
  });
  await writeFileAtomic(
    `${outDir}/interpolation.json`,
    JSON.stringify({ base: baseDir, tuned: tunedDir, benchmark, sweep }, null, 2) + "\n",
  );
  await writeFileAtomic(`${outDir}/interpolation.csv`, csv);
  await writeFileAtomic(`${outDir}/interpolation.svg`, sceneToSvg(chart));
  await writeFileAtomic(`${outDir}/interpolation.png`, await sceneToPng(chart));
  console.log(csv);
  console.log(`interpolate: wrote ${outDir}/interpolation.{json,csv,svg,png}`);
});

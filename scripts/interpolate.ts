/**
 * Evaluates weight interpolations between two checkpoints, θ(α) = (1 − α)·base + α·tuned, on a
 * benchmark: for each α it writes the interpolated checkpoint, evaluates it, and records the
 * summary. Writes interpolation.{json,csv,svg,png} plus each α's results into the output directory.
 *
 *   deno task interpolate --base A --tuned B --alphas 0,0.25,0.5,0.75,1 --data FILE
 *     [--benchmark math500|gsm8k|math12k] [--n 1] [--temperature 0] [--top-p 1] [--max-new-tokens 1024]
 *     [--limit K] [--seed 0] [--batch-size 32] [--keep-checkpoints] [--out runs/interpolate-<time>]
 *
 * @module
 */

import { runMain, ScriptCli, timestampedPath } from "./_cli.ts";
import { writeFileAtomic } from "../lib/log/atomic.ts";
import {
  BENCHMARKS,
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
import { EVAL_FLAG_OPTIONS, readEvalFlags } from "./_eval_flags.ts";

const USAGE = `usage: deno task interpolate --base DIR --tuned DIR --alphas 0,0.5,1 --data FILE [options]
  --benchmark NAME       ${BENCHMARKS.join(" | ")} (default: detected from the file's fields)
  --n N                  samples per problem (default 1)
  --temperature T        sampling temperature (default 0: greedy, as Intuitor evaluates)
  --top-p P              nucleus sampling mass, in (0, 1] (default 1)
  --max-new-tokens M     generation limit per sample (default 1024)
  --limit K              evaluate the first K problems only
  --seed S               sampling seed (default 0)
  --batch-size B         prompts per generation call (default 32)
  --keep-checkpoints     keep each interpolated checkpoint under OUT/alpha-<a>/model
  --out DIR              output directory (default runs/interpolate-<timestamp>)`;

// Typed explicitly so that `cli.fail` (which never returns) narrows the flags checked with it.
const cli: ScriptCli = new ScriptCli(USAGE);
const { values } = cli.parse({
  options: {
    base: { type: "string" },
    tuned: { type: "string" },
    alphas: { type: "string" },
    // --data --benchmark --n --temperature --top-p --max-new-tokens --limit --seed --batch-size --out --help
    ...EVAL_FLAG_OPTIONS,
    "keep-checkpoints": { type: "boolean" },
  },
});

if (!values.base || !values.tuned) cli.fail("--base and --tuned are required (two checkpoint directories)");
if (!values.data) cli.fail("--data is required (a benchmark file)");
const alphas = (() => {
  try {
    return parseAlphas(values.alphas ?? "0,0.25,0.5,0.75,1");
  } catch (e) {
    cli.fail((e as Error).message);
  }
})();
const { benchmark: benchmarkFlag, n, temperature, topP, maxNewTokens, limit, seed, batchSize } =
  readEvalFlags(
    cli,
    values,
  );
const outDir = values.out ?? timestampedPath("runs/interpolate");
const baseDir = values.base, tunedDir = values.tuned, dataFile = values.data;

await runMain(async () => {
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

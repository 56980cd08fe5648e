/**
 * Evaluates weight interpolations between a base model and a fine-tuned one, θ(α) = (1 − α)·base +
 * α·tuned, on a benchmark: for each α it writes the interpolated model, evaluates it, and records the
 * summary. `--tuned` may be a Hugging Face folder, a trainer checkpoint (`RUN/checkpoints/step-N`: its
 * optimizer and trainer state are ignored, only model weights are blended) or a run directory (its newest
 * checkpoint). A LoRA adapter — `--adapter DIR`, or a `--tuned` that is one (a LoRA run's checkpoint) — makes
 * the tuned model the base with the adapter merged, so θ(α) = W + α·(alpha/r)·B·A: the adapter scaled by α,
 * merged on the GPU with no folder written. Writes interpolation.{json,csv,svg,png} plus each α's results
 * into the output directory.
 *
 * A failed sweep leaves no temporary model behind. Its output directory is removed when no α finished
 * (and the directory was new); otherwise the finished α folders stay, because each is a complete
 * evaluation that took real time, and `FAILED.txt` beside them says what failed and which α are done.
 *
 *   deno task interpolate --base A --tuned B --data FILE [options]   (--help lists them with defaults)
 *
 * @module
 */

import { join } from "node:path";
import { ADAPTER_FLAG, checkOutput, runMain, ScriptCli } from "./_cli.ts";
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
import { latestCheckpoint } from "../lib/rl/checkpoint.ts";
import { EVAL_FLAGS, EVAL_INPUT, readEvalFlags } from "./_eval_flags.ts";

const cli = new ScriptCli({
  task: "interpolate",
  summary: "Evaluates weight interpolations θ(α) = (1 − α)·base + α·tuned on a benchmark: for each α it " +
    "writes the interpolated model, evaluates it and records the summary. Writes " +
    "interpolation.{json,csv,svg,png} plus each α's results into the output directory. Only model " +
    "weights are blended; a failure leaves no temporary model, and FAILED.txt beside the finished α.",
  flags: {
    base: { arg: "DIR", doc: "the model at α = 0 (a Hugging Face folder)", required: true },
    tuned: {
      arg: "DIR",
      doc: "the model at α = 1: a Hugging Face folder, a trainer checkpoint (RUN/checkpoints/step-N; its " +
        "optimizer and trainer state are ignored) or a run directory (its newest checkpoint); a LoRA " +
        "checkpoint counts as --adapter",
      defaultText: "--base with --adapter",
    },
    adapter: {
      ...ADAPTER_FLAG,
      doc:
        "instead of --tuned: a PEFT LoRA adapter on --base, the model at α = 1 being --base with it merged " +
        "(θ(α) = W + α·(alpha/r)·B·A)",
    },
    alphas: { arg: "A1,A2,…", doc: "the α values, comma-separated", default: "0,0.25,0.5,0.75,1" },
    ...EVAL_FLAGS,
    "keep-checkpoints": { doc: "keep each interpolated checkpoint under OUT/alpha-<a>/model" },
    out: {
      arg: "DIR",
      doc: "output directory (must not hold another sweep)",
      defaultText: "runs/interpolate-<time>",
    },
  },
  input: EVAL_INPUT,
  examples: [
    "deno task interpolate --base models/Qwen2.5-1.5B --tuned runs/intuitor-20261130-120000 " +
    "--data data/math500/test.jsonl --limit 50",
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
const flags = readEvalFlags(cli);
const {
  n,
  temperature,
  topP,
  maxNewTokens,
  limit,
  seed,
  batchSize,
  template,
  chat,
  chatTemplateKwargs,
  grader,
} = flags;
const outDir = values.out ?? await freshRunPath("runs", "interpolate");
const keep = values["keep-checkpoints"];
const baseFlag = values.base, dataFile = values.data;
if ((values.tuned === undefined) === (values.adapter === undefined)) {
  cli.fail("give the model at α = 1 as --tuned DIR or as --adapter DIR (one of them)");
}
const tunedFlag = (values.tuned ?? values.adapter)!;

/** A run directory stands for its newest checkpoint; any other folder is taken as a model folder. */
async function modelFolder(dir: string): Promise<string> {
  const hasWeights = async (d: string) =>
    (await Deno.stat(join(d, "model.safetensors")).catch(() => null)) !== null ||
    (await Deno.stat(join(d, "model.safetensors.index.json")).catch(() => null)) !== null;
  if (await hasWeights(dir)) return dir;
  return (await latestCheckpoint(dir).catch(() => null))?.dir ?? dir;
}

/** What a sweep has made so far, for cleaning up after a failure. */
const made = {
  outDirIsNew: false,
  temps: new Set<string>(),
  current: null as string | null,
  done: [] as number[],
};

/** Removes what a failed sweep leaves half-made; synchronous so that the SIGINT handler can use it too. */
function cleanUpFailure(reason: string): void {
  const remove = (path: string) => {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  };
  for (const t of made.temps) remove(t);
  made.temps.clear();
  if (made.current) remove(made.current);
  if (made.done.length === 0 && made.outDirIsNew) {
    remove(outDir);
  } else if (made.done.length > 0) {
    // Written under a temporary name and renamed, so that it is never seen half-written.
    const marker = join(outDir, "FAILED.txt");
    const done = made.done.map((a) => `alpha-${a}`).join(", ");
    Deno.writeTextFileSync(
      `${marker}.tmp-${Deno.pid}`,
      `interpolate failed: ${reason}\nfinished (complete folders): ${done}\n`,
    );
    Deno.renameSync(`${marker}.tmp-${Deno.pid}`, marker);
  }
}

const onInterrupt = () => {
  cleanUpFailure("interrupted (SIGINT)");
  Deno.exit(130);
};

await runMain(async () => {
  await checkOutput(outDir, "--out", { kind: "dir", notInto: ["interpolation.json"] });
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    await runSweep();
  } catch (e) {
    cleanUpFailure((e as Error).message);
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
});

async function runSweep(): Promise<void> {
  const baseDir = await modelFolder(baseFlag);
  const tunedDir = await modelFolder(tunedFlag);
  const { isLoraAdapterDir, loadLoraAdapter } = await import("../lib/model/peft_adapter.ts");
  const { LoraAdapter, mergeLoraAdapter } = await import("../lib/model/lora.ts");
  const adapterMode = await isLoraAdapterDir(tunedDir);
  const { benchmark, problems: all } = await loadBenchmark(dataFile, flags.benchmark);
  const problems = all.slice(0, limit);
  const { loadModel } = await import("../lib/model/model.ts");
  const { modelCompleteFn } = await import("../lib/bench/model_complete.ts");
  made.outDirIsNew = (await Deno.stat(outDir).catch(() => null)) === null;
  await Deno.mkdir(outDir, { recursive: true });
  // With an adapter the base loads once; each α merges the adapter scaled by α over it.
  const base = adapterMode ? await loadModel(baseDir) : null;
  const adapter = base ? await loadLoraAdapter(tunedDir, base) : null;
  /** θ(α) on the GPU: written to disk and loaded, or the base with the adapter scaled by α merged in. */
  const interpolated = async (alpha: number, ckptDir: string) => {
    if (!base || !adapter) {
      console.log(`interpolate: α = ${alpha}: writing weights to ${ckptDir}`);
      await writeInterpolatedCheckpoint(baseDir, tunedDir, alpha, ckptDir);
      return await loadModel(ckptDir);
    }
    const modules = adapter.modules.map((m) => ({ ...m, scale: alpha * m.scale }));
    // The view shares the adapter's factors, so it is not released; the merged model owns only its copies.
    const model = mergeLoraAdapter(base.withAdapter(new LoraAdapter(adapter.settings, modules)));
    if (keep) await model.save(ckptDir);
    return model;
  };

  const sweep: { alpha: number; summary: EvalSummary }[] = [];
  for (const alpha of alphas) {
    const alphaDir = `${outDir}/alpha-${alpha}`;
    // Only a folder this sweep creates is removed if its α fails; one that was there is the user's.
    made.current = (await Deno.stat(alphaDir).catch(() => null)) === null ? alphaDir : null;
    const ckptDir = keep ? `${alphaDir}/model` : await Deno.makeTempDir({ prefix: "rlif-interp-" });
    if (!keep) made.temps.add(ckptDir);
    const model = await interpolated(alpha, ckptDir);
    let evaluated;
    try {
      const complete = modelCompleteFn(model, {
        temperature,
        topP,
        maxNewTokens,
        seed,
        chat,
        chatTemplateKwargs,
      });
      evaluated = await evaluateBenchmark(problems, complete, { benchmark, n, batchSize, template, grader });
    } finally {
      model.release();
    }
    if (!keep) {
      await Deno.remove(ckptDir, { recursive: true });
      made.temps.delete(ckptDir);
    }
    const { results, summary } = evaluated;
    await writeEvalOutputs(alphaDir, results, summary, {
      alpha,
      base: baseDir,
      tuned: tunedDir,
      temperature,
      topP,
      template: template ?? null,
      chat,
      chat_template_kwargs: chatTemplateKwargs ?? null,
    });
    made.current = null;
    made.done.push(alpha);
    sweep.push({ alpha, summary });
    console.log(`interpolate: α = ${alpha}: accuracy ${summary.accuracy.toFixed(4)}`);
  }
  adapter?.release();
  base?.release();
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
    yLabel: "accuracy",
    // Every column is a fraction of problems: a fixed 0–1 axis keeps a flat 0 from reading as a swing.
    yRange: [0, 1],
  });
  await writeFileAtomic(
    `${outDir}/interpolation.json`,
    JSON.stringify({ base: baseDir, tuned: tunedDir, benchmark, grader, sweep }, null, 2) + "\n",
  );
  await writeFileAtomic(`${outDir}/interpolation.csv`, csv);
  await writeFileAtomic(`${outDir}/interpolation.svg`, sceneToSvg(chart));
  await writeFileAtomic(`${outDir}/interpolation.png`, await sceneToPng(chart));
  console.log(csv);
  console.log(`interpolate: wrote ${outDir}/interpolation.{json,csv,svg,png}`);
}

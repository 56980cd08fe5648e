/**
 * Analyses a training run: how well every logged signal tracks correctness (AUROC, AUPR, FPR@95,
 * Mann–Whitney p and r), rollouts ranked by each signal, the training curves of metrics.jsonl, and the
 * per-step GPU memory high-water mark (first, largest, last).
 * Correctness is the logged one, or with --grader recomputed from each rollout's response text and
 * ground truth by that grader; the report says which.
 * Writes signal_table.{md,csv}, ranked_rollouts.{svg,png}, curves.{svg,png} and analysis.json into
 * the run directory (or --out).
 *
 *   deno task analyze RUN_DIR | metadata.jsonl | score.jsonl [options]   (--help lists them)
 *
 * @module
 */

import { checkOutput, runMain, ScriptCli } from "./_cli.ts";
import { dirname } from "node:path";
import { z } from "zod";
import type { StepSelection } from "../lib/report/analysis.ts";
import { tableToMarkdown } from "../lib/report/analysis.ts";
import { writeAnalysisReport } from "../lib/report/report.ts";
import { GRADERS } from "../lib/grading/grade.ts";

const cli = new ScriptCli({
  task: "analyze",
  summary: "Analyses a training run: how well every logged signal tracks correctness (AUROC, AUPR, FPR@95, " +
    "Mann–Whitney p and r), rollouts ranked by each signal, and the training curves. Writes " +
    "signal_table.{md,csv}, ranked_rollouts.{svg,png}, curves.{svg,png} and analysis.json.",
  positionals: [{
    arg: "RUN",
    doc: "a run directory (metadata.jsonl, metrics.jsonl), a metadata.jsonl, or a `deno task score` output " +
      "with a `correct` field",
  }],
  flags: {
    steps: {
      arg: "all|each|S1,S2",
      doc: "table rows pooled over steps (all), per step (each), or at the given steps",
      default: "all",
    },
    "ranked-step": {
      arg: "N",
      doc: "draw the ranked-rollout figure for step N",
      defaultText: "all steps pooled",
    },
    grader: {
      arg: "NAME",
      doc: `recompute correctness from each response and ground truth with this grader: ${
        GRADERS.join(" | ")
      }`,
      defaultText: "the logged correctness",
    },
    out: { arg: "DIR", doc: "output directory", defaultText: "the run directory" },
    "no-png": { doc: "write SVG figures only" },
    "mw-alternative": {
      arg: "two-sided|greater",
      doc: "Mann–Whitney alternative, correct against incorrect (greater is Intuitor's one-sided test)",
      default: "two-sided",
    },
  },
  input: {
    from: "RUN",
    format: "metadata.jsonl: one object per prompt per step with its responses, each with its signals and " +
      "correctness (what the trainer logs); a score output: one scored completion per line",
    example: '{"step": 1, "prompt": "12+7=", "ground_truth": "19", "responses": [{"text": "\\\\boxed{19}", ' +
      '"correct": true, "signals": {"selfCertainty": 1.2}}]}',
  },
  examples: [
    "deno task analyze runs/intuitor-20261130-152411",
    "deno task analyze tests/fixtures/eval/run --steps each --out /tmp/report",
  ],
});
const { values } = cli.parse();
const run = cli.positionals[0];

let steps: StepSelection = "all";
if (values.steps === "each" || values.steps === "all") steps = values.steps;
else {
  const list = values.steps.split(",").map((s) => Number(s.trim()));
  if (list.some((v) => !Number.isInteger(v) || v < 0)) {
    cli.fail(`--steps ${values.steps} must be all, each, or numbers like 1,10,50`);
  }
  steps = list;
}
const rankedStep = cli.number("ranked-step", z.number().int().min(0), undefined);
const grader = cli.oneOf("grader", GRADERS);
const alternative = cli.oneOf("mw-alternative", ["two-sided", "greater"] as const) ?? "two-sided";

await runMain(async () => {
  // A missing RUN is reported by the report itself; an unwritable output must be found before the work.
  const input = await Deno.stat(run).catch(() => null);
  if (input) {
    const outDir = values.out ?? (input.isDirectory ? run : dirname(run));
    await checkOutput(outDir, values.out ? "--out" : "output directory", { kind: "dir" });
  }
  const report = await writeAnalysisReport(run, {
    steps,
    rankedStep,
    grader,
    outDir: values.out,
    png: !values["no-png"],
    alternative,
  });
  console.log(
    report.correctness === "logged"
      ? "correctness: as logged by the trainer"
      : `correctness: regraded with the ${report.correctness} grader`,
  );
  if (report.rows.length) console.log(tableToMarkdown(report.rows));
  if (report.modelCollapseStep !== null) {
    console.log(`Model Collapse Step (reward accuracy < 1%, URLVR §6): ${report.modelCollapseStep}`);
  }
  if (report.trainingAccuracyCollapseStep !== null) {
    console.log(`training-accuracy collapse step (accuracy < 1%): ${report.trainingAccuracyCollapseStep}`);
  }
  const memory = report.gpuMemory;
  if (memory !== null) {
    const mib = (p: { step: number; mib: number }) => `${p.mib.toFixed(2)} MiB (step ${p.step})`;
    console.log(
      `GPU memory high-water mark per step (gpu/peak_mib): first ${mib(memory.first)}, largest ${
        mib(memory.max)
      }, last ${mib(memory.last)}`,
    );
  }
  console.log(`analyze: wrote\n  ${report.files.join("\n  ")}`);
});

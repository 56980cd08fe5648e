/**
 * Analyses a training run: how well every logged signal tracks correctness (AUROC, AUPR, FPR@95,
 * Mann–Whitney p and r), rollouts ranked by each signal, and the training curves of metrics.jsonl.
 * Correctness is the logged one, or with --grader recomputed from each rollout's response text and
 * ground truth by that grader; the report says which.
 * Writes signal_table.{md,csv}, ranked_rollouts.{svg,png}, curves.{svg,png} and analysis.json into
 * the run directory (or --out).
 *
 *   deno task analyze RUN_DIR | metadata.jsonl | score.jsonl [--steps all|each|1,10,50]
 *     [--ranked-step N] [--grader NAME] [--out DIR] [--no-png] [--mw-alternative two-sided|greater]
 *
 * @module
 */

import { runMain, ScriptCli } from "./_cli.ts";
import type { StepSelection } from "../lib/report/analysis.ts";
import { tableToMarkdown } from "../lib/report/analysis.ts";
import { writeAnalysisReport } from "../lib/report/report.ts";
import { GRADERS } from "../lib/grading/grade.ts";

const USAGE = `usage: deno task analyze RUN_DIR|metadata.jsonl|score.jsonl [options]
  --steps all|each|S1,S2   table rows pooled over steps (all, default), per step (each), or at chosen steps
  --ranked-step N          draw the ranked-rollout figure for step N (default: all steps pooled)
  --grader NAME            recompute correctness from each response and ground truth with this grader:
                           ${GRADERS.join(" | ")} (default: the logged correctness)
  --out DIR                output directory (default: the run directory)
  --no-png                 write SVG figures only
  --mw-alternative two-sided|greater
                           Mann–Whitney alternative, correct against incorrect (default two-sided;
                           greater is Intuitor's one-sided test)`;

// Typed explicitly so that `cli.fail` (which never returns) narrows the flags checked with it.
const cli: ScriptCli = new ScriptCli(USAGE);
const { values, positionals } = cli.parse({
  allowPositionals: true,
  options: {
    steps: { type: "string" },
    "ranked-step": { type: "string" },
    grader: { type: "string" },
    out: { type: "string" },
    "no-png": { type: "boolean" },
    "mw-alternative": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

if (positionals.length !== 1) cli.fail("give exactly one run directory, metadata.jsonl or score file");

let steps: StepSelection = "all";
if (values.steps === "each" || values.steps === "all") steps = values.steps;
else if (values.steps !== undefined) {
  const list = values.steps.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((v) => !Number.isFinite(v))) {
    cli.fail(`--steps ${values.steps} must be all, each, or numbers like 1,10,50`);
  }
  steps = list;
}
let rankedStep: number | undefined;
if (values["ranked-step"] !== undefined) {
  rankedStep = Number(values["ranked-step"]);
  if (!Number.isFinite(rankedStep)) cli.fail(`--ranked-step ${values["ranked-step"]} is not a number`);
}

const grader = cli.oneOf(values.grader, "grader", GRADERS);
const alternative = values["mw-alternative"] ?? "two-sided";
if (alternative !== "two-sided" && alternative !== "greater") {
  cli.fail(`--mw-alternative ${alternative} must be two-sided or greater`);
}

await runMain(async () => {
  const report = await writeAnalysisReport(positionals[0], {
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
  console.log(`analyze: wrote\n  ${report.files.join("\n  ")}`);
});

/**
 * The analysis report of a run directory: the reward–correctness table (Markdown and CSV), the
 * ranked-rollout figure, the training curves of `metrics.jsonl` (SVG and PNG), and `analysis.json`
 * with per-step reward/label accuracy, p_maj, the Model Collapse Step (URLVR §6: reward accuracy of
 * majority-vote training under 1%) and, named apart from it, the step where training accuracy fell
 * under 1%. Correctness is the logged one, or recomputed by a named grader. Everything is computed before
 * the first file is written, and each file is written atomically.
 *
 * @module
 */

import { isEquivalent } from "../grading/equivalence.ts";
import { writeFileAtomic } from "../log/atomic.ts";
import {
  rankRollouts,
  signalNames,
  type SignalRow,
  signalTable,
  stepAccuracies,
  type StepAccuracy,
  type StepSelection,
  tableToCsv,
  tableToMarkdown,
} from "./analysis.ts";
import { lineChart, PALETTE, rankedRolloutChart } from "./charts.ts";
import { InputFileError } from "../data/jsonl_input.ts";
import type { GraderName } from "../grading/grade.ts";
import { regradeRollouts } from "./regrade.ts";
import { auroc, type MannWhitneyAlternative, modelCollapseStep } from "../metrics/metrics.ts";
import { type MetricsRow, readMetrics, readRollouts, type Rollout } from "./run_logs.ts";
import { sceneToPng } from "./png.ts";
import { type Color, gridScene, type Scene } from "./scene.ts";
import { sceneToSvg } from "./svg.ts";

/** Options of {@link writeAnalysisReport}. */
export interface AnalysisReportOptions {
  /** Where to write (default: the run directory, or the directory of the given file). */
  outDir?: string;
  /** Table rows pooled over steps ("all", default), one block per step ("each"), or chosen steps. */
  steps?: StepSelection;
  /** Step of the ranked-rollout figure (default: all steps pooled). */
  rankedStep?: number;
  /** Also write PNG copies of the figures (default true). */
  png?: boolean;
  /**
   * Recompute each rollout's correctness from its response text and ground truth with this grader
   * instead of reading the logged `correct` (see {@link regradeRollouts}).
   */
  grader?: GraderName;
  /** Mann–Whitney alternative of the table: "two-sided" (default) or "greater" (Intuitor's). */
  alternative?: MannWhitneyAlternative;
  /** Answer equivalence of the majority vote (default `isEquivalent`, the training vote's). */
  equals?: (a: string, b: string) => boolean;
}

/** What {@link writeAnalysisReport} computed and wrote. */
export interface AnalysisReport {
  /** Output directory. */
  outDir: string;
  /** Where correctness came from: the grader that recomputed it, or `"logged"` (the trainer's `correct`). */
  correctness: GraderName | "logged";
  /** Paths written. */
  files: string[];
  /** The reward–correctness table. */
  rows: SignalRow[];
  /** Per-step accuracy, reward accuracy and label accuracy. */
  stepAccuracy: StepAccuracy[];
  /**
   * Model Collapse Step as URLVR §6 defines it: the first step whose reward accuracy (binary
   * pseudo-rewards, from the rollouts or else metrics.jsonl) fell below 1%; null when it never did or
   * the run logs no reward accuracy (a continuous intrinsic reward has none).
   */
  modelCollapseStep: number | null;
  /**
   * Not the paper's Model Collapse Step: the first step whose training accuracy (fraction of correct
   * rollouts) fell below 1%, for runs without reward accuracy; null when it never did.
   */
  trainingAccuracyCollapseStep: number | null;
  /** The per-step GPU memory high-water marks of metrics.jsonl (`gpu/peak_mib`); null when none is logged. */
  gpuMemory: GpuMemorySummary | null;
}

/**
 * What a run's per-step high-water marks of GPU pool memory (`gpu/peak_mib`) say: the first and last
 * logged step's, and the largest. The trainer trims the pool between phases, so a step's mark is what its
 * own lengths need: the largest comes from the longest steps, not from the number of steps run.
 */
export interface GpuMemorySummary {
  /** The first step that logged it, and its high-water mark in MiB. */
  first: { step: number; mib: number };
  /** The step with the largest high-water mark (the first such), and that mark in MiB. */
  max: { step: number; mib: number };
  /** The last step that logged it, and its high-water mark in MiB. */
  last: { step: number; mib: number };
}

/** The metrics.jsonl key of a step's GPU memory high-water mark (lib/rl/trainer.ts). */
const GPU_PEAK = "gpu/peak_mib";

/** The {@link GpuMemorySummary} of metrics rows, or null when none logs `gpu/peak_mib`. */
export function gpuMemorySummary(rows: readonly MetricsRow[]): GpuMemorySummary | null {
  const points = rows.filter((r) => GPU_PEAK in r.values).map((r) => ({
    step: r.step,
    mib: r.values[GPU_PEAK],
  }));
  if (points.length === 0) return null;
  const max = points.reduce((a, p) => (p.mib > a.mib ? p : a));
  return { first: points[0], max, last: points[points.length - 1] };
}

/** Curves drawn first when present; other numeric keys follow alphabetically. */
const PREFERRED_CURVES = [
  "reward_mean",
  "accuracy",
  "format_rate",
  "response_length",
  "kl",
  "entropy",
  "grad_norm",
  "reward_accuracy",
  "label_accuracy",
  "p_maj",
  "kl_to_ref",
  "gpu/peak_mib",
];
const MAX_PANELS = 30;
/** Curves that are fractions: drawn on a fixed 0–1 axis, so that a flat or tiny change does not look large. */
const FRACTION_CURVES = new Set([
  "accuracy",
  "format_rate",
  "reward_accuracy",
  "label_accuracy",
  "p_maj",
  "clip_fraction",
]);

async function exists(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null)) !== null;
}

function dirOf(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/** Training-curve panels, one per metric key. */
export function curvesScene(rows: readonly MetricsRow[]): Scene | null {
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.values)) keys.add(k);
  const ordered = [
    ...PREFERRED_CURVES.filter((k) => keys.has(k)),
    ...[...keys].filter((k) => !PREFERRED_CURVES.includes(k)).sort(),
  ].slice(0, MAX_PANELS);
  if (ordered.length === 0) return null;
  const panels = ordered.map((key) => {
    const points = rows.filter((r) => key in r.values).map((r): [number, number] => [r.step, r.values[key]]);
    // Per-step values of a small batch are noisy; over a long run a centred mean shows the trend, drawn
    // over the raw values (kept, lighter) so that nothing is hidden.
    const window = 2 * Math.max(2, Math.round(points.length / 20)) + 1;
    const series = points.length >= 3 * window && !SCHEDULED_CURVES.has(key)
      ? [
        { name: "per step", points, color: RAW_CURVE },
        { name: `${window}-step mean`, points: centredMean(points, window), color: PALETTE[0] },
      ]
      : [{ name: key, points }];
    return lineChart({
      title: key,
      yLabel: key.length > 24 ? key.slice(0, 24) : key,
      width: 400,
      height: 260,
      yRange: FRACTION_CURVES.has(key) ? [0, 1] : undefined,
      series,
    });
  });
  return gridScene(panels, Math.min(3, panels.length));
}

const RAW_CURVE: Color = "#b8c4d6";

/** Curves that a schedule sets rather than a batch samples: nothing to smooth. */
const SCHEDULED_CURVES = new Set(["lr"]);

/** The mean of each point and its neighbours, `window` points centred on it (fewer at the ends). */
function centredMean(points: readonly [number, number][], window: number): [number, number][] {
  const half = Math.floor(window / 2);
  return points.map(([x], i) => {
    const slice = points.slice(Math.max(0, i - half), i + half + 1);
    return [x, slice.reduce((a, [, y]) => a + y, 0) / slice.length];
  });
}

/** Ranked-rollout panels, one per signal. */
export function rankedScene(rollouts: readonly Rollout[], step?: number): Scene | null {
  const signals = signalNames(rollouts).slice(0, MAX_PANELS);
  const panels = signals.flatMap((signal) => {
    const ranked = rankRollouts(rollouts, signal, step);
    if (ranked.length === 0) return [];
    const labels = ranked.map((r) => r.correct);
    const bothClasses = labels.includes(true) && labels.includes(false);
    const auc = bothClasses ? `  AUROC ${auroc(ranked.map((r) => r.value), labels).toFixed(3)}` : "";
    return [
      rankedRolloutChart({ title: `${signal}${auc}`, ranked, yLabel: signal, width: 400, height: 320 }),
    ];
  });
  return panels.length ? gridScene(panels, Math.min(3, panels.length)) : null;
}

/**
 * Analyses a run directory (or a `metadata.jsonl` / score file) and writes the report files.
 *
 * @example
 * ```ts
 * import { writeAnalysisReport } from "./mod.ts";
 * const report = await writeAnalysisReport("runs/my-run", { steps: "each" });
 * console.log(report.files);
 * ```
 */
export async function writeAnalysisReport(
  source: string,
  options: AnalysisReportOptions = {},
): Promise<AnalysisReport> {
  const info = await Deno.stat(source).catch(() => null);
  if (info === null) throw new InputFileError(source, null, "no such file or directory");
  const runDir = info.isDirectory ? source.replace(/\/+$/, "") : dirOf(source);
  const rolloutSource = info.isDirectory ? `${runDir}/metadata.jsonl` : source;
  const metricsPath = info.isDirectory || source.endsWith("metadata.jsonl")
    ? `${runDir}/metrics.jsonl`
    : null;
  const haveRollouts = await exists(rolloutSource);
  const haveMetrics = metricsPath !== null && await exists(metricsPath);
  if (!haveRollouts && !haveMetrics) {
    throw new InputFileError(runDir, null, "found neither metadata.jsonl nor metrics.jsonl to analyse");
  }

  const logged = haveRollouts ? await readRollouts(rolloutSource) : [];
  const rollouts = options.grader ? regradeRollouts(logged, options.grader, rolloutSource) : logged;
  const correctness = options.grader ?? "logged";
  const metrics = haveMetrics ? await readMetrics(metricsPath!) : [];
  if (haveRollouts && !rollouts.some((r) => r.correct !== null)) {
    throw new InputFileError(
      rolloutSource,
      null,
      'no rollout has a boolean "correct"; the reward–correctness analysis needs ground-truth correctness',
    );
  }
  const rows = haveRollouts
    ? signalTable(rollouts, { steps: options.steps ?? "all", alternative: options.alternative })
    : [];
  const stepAccuracy = stepAccuracies(rollouts, options.equals ?? isEquivalent);
  const collapse = collapseSteps(stepAccuracy, metrics);
  const gpuMemory = gpuMemorySummary(metrics);

  const outDir = options.outDir ?? runDir;
  const png = options.png ?? true;
  const outputs: [string, string | Uint8Array][] = [];
  if (haveRollouts) {
    const graded = options.grader ? `regraded with the ${options.grader} grader` : "as logged by the trainer";
    outputs.push([`${outDir}/signal_table.md`, `Correctness: ${graded}.\n\n${tableToMarkdown(rows)}`]);
    outputs.push([`${outDir}/signal_table.csv`, tableToCsv(rows)]);
    const ranked = rankedScene(rollouts, options.rankedStep);
    if (ranked) {
      outputs.push([`${outDir}/ranked_rollouts.svg`, sceneToSvg(ranked)]);
      if (png) outputs.push([`${outDir}/ranked_rollouts.png`, await sceneToPng(ranked)]);
    }
  }
  const curves = curvesScene(metrics);
  if (curves) {
    outputs.push([`${outDir}/curves.svg`, sceneToSvg(curves)]);
    if (png) outputs.push([`${outDir}/curves.png`, await sceneToPng(curves)]);
  }
  const files = outputs.map(([p]) => p);
  const analysisPath = `${outDir}/analysis.json`;
  const summary = {
    source,
    correctness,
    rows,
    stepAccuracy,
    ...collapse,
    gpuMemory,
    files: [...files, analysisPath],
  };
  outputs.push([analysisPath, JSON.stringify(summary, null, 2) + "\n"]);

  await Deno.mkdir(outDir, { recursive: true });
  for (const [path, data] of outputs) await writeFileAtomic(path, data);
  return {
    outDir,
    correctness,
    files: [...files, analysisPath],
    rows,
    stepAccuracy,
    ...collapse,
    gpuMemory,
  };
}

/** Reward accuracy from the rollouts, else from metrics.jsonl; training accuracy from the rollouts. */
function collapseSteps(stepAccuracy: StepAccuracy[], metrics: MetricsRow[]) {
  const fromRollouts = stepAccuracy.filter((s) => s.rewardAccuracy !== null)
    .map((s) => ({ step: s.step, value: s.rewardAccuracy! }));
  const fromMetrics = metrics.filter((m) => "reward_accuracy" in m.values)
    .map((m) => ({ step: m.step, value: m.values.reward_accuracy }));
  const rewardSeries = fromRollouts.length ? fromRollouts : fromMetrics;
  const accuracy = stepAccuracy.map((s) => ({ step: s.step, value: s.accuracy }));
  return {
    modelCollapseStep: rewardSeries.length ? modelCollapseStep(rewardSeries) : null,
    trainingAccuracyCollapseStep: accuracy.length ? modelCollapseStep(accuracy) : null,
  };
}

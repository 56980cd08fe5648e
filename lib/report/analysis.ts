/**
 * Reward–correctness analysis over logged rollouts: for every signal, how well it separates correct
 * from incorrect responses (AUROC, AUPR, FPR@95, Mann–Whitney U), pooled or per step; the ranked
 * rollouts behind the figures; and per-step reward and label accuracy.
 *
 * @module
 */

import { aupr, auroc, fprAt95, majorityAnswer, mannWhitneyU, rewardAccuracy } from "../metrics/metrics.ts";
import type { Rollout } from "./run_logs.ts";

/** One row of the reward–correctness table. */
export interface SignalRow {
  /** Signal name (`selfCertainty`, `coe.d1`, …; `reward` and `length` when logged). */
  signal: string;
  /** The step, or "all" for rollouts pooled over steps. */
  step: number | "all";
  /** Rollouts with a known correctness and a value for this signal. */
  n: number;
  /** How many of them are correct. */
  correct: number;
  /** AUROC of the signal for correctness (null when only one class is present). */
  auroc: number | null;
  /** Average precision with correct as the positive class. */
  aupr: number | null;
  /** False-positive rate at 95% true-positive rate. */
  fprAt95: number | null;
  /** Mann–Whitney U of correct against incorrect. */
  u: number | null;
  /** Two-sided Mann–Whitney p-value. */
  p: number | null;
  /** Effect size r (positive: correct responses score higher). */
  r: number | null;
  /** Mean of the signal over correct responses. */
  meanCorrect: number | null;
  /** Mean of the signal over incorrect responses. */
  meanIncorrect: number | null;
}

/** Which steps {@link signalTable} reports. */
export type StepSelection = "all" | "each" | number[];

/** Signal value of a rollout, including the pseudo-signals `reward` and `length`. */
export function signalValue(r: Rollout, signal: string): number | null {
  if (signal === "reward") return r.reward;
  if (signal === "length") return r.length;
  return r.signals[signal] ?? null;
}

/** Every signal name present among rollouts with known correctness, `reward` and `length` first. */
export function signalNames(rollouts: readonly Rollout[]): string[] {
  const names = new Set<string>();
  let reward = false;
  let length = false;
  for (const r of rollouts) {
    if (r.correct === null) continue;
    for (const k of Object.keys(r.signals)) names.add(k);
    reward ||= r.reward !== null;
    length ||= r.length !== null;
  }
  return [...(reward ? ["reward"] : []), ...(length ? ["length"] : []), ...[...names].sort()];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);

function rowFor(signal: string, step: number | "all", rollouts: readonly Rollout[]): SignalRow {
  const scores: number[] = [];
  const labels: boolean[] = [];
  for (const r of rollouts) {
    const v = signalValue(r, signal);
    if (r.correct === null || v === null) continue;
    scores.push(v);
    labels.push(r.correct);
  }
  const pos = scores.filter((_, i) => labels[i]);
  const neg = scores.filter((_, i) => !labels[i]);
  const row: SignalRow = {
    signal,
    step,
    n: scores.length,
    correct: pos.length,
    auroc: null,
    aupr: null,
    fprAt95: null,
    u: null,
    p: null,
    r: null,
    meanCorrect: mean(pos),
    meanIncorrect: mean(neg),
  };
  if (pos.length > 0 && neg.length > 0) {
    row.auroc = auroc(scores, labels);
    row.aupr = aupr(scores, labels);
    row.fprAt95 = fprAt95(scores, labels);
    const mw = mannWhitneyU(pos, neg);
    row.u = mw.u;
    row.p = mw.p;
    row.r = mw.r;
  }
  return row;
}

/**
 * The reward–correctness table: one row per signal (and per step unless pooled). Only rollouts with
 * a boolean `correct` count; a step where every rollout is correct (or every one wrong) gets nulls.
 *
 * @example
 * ```ts
 * import { readRollouts, signalTable, tableToMarkdown } from "./mod.ts";
 * const rows = signalTable(await readRollouts("runs/my-run"), { steps: "all" });
 * console.log(tableToMarkdown(rows));
 * ```
 */
export function signalTable(
  rollouts: readonly Rollout[],
  options: { steps?: StepSelection; signals?: string[] } = {},
): SignalRow[] {
  const signals = options.signals ?? signalNames(rollouts);
  const steps = options.steps ?? "all";
  if (steps === "all") return signals.map((s) => rowFor(s, "all", rollouts));
  const byStep = new Map<number, Rollout[]>();
  for (const r of rollouts) {
    if (r.step === null) continue;
    if (!byStep.has(r.step)) byStep.set(r.step, []);
    byStep.get(r.step)!.push(r);
  }
  const chosen = steps === "each" ? [...byStep.keys()].sort((a, b) => a - b) : steps;
  for (const s of chosen) {
    if (!byStep.has(s)) {
      const available = [...byStep.keys()].sort((a, b) => a - b);
      throw new RangeError(
        `signalTable: step ${s} is not in the log; logged steps are ${available.slice(0, 20).join(", ")}` +
          (available.length > 20 ? ", …" : ""),
      );
    }
  }
  return chosen.flatMap((step) => signals.map((s) => rowFor(s, step, byStep.get(step)!)));
}

const COLUMNS: [keyof SignalRow, string][] = [
  ["signal", "signal"],
  ["step", "step"],
  ["n", "n"],
  ["correct", "correct"],
  ["auroc", "AUROC"],
  ["aupr", "AUPR"],
  ["fprAt95", "FPR@95"],
  ["p", "MW p"],
  ["r", "MW r"],
  ["u", "MW U"],
  ["meanCorrect", "mean (correct)"],
  ["meanIncorrect", "mean (incorrect)"],
];

function formatCell(v: unknown, digits: boolean): string {
  if (v === null || v === undefined) return digits ? "n/a" : "";
  if (typeof v !== "number") return String(v);
  if (!digits) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(4);
}

/**
 * The table as GitHub Markdown (numbers to four decimals, `n/a` where undefined).
 *
 * @example
 * ```ts
 * import { readRollouts, signalTable, tableToMarkdown } from "./mod.ts";
 * console.log(tableToMarkdown(signalTable(await readRollouts("tests/fixtures/eval/run"))));
 * ```
 */
export function tableToMarkdown(rows: readonly SignalRow[]): string {
  const header = `| ${COLUMNS.map(([, h]) => h).join(" | ")} |`;
  const rule = `| ${COLUMNS.map(([k]) => (k === "signal" ? "---" : "---:")).join(" | ")} |`;
  const body = rows.map((row) => `| ${COLUMNS.map(([k]) => formatCell(row[k], k !== "u")).join(" | ")} |`);
  return [header, rule, ...body].join("\n") + "\n";
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The table as CSV with full-precision numbers and empty cells where undefined.
 *
 * @example
 * ```ts
 * import { readRollouts, signalTable, tableToCsv } from "./mod.ts";
 * await Deno.writeTextFile("signals.csv", tableToCsv(signalTable(await readRollouts("tests/fixtures/eval/run"))));
 * ```
 */
export function tableToCsv(rows: readonly SignalRow[]): string {
  const header = COLUMNS.map(([k]) => k).join(",");
  const body = rows.map((row) => COLUMNS.map(([k]) => csvField(formatCell(row[k], false))).join(","));
  return [header, ...body].join("\n") + "\n";
}

/** A rollout's value and correctness, as plotted in a ranked-rollout figure. */
export interface RankedRollout {
  /** Signal value. */
  value: number;
  /** Correctness. */
  correct: boolean;
}

/**
 * Rollouts with known correctness sorted by a signal, highest first (optionally at one step): the
 * data of the "rollouts ranked by the signal, correct ones marked" figure.
 *
 * @example
 * ```ts
 * import { rankRollouts, readRollouts } from "./mod.ts";
 * const ranked = rankRollouts(await readRollouts("runs/my-run"), "selfCertainty");
 * ranked.slice(0, 10).filter((r) => r.correct).length; // correct among the top 10
 * ```
 */
export function rankRollouts(rollouts: readonly Rollout[], signal: string, step?: number): RankedRollout[] {
  const out: RankedRollout[] = [];
  for (const r of rollouts) {
    if (step !== undefined && r.step !== step) continue;
    const v = signalValue(r, signal);
    if (r.correct === null || v === null) continue;
    out.push({ value: v, correct: r.correct });
  }
  return out.sort((a, b) => b.value - a.value);
}

/** Per-step accuracy of rewards and pseudo-labels. */
export interface StepAccuracy {
  /** Training step. */
  step: number;
  /** Fraction of rollouts that are correct. */
  accuracy: number;
  /** Reward accuracy when every reward is 0 or 1 (binary pseudo-rewards), else null. */
  rewardAccuracy: number | null;
  /** Majority-vote label accuracy when answers and ground truth are logged, else null. */
  labelAccuracy: number | null;
}

/**
 * Per step: accuracy, reward accuracy (binary rewards only: does reward 1 mean correct?) and the
 * label accuracy of the majority-vote answer of each prompt. Feed `rewardAccuracy` to
 * `modelCollapseStep` to find where self-rewarding collapses.
 */
export function stepAccuracies(
  rollouts: readonly Rollout[],
  equals?: (a: string, b: string) => boolean,
): StepAccuracy[] {
  const byStep = new Map<number, Rollout[]>();
  for (const r of rollouts) {
    if (r.step === null || r.correct === null) continue;
    if (!byStep.has(r.step)) byStep.set(r.step, []);
    byStep.get(r.step)!.push(r);
  }
  return [...byStep.keys()].sort((a, b) => a - b).map((step) => {
    const rs = byStep.get(step)!;
    const accuracy = rs.filter((r) => r.correct).length / rs.length;
    const rewards = rs.map((r) => r.reward);
    const binary = rewards.every((x) => x === 0 || x === 1);
    const ra = binary ? rewardAccuracy(rewards as number[], rs.map((r) => r.correct!)) : null;
    const prompts = new Map<number, Rollout[]>();
    for (const r of rs) {
      if (!prompts.has(r.promptIndex)) prompts.set(r.promptIndex, []);
      prompts.get(r.promptIndex)!.push(r);
    }
    let labelled = 0;
    let hits = 0;
    for (const group of prompts.values()) {
      const gt = group[0].groundTruth;
      if (gt === null || group.every((r) => r.answer === null)) continue;
      labelled++;
      const vote = majorityAnswer(group.map((r) => r.answer), equals);
      if (vote.index >= 0 && group[vote.index].correct) hits++;
    }
    return { step, accuracy, rewardAccuracy: ra, labelAccuracy: labelled ? hits / labelled : null };
  });
}

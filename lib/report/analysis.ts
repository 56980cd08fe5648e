/**
 * Reward–correctness analysis over logged rollouts: for every signal, how well it separates correct
 * from incorrect responses (AUROC, AUPR, FPR@95, Mann–Whitney U two-sided or one-sided as in Intuitor,
 * point-biserial correlation as in URLVR App. B.3), pooled or per step; the ranked rollouts behind the
 * figures; and per-step reward accuracy, label accuracy (majority vote and highest reward) and p_maj.
 *
 * @module
 */

import {
  aupr,
  auroc,
  fprAt95,
  highestScoreCorrect,
  majorityAnswer,
  majorityShare,
  type MannWhitneyAlternative,
  mannWhitneyU,
  pointBiserial,
  rewardAccuracy,
} from "../metrics/metrics.ts";
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
  /** Mann–Whitney p-value under `alternative`. */
  p: number | null;
  /** The Mann–Whitney alternative `p` was computed under (correct against incorrect). */
  alternative: MannWhitneyAlternative;
  /** Effect size r (positive: correct responses score higher). */
  r: number | null;
  /** Point-biserial correlation of the signal with correctness (URLVR App. B.3). */
  pointBiserial: number | null;
  /** Mean of the signal over correct responses. */
  meanCorrect: number | null;
  /** Mean of the signal over incorrect responses. */
  meanIncorrect: number | null;
}

/** Which steps {@link signalTable} reports. */
export type StepSelection = "all" | "each" | number[];

/**
 * The chain-of-embedding d1 + d2 energy of a rollout, raw: before any group normalisation (thesis
 * §4.7 evaluates the signal itself, not the shaped reward).
 */
export const COE_D1_D2 = "coe.d1+d2";

/**
 * Signal value of a rollout, including the pseudo-signals `reward` (after group shaping), `raw_reward`
 * (before it), `length` and {@link COE_D1_D2}.
 */
export function signalValue(r: Rollout, signal: string): number | null {
  if (signal === "reward") return r.reward;
  if (signal === "raw_reward") return r.rawReward;
  if (signal === "length") return r.length;
  if (signal === COE_D1_D2) {
    const d1 = r.signals["coe.d1"], d2 = r.signals["coe.d2"];
    return d1 === undefined || d2 === undefined ? null : d1 + d2;
  }
  return r.signals[signal] ?? null;
}

/**
 * Every signal name present among rollouts with known correctness: `reward`, `raw_reward` and `length`
 * first, then the logged signals with {@link COE_D1_D2} after `coe.d1` and `coe.d2` when both are logged.
 */
export function signalNames(rollouts: readonly Rollout[]): string[] {
  const names = new Set<string>();
  let reward = false;
  let rawReward = false;
  let length = false;
  for (const r of rollouts) {
    if (r.correct === null) continue;
    for (const k of Object.keys(r.signals)) names.add(k);
    reward ||= r.reward !== null;
    rawReward ||= r.rawReward !== null;
    length ||= r.length !== null;
  }
  if (names.has("coe.d1") && names.has("coe.d2")) names.add(COE_D1_D2);
  return [
    ...(reward ? ["reward"] : []),
    ...(rawReward ? ["raw_reward"] : []),
    ...(length ? ["length"] : []),
    ...[...names].sort(),
  ];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);

function rowFor(
  signal: string,
  step: number | "all",
  rollouts: readonly Rollout[],
  alternative: MannWhitneyAlternative,
): SignalRow {
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
    alternative,
    r: null,
    pointBiserial: null,
    meanCorrect: mean(pos),
    meanIncorrect: mean(neg),
  };
  if (pos.length > 0 && neg.length > 0) {
    row.auroc = auroc(scores, labels);
    row.aupr = aupr(scores, labels);
    row.fprAt95 = fprAt95(scores, labels);
    const mw = mannWhitneyU(pos, neg, { alternative });
    row.u = mw.u;
    row.p = mw.p;
    row.r = mw.r;
    row.pointBiserial = pointBiserial(scores, labels);
  }
  return row;
}

/** Options of {@link signalTable}. */
export interface SignalTableOptions {
  /** Rows pooled over steps ("all", default), one block per step ("each"), or chosen steps. */
  steps?: StepSelection;
  /** Signals to report (default: {@link signalNames}). */
  signals?: string[];
  /**
   * Mann–Whitney alternative of correct against incorrect: "two-sided" (default) or "greater", the
   * one-sided test Intuitor reports (correct responses score higher).
   */
  alternative?: MannWhitneyAlternative;
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
  options: SignalTableOptions = {},
): SignalRow[] {
  const signals = options.signals ?? signalNames(rollouts);
  const steps = options.steps ?? "all";
  const alternative = options.alternative ?? "two-sided";
  if (alternative !== "two-sided" && alternative !== "greater") {
    throw new RangeError(
      `signalTable: alternative ${JSON.stringify(alternative)} must be "two-sided" or "greater"`,
    );
  }
  if (steps === "all") return signals.map((s) => rowFor(s, "all", rollouts, alternative));
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
  return chosen.flatMap((step) => signals.map((s) => rowFor(s, step, byStep.get(step)!, alternative)));
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
  ["pointBiserial", "r_pb"],
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
  const oneSided = rows.length > 0 && rows[0].alternative === "greater";
  const header = `| ${COLUMNS.map(([k, h]) => (k === "p" && oneSided ? "MW p (greater)" : h)).join(" | ")} |`;
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
  const columns = [...COLUMNS.map(([k]) => k), "alternative" as const];
  const header = columns.join(",");
  const body = rows.map((row) => columns.map((k) => csvField(formatCell(row[k], false))).join(","));
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

/** Per-step accuracy of rewards and pseudo-labels (URLVR App. B.2) and p_maj (App. A.1). */
export interface StepAccuracy {
  /** Training step. */
  step: number;
  /** Fraction of rollouts that are correct. */
  accuracy: number;
  /** Reward accuracy when every reward is 0 or 1 (binary pseudo-rewards, eq. 40), else null. */
  rewardAccuracy: number | null;
  /** Majority-vote label accuracy (eq. 39) when answers and ground truth are logged, else null. */
  labelAccuracy: number | null;
  /**
   * Label accuracy of a certainty-based reward (eq. 43): the share of prompts whose highest-reward
   * response (raw reward when logged, else the shaped one) is correct; null without rewards.
   */
  certaintyLabelAccuracy: number | null;
  /** Mean over prompts of the majority answer's share of the group (p_maj); null without answers. */
  pMaj: number | null;
}

const shareOf = (hits: number, total: number) => (total ? hits / total : null);

/**
 * Per step: accuracy, reward accuracy (binary rewards only: does reward 1 mean correct?), the label
 * accuracy of the majority-vote answer and of the highest-reward response of each prompt, and p_maj.
 * Answers are grouped with `equals` (give training's equivalence, `isEquivalent`, to vote as training
 * did). Feed `rewardAccuracy` of a majority-vote run to `modelCollapseStep` to find where
 * self-rewarding collapses (URLVR §6).
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
    let labelled = 0, hits = 0, rewarded = 0, certainHits = 0, shareSum = 0, voted = 0;
    for (const group of prompts.values()) {
      const answers = group.map((r) => r.answer?.trim() || null);
      if (answers.some((a) => a !== null)) {
        voted++;
        shareSum += majorityShare(answers, equals);
        if (group[0].groundTruth !== null) {
          labelled++;
          const vote = majorityAnswer(answers, equals);
          if (vote.index >= 0 && group[vote.index].correct) hits++;
        }
      }
      const scores = group.map((r) => r.rawReward ?? r.reward);
      if (scores.every((x) => x !== null)) {
        rewarded++;
        if (highestScoreCorrect(scores as number[], group.map((r) => r.correct))) certainHits++;
      }
    }
    return {
      step,
      accuracy,
      rewardAccuracy: ra,
      labelAccuracy: shareOf(hits, labelled),
      certaintyLabelAccuracy: shareOf(certainHits, rewarded),
      pMaj: shareOf(shareSum, voted),
    };
  });
}

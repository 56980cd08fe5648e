/**
 * The layout of `metadata.jsonl`: one line per prompt per step with every sampled response, its
 * reward, its correctness (when a ground truth exists) and every intrinsic signal, so diagnostics can
 * compare the signals against correctness after the fact.
 *
 * ```json
 * {"step": 3, "prompt": "...", "ground_truth": "42",
 *  "responses": [{"text": "...", "answer": "42", "correct": true, "reward": 0.7, "raw_reward": 1.3, "length": 37,
 *                 "signals": {"selfCertainty": 1.2, "meanTokenEntropy": 0.8, "trajectoryLogprob": -20.1,
 *                             "meanLogprob": -0.5, "topGap": 0.4,
 *                             "coe": {"d1": 0, "d2": 0, "mag": 0, "ang": 0, "r": 0, "c": 0}}}],
 *  "pseudo_label": "42"}
 * ```
 *
 * Numbers that are not finite are written as `null` (JSON has no NaN); {@link parseMetadataEntry} turns
 * them back into NaN.
 *
 * @module
 */
import type { CompletionStats } from "../rewards/types.ts";

/**
 * Intrinsic signals of one response, from the scoring pass: the scalar fields of {@link CompletionStats}
 * (the per-token arrays stay out of the log).
 */
export type ResponseSignals = Pick<
  CompletionStats,
  "selfCertainty" | "meanTokenEntropy" | "trajectoryLogprob" | "meanLogprob" | "topGap" | "coe"
>;

/** One sampled response of a prompt. */
export interface ResponseEntry {
  /** Decoded completion. */
  text: string;
  /** Extracted final answer, or null when none was found. */
  answer: string | null;
  /** Whether `answer` equals the ground truth; null without a ground truth. */
  correct: boolean | null;
  /** The reward used for training (after group shaping). */
  reward: number;
  /** The reward before group shaping, when the trainer logged it. */
  raw_reward?: number;
  /** Completion length in tokens. */
  length: number;
  /** Intrinsic signals. */
  signals: ResponseSignals;
}

/** One line of metadata.jsonl: a prompt at a step with all its responses. */
export interface MetadataEntry {
  /** Training step. */
  step: number;
  /** The prompt text as given to the template. */
  prompt: string;
  /** Reference answer, or null when the dataset has none. */
  ground_truth: string | null;
  /** Every response sampled for the prompt. */
  responses: ResponseEntry[];
  /** Majority-vote (or other) pseudo-label used as a stand-in for the ground truth. */
  pseudo_label?: string | null;
}

const SIGNAL_KEYS = [
  "selfCertainty",
  "meanTokenEntropy",
  "trajectoryLogprob",
  "meanLogprob",
  "topGap",
] as const;
const COE_KEYS = ["d1", "d2", "mag", "ang", "r", "c"] as const;

function fail(where: string, field: string, want: string, got: unknown): never {
  throw new Error(`${where}: ${field} must be ${want}, got ${JSON.stringify(got) ?? String(got)}`);
}

function num(where: string, field: string, v: unknown): number {
  if (v === null) return NaN;
  if (typeof v !== "number") fail(where, field, "a number (or null for NaN)", v);
  return v;
}

function obj(where: string, field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(where, field, "an object", v);
  return v as Record<string, unknown>;
}

function strOrNull(where: string, field: string, v: unknown): string | null {
  if (v !== null && typeof v !== "string") fail(where, field, "a string or null", v);
  return v as string | null;
}

/**
 * Checks a decoded metadata line and returns it typed (nulls in numeric fields become NaN). `where`
 * (e.g. `file:line`) prefixes error messages, which name the offending field.
 *
 * @example
 * ```ts
 * const entry = parseMetadataEntry(JSON.parse(line), "metadata.jsonl:7");
 * ```
 */
export function parseMetadataEntry(value: unknown, where = "metadata entry"): MetadataEntry {
  const o = obj(where, "the entry", value);
  const step = o.step;
  if (typeof step !== "number" || !Number.isInteger(step) || step < 0) {
    fail(where, "step", "an integer >= 0", step);
  }
  if (typeof o.prompt !== "string") fail(where, "prompt", "a string", o.prompt);
  const groundTruth = strOrNull(where, "ground_truth", o.ground_truth);
  if (!Array.isArray(o.responses)) fail(where, "responses", "a list", o.responses);
  const responses = o.responses.map((rv, i): ResponseEntry => {
    const f = `responses[${i}]`;
    const r = obj(where, f, rv);
    if (typeof r.text !== "string") fail(where, `${f}.text`, "a string", r.text);
    if (r.correct !== null && typeof r.correct !== "boolean") {
      fail(where, `${f}.correct`, "true, false or null", r.correct);
    }
    const length = r.length;
    if (typeof length !== "number" || !Number.isInteger(length) || length < 0) {
      fail(where, `${f}.length`, "an integer >= 0", length);
    }
    const s = obj(where, `${f}.signals`, r.signals);
    const c = obj(where, `${f}.signals.coe`, s.coe);
    const signals = {} as Record<string, unknown>;
    for (const k of SIGNAL_KEYS) signals[k] = num(where, `${f}.signals.${k}`, s[k]);
    const coe = {} as Record<string, number>;
    for (const k of COE_KEYS) coe[k] = num(where, `${f}.signals.coe.${k}`, c[k]);
    signals.coe = coe;
    return {
      text: r.text,
      answer: strOrNull(where, `${f}.answer`, r.answer),
      correct: r.correct as boolean | null,
      reward: num(where, `${f}.reward`, r.reward),
      ...("raw_reward" in r ? { raw_reward: num(where, `${f}.raw_reward`, r.raw_reward) } : {}),
      length,
      signals: signals as unknown as ResponseSignals,
    };
  });
  const entry: MetadataEntry = { step, prompt: o.prompt, ground_truth: groundTruth, responses };
  if ("pseudo_label" in o) entry.pseudo_label = strOrNull(where, "pseudo_label", o.pseudo_label);
  return entry;
}

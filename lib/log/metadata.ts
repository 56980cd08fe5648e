/**
 * The layout of `metadata.jsonl`: one line per prompt per step with every sampled response, its
 * reward, its correctness (when a ground truth exists) and every intrinsic signal, so diagnostics can
 * compare the signals against correctness after the fact.
 *
 * ```json
 * {"step": 3, "prompt_index": 0, "rollout_n": 2, "prompt": "<|im_start|>user\nWhat is 6 * 7?...",
 *  "question": "What is 6 * 7?", "ground_truth": "42", "ground_truth_available": true,
 *  "responses": [{"response_index": 0, "text": "...", "answer": "42", "correct": true, "format": true,
 *                 "reward": 0.7, "raw_reward": 1.3, "length": 37,
 *                 "signals": {"selfCertainty": 1.2, "meanTokenEntropy": 0.8, "trajectoryLogprob": -20.1,
 *                             "meanLogprob": -0.5, "topGap": 0.4,
 *                             "coe": {"d1": 0, "d2": 0, "mag": 0, "ang": 0, "r": 0, "c": 0}}}, ...],
 *  "pseudo_label": "42",
 *  "model_info": {"path": "models/qwen", "arch": "qwen2", "num_layers": 24, "hidden_size": 896,
 *                 "vocab_size": 151936, "torch_dtype": "bfloat16", "rollout_weights": "bf16"}}
 * ```
 *
 * The fields follow the thesis's metadata entry (hidden-state dynamics thesis, Appendix A, Listing 2):
 * `step`, `prompt_index`, `rollout_n`, the rendered prompt beside the raw question, the ground truth and
 * whether one is available, every response with its `response_index`, its rewards and its format
 * verdict, and `model_info`. Where the layout differs, it keeps the one older files already have, so
 * they stay readable: `prompt` stays the rendered text and `question` sits beside it (Listing 2 nests
 * `prompt.text` and `prompt.question`); `ground_truth` stays the answer text and
 * `ground_truth_available` sits beside it (Listing 2: `ground_truth.text`, `ground_truth.available`);
 * a response's rewards stay flat — `reward` is Listing 2's `rewards.overall` (after group shaping),
 * `raw_reward` the reward before shaping, `correct` its `rewards.accuracy`, `format` (true/false) its
 * `rewards.format` — and its CoE signals sit under `signals.coe`. `format` is the verdict the trainer's
 * `format_rate` counts (a final answer was extracted), not the `format` reward's think/boxed pattern,
 * which a run need not use. `model_info` is written once, in the first record of a run (step 1; a
 * resumed run keeps that record), not in every record; Listing 2 is cut off at `"model_info": {`, so
 * its fields here are this library's. Every one of these fields is optional when reading: files written
 * before they existed parse as before.
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
  /** Position among the prompt's responses (0-based; Listing 2's `response_index`). */
  response_index?: number;
  /** The format verdict: whether a final answer was extracted (`answer !== null`), as `format_rate` counts. */
  format?: boolean;
  /**
   * The rollout engine's log-probability of each generated token (temperature-scaled), as it sampled
   * them: against `signals`' scoring pass, the training–inference mismatch.
   */
  rollout_logprob?: number[];
}

/** The model a run trained (Listing 2's `model_info`), in the first record of a run. */
export interface ModelInfo {
  /** `model.path` of the run's config. */
  path: string;
  /** Model family (`model_type`). */
  arch: string;
  /** Transformer layers. */
  num_layers: number;
  /** Residual width. */
  hidden_size: number;
  /** Vocabulary size. */
  vocab_size: number;
  /** The checkpoint's `torch_dtype`. */
  torch_dtype: string;
  /** Width of the weights that sampled the rollouts (`rollout.weights`). */
  rollout_weights: string;
}

/** One line of metadata.jsonl: a prompt at a step with all its responses. */
export interface MetadataEntry {
  /** Training step. */
  step: number;
  /** Position of the prompt among the step's prompts (0-based; Listing 2's `prompt_index`). */
  prompt_index?: number;
  /** Responses sampled per prompt (`rollout.n`; Listing 2's `rollout_n`). */
  rollout_n?: number;
  /** The prompt as the model saw it: the template rendered (Listing 2's `prompt.text`). */
  prompt: string;
  /** The dataset's question before templating, or null when it has none (Listing 2's `prompt.question`). */
  question?: string | null;
  /** Reference answer, or null when the dataset has none. */
  ground_truth: string | null;
  /** Whether a reference answer exists (Listing 2's `ground_truth.available`). */
  ground_truth_available?: boolean;
  /** Every response sampled for the prompt. */
  responses: ResponseEntry[];
  /** Majority-vote (or other) pseudo-label used as a stand-in for the ground truth. */
  pseudo_label?: string | null;
  /** The trained model, in the first record of a run. */
  model_info?: ModelInfo;
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

function index(where: string, field: string, v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) fail(where, field, `an integer >= ${min}`, v);
  return v;
}

function bool(where: string, field: string, v: unknown): boolean {
  if (typeof v !== "boolean") fail(where, field, "true or false", v);
  return v;
}

function str(where: string, field: string, v: unknown): string {
  if (typeof v !== "string") fail(where, field, "a string", v);
  return v;
}

function modelInfo(where: string, v: unknown): ModelInfo {
  const m = obj(where, "model_info", v);
  return {
    path: str(where, "model_info.path", m.path),
    arch: str(where, "model_info.arch", m.arch),
    num_layers: index(where, "model_info.num_layers", m.num_layers, 1),
    hidden_size: index(where, "model_info.hidden_size", m.hidden_size, 1),
    vocab_size: index(where, "model_info.vocab_size", m.vocab_size, 1),
    torch_dtype: str(where, "model_info.torch_dtype", m.torch_dtype),
    rollout_weights: str(where, "model_info.rollout_weights", m.rollout_weights),
  };
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
    const response: ResponseEntry = {
      text: r.text,
      answer: strOrNull(where, `${f}.answer`, r.answer),
      correct: r.correct as boolean | null,
      reward: num(where, `${f}.reward`, r.reward),
      ...("raw_reward" in r ? { raw_reward: num(where, `${f}.raw_reward`, r.raw_reward) } : {}),
      length,
      signals: signals as unknown as ResponseSignals,
    };
    if ("response_index" in r) {
      response.response_index = index(where, `${f}.response_index`, r.response_index, 0);
      if (response.response_index !== i) {
        fail(where, `${f}.response_index`, `${i} (its position)`, r.response_index);
      }
    }
    if ("format" in r) response.format = bool(where, `${f}.format`, r.format);
    if ("rollout_logprob" in r) {
      if (!Array.isArray(r.rollout_logprob)) fail(where, `${f}.rollout_logprob`, "a list", r.rollout_logprob);
      response.rollout_logprob = r.rollout_logprob.map((x, t) => num(where, `${f}.rollout_logprob[${t}]`, x));
    }
    return response;
  });
  const entry: MetadataEntry = { step, prompt: o.prompt, ground_truth: groundTruth, responses };
  if ("prompt_index" in o) entry.prompt_index = index(where, "prompt_index", o.prompt_index, 0);
  if ("rollout_n" in o) {
    entry.rollout_n = index(where, "rollout_n", o.rollout_n, 1);
    if (entry.rollout_n !== responses.length) {
      fail(where, "rollout_n", `the number of responses (${responses.length})`, o.rollout_n);
    }
  }
  if ("question" in o) entry.question = strOrNull(where, "question", o.question);
  if ("ground_truth_available" in o) {
    entry.ground_truth_available = bool(where, "ground_truth_available", o.ground_truth_available);
    if (entry.ground_truth_available !== (groundTruth !== null)) {
      fail(
        where,
        "ground_truth_available",
        `${groundTruth !== null} (ground_truth is ${JSON.stringify(groundTruth)})`,
        o.ground_truth_available,
      );
    }
  }
  if ("pseudo_label" in o) entry.pseudo_label = strOrNull(where, "pseudo_label", o.pseudo_label);
  if ("model_info" in o) entry.model_info = modelInfo(where, o.model_info);
  return entry;
}

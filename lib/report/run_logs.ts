/**
 * Reading the trainer's run logs: `metadata.jsonl` (one record per prompt per step with every
 * rollout, its correctness, reward and signals), `score` outputs (one row per rollout with signals at
 * the top level) and `metrics.jsonl` (one row of numbers per step). Malformed input fails with the
 * file, line and field, except for a torn last line: the trainer appends whole lines, so a last line
 * with no newline that does not parse is what a crash in the middle of an append leaves, and it is
 * skipped with a warning (see {@link readRunLog}).
 *
 * @module
 */

import { InputFileError, type JsonlRecord, parseJsonl, readInputText } from "../data/jsonl_input.ts";

const stderrWarn = (message: string): void => console.warn(`warning: ${message}`);

/**
 * Reads a run log's JSON Lines records. A last line without its newline that is not valid JSON (a write
 * cut short by a crash or kill) is skipped and reported to `warn`; any other bad line is an
 * InputFileError naming file:line, as is a missing or empty file.
 *
 * @example
 * ```ts
 * const records = await readRunLog("runs/x/metadata.jsonl");
 * ```
 */
export async function readRunLog(
  path: string,
  warn: (message: string) => void = stderrWarn,
): Promise<JsonlRecord[]> {
  let text = await readInputText(path);
  const lastBreak = text.lastIndexOf("\n");
  const tail = text.slice(lastBreak + 1);
  if (tail.trim() !== "") {
    let torn = false;
    try {
      JSON.parse(tail);
    } catch {
      torn = true;
    }
    if (torn) {
      const line = text.slice(0, lastBreak + 1).split("\n").length;
      warn(
        `${path}:${line}: the last line is cut short (${tail.length} bytes, no newline, not valid JSON), ` +
          `as a write interrupted by a crash leaves it; skipped`,
      );
      text = text.slice(0, lastBreak + 1);
    }
  }
  return parseJsonl(text, path);
}

/** One rollout with its correctness and its signals flattened (`coe.d1`). */
export interface Rollout {
  /** Training step, null for files without steps (score outputs). */
  step: number | null;
  /** Index of the prompt record (0-based, in file order). */
  promptIndex: number;
  /** Index of the response within its prompt. */
  responseIndex: number;
  /** Whether the response is correct; null when unknown (no ground truth). */
  correct: boolean | null;
  /** The reward the trainer gave (after group shaping), if logged. */
  reward: number | null;
  /** The reward before group shaping (`raw_reward`), if logged. */
  rawReward: number | null;
  /** Response length in tokens, if logged. */
  length: number | null;
  /** The extracted answer, if logged. */
  answer: string | null;
  /** The response text, if logged (metadata.jsonl `text`; a score row's `text` or `completion`). */
  text: string | null;
  /** Ground truth of the prompt, if logged. */
  groundTruth: string | null;
  /** Every numeric signal, nested objects flattened with dots. */
  signals: Record<string, number>;
}

/** One row of `metrics.jsonl`. */
export interface MetricsRow {
  /** Training step. */
  step: number;
  /** Every numeric value of the row except `step` (nested objects flattened with dots). */
  values: Record<string, number>;
}

type Where = { file: string; line: number };

function fail(at: Where, detail: string): never {
  throw new InputFileError(at.file, at.line, detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Flattens nested numeric fields with dots: `{coe: {d1: 1}}` → `{"coe.d1": 1}`. Nulls and arrays are
 * skipped; any other non-number is an error naming the field.
 */
export function flattenNumbers(
  value: Record<string, unknown>,
  prefix: string,
  at: Where,
  fieldPath: string,
  out: Record<string, number> = {},
): Record<string, number> {
  for (const [key, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) fail(at, `${fieldPath}.${key} is ${v}; signals must be finite numbers`);
      out[name] = v;
    } else if (isObject(v)) {
      flattenNumbers(v, name, at, `${fieldPath}.${key}`, out);
    } else if (v !== null && !Array.isArray(v)) {
      fail(at, `${fieldPath}.${key} is ${JSON.stringify(v)}; signals must be numbers (or null when absent)`);
    }
  }
  return out;
}

function optionalNumber(v: unknown, at: Where, field: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    fail(at, `${field} is ${JSON.stringify(v)}; expected a number or null`);
  }
  return v;
}

function optionalString(v: unknown, at: Where, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "number") return String(v);
  if (typeof v !== "string") fail(at, `${field} is ${JSON.stringify(v)}; expected a string or null`);
  return v;
}

function correctness(v: unknown, at: Where, field: string): boolean | null {
  if (v === undefined || v === null) return null;
  if (v === true || v === false) return v;
  if (v === 1 || v === 0) return v === 1;
  return fail(at, `${field} is ${JSON.stringify(v)}; expected true, false or null`);
}

function stepOf(v: unknown, at: Where, required: boolean): number | null {
  if (v === undefined || v === null) {
    if (required) fail(at, `missing field "step" (the training step, a number)`);
    return null;
  }
  if (typeof v !== "number" || !Number.isFinite(v)) {
    fail(at, `"step" is ${JSON.stringify(v)}; expected a number`);
  }
  return v;
}

function optionalIndex(v: unknown, at: Where, field: string, min: number): number | null {
  if (v === undefined) return null;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    fail(at, `${field} is ${JSON.stringify(v)}; expected an integer >= ${min}`);
  }
  return v;
}

/**
 * Rollouts of one `metadata.jsonl` record `{step, prompt, ground_truth, responses: [...]}`. The fields
 * of the thesis's layout (lib/log/metadata.ts) are checked when present and optional, so older files read
 * as before; `promptIndex` stays the record's position in the file, which tells prompts of different
 * steps apart (`prompt_index` counts within a step).
 */
function metadataRollouts(record: Record<string, unknown>, at: Where, promptIndex: number): Rollout[] {
  const step = stepOf(record.step, at, true);
  const groundTruth = optionalString(record.ground_truth, at, "ground_truth");
  const responses = record.responses;
  if (!Array.isArray(responses)) fail(at, `"responses" must be an array of rollouts`);
  optionalIndex(record.prompt_index, at, "prompt_index", 0);
  const rolloutN = optionalIndex(record.rollout_n, at, "rollout_n", 1);
  if (rolloutN !== null && rolloutN !== responses.length) {
    fail(at, `rollout_n is ${rolloutN} but the record has ${responses.length} responses`);
  }
  return responses.map((r, j) => {
    const field = `responses[${j}]`;
    if (!isObject(r)) fail(at, `${field} is ${JSON.stringify(r)}; expected an object`);
    const logged = optionalIndex(r.response_index, at, `${field}.response_index`, 0);
    if (logged !== null && logged !== j) {
      fail(at, `${field}.response_index is ${logged}; expected ${j}, its position in "responses"`);
    }
    const signals = r.signals === undefined || r.signals === null
      ? {}
      : isObject(r.signals)
      ? flattenNumbers(r.signals, "", at, `${field}.signals`)
      : fail(at, `${field}.signals must be an object of numbers`);
    return {
      step,
      promptIndex,
      responseIndex: j,
      correct: correctness(r.correct, at, `${field}.correct`),
      reward: optionalNumber(r.reward, at, `${field}.reward`),
      rawReward: optionalNumber(r.raw_reward, at, `${field}.raw_reward`),
      length: optionalNumber(r.length, at, `${field}.length`),
      answer: optionalString(r.answer, at, `${field}.answer`),
      text: optionalString(r.text, at, `${field}.text`),
      groundTruth,
      signals,
    };
  });
}

// Fields of a score row that identify it rather than measure it.
const SCORE_ID_FIELDS = new Set([
  "step",
  "correct",
  "reward",
  "raw_reward",
  "length",
  "answer",
  "ground_truth",
  "index",
  "id",
  "prompt_index",
  "promptIndex",
  "response_index",
  "responseIndex",
  "sample",
]);

/** A score-output row: signals at the top level, optional `correct`, `reward`, `length`, `step`. */
function scoreRollout(record: Record<string, unknown>, at: Where, index: number): Rollout {
  const signals: Record<string, number> = {};
  for (const [key, v] of Object.entries(record)) {
    if (SCORE_ID_FIELDS.has(key)) continue;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) fail(at, `${key} is ${v}; signals must be finite numbers`);
      signals[key] = v;
    } else if (isObject(v)) {
      flattenNumbers(v, key, at, key, signals);
    }
  }
  const promptIndex = record.prompt_index ?? record.promptIndex;
  return {
    step: stepOf(record.step, at, false),
    promptIndex: typeof promptIndex === "number" ? promptIndex : index,
    responseIndex: typeof record.response_index === "number" ? record.response_index : 0,
    correct: correctness(record.correct, at, "correct"),
    reward: optionalNumber(record.reward, at, "reward"),
    rawReward: optionalNumber(record.raw_reward, at, "raw_reward"),
    length: optionalNumber(record.length, at, "length"),
    answer: optionalString(record.answer, at, "answer"),
    text: record.text !== undefined
      ? optionalString(record.text, at, "text")
      : optionalString(record.completion, at, "completion"),
    groundTruth: optionalString(record.ground_truth, at, "ground_truth"),
    signals,
  };
}

/**
 * Rollouts from parsed records of a `metadata.jsonl` (records with `responses`) or a score output
 * (one rollout per record).
 */
export function rolloutsFromRecords(records: JsonlRecord[], file: string): Rollout[] {
  const out: Rollout[] = [];
  records.forEach((rec, i) => {
    const at = { file, line: rec.line };
    if (!isObject(rec.value)) {
      fail(at, `expected a JSON object, got ${JSON.stringify(rec.value)?.slice(0, 40)}`);
    }
    if ("responses" in rec.value) out.push(...metadataRollouts(rec.value, at, i));
    else out.push(scoreRollout(rec.value, at, i));
  });
  return out;
}

/**
 * Reads rollouts from a run directory (its `metadata.jsonl`), a `metadata.jsonl`, or a score output
 * (JSON Lines, or a `.json` array of rows). A torn last line is skipped and reported to `warn`.
 *
 * @example
 * ```ts
 * import { readRollouts } from "./mod.ts";
 * const rollouts = await readRollouts("runs/my-run");
 * rollouts.filter((r) => r.correct !== null).length;
 * ```
 */
export async function readRollouts(
  path: string,
  warn: (message: string) => void = stderrWarn,
): Promise<Rollout[]> {
  let file = path;
  const info = await Deno.stat(path).catch(() => null);
  if (info === null) throw new InputFileError(path, null, "no such file or directory");
  if (info.isDirectory) file = `${path.replace(/\/$/, "")}/metadata.jsonl`;
  if (file.endsWith(".json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      throw new InputFileError(file, null, `not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(parsed)) throw new InputFileError(file, null, "expected a JSON array of score rows");
    if (parsed.length === 0) throw new InputFileError(file, null, "the array is empty");
    return rolloutsFromRecords(parsed.map((value, i) => ({ line: i + 1, value })), file);
  }
  return rolloutsFromRecords(await readRunLog(file, warn), file);
}

/** Parses `metrics.jsonl` records: every row needs a numeric `step`. */
export function metricsFromRecords(records: JsonlRecord[], file: string): MetricsRow[] {
  return records.map((rec) => {
    const at = { file, line: rec.line };
    if (!isObject(rec.value)) {
      fail(at, `expected a JSON object, got ${JSON.stringify(rec.value)?.slice(0, 40)}`);
    }
    const step = stepOf(rec.value.step, at, true)!;
    const values: Record<string, number> = {};
    for (const [key, v] of Object.entries(rec.value)) {
      if (key === "step") continue;
      if (typeof v === "number" && Number.isFinite(v)) values[key] = v;
      else if (isObject(v)) flattenNumbers(v, key, at, key, values);
    }
    return { step, values };
  });
}

/**
 * Reads `metrics.jsonl` (or the one in a run directory). A torn last line is skipped and reported to
 * `warn`.
 *
 * @example
 * ```ts
 * import { readMetrics } from "./mod.ts";
 * const rows = await readMetrics("runs/my-run");
 * rows.map((r) => r.values["signal/selfCertainty"]);
 * ```
 */
export async function readMetrics(
  path: string,
  warn: (message: string) => void = stderrWarn,
): Promise<MetricsRow[]> {
  const info = await Deno.stat(path).catch(() => null);
  const file = info?.isDirectory ? `${path.replace(/\/$/, "")}/metrics.jsonl` : path;
  return metricsFromRecords(await readRunLog(file, warn), file);
}

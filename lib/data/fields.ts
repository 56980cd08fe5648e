/**
 * Mapping dataset rows onto the fields rlif uses (`problem`, `answer`, Countdown's `target` / `nums`),
 * with presets for the datasets the experiments train and evaluate on.
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { lookupPath, parseFieldPath } from "./field_path.ts";
import { describeRow, type LoadedRows, loadRows, type Row } from "./rows.ts";

/** Where a field comes from: a path into the row, and optionally a transform of the value found there. */
export interface FieldSpec {
  /** Path into the row, e.g. `"question"` or `"prompt[0].content"`. */
  path: string;
  /** Turns the raw value into the field's value; a thrown error is reported with the file and row. */
  transform?: (value: unknown) => unknown;
  /** When true, a missing value gives `undefined` instead of an error. */
  optional?: boolean;
}

/** A field's source: a path, or a {@link FieldSpec}. */
export type FieldSource = string | FieldSpec;

/**
 * Target field name → source. The target `answer` becomes {@link Example.answer} (the ground truth);
 * every other target becomes a template variable and reward metadata in {@link Example.fields}.
 */
export type FieldMapping = Record<string, FieldSource>;

/** One dataset example, ready for prompt rendering and rewards. */
export interface Example {
  /** Template context and `group.meta`: every mapped field except `answer`. */
  fields: Record<string, unknown>;
  /** The ground truth as text, or null when the mapping has no `answer` (e.g. Countdown). */
  answer: string | null;
  /** Where it came from ("data/x.jsonl row 3 (line 3)"), for messages and logs. */
  origin: string;
}

/**
 * The final answer of a GSM8K solution: the text after the last `####`, with thousands separators
 * removed (`"… #### 1,234"` → `"1234"`).
 *
 * @example
 * ```ts
 * import { gsm8kAnswer } from "./mod.ts";
 * gsm8kAnswer("She pays 2 * 600 = 1,200 dollars.\n#### 1,200"); // "1200"
 * ```
 */
export function gsm8kAnswer(solution: unknown): string {
  if (typeof solution !== "string") {
    throw new Error(`expected a GSM8K solution string, got ${typeof solution}`);
  }
  const at = solution.lastIndexOf("####");
  if (at < 0) throw new Error(`no "#### <answer>" line in the solution`);
  const answer = solution.slice(at + 4).trim().replace(/(\d),(?=\d{3}(?!\d))/g, "$1");
  if (answer === "") throw new Error(`nothing after "####" in the solution`);
  return answer;
}

const DAPO_PREFIX =
  "Solve the following math problem step by step. The last line of your response should be of " +
  "the form Answer: $Answer (without quotes) where $Answer is the answer to the problem.";
const DAPO_SUFFIX = 'Remember to put your answer on its own line after "Answer:".';

/**
 * The bare problem of a DAPO-Math-17k prompt: its user message wraps the problem in an instruction to end
 * with an `Answer:` line; that wrapper is removed so a template can ask for `\boxed{}` instead. Text
 * without the wrapper is returned trimmed.
 *
 * @example
 * ```ts
 * import { stripDapoInstruction } from "./mod.ts";
 * stripDapoInstruction(row.prompt[0].content); // "In triangle $ABC$, ..."
 * ```
 */
export function stripDapoInstruction(content: unknown): string {
  if (typeof content !== "string") {
    throw new Error(`expected the prompt text to be a string, got ${typeof content}`);
  }
  let text = content.trim();
  if (text.startsWith(DAPO_PREFIX)) text = text.slice(DAPO_PREFIX.length).trim();
  if (text.endsWith(DAPO_SUFFIX)) text = text.slice(0, -DAPO_SUFFIX.length).trim();
  return text;
}

function countdownTarget(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`expected a number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function countdownNums(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new Error(`expected a non-empty list of non-negative integers, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Names of the built-in field mappings. */
export type DatasetPreset = "math500" | "math12k" | "gsm8k" | "dapo17k" | "countdown";

/**
 * Field mappings of the datasets the experiments use:
 * - `math500` (HuggingFaceH4/MATH-500) and `math12k` (hiyouga/math12k): `problem`, `answer`;
 * - `gsm8k`: `question` → problem, `answer` → the number after `####` ({@link gsm8kAnswer});
 * - `dapo17k` (BytedTsinghua-SIA/DAPO-Math-17k, verl layout): `prompt[0].content` with the answer-line
 *   instruction removed ({@link stripDapoInstruction}) → problem, `reward_model.ground_truth` → answer;
 * - `countdown` (Countdown-Tasks-3to4): `target` (a number), `nums` (non-negative integers); no answer
 *   (the reward checks the equation).
 */
export const DATASET_PRESETS: Readonly<Record<DatasetPreset, FieldMapping>> = {
  math500: { problem: "problem", answer: "answer" },
  math12k: { problem: "problem", answer: "answer" },
  gsm8k: { problem: "question", answer: { path: "answer", transform: gsm8kAnswer } },
  dapo17k: {
    problem: { path: "prompt[0].content", transform: stripDapoInstruction },
    answer: "reward_model.ground_truth",
  },
  countdown: {
    target: { path: "target", transform: countdownTarget },
    nums: { path: "nums", transform: countdownNums },
  },
};

/** The preset's mapping, or an error listing the presets. */
export function presetFields(name: string): FieldMapping {
  const preset = (DATASET_PRESETS as Record<string, FieldMapping>)[name];
  if (!preset) {
    throw new DataError(
      `unknown dataset preset "${name}"; valid presets: ${Object.keys(DATASET_PRESETS).join(", ")}`,
    );
  }
  return preset;
}

function answerText(value: unknown): string {
  if (typeof value === "string") return value.trim();
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return value.toString();
  throw new Error(`the answer must be a string or a number, got ${JSON.stringify(value)}`);
}

/**
 * Applies `mapping` to every row; a missing field or a failing transform is an error naming the file,
 * the row, the field and its path, and listing the row's fields.
 *
 * @example
 * ```ts
 * import { DATASET_PRESETS, loadRows, mapRows } from "./mod.ts";
 * const examples = mapRows(await loadRows("gsm8k.jsonl"), DATASET_PRESETS.gsm8k);
 * examples[0]; // { fields: { problem: "Natalia sold ..." }, answer: "72", origin: "gsm8k.jsonl row 1 (line 1)" }
 * ```
 */
export function mapRows(loaded: LoadedRows, mapping: FieldMapping): Example[] {
  const specs = Object.entries(mapping).map(([field, source]) => {
    const spec: FieldSpec = typeof source === "string" ? { path: source } : source;
    if (typeof spec?.path !== "string") {
      throw new DataError(`field mapping: "${field}" needs a path string, got ${JSON.stringify(source)}`);
    }
    let steps;
    try {
      steps = parseFieldPath(spec.path);
    } catch (e) {
      throw new DataError(`field mapping for "${field}": ${(e as Error).message}`, { cause: e });
    }
    return { field, spec, steps };
  });
  if (specs.length === 0) throw new DataError("field mapping is empty; map at least one field");
  return loaded.rows.map((row: Row, i) => {
    const origin = describeRow(loaded, i);
    const fields: Record<string, unknown> = {};
    let answer: string | null = null;
    for (const { field, spec, steps } of specs) {
      const hit = lookupPath(row, steps);
      if (!hit.found) {
        if (spec.optional) continue;
        throw new DataError(
          `${origin}: missing field "${field}" (path "${spec.path}": ${hit.reason}); ` +
            `the row's fields are: ${Object.keys(row).join(", ") || "(none)"}`,
        );
      }
      let value = hit.value;
      try {
        if (spec.transform) value = spec.transform(value);
        if (field === "answer") answer = answerText(value);
      } catch (e) {
        throw new DataError(`${origin}: field "${field}" (path "${spec.path}"): ${(e as Error).message}`, {
          cause: e,
        });
      }
      if (field !== "answer") fields[field] = value;
    }
    return { fields, answer, origin };
  });
}

/**
 * {@link mapRows} for rows held in memory (synthetic tasks, tests); `source` names them in messages.
 *
 * @example
 * ```ts
 * import { arithmeticTask, examplesFromRows } from "./mod.ts";
 * examplesFromRows(arithmeticTask({ count: 4, seed: 1 }), { problem: "problem", answer: "answer" }, "arith");
 * ```
 */
export function examplesFromRows(rows: readonly Row[], mapping: FieldMapping, source = "rows"): Example[] {
  return mapRows({ file: source, rows: [...rows], lines: null }, mapping);
}

/** Options for {@link loadExamples}. */
export interface LoadExamplesOptions {
  /** A built-in mapping (see {@link DATASET_PRESETS}). */
  preset?: DatasetPreset | string;
  /** A mapping, or extra fields added to (and overriding) the preset's. */
  fields?: FieldMapping;
  /** Keep only the first `limit` rows. */
  limit?: number;
}

/**
 * Loads a dataset file and maps its rows; needs a preset, a mapping, or both.
 *
 * @example
 * ```ts
 * import { loadExamples } from "./mod.ts";
 * const math = await loadExamples("data/math500.jsonl", { preset: "math500", limit: 100 });
 * const dapo = await loadExamples("data/dapo-math-17k.parquet", { preset: "dapo17k" });
 * ```
 */
export async function loadExamples(path: string, options: LoadExamplesOptions): Promise<Example[]> {
  if (options.preset === undefined && options.fields === undefined) {
    throw new DataError(
      `${path}: say how to read the rows: a preset (${
        Object.keys(DATASET_PRESETS).join(", ")
      }) or a field mapping`,
    );
  }
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 0)) {
    throw new DataError(`${path}: limit must be a non-negative integer, got ${options.limit}`);
  }
  const mapping = {
    ...(options.preset !== undefined ? presetFields(options.preset) : {}),
    ...options.fields,
  };
  const loaded = await loadRows(path);
  if (options.limit !== undefined) {
    loaded.rows = loaded.rows.slice(0, options.limit);
    loaded.lines = loaded.lines?.slice(0, options.limit) ?? null;
  }
  return mapRows(loaded, mapping);
}

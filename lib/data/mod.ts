/**
 * Datasets and prompts: JSON Lines / JSON / Parquet rows, field mappings with presets (MATH-500,
 * math12k, GSM8K, DAPO-Math-17k, Countdown), Jinja prompt templates with or without the model's chat
 * template, and seeded synthetic tasks (arithmetic, Countdown).
 *
 * @example
 * ```ts
 * import { loadExamples, loadPromptTemplate } from "./lib/data/mod.ts";
 * const examples = await loadExamples("data/math500.jsonl", { preset: "math500" });
 * const template = await loadPromptTemplate("configs/templates/think_boxed.jinja");
 * const prompt = template.render(examples[0].fields);
 * ```
 *
 * @module
 */

export { DataError } from "./errors.ts";
export {
  describeRow,
  type LoadedRows,
  loadRows,
  normalizeParquetValue,
  parseJsonlRows,
  parseJsonRows,
  parseParquetRows,
  type Row,
  ROW_FILE_EXTENSIONS,
} from "./rows.ts";
export { lookupPath, parseFieldPath, type PathLookup, type PathStep } from "./field_path.ts";
export {
  DATASET_PRESETS,
  type DatasetPreset,
  type Example,
  examplesFromRows,
  type FieldMapping,
  type FieldSource,
  type FieldSpec,
  gsm8kAnswer,
  loadExamples,
  type LoadExamplesOptions,
  mapRows,
  presetFields,
  stripDapoInstruction,
} from "./fields.ts";
export {
  type ApplyChatTemplate,
  loadPromptTemplate,
  type PromptMessage,
  type PromptParts,
  PromptTemplate,
  type RenderPromptOptions,
  RESERVED_TEMPLATE_NAMES,
} from "./prompt_template.ts";
export { randomChoice, randomInt, seededRandom, shuffled } from "./rng.ts";
export {
  type ArithmeticOp,
  type ArithmeticRow,
  arithmeticTask,
  type ArithmeticTaskOptions,
  type CountdownRow,
  countdownTask,
  type CountdownTaskOptions,
  solveCountdown,
} from "./synthetic.ts";
export { InputFileError, type JsonlRecord, parseJsonl, readJsonlRecords, toJsonl } from "./jsonl_input.ts";

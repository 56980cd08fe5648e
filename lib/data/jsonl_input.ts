/**
 * JSON Lines input for evaluation: parsing that names the file and line of every problem.
 *
 * @module
 */

import { RlifError } from "../errors.ts";

/** An error in an input file, carrying where it happened. */
export class InputFileError extends RlifError {
  /** Error name shown in stack traces. */
  override name = "InputFileError";
  /** Path of the file. */
  readonly file: string;
  /** 1-based line number, or null for whole-file problems. */
  readonly line: number | null;

  /** Builds `file:line: detail`, where `detail` says what is wrong and what would be valid. */
  constructor(file: string, line: number | null, detail: string) {
    super("input.file", line === null ? `${file}: ${detail}` : `${file}:${line}: ${detail}`);
    this.file = file;
    this.line = line;
  }
}

/** A parsed JSON Lines record with its 1-based line number. */
export interface JsonlRecord {
  /** 1-based line number in the file. */
  line: number;
  /** The parsed value. */
  value: unknown;
}

/**
 * Parses JSON Lines text; blank lines are skipped. Throws {@link InputFileError} naming the line
 * that is not JSON, and for an input with no records at all.
 *
 * @example
 * ```ts
 * import { parseJsonl } from "./mod.ts";
 * parseJsonl('{"a":1}\n\n{"a":2}\n', "x.jsonl"); // [{ line: 1, value: { a: 1 } }, { line: 3, value: { a: 2 } }]
 * ```
 */
export function parseJsonl(text: string, file = "<input>"): JsonlRecord[] {
  const records: JsonlRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === "") continue;
    try {
      records.push({ line: i + 1, value: JSON.parse(raw) });
    } catch (e) {
      const preview = raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
      throw new InputFileError(
        file,
        i + 1,
        `not valid JSON (${(e as Error).message}): ${preview}. Each line must hold one JSON object.`,
      );
    }
  }
  if (records.length === 0) {
    throw new InputFileError(file, null, "the file is empty; expected one JSON object per line");
  }
  return records;
}

/** The text of an input file; a missing one is an {@link InputFileError} naming it. */
export async function readInputText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new InputFileError(path, null, "no such file");
    throw e;
  }
}

/** Reads and parses a JSON Lines file (see {@link parseJsonl}). */
export async function readJsonlRecords(path: string): Promise<JsonlRecord[]> {
  return parseJsonl(await readInputText(path), path);
}

/** Serialises records as JSON Lines (one object per line, trailing newline). */
export function toJsonl(records: readonly unknown[]): string {
  return records.map((r) => JSON.stringify(r)).join("\n") + (records.length ? "\n" : "");
}

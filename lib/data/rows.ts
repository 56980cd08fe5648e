/**
 * Reading dataset files into rows: JSON Lines, JSON (an array, or `{ "data": [...] }`) and Parquet
 * (through hyparquet).
 *
 * @module
 */

import { gunzipSync } from "node:zlib";
import { parquetReadObjects } from "hyparquet";
import { DataError } from "./errors.ts";

/** A dataset row: one JSON object or one Parquet record. */
export type Row = Record<string, unknown>;

/** The rows of one file, with what is needed to point at a row in an error message. */
export interface LoadedRows {
  /** The path the rows came from. */
  file: string;
  /** The rows in file order. */
  rows: Row[];
  /** For JSON Lines, the 1-based line of each row (blank lines are skipped); null for other formats. */
  lines: number[] | null;
}

/** The file formats {@link loadRows} reads, by extension. */
export const ROW_FILE_EXTENSIONS: readonly string[] = [".jsonl", ".json", ".parquet"];

/** "file row 3 (line 4)": row numbers are 1-based; the line is given for JSON Lines. */
export function describeRow(loaded: LoadedRows, index: number): string {
  const line = loaded.lines?.[index];
  return `${loaded.file} row ${index + 1}${line !== undefined ? ` (line ${line})` : ""}`;
}

function isRow(value: unknown): value is Row {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

/**
 * Parquet INT64 columns decode to BigInt; datasets use them for small counts and ids, so they become
 * numbers when exactly representable (and stay BigInt otherwise). Lists and structs are walked.
 */
export function normalizeParquetValue(value: unknown): unknown {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (Array.isArray(value)) return value.map(normalizeParquetValue);
  if (isRow(value) && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Row = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalizeParquetValue(v);
    return out;
  }
  return value;
}

/** Parses JSON Lines text; `file` names the source in errors. */
export function parseJsonlRows(text: string, file: string): LoadedRows {
  const rows: Row[] = [];
  const lines: number[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new DataError(`${file} line ${i + 1}: not valid JSON: ${(e as Error).message}`, { cause: e });
    }
    if (!isRow(value)) {
      throw new DataError(`${file} line ${i + 1}: expected a JSON object, got ${kindOf(value)}`);
    }
    rows.push(value);
    lines.push(i + 1);
  });
  return { file, rows, lines };
}

/** Parses a JSON document holding an array of rows or `{ "data": [...] }`; `file` names the source. */
export function parseJsonRows(text: string, file: string): LoadedRows {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new DataError(`${file}: not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  let list: unknown;
  if (Array.isArray(doc)) list = doc;
  else if (isRow(doc) && Array.isArray(doc.data)) list = doc.data;
  else {
    const keys = isRow(doc) ? `an object with keys ${Object.keys(doc).join(", ") || "(none)"}` : kindOf(doc);
    throw new DataError(`${file}: expected an array of rows or {"data": [...]}, got ${keys}`);
  }
  const rows = list as unknown[];
  rows.forEach((row, i) => {
    if (!isRow(row)) throw new DataError(`${file} row ${i + 1}: expected a JSON object, got ${kindOf(row)}`);
  });
  return { file, rows: rows as Row[], lines: null };
}

/** The codecs hyparquet lacks built in (it has snappy): gzip, through node:zlib. */
const PARQUET_COMPRESSORS = { GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)) };

/**
 * Every row of a Parquet file's bytes, as hyparquet decodes them (INT64 stays BigInt), for snappy, gzip
 * and uncompressed files; anything else throws hyparquet's error for the caller to wrap.
 */
export async function readParquetObjects(bytes: Uint8Array): Promise<Row[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return await parquetReadObjects({ file, compressors: PARQUET_COMPRESSORS }) as Row[];
}

/** Reads a Parquet file's bytes into rows (all columns, INT64 as numbers where exact). */
export async function parseParquetRows(bytes: Uint8Array, file: string): Promise<LoadedRows> {
  let records: Row[];
  try {
    records = await readParquetObjects(bytes);
  } catch (e) {
    throw new DataError(
      `${file}: cannot read as Parquet: ${
        (e as Error).message
      }; snappy, gzip and uncompressed files are supported`,
      { cause: e },
    );
  }
  return { file, rows: records.map((r) => normalizeParquetValue(r) as Row), lines: null };
}

/**
 * Reads a `.jsonl`, `.json` or `.parquet` file into rows; an empty file, or one without rows, is a
 * {@link DataError} naming it.
 *
 * @example
 * ```ts
 * import { loadRows } from "./mod.ts";
 * const { rows } = await loadRows("data/math500.jsonl");
 * rows[0].problem; // "Convert the point ..."
 * ```
 */
export async function loadRows(path: string): Promise<LoadedRows> {
  const lower = path.toLowerCase();
  const ext = ROW_FILE_EXTENSIONS.find((e) => lower.endsWith(e));
  if (!ext) {
    throw new DataError(`${path}: unsupported dataset file; use one of ${ROW_FILE_EXTENSIONS.join(", ")}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read the dataset file: ${(e as Error).message}`, { cause: e });
  }
  if (bytes.length === 0) throw new DataError(`${path}: the file is empty; a dataset needs at least one row`);
  const loaded = ext === ".parquet"
    ? await parseParquetRows(bytes, path)
    : ext === ".jsonl"
    ? parseJsonlRows(new TextDecoder().decode(bytes), path)
    : parseJsonRows(new TextDecoder().decode(bytes), path);
  if (loaded.rows.length === 0) {
    throw new DataError(`${path}: the file has no rows; a dataset needs at least one`);
  }
  return loaded;
}

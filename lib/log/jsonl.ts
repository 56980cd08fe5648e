/**
 * JSON Lines files written so that a crash can leave at most one partial line at the end, and cut back
 * on resume so a resumed run's logs equal those of a run that was never interrupted.
 *
 * JSON has no NaN or Infinity: such numbers are written as `null` (JSON.stringify's behaviour).
 *
 * @module
 */

import { writeAll } from "./atomic.ts";

/** One decoded line: its value, its 1-based line number and byte range in the file. */
export interface JsonlLine {
  /** The parsed JSON value. */
  value: unknown;
  /** 1-based line number. */
  line: number;
  /** Byte offset of the line's first byte. */
  start: number;
}

/**
 * Encodes values as JSON lines (each ends in `\n`; JSON.stringify escapes newlines inside strings,
 * so one value is always one line).
 *
 * @example
 * ```ts
 * new TextDecoder().decode(encodeJsonLines([{ step: 1 }, { step: 2 }])); // '{"step":1}\n{"step":2}\n'
 * ```
 */
export function encodeJsonLines(values: readonly unknown[]): Uint8Array {
  return new TextEncoder().encode(values.map((v) => JSON.stringify(v) + "\n").join(""));
}

/**
 * Appends values as whole lines with one write of one buffer, so a crash leaves complete lines plus at
 * most one partial last line (which {@link truncateJsonl} removes).
 *
 * @example
 * ```ts
 * const f = await Deno.open("metrics.jsonl", { append: true, create: true });
 * await appendJsonLines(f, [{ step: 1, loss: 0.5 }]);
 * ```
 */
export async function appendJsonLines(file: Deno.FsFile, values: readonly unknown[]): Promise<void> {
  if (values.length === 0) return;
  await writeAll(file, encodeJsonLines(values));
}

function splitLines(bytes: Uint8Array, path: string): { lines: JsonlLine[]; partialStart: number | null } {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const lines: JsonlLine[] = [];
  let start = 0, lineNo = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    lineNo++;
    let value: unknown, blank = false;
    try {
      const text = decoder.decode(bytes.subarray(start, i));
      blank = text.trim() === "";
      if (!blank) value = JSON.parse(text);
    } catch (e) {
      throw new Error(
        `${path}:${lineNo}: not valid UTF-8 JSON (${(e as Error).message}); the log is corrupt`,
      );
    }
    if (!blank) lines.push({ value, line: lineNo, start });
    start = i + 1;
  }
  return { lines, partialStart: start < bytes.length ? start : null };
}

/**
 * Reads a JSON Lines file; a trailing line without its `\n` (a write cut short by a crash) is
 * ignored. A malformed complete line is an error naming the file and line.
 *
 * @example
 * ```ts
 * const rows = await readJsonl("runs/x/metrics.jsonl");
 * ```
 */
export async function readJsonl(path: string): Promise<unknown[]> {
  return splitLines(await Deno.readFile(path), path).lines.map((l) => l.value);
}

/** What {@link truncateJsonl} removed. */
export interface TruncateResult {
  /** Complete lines kept. */
  kept: number;
  /** Complete lines removed because their step is after the kept step. */
  dropped: number;
  /** Whether a partial trailing line was removed. */
  partial: boolean;
}

/**
 * Cuts a JSON Lines log of `{"step": n, …}` objects back to the lines with `step <= keepThroughStep`,
 * removing a partial trailing line too. Steps must not decrease along the file (the writer guarantees
 * it), so the cut is a single truncation at the first later line; a missing file is left missing.
 *
 * @example
 * ```ts
 * await truncateJsonl("runs/x/metrics.jsonl", 20); // resume from the checkpoint of step 20
 * ```
 */
export async function truncateJsonl(path: string, keepThroughStep: number): Promise<TruncateResult> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { kept: 0, dropped: 0, partial: false };
    throw e;
  }
  const { lines, partialStart } = splitLines(bytes, path);
  let cut = partialStart ?? bytes.length;
  let kept = 0, prev = -Infinity;
  for (const l of lines) {
    const step = (l.value as { step?: unknown } | null)?.step;
    if (typeof step !== "number" || !Number.isInteger(step)) {
      throw new Error(
        `${path}:${l.line}: no integer "step" field; cannot cut the log back to step ${keepThroughStep}`,
      );
    }
    if (step < prev) {
      throw new Error(
        `${path}:${l.line}: step ${step} follows step ${prev}; steps in a log must not decrease`,
      );
    }
    prev = step;
    if (step <= keepThroughStep) kept++;
    else if (cut > l.start) cut = l.start;
  }
  if (cut < bytes.length) {
    await Deno.truncate(path, cut);
    const f = await Deno.open(path, { write: true });
    try {
      await f.sync();
    } finally {
      f.close();
    }
  }
  return { kept, dropped: lines.length - kept, partial: partialStart !== null };
}

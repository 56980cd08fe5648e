/**
 * A run directory: `config.yaml` (the resolved config), `metrics.jsonl` (one object per step) and
 * `metadata.jsonl` (one {@link MetadataEntry} per prompt per step), plus whatever checkpoints the
 * trainer puts there.
 *
 * Appends are whole lines written with one write call each, steps never decrease, and
 * {@link RunDir.resume} cuts both logs back to the checkpointed step (also removing a line a crash cut
 * short), so a resumed run's logs equal those of a run that was never interrupted. Call
 * {@link RunDir.sync} when a checkpoint is written so the logs up to it are on disk too.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "./atomic.ts";
import { appendJsonLines, readJsonl, truncateJsonl } from "./jsonl.ts";
import type { MetadataEntry } from "./metadata.ts";

/** One line of metrics.jsonl: the step and any numeric (or other JSON) values. */
export interface MetricsEntry {
  /** Training step the metrics belong to. */
  step: number;
  /** Metric values (NaN / Infinity are written as null). */
  [metric: string]: unknown;
}

/** Options of {@link RunDir.create}. */
export interface RunDirOptions {
  /** Parent directory of new runs (default "runs"). */
  root?: string;
  /** Run name; the directory is `<root>/<name>-<YYYYMMDD-HHMMSS>` in UTC (default "run"). */
  name?: string;
  /** Use exactly this directory instead (created if missing; must not hold logs already). */
  dir?: string;
  /** Clock for the timestamp (tests). */
  now?: Date;
}

/** File names inside a run directory. */
export const RUN_FILES = {
  config: "config.yaml",
  metrics: "metrics.jsonl",
  metadata: "metadata.jsonl",
} as const;

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/**
 * The name of every run folder rlif makes, training or evaluation: `<name>-YYYYMMDD-HHMMSS` in UTC.
 *
 * @example
 * ```ts
 * runDirName("eval", new Date(Date.UTC(2026, 10, 30, 15, 24, 11))); // "eval-20261130-152411"
 * ```
 */
export function runDirName(name: string, now: Date = new Date()): string {
  if (!/^[\w.-]+$/.test(name)) {
    throw new RangeError(`run name ${JSON.stringify(name)} may only use letters, digits, '.', '_' and '-'`);
  }
  return `${name}-${timestamp(now)}`;
}

/**
 * A path `<root>/<runDirName(name)>` that does not exist yet (with a `-2`, `-3`, … suffix when taken),
 * for a task that creates its run folder only when it writes its results (eval, interpolate).
 */
export async function freshRunPath(root: string, name: string, now: Date = new Date()): Promise<string> {
  const base = join(root, runDirName(name, now));
  for (let k = 1;; k++) {
    const path = k === 1 ? base : `${base}-${k}`;
    try {
      await Deno.lstat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return path;
      throw e;
    }
  }
}

async function nonEmpty(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).size > 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Writer for one run directory; see the module docs.
 *
 * @example
 * ```ts
 * const run = await RunDir.create({ root: "runs", name: "grpo" });
 * await run.appendMetrics({ step: 1, loss: 0.12 });
 * await run.close();
 * ```
 */
export class RunDir {
  /** The directory. */
  readonly path: string;
  #metrics: Deno.FsFile | null = null;
  #metadata: Deno.FsFile | null = null;
  #lastMetricsStep: number;
  #lastMetadataStep: number;

  private constructor(path: string, lastStep: number) {
    this.path = path;
    this.#lastMetricsStep = lastStep;
    this.#lastMetadataStep = lastStep;
  }

  /**
   * Creates a fresh run directory (a `-2`, `-3`, … suffix when the timestamped name is taken).
   *
   * @example
   * ```ts
   * const run = await RunDir.create({ root: "runs", name: "intuitor" });
   * await run.writeConfig(configYaml);
   * ```
   */
  static async create(options: RunDirOptions = {}): Promise<RunDir> {
    if (options.dir !== undefined) {
      await Deno.mkdir(options.dir, { recursive: true });
      for (const f of [RUN_FILES.metrics, RUN_FILES.metadata]) {
        if (await nonEmpty(join(options.dir, f))) {
          throw new Error(
            `RunDir: ${
              join(options.dir, f)
            } already holds logs; resume that run (RunDir.resume) or pick a new directory`,
          );
        }
      }
      return new RunDir(options.dir, -Infinity);
    }
    const root = options.root ?? "runs";
    const base = join(root, runDirName(options.name ?? "run", options.now));
    await Deno.mkdir(root, { recursive: true });
    for (let k = 1;; k++) {
      const path = k === 1 ? base : `${base}-${k}`;
      try {
        await Deno.mkdir(path); // not recursive: fails when taken, so two runs never share a directory
        return new RunDir(path, -Infinity);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
    }
  }

  /**
   * Reopens a run for resuming from the checkpoint taken after `step`: both logs are cut back to the
   * lines with `step <= step`, a partial last line included, and appends continue after them.
   *
   * @example
   * ```ts
   * const run = await RunDir.resume("runs/intuitor-20250101-120000", 20);
   * ```
   */
  static async resume(dir: string, step: number): Promise<RunDir> {
    if (!Number.isInteger(step) || step < 0) {
      throw new Error(`RunDir.resume: step ${step} must be an integer >= 0 (the checkpoint's step)`);
    }
    try {
      if (!(await Deno.stat(dir)).isDirectory) throw new Error("not a directory");
    } catch (e) {
      throw new Error(`RunDir.resume: ${dir} is not a run directory (${(e as Error).message})`);
    }
    for (const f of [RUN_FILES.metrics, RUN_FILES.metadata]) await truncateJsonl(join(dir, f), step);
    return new RunDir(dir, step);
  }

  /** Path of a file inside the run directory (checkpoints, plots). */
  file(name: string): string {
    return join(this.path, name);
  }

  /** Writes config.yaml atomically (the resolved config, so the run can be repeated from it). */
  async writeConfig(yamlText: string): Promise<void> {
    await writeFileAtomic(this.file(RUN_FILES.config), yamlText);
  }

  /** Appends one metrics line per entry; steps must not decrease. */
  async appendMetrics(entries: MetricsEntry | readonly MetricsEntry[]): Promise<void> {
    const list = Array.isArray(entries) ? entries : [entries as MetricsEntry];
    this.#lastMetricsStep = RunDir.#checkSteps(list, this.#lastMetricsStep, RUN_FILES.metrics);
    this.#metrics ??= await Deno.open(this.file(RUN_FILES.metrics), { append: true, create: true });
    await appendJsonLines(this.#metrics, list);
  }

  /** Appends one metadata line per prompt; steps must not decrease. */
  async appendMetadata(entries: readonly MetadataEntry[]): Promise<void> {
    this.#lastMetadataStep = RunDir.#checkSteps(entries, this.#lastMetadataStep, RUN_FILES.metadata);
    this.#metadata ??= await Deno.open(this.file(RUN_FILES.metadata), { append: true, create: true });
    await appendJsonLines(this.#metadata, entries);
  }

  /** Reads metrics.jsonl back (a partial last line is skipped). */
  async readMetrics(): Promise<MetricsEntry[]> {
    return await RunDir.#read(this.file(RUN_FILES.metrics)) as MetricsEntry[];
  }

  /** Reads metadata.jsonl back as plain objects (see parseMetadataEntry for checked entries). */
  async readMetadata(): Promise<unknown[]> {
    return await RunDir.#read(this.file(RUN_FILES.metadata));
  }

  /** fsyncs both logs, e.g. right after a checkpoint is written. */
  async sync(): Promise<void> {
    await this.#metrics?.sync();
    await this.#metadata?.sync();
  }

  /** Flushes and closes the log files; appends reopen them. */
  async close(): Promise<void> {
    await this.sync();
    this.#metrics?.close();
    this.#metadata?.close();
    this.#metrics = this.#metadata = null;
  }

  static async #read(path: string): Promise<unknown[]> {
    try {
      return await readJsonl(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  static #checkSteps(entries: readonly { step: number }[], last: number, file: string): number {
    for (const e of entries) {
      const s = e?.step;
      if (typeof s !== "number" || !Number.isInteger(s) || s < 0) {
        throw new Error(`RunDir: ${file} entry has step ${JSON.stringify(s)}; it needs an integer step >= 0`);
      }
      if (s < last) {
        throw new Error(`RunDir: ${file} entry for step ${s} after step ${last}; steps must not decrease`);
      }
      last = s;
    }
    return last;
  }
}

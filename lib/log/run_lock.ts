/**
 * One writer per run directory: the writer holds `RUN/run.lock`, a small JSON file naming its pid, host
 * and start time. The file is created with `createNew` (O_CREAT|O_EXCL), so of two processes racing for a
 * directory exactly one wins; the other is refused with a {@link RunLockedError} naming the holder. A lock
 * left behind by a process that died (kill -9, power loss) is stale and taken over: on the same host its
 * pid is gone, or now belongs to a process that started at another time (pid reuse). A lock from another
 * host cannot be checked from here and is never taken over.
 *
 * @module
 */
import { join } from "node:path";
import { RlifError } from "../errors.ts";

/** Name of the lock file inside a run directory. */
export const RUN_LOCK_FILE = "run.lock";

/** What the lock file records about its holder. */
export interface RunLockHolder {
  /** Process id of the writer. */
  pid: number;
  /** Host name the writer runs on. */
  host: string;
  /** When the lock was taken (ISO 8601, UTC). */
  since: string;
  /** The writer's start time in clock ticks since boot (Linux /proc), to tell a reused pid apart. */
  started: number | null;
}

/** A second writer found the run directory locked by a live process; code "run.locked". */
export class RunLockedError extends RlifError {
  /** The process holding the lock. */
  readonly holder: RunLockHolder;
  /** Creates the error for `dir`, held by `holder`. */
  constructor(dir: string, holder: RunLockHolder) {
    const sameHost = holder.host === Deno.hostname();
    super(
      "run.locked",
      `${dir} is in use by another run: pid ${holder.pid} on ${holder.host} since ${holder.since} ` +
        `holds ${join(dir, RUN_LOCK_FILE)}. Wait for it to finish or stop it` +
        (sameHost ? "" : `; if that process no longer exists on ${holder.host}, delete the lock file`) +
        ".",
    );
    this.name = "RunLockedError";
    this.holder = holder;
  }
}

/** A process's start time in clock ticks since boot, or null where /proc cannot tell (not Linux). */
export function processStartTime(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses; the fields after its last ")" do not.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/**
 * Whether process `pid` on this host is gone. Only Linux's /proc gives a definite answer; elsewhere
 * every process counts as alive, so a lock is never taken from a writer that might still run.
 */
export function processIsDead(pid: number, started: number | null = null): boolean {
  if (Deno.build.os !== "linux") return false;
  let alive = true;
  try {
    Deno.statSync(`/proc/${pid}`);
  } catch {
    alive = false;
  }
  if (!alive) return true;
  if (started === null) return false;
  const now = processStartTime(pid);
  return now !== null && now !== started;
}

function parseHolder(text: string): RunLockHolder | null {
  try {
    const h = JSON.parse(text);
    if (
      typeof h?.pid === "number" && typeof h.host === "string" && typeof h.since === "string" &&
      (h.started === null || typeof h.started === "number" || h.started === undefined)
    ) {
      return { pid: h.pid, host: h.host, since: h.since, started: h.started ?? null };
    }
  } catch {
    // A lock file cut short while it was written; handled as unreadable below.
  }
  return null;
}

/**
 * The lock on one run directory, held by this process until {@link RunLock.release}. Also usable with
 * `using`, which releases it when the scope is left, by return or by throw.
 *
 * @example
 * ```ts
 * const lock = RunLock.acquire("runs/intuitor-20250101-120000");
 * try {
 *   // … append logs, write checkpoints …
 * } finally {
 *   lock.release();
 * }
 * ```
 */
export class RunLock implements Disposable {
  /** The lock file. */
  readonly path: string;
  /** What this process wrote into it. */
  readonly holder: RunLockHolder;
  #held = true;

  private constructor(path: string, holder: RunLockHolder) {
    this.path = path;
    this.holder = holder;
  }

  /**
   * Takes the lock of `dir`, taking over a stale one (its holder is dead); throws {@link RunLockedError}
   * when a live process holds it. Synchronous, so that no other code runs between the check and the take.
   */
  static acquire(dir: string): RunLock {
    const path = join(dir, RUN_LOCK_FILE);
    const host = Deno.hostname();
    const holder: RunLockHolder = {
      pid: Deno.pid,
      host,
      since: new Date().toISOString(),
      started: processStartTime(Deno.pid),
    };
    const text = JSON.stringify(holder) + "\n";
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const f = Deno.openSync(path, { write: true, createNew: true });
        try {
          f.writeSync(new TextEncoder().encode(text));
          f.syncSync();
        } finally {
          f.close();
        }
        return new RunLock(path, holder);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      let existing: string;
      try {
        existing = Deno.readTextFileSync(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // released meanwhile: try again
        throw e;
      }
      const other = parseHolder(existing);
      if (other !== null && (other.host !== host || !processIsDead(other.pid, other.started))) {
        throw new RunLockedError(dir, other);
      }
      if (other === null && Date.now() - Deno.statSync(path).mtime!.getTime() < 10_000) {
        // An unreadable lock younger than a few seconds may be one a live writer is still filling in.
        throw new RlifError(
          "run.locked",
          `${path} exists but names no holder yet (a writer may be starting); try again in a few seconds`,
        );
      }
      // Stale. Removing it only when it still holds what was read keeps a second taker from deleting
      // the lock the first taker has just created.
      try {
        if (Deno.readTextFileSync(path) === existing) Deno.removeSync(path);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    throw new RlifError("run.locked", `${path}: could not take the lock; other processes keep taking it`);
  }

  /** Removes the lock file (when it is still this process's); calling it again does nothing. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      const current = parseHolder(Deno.readTextFileSync(this.path));
      if (current?.pid === this.holder.pid && current.since === this.holder.since) Deno.removeSync(this.path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** Releases the lock at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.release();
  }
}

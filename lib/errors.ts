/**
 * The one base class of every error rlif raises for a problem the user can fix (a bad config, flag, file,
 * model or dataset, a missing GPU, diverged training). Anything else that escapes is a bug. `code` is
 * stable across releases, so callers branch on it instead of on the message or the class.
 *
 * @module
 */

/**
 * An error about the user's input or environment, with a stable `code` such as "config.invalid",
 * "checkpoint.mismatch", "gpu.no_adapter" or "nonfinite". Codes beginning with `usage` or `config.` are
 * invocation mistakes (the scripts exit with status 2 for them, 1 for the others).
 *
 * @example
 * ```ts
 * try {
 *   await loadModel("models/missing");
 * } catch (e) {
 *   if (e instanceof RlifError && e.code === "model.config") console.error(e.message);
 *   else throw e;
 * }
 * ```
 */
export class RlifError extends Error {
  /** Stable machine-readable identifier of the kind of problem. */
  readonly code: string;
  /** Creates an error of kind `code`. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RlifError";
    this.code = code;
  }
}

/** A command-line mistake (unknown flag, bad flag value, missing argument); code "usage". */
export class UsageError extends RlifError {
  /** Creates the error; the message names the flag and what would be valid. */
  constructor(message: string, options?: ErrorOptions) {
    super("usage", message, options);
    this.name = "UsageError";
  }
}

/**
 * Whether an error is an invocation mistake (code "usage" or "config.*"), as opposed to a problem met while
 * doing the work.
 */
export function isInvocationError(e: unknown): boolean {
  return e instanceof RlifError && (e.code === "usage" || e.code.startsWith("config."));
}

/** The signals a run stops cleanly on, and the exit status each gives (128 + the signal's number). */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Work stopped by SIGINT (Ctrl-C) or SIGTERM (a scheduler, `timeout`, a container stop) after saving what
 * it had; code "interrupted". The scripts exit with {@link Interrupted.exitCode} (130 or 143), as a
 * process killed by the signal would, and the message says how to continue.
 */
export class Interrupted extends RlifError {
  /** The signal that stopped the work. */
  readonly signal: keyof typeof STOP_SIGNALS;
  /** The run directory to resume, when there is one. */
  readonly runDir: string | null;
  /** Creates the error; `message` says what was saved and how to continue. */
  constructor(signal: keyof typeof STOP_SIGNALS, message: string, runDir: string | null = null) {
    super("interrupted", message);
    this.name = "Interrupted";
    this.signal = signal;
    this.runDir = runDir;
  }
  /** 130 for SIGINT, 143 for SIGTERM. */
  get exitCode(): number {
    return STOP_SIGNALS[this.signal];
  }
}

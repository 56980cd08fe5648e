/**
 * The scripts' entry layer: flags parsed with node:util `parseArgs` and checked by schemas, and
 * {@link runMain}, the one place that turns an error into an exit status. Library code never exits; it
 * throws, and this module decides what the user sees:
 *
 * - an {@link RlifError} (a problem with the input the user can fix) prints `error: <message>` without a
 *   stack trace and exits with status 2 when it is an invocation mistake (code "usage" or "config.*": a
 *   bad flag or config) and 1 otherwise (a bad model, dataset, diverged training, no GPU);
 * - an `Interrupted` (SIGINT or SIGTERM stopped the work after saving it) prints its message and exits
 *   with 130 or 143, the status of a process the signal killed;
 * - an operating-system error about a file (not found, permission denied, …) prints the same way, status 1;
 * - anything else is a bug: its stack trace is printed and the status is 1.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { z } from "zod";
import { Interrupted, isInvocationError, RlifError, UsageError } from "../lib/errors.ts";
import { issueText } from "../lib/schema.ts";

const FILE_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.PermissionDenied,
  Deno.errors.IsADirectory,
  Deno.errors.NotADirectory,
  Deno.errors.AlreadyExists,
];

/** Whether `e` is the user's to fix (an {@link RlifError} or a file-system error) rather than a bug. */
export function isUserError(e: unknown): e is Error {
  return e instanceof RlifError || FILE_ERRORS.some((type) => e instanceof type);
}

/**
 * Prints `error: <message>` (and `usage`, when given) to stderr and exits with the status of `e`; work
 * stopped by a signal prints its message as is and exits 128 + the signal's number.
 */
function exitWith(e: Error, usage?: string): never {
  if (e instanceof Interrupted) {
    console.error(e.message);
    Deno.exit(e.exitCode);
  }
  console.error(`error: ${e.message}${usage ? `\n\n${usage}` : ""}`);
  Deno.exit(isInvocationError(e) ? 2 : 1);
}

/**
 * Flag handling for one script, described by its usage text.
 *
 * @example
 * ```ts
 * const cli = new ScriptCli("usage: deno task eval --n N");
 * const { values } = cli.parse({ options: { n: { type: "string" }, help: { type: "boolean" } } });
 * const n = cli.number(values.n, "n", 1, z.number().int().min(1));
 * ```
 */
export class ScriptCli {
  /** The usage text, printed after a usage mistake and for `--help`. */
  readonly usage: string;

  /** A script whose flags `usage` describes. */
  constructor(usage: string) {
    this.usage = usage;
  }

  /** Prints `error: message`, a blank line and the usage to stderr, and exits with status 2. */
  fail(message: string): never {
    exitWith(new UsageError(message), this.usage);
  }

  /**
   * `parseArgs` over `Deno.args` (unless `config.args` says otherwise). A flag it cannot parse fails
   * with the parser's message; a `help` flag that is set prints the usage and exits with status 0.
   */
  parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
    let parsed: ReturnType<typeof parseArgs<T>>;
    try {
      parsed = parseArgs<T>({ args: Deno.args, ...config });
    } catch (e) {
      this.fail((e as Error).message);
    }
    if ((parsed.values as Record<string, unknown>).help === true) {
      console.log(this.usage);
      Deno.exit(0);
    }
    return parsed;
  }

  /**
   * The number a string flag holds, checked by `schema` (e.g. `z.number().int().min(1)`): `fallback`
   * when the flag is absent; a usage failure naming the flag and what `schema` allows otherwise.
   */
  number(
    value: string | undefined,
    name: string,
    fallback: number,
    schema: z.ZodType<number, number>,
  ): number {
    if (value === undefined) return fallback;
    const parsed = z.coerce.number().pipe(schema).safeParse(value.trim() === "" ? NaN : value);
    if (!parsed.success) {
      this.fail(`--${name} ${value} is not valid: ${issueText(parsed.error.issues[0])}`);
    }
    return parsed.data;
  }

  /** A flag that must be one of `allowed`: undefined when absent; a usage failure listing them otherwise. */
  oneOf<T extends string>(value: string | undefined, name: string, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    const parsed = z.enum(allowed as [T, ...T[]]).safeParse(value);
    if (!parsed.success) this.fail(`--${name} ${value} is unknown; choose one of ${allowed.join(", ")}`);
    return parsed.data as T;
  }
}

/** `prefix-<UTC time>` with the characters that are awkward in file names (`:` and `.`) as `-`. */
export function timestampedPath(prefix: string, now: Date = new Date()): string {
  return `${prefix}-${now.toISOString().replace(/[:.]/g, "-")}`;
}

/**
 * Runs a script's work: a user error prints `error: <message>` and exits with status 2 (usage or config)
 * or 1 (anything else the user can fix); a bug keeps its stack trace.
 *
 * @example
 * ```ts
 * await runMain(async () => {
 *   const text = await Deno.readTextFile("input.jsonl"); // missing: "error: No such file or directory …"
 *   console.log(text.length);
 * });
 * ```
 */
export async function runMain(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (isUserError(e)) exitWith(e);
    throw e;
  }
}

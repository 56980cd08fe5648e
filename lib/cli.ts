/**
 * What the command-line scripts share: flags parsed with node:util `parseArgs`, usage mistakes reported
 * as `name: message` followed by the usage (exit status 2), and errors from the work itself reported as
 * `name: message` (exit status 1) rather than a stack trace.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * Flag handling for one script: its name (the prefix of every message) and its usage text.
 *
 * @example
 * ```ts
 * const cli = new ScriptCli("eval", "usage: deno task eval --n N");
 * const { values } = cli.parse({ options: { n: { type: "string" }, help: { type: "boolean" } } });
 * const n = cli.number(values.n, "n", 1, (v) => Number.isInteger(v) && v >= 1);
 * ```
 */
export class ScriptCli {
  /** The script's name, printed before every message. */
  readonly name: string;
  /** The usage text, printed after a usage mistake and for `--help`. */
  readonly usage: string;

  /** A script called `name` whose flags `usage` describes. */
  constructor(name: string, usage: string) {
    this.name = name;
    this.usage = usage;
  }

  /** Prints `name: message`, a blank line and the usage to stderr, and exits with status 2. */
  fail(message: string): never {
    console.error(`${this.name}: ${message}\n\n${this.usage}`);
    Deno.exit(2);
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
   * The number a string flag holds: `fallback` when the flag is absent; a usage failure naming the flag
   * when it is not a finite number or `check` rejects it.
   */
  number(value: string | undefined, name: string, fallback: number, check: (v: number) => boolean): number {
    if (value === undefined) return fallback;
    const v = Number(value);
    if (!Number.isFinite(v) || !check(v)) this.fail(`--${name} ${value} is not valid`);
    return v;
  }

  /** A flag that must be one of `allowed`: undefined when absent; a usage failure listing them otherwise. */
  oneOf<T extends string>(value: string | undefined, name: string, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      this.fail(`--${name} ${value} is unknown; choose one of ${allowed.join(", ")}`);
    }
    return value as T;
  }
}

/** `prefix-<UTC time>` with the characters that are awkward in file names (`:` and `.`) as `-`. */
export function timestampedPath(prefix: string, now: Date = new Date()): string {
  return `${prefix}-${now.toISOString().replace(/[:.]/g, "-")}`;
}

/**
 * Errors that are the program's fault rather than the input's (a wrong type, an unknown name), except the
 * parser's complaints about flags, which node:util raises as TypeErrors with an ERR_PARSE_ARGS_* code.
 */
function isBug(e: unknown): boolean {
  const bugTypes = [TypeError, ReferenceError, EvalError, URIError];
  if (!bugTypes.some((type) => e instanceof type)) return false;
  const code = (e as { code?: unknown }).code;
  return !(typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"));
}

/**
 * Runs a script's work. An error that says what is wrong with the input (a missing or malformed file, a
 * bad flag value, a model the code does not support) prints `name: message` and exits with status 1; an
 * error that is a bug in the program (TypeError, ReferenceError, …) keeps its stack trace.
 *
 * @example
 * ```ts
 * await runMain("score", async () => {
 *   const text = await Deno.readTextFile("input.jsonl"); // missing: "score: No such file or directory …"
 *   console.log(text.length);
 * });
 * ```
 */
export async function runMain(name: string, main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (isBug(e)) throw e;
    console.error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}

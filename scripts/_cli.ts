/**
 * The scripts' entry layer. Each script describes its command once, as a {@link Command}: a summary, a
 * table of flags (value placeholder, one-line doc, default as typed on the command line), the file format
 * it reads and example command lines. From that one table {@link ScriptCli} builds the `parseArgs`
 * options and the `--help` text, so the defaults shown can never drift from the ones used.
 *
 * A new script, step by step (tests/scripts/help_test.ts runs `--help` of every task in deno.json):
 *
 * ```ts
 * import { checkOutput, runMain, ScriptCli } from "./_cli.ts";
 * import { z } from "zod";
 *
 * const cli = new ScriptCli({
 *   task: "generate",                                   // as in `deno task generate`
 *   summary: "Samples completions from a model.",
 *   flags: {
 *     model: { arg: "DIR", doc: "model directory", required: true },
 *     n: { arg: "N", doc: "samples per prompt", default: "1" },  // the default is a string, as typed
 *     out: { arg: "FILE", doc: "where they go", defaultText: "stdout" },  // no fixed default: say so
 *     json: { doc: "print JSON lines" },                // no `arg`: a switch (false when absent)
 *   },
 *   input: { from: "--model", format: "…", example: "{…}" },   // when the task reads a file
 *   examples: ["deno task generate --model scripts/assets/arith-tiny --n 4"],
 * });
 * const { values } = cli.parse();          // --help: prints the help, exits 0; a bad flag: one line, exit 2
 * const n = cli.number("n", z.number().int().min(1));  // the table's default applied, then range checked
 *
 * await runMain(async () => {
 *   if (values.out) await checkOutput(values.out, "--out");   // before any work, not after it
 *   // … the work; throw RlifError subclasses for the user's mistakes
 * });
 * ```
 *
 * A usage mistake names the flag as the user typed it and ends with `(see deno task <task> --help)`.
 * The experiment scripts take config keys rather than flags: `runExperimentScript` in
 * scripts/_experiment.ts gives them `--help` listing every key of `GRPO_CONFIG` with the experiment's
 * own value.
 *
 * {@link runMain} is the one place that turns an error into an exit status. Library code never exits; it
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
import { parseArgs } from "node:util";
import { z } from "zod";
import { Interrupted, isInvocationError, RlifError, UsageError } from "../lib/errors.ts";
import { closestKey, issueText } from "../lib/schema.ts";

export { checkOutput } from "../lib/log/output_check.ts";

/**
 * `--adapter DIR`: a PEFT LoRA adapter applied on top of `--model` (score, generate, eval, serve,
 * interpolate take it).
 */
export const ADAPTER_FLAG = {
  arg: "DIR",
  doc: "a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors; e.g. a LoRA run's " +
    "RUN/checkpoints/step-N) applied on top of --model",
  defaultText: "none",
} as const;

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
 * Prints `error: <message>` to stderr and exits with the status of `e`; work stopped by a signal prints its
 * message as is and exits 128 + the signal's number.
 */
function exitWith(e: Error): never {
  if (e instanceof Interrupted) {
    console.error(e.message);
    Deno.exit(e.exitCode);
  }
  console.error(`error: ${e.message}`);
  Deno.exit(isInvocationError(e) ? 2 : 1);
}

/** One command-line flag of a {@link Command}. */
export interface Flag {
  /** Placeholder of the flag's value in the help ("DIR", "N"); a flag without one is a switch. */
  arg?: string;
  /** One line saying what the flag does. */
  doc: string;
  /** The value used when the flag is absent, as it would be typed; shown as "(default …)". */
  default?: string;
  /** Words after the default in the help, e.g. "greedy" in "(default 0: greedy)". */
  defaultNote?: string;
  /** How the help states a default that is not a fixed value ("runs/eval-<time>", "all problems"). */
  defaultText?: string;
  /** The flag must be given. */
  required?: boolean;
  /** The flag may be repeated; its values are collected in order. */
  multiple?: boolean;
  /** A one-letter alias. */
  short?: string;
}

/** A table of flags by name (without the leading `--`). */
export type Flags = Record<string, Flag>;

/** What a script is, reads and takes: the source of both its `parseArgs` options and its `--help`. */
export interface Command<F extends Flags = Flags> {
  /** The name after `deno task`. */
  task: string;
  /** What the task does, in a sentence or a short paragraph. */
  summary: string;
  /** Positional arguments: placeholder for the synopsis and one line each in the help. */
  positionals?: { arg: string; doc: string; optional?: boolean }[];
  /** The flags. */
  flags: F;
  /** The file the task reads: which flag or argument, its format in a sentence, a one-line example. */
  input?: { from: string; format: string; example: string };
  /** Further paragraphs, under their headings. */
  notes?: Record<string, string>;
  /** Further two-column lists (name, doc), under their headings; e.g. an experiment's config keys. */
  tables?: { title: string; rows: [string, string][] }[];
  /** Example command lines (at least one). */
  examples: string[];
}

const WIDTH = 110;
const DOC_COLUMN = 26;

/** `text` broken into lines of at most `width` characters, each after `indent`. */
function wrap(text: string, indent: string, width = WIDTH): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(" ")) {
      if (line && indent.length + line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines.map((l) => indent + l);
}

/** A flag's help text with its default. */
function flagDoc(flag: Flag): string {
  if (flag.required) return `${flag.doc} (required)`;
  if (flag.defaultText !== undefined) return `${flag.doc} (default ${flag.defaultText})`;
  if (flag.default !== undefined) {
    const value = flag.default === "" ? '""' : flag.default;
    return `${flag.doc} (default ${value}${flag.defaultNote ? `: ${flag.defaultNote}` : ""})`;
  }
  return flag.doc;
}

/** `name`/`doc` rows aligned in two columns, the doc wrapped. */
function rows(entries: [string, string][]): string[] {
  const out: string[] = [];
  for (const [name, doc] of entries) {
    const head = `  ${name}`;
    const docLines = wrap(doc, " ".repeat(DOC_COLUMN));
    if (head.length < DOC_COLUMN - 1) out.push(head.padEnd(DOC_COLUMN) + docLines[0].trimStart());
    else out.push(head, docLines[0]);
    out.push(...docLines.slice(1));
  }
  return out;
}

/** The flag as the user types it, with its placeholder: `--model DIR`, `--json`. */
function flagName(name: string, flag: Flag): string {
  return `${flag.short ? `-${flag.short}, ` : ""}--${name}${flag.arg ? ` ${flag.arg}` : ""}`;
}

/**
 * The `--help` text of a command: summary, synopsis, every flag with its default, the input format with
 * an example line, further notes and example commands.
 *
 * @example
 * ```ts
 * renderHelp({ task: "x", summary: "Does x.", flags: { n: { arg: "N", doc: "count", default: "1" } },
 *   examples: ["deno task x --n 2"] });
 * // "deno task x: Does x.\n\nusage: deno task x [options]\n\noptions:\n  --n N  count (default 1)…"
 * ```
 */
export function renderHelp(command: Command): string {
  const required = Object.entries(command.flags).filter(([, f]) => f.required);
  const synopsis = [
    `deno task ${command.task}`,
    ...required.map(([name, f]) => `--${name}${f.arg ? ` ${f.arg}` : ""}`),
    ...(command.positionals ?? []).map((p) => p.optional ? `[${p.arg}]` : p.arg),
    "[options]",
  ].join(" ");
  const lines = [...wrap(`deno task ${command.task}: ${command.summary}`, ""), "", `usage: ${synopsis}`];
  if (command.positionals?.length) {
    lines.push("", "arguments:", ...rows(command.positionals.map((p) => [p.arg, p.doc])));
  }
  lines.push(
    "",
    "options:",
    ...rows([
      ...Object.entries(command.flags).map(([name, f]): [string, string] => [flagName(name, f), flagDoc(f)]),
      ["-h, --help", "print this help and exit"],
    ]),
  );
  if (command.input) {
    lines.push("", `input (${command.input.from}):`, ...wrap(command.input.format, "  "));
    lines.push(`  e.g. ${command.input.example}`);
  }
  for (const [title, text] of Object.entries(command.notes ?? {})) {
    lines.push("", `${title}:`, ...wrap(text, "  "));
  }
  for (const table of command.tables ?? []) {
    {
      lines.push(
        "",
        ...wrap(/[.:]$/.test(table.title) ? table.title : `${table.title}:`, ""),
        ...rows(table.rows),
      );
    }
  }
  lines.push("", command.examples.length > 1 ? "examples:" : "example:");
  lines.push(...command.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}

/** The value `parseArgs` gives a flag of the table: a switch is boolean, a repeatable flag a list. */
export type FlagValue<T extends Flag> = T extends { arg: string } ? T extends { multiple: true } ? string[]
  : T extends { default: string } | { required: true } ? string
  : string | undefined
  : boolean;

/** Flag values by name, typed from the table. */
export type FlagValues<F extends Flags> = { [K in keyof F]: FlagValue<F[K]> };

/**
 * Flag handling for one script, built from its {@link Command}; see the module docs.
 *
 * @example
 * ```ts
 * const cli = new ScriptCli({ task: "x", summary: "Does x.", examples: ["deno task x --n 2"],
 *   flags: { n: { arg: "N", doc: "count", default: "1" } } });
 * cli.parse(["--n", "3"]);
 * cli.number("n", z.number().int().min(1)); // 3
 * ```
 */
export class ScriptCli<const F extends Flags = Flags> {
  /** What the script takes. */
  readonly command: Command<F>;
  #values: Record<string, string | boolean | string[] | undefined> = {};
  #positionals: string[] = [];

  /** A script described by `command`. */
  constructor(command: Command<F>) {
    this.command = command;
  }

  /** The `--help` text. */
  get help(): string {
    return renderHelp(this.command);
  }

  /** Prints `error: message; see deno task <task> --help` to stderr and exits with status 2. */
  fail(message: string): never {
    exitWith(new UsageError(`${message} (see deno task ${this.command.task} --help)`));
  }

  /**
   * Parses `args` (default `Deno.args`) by the flag table: `--help` prints the help and exits 0; an
   * unknown flag, a missing value, a missing required flag or a wrong number of positionals fails with
   * a message naming the flag.
   */
  parse(args: readonly string[] = Deno.args): { values: FlagValues<F>; positionals: string[] } {
    const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {
      help: { type: "boolean", short: "h" },
    };
    for (const [name, f] of Object.entries(this.command.flags)) {
      options[name] = {
        type: f.arg ? "string" : "boolean",
        ...(f.multiple ? { multiple: true } : {}),
        ...(f.short ? { short: f.short } : {}),
      };
    }
    let parsed;
    try {
      parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    } catch (e) {
      const unknown = /Unknown option '(-{1,2})([^']*)'/.exec((e as Error).message);
      if (!unknown) this.fail((e as Error).message);
      const near = closestKey(unknown[2], Object.keys(options));
      this.fail(`unknown flag ${unknown[1]}${unknown[2]}${near ? `; did you mean --${near}?` : ""}`);
    }
    if (parsed.values.help === true) {
      console.log(this.help);
      Deno.exit(0);
    }
    const values: Record<string, string | boolean | string[] | undefined> = {};
    for (const [name, f] of Object.entries(this.command.flags)) {
      const v = parsed.values[name];
      if (v === undefined && f.required) this.fail(`--${name} is required: ${f.doc}`);
      values[name] = (v as string | boolean | string[] | undefined) ??
        (f.arg ? (f.multiple ? [] : f.default) : false);
    }
    const expected = this.command.positionals ?? [];
    const least = expected.filter((p) => !p.optional).length;
    if (parsed.positionals.length < least || parsed.positionals.length > expected.length) {
      const want = expected.length ? expected.map((p) => p.arg).join(" ") : "no positional arguments";
      this.fail(
        parsed.positionals.length
          ? `expected ${want}, got ${parsed.positionals.map((p) => JSON.stringify(p)).join(" ")}`
          : `${want} is required`,
      );
    }
    this.#values = values;
    this.#positionals = parsed.positionals;
    return { values: values as FlagValues<F>, positionals: parsed.positionals };
  }

  /** The positional arguments of the last {@link parse}. */
  get positionals(): readonly string[] {
    return this.#positionals;
  }

  #string(name: string): string | undefined {
    if (!(name in this.command.flags)) throw new Error(`ScriptCli: ${name} is not in the flag table`);
    const v = this.#values[name];
    return typeof v === "string" ? v : undefined;
  }

  /** The value of the string flag `name` (its default when absent; undefined without one). */
  string(name: string): string | undefined {
    return this.#string(name);
  }

  /** Whether the switch `name` was given. */
  switchedOn(name: string): boolean {
    if (!(name in this.command.flags)) throw new Error(`ScriptCli: ${name} is not in the flag table`);
    return this.#values[name] === true;
  }

  /**
   * The number flag `name` holds (its default when absent), checked by `schema` (e.g.
   * `z.number().int().min(1)`); `fallback` when it is absent and has no default. A usage failure
   * names the flag and what `schema` allows.
   */
  number(name: string, schema: z.ZodType<number, number>): number;
  /** As above, `fallback` when the flag is absent and has no default. */
  number<T>(name: string, schema: z.ZodType<number, number>, fallback: T): number | T;
  number<T>(name: string, schema: z.ZodType<number, number>, fallback?: T): number | T {
    const value = this.#string(name);
    if (value === undefined) {
      if (arguments.length < 3) throw new Error(`ScriptCli: --${name} has no default and no fallback`);
      return fallback as T;
    }
    const parsed = z.coerce.number().pipe(schema).safeParse(value.trim() === "" ? NaN : value);
    if (!parsed.success) this.fail(`--${name} ${value} is not valid: ${issueText(parsed.error.issues[0])}`);
    return parsed.data;
  }

  /**
   * The JSON object the flag `name` holds (undefined when absent); anything else (not JSON, or JSON that
   * is not an object) is a usage failure naming the flag, with `example` as the form it takes.
   */
  jsonObject(name: string, example: string): Record<string, unknown> | undefined {
    const value = this.#string(name);
    if (value === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (e) {
      this.fail(
        `--${name} ${value} is not valid: not JSON (${(e as Error).message}); expected a JSON object ` +
          `such as ${example}`,
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      const got = parsed === null ? "null" : Array.isArray(parsed) ? "a list" : `a ${typeof parsed}`;
      this.fail(`--${name} ${value} is not valid: expected a JSON object such as ${example}, got ${got}`);
    }
    return parsed as Record<string, unknown>;
  }

  /** A flag that must be one of `allowed`: undefined when absent without default; a usage failure listing them otherwise. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const value = this.#string(name);
    if (value === undefined) return undefined;
    const parsed = z.enum(allowed as [T, ...T[]]).safeParse(value);
    if (!parsed.success) this.fail(`--${name} ${value} is unknown; choose one of ${allowed.join(", ")}`);
    return parsed.data as T;
  }
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

/**
 * The command line of the experiment scripts (scripts/intuitor.ts, grpo.ts, …, demo.ts): `--config FILE`,
 * the script's own switches, and any config key as `--section.key VALUE`. `--help` lists every key of
 * {@link GRPO_CONFIG} with its one-line doc and the value this experiment's YAML gives it, so the help
 * cannot drift from the schema or the recipe.
 *
 * @module
 */
import { type Command, type Flags, renderHelp, runMain } from "./_cli.ts";
import { fieldType, GRPO_CONFIG, type GrpoConfig, loadConfig, schemaFields } from "../lib/rl/config.ts";
import { runExperiment } from "../lib/rl/experiment.ts";
import { planRun, verdictText } from "../lib/bench/memory_plan.ts";

/** The switch every experiment takes: plan one step's GPU memory from config.json alone, and stop. */
const DRY_RUN: Flags = {
  "dry-run": {
    doc: "print the memory plan of one step (model config.json only, nothing loaded) and exit: 0 when it " +
      "fits gpu.memory_gb (or nvidia-smi's memory, or no limit is known), 1 when it does not",
  },
};

/** An experiment script: its task, recipe, summary and switches. */
export interface ExperimentScript {
  /** The name after `deno task`. */
  task: string;
  /** The experiment's YAML under configs/ (replaced by `--config FILE`). */
  config: string;
  /** What the experiment does. */
  summary: string;
  /** Switches of this script besides the config keys, e.g. coe's `--observe` (no values). */
  switches?: Flags;
  /** Example command lines; default: a short run of the task with `--train.steps 2`. */
  examples?: string[];
  /** Further paragraphs of the help, under their headings. */
  notes?: Record<string, string>;
  /** The script reads fixed YAML files of its own (the demo): no `--config` flag. */
  fixedConfig?: boolean;
  /** The script only plans (deno task plan): no `--dry-run` switch, it is one already. */
  plansOnly?: boolean;
}

const PLACEHOLDER: Record<string, string> = {
  int: "N",
  number: "X",
  string: "TEXT",
  bool: "BOOL",
  "string[]": "LIST",
  "number[]": "LIST",
  mapping: "VALUE",
};

/** A value as it would be written in the YAML's flow style, spaced so the help can wrap it. */
function show(v: unknown): string {
  if (typeof v === "string") return v === "" ? '""' : v;
  if (Array.isArray(v)) return `[${v.map(show).join(", ")}]`;
  if (typeof v === "object" && v !== null) {
    return `{${Object.entries(v).map(([k, x]) => `${k}: ${show(x)}`).join(", ")}}`;
  }
  return String(v);
}

function valueAt(config: unknown, key: string): unknown {
  let v = config;
  for (const part of key.split(".")) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

/** The `--config FILE` of `args`, if any. */
function configFlag(args: readonly string[]): string[] {
  const i = args.findIndex((a) => a === "--config" || a.startsWith("--config="));
  if (i < 0) return [];
  return args[i].includes("=") ? [args[i]] : args.slice(i, i + 2);
}

/**
 * The experiment's help: flags, then every config key by section with this experiment's value (read
 * from its YAML, or from `--config FILE` in `args`; the schema's default when the file cannot be read).
 */
export async function experimentHelp(
  script: ExperimentScript,
  args: readonly string[] = [],
): Promise<string> {
  const loaded = await loadConfig(GRPO_CONFIG, { file: script.config, args: configFlag(args) }).catch(
    () => null,
  );
  const source = loaded?.file ?? script.config;
  const sections = new Map<string, [string, string][]>();
  for (const [key, field] of schemaFields(GRPO_CONFIG.fields)) {
    const top = key.split(".")[0];
    const value = loaded ? valueAt(loaded.config, key) : field.default;
    const def = value === undefined ? "required" : `default ${show(value)}`;
    const rows = sections.get(top) ?? [];
    rows.push([`--${key} ${PLACEHOLDER[fieldType(field)]}`, `${field.doc} (${def})`]);
    sections.set(top, rows);
  }
  const command: Command = {
    task: script.task,
    summary: script.summary,
    flags: {
      ...(script.fixedConfig
        ? {}
        : { config: { arg: "FILE", doc: "the experiment's YAML", default: script.config } }),
      ...script.switches,
      ...(script.fixedConfig || script.plansOnly ? {} : DRY_RUN),
    },
    notes: {
      "config keys": `Any key below overrides the YAML as --section.key VALUE (or --key VALUE when the key ` +
        `name is unique). Defaults shown are the values of ${source}; configs/README.md documents every key ` +
        `with its type and allowed values. A bad key or value is refused before any work starts.`,
      ...script.notes,
    },
    tables: [...sections].map(([section, rows]) => ({
      title: `--${section}.*  ${GRPO_CONFIG.sections?.[section] ?? ""}`.trim(),
      rows,
    })),
    examples: script.examples ?? [`deno task ${script.task} --train.steps 2`],
  };
  return renderHelp(command);
}

/** With `--help` or `-h` in `args`, prints the experiment's help and exits 0; otherwise returns. */
export async function exitOnHelp(
  script: ExperimentScript,
  args: readonly string[] = Deno.args,
): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(await experimentHelp(script, args));
    Deno.exit(0);
  }
}

/**
 * An experiment script's whole body: `--help`; the script's switches taken out of `args` and handed to
 * `adjust` (which may change the resolved config); the run through `runExperiment`, its errors through
 * {@link runMain}.
 */
export async function runExperimentScript(
  script: ExperimentScript,
  adjust?: (config: GrpoConfig, switches: Record<string, boolean>) => GrpoConfig,
  args: readonly string[] = Deno.args,
): Promise<void> {
  await exitOnHelp(script, args);
  const switches: Record<string, boolean> = {};
  const own = { ...script.switches, ...(script.fixedConfig ? {} : DRY_RUN) };
  for (const name of Object.keys(own)) switches[name] = args.includes(`--${name}`);
  const rest = args.filter((a) => !(a.startsWith("--") && a.slice(2) in own));
  await runMain(async () => {
    if (switches["dry-run"]) {
      const { config } = await loadConfig(GRPO_CONFIG, { file: script.config, args: rest });
      Deno.exit(await printPlan(adjust ? adjust(config, switches) : config));
    }
    await runExperiment(script.task, script.config, rest, adjust && ((c) => adjust(c, switches)));
  });
}

/** Prints `config`'s memory plan against the GPU it must fit; the exit code: 1 when it does not fit. */
export async function printPlan(config: GrpoConfig): Promise<number> {
  const verdict = await planRun(config);
  console.log(verdictText(verdict, config.model.path));
  return verdict.fits === false ? 1 : 0;
}

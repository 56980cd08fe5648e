/**
 * The flags every sweep script shares (`--steps`, `--out`, `--help`, and `--config FILE` / `--section.key
 * value` passed to every run), and the last act of each: the figure and summary.json written, the folder
 * named.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { splitSweepArgs, SUMMARY_FILE, type SweepSummary, writeSweepSummary } from "../lib/rl/sweep.ts";
import type { Scene } from "../lib/report/scene.ts";
import { writeFigure } from "../lib/report/sweep_figure.ts";
import { type Flags, ScriptCli } from "./_cli.ts";
import { runDirName } from "../lib/log/run_dir.ts";

/** A script's own flag: its default (as typed; "" for none), one line of help, its value's placeholder. */
export interface SweepFlag {
  readonly default: string;
  readonly help: string;
  /** Placeholder in the help (default "LIST": most sweep flags take comma-separated values). */
  readonly arg?: string;
}

/** The held-out evaluation flags of the sweeps that judge models during training. */
export const HELDOUT_EVAL_FLAGS: Record<string, SweepFlag> = {
  "eval-limit": { arg: "N", default: "", help: "judge only the first N held-out problems (default: all)" },
  "eval-every": {
    arg: "N",
    default: "10",
    help: "steps between held-out evaluations (also before and at the end)",
  },
};

/** `--eval-every` and `--eval-limit` (Infinity when absent) of a sweep with {@link HELDOUT_EVAL_FLAGS}. */
export function readHeldoutEvalFlags(cli: ScriptCli): { every: number; evalLimit: number } {
  return {
    every: cli.number("eval-every", z.number().int().min(1)),
    evalLimit: cli.number("eval-limit", z.number().int().min(1), Infinity),
  };
}

/** What {@link parseSweepCli} returns. */
export interface SweepCli {
  /** The parser, for checking flag values. */
  readonly cli: ScriptCli;
  /** Every script flag's value (the default when absent). */
  readonly values: Record<string, string>;
  /** `--config FILE`, the `--section.key value` overrides and those `--steps` implies, for every run. */
  readonly configArgs: string[];
  /** The sweep folder. */
  readonly outDir: string;
}

/**
 * Parses `args` for a sweep script: its `flags`, then `--steps N` (train.steps, one checkpoint at the
 * end), `--out DIR` (default `runs/<task>-<time>`); `--help` prints the usage and exits.
 */
export function parseSweepCli(
  task: string,
  about: string,
  config: string,
  flags: Record<string, SweepFlag>,
  args: readonly string[] = Deno.args,
): SweepCli {
  const folder = task.replace(":", "-");
  const table: Flags = {};
  for (const [name, f] of Object.entries(flags)) {
    table[name] = { arg: f.arg ?? "LIST", doc: f.help, ...(f.default === "" ? {} : { default: f.default }) };
  }
  const cli = new ScriptCli({
    task,
    summary: about,
    flags: {
      ...table,
      steps: {
        arg: "N",
        doc: "training steps of every run (at least the config's train.warmup_steps)",
        defaultText: "the config's train.steps",
      },
      out: { arg: "DIR", doc: "the sweep folder", defaultText: `runs/${folder}-<time>` },
      config: { arg: "FILE", doc: "the config every run starts from", default: config },
    },
    notes: {
      "config keys": "Any config key as --section.key VALUE applies to every run (configs/README.md lists " +
        "them); the sweep's own flags above set the values it varies.",
    },
    examples: [`deno task ${task} --steps 10`, `deno task ${task} --steps 30 --train.lr 1e-3`],
  });
  const split = splitSweepArgs(args);
  const { values } = cli.parse(split.script);
  const out: Record<string, string> = {};
  for (const [name, f] of Object.entries(flags)) {
    out[name] = ((values as Record<string, unknown>)[name] as string | undefined) ?? f.default;
  }
  const configArgs = [...split.config];
  const steps = cli.number("steps", z.number().int().min(1), undefined);
  if (steps !== undefined) configArgs.push("--train.steps", String(steps), "--log.save_every", String(steps));
  const outDir = values.out ?? join("runs", runDirName(folder));
  return { cli, values: out, configArgs, outDir };
}

/** Writes the figure (SVG + PNG) and summary.json into the sweep folder and says where they are. */
export async function finishSweep(outDir: string, summary: SweepSummary, figure: Scene): Promise<void> {
  summary.figures.splice(0, summary.figures.length, ...await writeFigure(outDir, "figure", figure));
  await writeSweepSummary(outDir, summary);
  console.log(
    `\nsweep folder ${outDir}: one run directory per setting, ${SUMMARY_FILE}, ` +
      summary.figures.join(", "),
  );
}

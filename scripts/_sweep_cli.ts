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
import { ScriptCli, timestampedPath } from "./_cli.ts";

/** A script's own flag: its default (as typed) and one line of help. */
export interface SweepFlag {
  readonly default: string;
  readonly help: string;
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
  const all: Record<string, SweepFlag> = {
    ...flags,
    steps: { default: "", help: "training steps of every run (default: the config's train.steps)" },
    out: { default: "", help: `the sweep folder (default runs/${task}-<time>)` },
  };
  const usage = [
    `usage: deno task ${task} [flags] [--config FILE] [--section.key value …]`,
    about,
    "",
    ...Object.entries(all).map(([name, f]) =>
      `  --${name.padEnd(14)} ${f.help}${f.default === "" ? "" : ` (default ${f.default})`}`
    ),
    `  --${"config".padEnd(14)} the config every run starts from (default ${config})`,
    `  --${"section.key".padEnd(14)} any config key, for every run (configs/README.md)`,
    `  --${"help".padEnd(14)} print this help`,
  ].join("\n");
  const cli = new ScriptCli(usage);
  const split = splitSweepArgs(args);
  const options: Record<string, { type: "string" } | { type: "boolean" }> = { help: { type: "boolean" } };
  for (const name of Object.keys(all)) options[name] = { type: "string" };
  const { values } = cli.parse({ args: split.script, options, strict: true, allowPositionals: false });
  const out: Record<string, string> = {};
  for (const [name, f] of Object.entries(all)) out[name] = (values[name] as string | undefined) ?? f.default;
  const configArgs = [...split.config];
  if (out.steps !== "") {
    const steps = cli.number(out.steps, "steps", 0, z.number().int().min(1));
    configArgs.push("--train.steps", String(steps), "--log.save_every", String(steps));
  }
  return { cli, values: out, configArgs, outDir: out.out || join("runs", timestampedPath(task)) };
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

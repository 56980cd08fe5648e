/**
 * Sweeps: one GRPO run per setting of a few config keys, all under one parent folder, with per-run
 * curves, Model Collapse Steps and held-out accuracy gathered into `summary.json`. The papers' figure
 * scripts (scripts/sweep_*.ts, scripts/base_vs_instruct.ts) are thin layers over {@link runSweep}.
 *
 * A sweep folder holds one run directory per setting (lib/log/run_dir.ts), `summary.json` (rewritten
 * atomically after every finished run, so a stopped sweep still says what it did) and the figure.
 *
 * @module
 */
import { join, relative } from "node:path";
import { z } from "zod";
import type { Example } from "../data/fields.ts";
import { UsageError } from "../errors.ts";
import { issueText } from "../schema.ts";
import { generate } from "../generate/generate.ts";
import { writeFileAtomic } from "../log/atomic.ts";
import { modelCollapseStep } from "../metrics/metrics.ts";
import { loadModel, type Model } from "../model/model.ts";
import { GRPO_CONFIG, type GrpoConfig, loadConfig } from "./config.ts";
import { buildPromptSet } from "./prompts.ts";
import { judge, judgeOptions } from "./rollout.ts";
import { type StepMetrics, trainGrpo } from "./trainer.ts";

/** One point of a curve: (step, value). */
export type Point = [number, number];

/** One setting of a sweep: its name, the swept values and the `--key value` overrides that make it. */
export interface SweepSetting {
  /** Name of the run directory's prefix and of the figure's series (letters, digits, `.`, `_`, `-`). */
  readonly label: string;
  /** The swept values, as the summary and the figure report them. */
  readonly values: Readonly<Record<string, number | string>>;
  /** Config overrides applied after the user's own (e.g. `["--train.mini_batch", "8"]`). */
  readonly overrides: readonly string[];
}

/** What {@link summarizeMetrics} reads from one run's metrics. */
export interface RunCurves {
  /** Per metric key, its logged (step, value) points; steps where it was null are left out. */
  readonly series: Record<string, Point[]>;
  /**
   * Model Collapse Step as URLVR §6 defines it: the first step whose reward accuracy is under 1%
   * (null: it never was, or the reward logs no reward accuracy).
   */
  readonly modelCollapseStep: number | null;
  /** The same rule on training accuracy (the share of correct rollouts); not the paper's indicator. */
  readonly accuracyCollapseStep: number | null;
  /** Per metric key, the mean of its last `window` logged values (null when it was never logged). */
  readonly final: Record<string, number | null>;
}

/** One finished run of a sweep, as summary.json records it. */
export interface SweepRunSummary extends RunCurves {
  /** The setting's label. */
  readonly label: string;
  /** The swept values. */
  readonly values: Readonly<Record<string, number | string>>;
  /** The run directory, relative to the sweep folder. */
  readonly runDir: string;
  /** Steps trained. */
  readonly steps: number;
  /** Greedy accuracy on the held-out problems at step 0 and every `every` steps (empty: not evaluated). */
  readonly heldout: Point[];
}

/** The held-out check of {@link runSweep}: greedy accuracy on fixed problems while training. */
export interface HeldoutPlan {
  /** The problems (with answers). */
  readonly examples: readonly Example[];
  /** Evaluate after every this many steps, and always before the first and after the last. */
  readonly every: number;
}

/** Options of {@link runSweep}. */
export interface SweepOptions {
  /** The sweep folder; run directories go inside it. */
  readonly outDir: string;
  /** The experiment's YAML (replaced by a `--config` in `args`). */
  readonly file: string;
  /** The user's config overrides (`--config FILE`, `--section.key value`), applied to every setting. */
  readonly args: readonly string[];
  /** The settings, run in order. */
  readonly settings: readonly SweepSetting[];
  /** Metric keys whose curves and final values the summary keeps (reward_accuracy and accuracy always). */
  readonly keys: readonly string[];
  /** How many of the last steps `final` averages over (default 5). */
  readonly window?: number;
  /** Held-out greedy accuracy while training (default: none). */
  readonly heldout?: HeldoutPlan;
  /** Facts the script adds to summary.json (e.g. the paper's section, a filter's statistics). */
  readonly extra?: Record<string, unknown>;
  /** Progress bars (default true). */
  readonly progress?: boolean;
}

/** summary.json of a sweep folder. */
export interface SweepSummary {
  /** What the sweep reproduces, in words, with the paper's section and figure. */
  readonly experiment: string;
  /** Facts the script added. */
  readonly extra: Record<string, unknown>;
  /** Finished runs, in order. */
  readonly runs: SweepRunSummary[];
  /** Figure files written next to summary.json (relative names). */
  readonly figures: string[];
}

/** The name of a sweep folder's summary file. */
export const SUMMARY_FILE = "summary.json";

/**
 * A comma-separated flag value as numbers, each checked by `schema`; a {@link UsageError} naming the
 * flag otherwise.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * parseSweepList("1,8, 64", "mini-batch", z.number().int().min(1)); // [1, 8, 64]
 * ```
 */
export function parseSweepList(text: string, flag: string, schema: z.ZodType<number, number>): number[] {
  const parts = text.split(",").map((s) => s.trim());
  if (parts.length === 0 || parts.some((s) => s === "")) {
    throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected comma-separated numbers, e.g. 1,8,64`);
  }
  const out = parts.map((s) => {
    const parsed = z.coerce.number().pipe(schema).safeParse(s);
    if (!parsed.success) {
      throw new UsageError(`--${flag}: ${s} is not valid: ${issueText(parsed.error.issues[0])}`);
    }
    return parsed.data;
  });
  if (new Set(out).size !== out.length) throw new UsageError(`--${flag} ${text}: a value is repeated`);
  return out;
}

/**
 * Splits a script's arguments into its own flags and the config's (`--config FILE` and dotted
 * `--section.key value` overrides, which every run of the sweep receives).
 *
 * @example
 * ```ts
 * splitSweepArgs(["--steps", "2", "--train.lr", "1e-3", "--config", "a.yaml"]);
 * // { script: ["--steps", "2"], config: ["--train.lr", "1e-3", "--config", "a.yaml"] }
 * ```
 */
export function splitSweepArgs(args: readonly string[]): { script: string[]; config: string[] } {
  const script: string[] = [], config: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.startsWith("--") ? a.slice(2).split("=")[0] : null;
    if (name !== null && (name === "config" || name.includes("."))) {
      config.push(a);
      if (!a.includes("=") && i + 1 < args.length) config.push(args[++i]);
    } else script.push(a);
  }
  return { script, config };
}

/**
 * The curves, collapse steps and final values of one run's metrics (metrics.jsonl lines).
 *
 * @example
 * ```ts
 * const m = [{ step: 1, reward_accuracy: 0.6, accuracy: 0.3 }, { step: 2, reward_accuracy: 0.0, accuracy: 0.1 }];
 * summarizeMetrics(m, ["accuracy"], 1).modelCollapseStep; // 2
 * ```
 */
export function summarizeMetrics(
  metrics: readonly StepMetrics[],
  keys: readonly string[],
  window = 5,
): RunCurves {
  const all = [...new Set(["reward_accuracy", "accuracy", ...keys])];
  const series: Record<string, Point[]> = {};
  const final: Record<string, number | null> = {};
  for (const key of all) {
    const points = metrics
      .filter((m) => typeof m[key] === "number" && Number.isFinite(m[key]))
      .map((m): Point => [m.step, m[key] as number]);
    series[key] = points;
    const tail = points.slice(-window).map((p) => p[1]);
    final[key] = tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : null;
  }
  const collapse = (points: Point[]) =>
    points.length ? modelCollapseStep(points.map(([step, value]) => ({ step, value }))) : null;
  return {
    series,
    final,
    modelCollapseStep: collapse(series.reward_accuracy),
    accuracyCollapseStep: collapse(series.accuracy),
  };
}

/** Greedy accuracy of `model` on `examples`, prompted and judged as `config`'s runs are. */
export async function heldoutAccuracy(
  model: Model,
  examples: readonly Example[],
  config: GrpoConfig,
): Promise<number> {
  if (!model.tokenizer) throw new Error(`${config.model.path}: the model has no tokenizer.json`);
  const prompts = await buildPromptSet(config.data, [...examples], model.tokenizer);
  const outs = await generate(model, prompts.ids, {
    temperature: 0,
    maxNewTokens: config.rollout.max_new_tokens,
    stop: config.rollout.stop,
    seed: 1,
  });
  const options = judgeOptions(config);
  return outs.filter((o) => judge(examples[o.promptIndex], o.text, options) === true).length / outs.length;
}

/**
 * The held-out problems of a bundled model: the `heldout` prompts of its `split.json` (`a+b=`, as
 * scripts/make_demo_model.ts writes them) with their sums as answers; the first `limit` of them when given.
 */
export async function splitHeldout(modelDir: string, limit = Infinity): Promise<Example[]> {
  const path = join(modelDir, "split.json");
  const text = await Deno.readTextFile(path).catch(() => {
    throw new UsageError(`${path} not found: the held-out check needs a model made by make-demo-model`);
  });
  const split = JSON.parse(text) as { heldout?: unknown };
  if (!Array.isArray(split.heldout)) throw new UsageError(`${path}: no "heldout" list of prompts`);
  return split.heldout.slice(0, limit).map((problem: string, i: number) => {
    const [a, b] = problem.replace("=", "").split("+").map(Number);
    if (!Number.isInteger(a) || !Number.isInteger(b)) {
      throw new UsageError(`${path}: heldout[${i}] is ${JSON.stringify(problem)}, expected "a+b="`);
    }
    return { fields: { problem }, answer: String(a + b), origin: `${path} heldout[${i}]` };
  });
}

/**
 * Resolves every setting's config (so a bad flag or value fails before any training), then trains
 * them in order, each in its own run directory under `outDir`, rewriting summary.json after each.
 */
export async function runSweep(experiment: string, options: SweepOptions): Promise<SweepSummary> {
  const window = options.window ?? 5;
  const configs: GrpoConfig[] = [];
  for (const s of options.settings) {
    const { config } = await loadConfig(GRPO_CONFIG, {
      file: options.file,
      args: [...options.args, ...s.overrides],
    });
    configs.push({ ...config, log: { ...config.log, dir: options.outDir, name: s.label } });
  }
  await Deno.mkdir(options.outDir, { recursive: true });
  const summary: SweepSummary = { experiment, extra: options.extra ?? {}, runs: [], figures: [] };
  for (const [i, setting] of options.settings.entries()) {
    const config = configs[i];
    const heldout: Point[] = [];
    const plan = options.heldout;
    if (plan) {
      const start = await loadModel(config.model.path);
      try {
        heldout.push([0, await heldoutAccuracy(start, plan.examples, config)]);
      } finally {
        start.release();
      }
    }
    const result = await trainGrpo(config, {
      progress: options.progress,
      onStep: plan
        ? async (m, { policy }) => {
          if (m.step % plan.every === 0 || m.step === config.train.steps) {
            heldout.push([m.step, await heldoutAccuracy(policy, plan.examples, config)]);
          }
        }
        : undefined,
    });
    summary.runs.push({
      label: setting.label,
      values: setting.values,
      runDir: relative(options.outDir, result.runDir),
      steps: result.step,
      heldout,
      ...summarizeMetrics(result.metrics, options.keys, window),
    });
    await writeSweepSummary(options.outDir, summary);
  }
  return summary;
}

/** Writes summary.json into the sweep folder atomically. */
export async function writeSweepSummary(outDir: string, summary: SweepSummary): Promise<void> {
  await writeFileAtomic(join(outDir, SUMMARY_FILE), JSON.stringify(summary, null, 2) + "\n");
}

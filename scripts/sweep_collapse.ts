/**
 * Model Collapse Step over mini-batch size and rollout count (URLVR, ../shared/papers/002, §6.3,
 * Figure 12; the curves as in Figure 10, the indicator as in §6 and Figure 11).
 *
 * URLVR trains with the majority-vote reward and records, per setting, the Model Collapse Step: the
 * first step whose Reward Accuracy is under 1% (§6). §6.3 varies mini-batch size ∈ {1, 8, 64} (with a
 * global batch of 64 prompts, Table 7) and rollout count ∈ {8, 16, 32}, one at a time from Table 7's
 * defaults (mini-batch 64, N 8), and checks that aggressive settings (MBS 1, N 32) collapse sooner while
 * the models keep their order. Here each model of `--models` (default: the config's) runs the
 * mini-batch sweep at the config's rollout.n and the N sweep at the config's train.mini_batch; the
 * shared default setting runs once. The defaults scale the paper's to the bundled model on a CPU: 16
 * prompts per step, so mini-batch {1, 4, 16} is the paper's {1, 8, 64} as a share of the batch.
 *
 *   deno task sweep:collapse [--mini-batch 1,4,16] [--n 8,16] [--models A,B] [--steps N] [--out DIR]
 */
import { basename } from "node:path";
import { z } from "zod";
import { GRPO_CONFIG, loadConfig } from "../lib/rl/config.ts";
import { parseSweepList, runSweep, type SweepRunSummary, type SweepSetting } from "../lib/rl/sweep.ts";
import type { Series } from "../lib/report/charts.ts";
import { figureScene } from "../lib/report/sweep_figure.ts";
import { runMain } from "./_cli.ts";
import { finishSweep, parseSweepCli } from "./_sweep_cli.ts";

const CONFIG = "configs/demo_majority_vote.yaml";
const WINDOW = 5;

await runMain(async () => {
  const { cli, values, configArgs, outDir } = parseSweepCli(
    "sweep:collapse",
    "Model Collapse Step (reward accuracy < 1%) over mini-batch size and rollout count (URLVR §6.3, Fig. 12).",
    CONFIG,
    {
      "mini-batch": { default: "1,4,16", help: "mini-batch sizes (prompts per optimizer update)" },
      n: { default: "8,16", help: "rollout counts (samples per prompt)" },
      models: { default: "", help: "comma-separated model folders (default: the config's model.path)" },
    },
  );
  const positive = z.number().int().min(1);
  const miniBatches = parseSweepList(values["mini-batch"], "mini-batch", positive);
  const ns = parseSweepList(values.n, "n", z.number().int().min(2));
  const base = (await loadConfig(GRPO_CONFIG, { file: CONFIG, args: configArgs })).config;
  const models = values.models === "" ? [base.model.path] : values.models.split(",").map((s) => s.trim());
  if (new Set(models.map((m) => basename(m))).size !== models.length) {
    cli.fail(`--models ${values.models}: the folders need different names, they label the runs`);
  }
  const defaultMb = base.train.mini_batch ?? base.train.prompts_per_step, defaultN = base.rollout.n;
  const settings: SweepSetting[] = [];
  for (const model of models) {
    const pairs = [...miniBatches.map((mb) => [mb, defaultN]), ...ns.map((n) => [defaultMb, n])];
    for (const [mb, n] of pairs) {
      const label = `${models.length > 1 ? `${basename(model)}_` : ""}mbs-${mb}_n-${n}`;
      if (settings.some((s) => s.label === label)) continue;
      settings.push({
        label,
        values: { model: basename(model), mini_batch: mb, n },
        overrides: ["--model.path", model, "--train.mini_batch", String(mb), "--rollout.n", String(n)],
      });
    }
  }
  const summary = await runSweep("URLVR §6.3, Figure 12: Model Collapse Step over mini-batch size and N", {
    outDir,
    file: CONFIG,
    args: configArgs,
    settings,
    keys: ["reward_mean", "label_accuracy"],
    window: WINDOW,
    extra: { mini_batch: miniBatches, n: ns, models, defaults: { mini_batch: defaultMb, n: defaultN } },
  });

  const runs = summary.runs;
  const steps = Math.max(...runs.map((r) => r.steps));
  const modelNames = [...new Set(runs.map((r) => String(r.values.model)))];
  // The paper's indicator (reward accuracy) and, named apart, the same rule on training accuracy.
  const collapseLine = (pick: (r: SweepRunSummary) => boolean, x: (r: SweepRunSummary) => number) =>
    modelNames.flatMap((m) =>
      (["modelCollapseStep", "accuracyCollapseStep"] as const).map((key): Series => ({
        name: `${m}, ${key === "modelCollapseStep" ? "reward acc." : "training acc."}`,
        points: runs.filter((r) => r.values.model === m && pick(r) && r[key] !== null)
          .map((r): [number, number] => [x(r), r[key]!]).sort((a, b) => a[0] - b[0]),
      }))
    );
  const caption = [
    `Model Collapse Step = first step with reward accuracy < 1% (URLVR §6); "none" = not within ${steps} steps`,
    ...runs.map((r) =>
      `${r.label}: ${r.modelCollapseStep ?? "none"} (training-accuracy collapse: ${
        r.accuracyCollapseStep ?? "none"
      }; reward accuracy over the last ${WINDOW} steps ${r.final.reward_accuracy?.toFixed(3) ?? "n/a"})`
    ),
  ];
  const figure = figureScene(
    [
      {
        title: "reward accuracy (majority vote)",
        xLabel: "step",
        yLabel: "reward accuracy",
        series: runs.map((r) => ({ name: r.label, points: r.series.reward_accuracy })),
      },
      {
        title: `Model Collapse Step vs mini-batch (N = ${defaultN})`,
        xLabel: "log2 mini-batch size (prompts per update)",
        yLabel: "collapse step",
        series: collapseLine((r) => r.values.n === defaultN, (r) => Math.log2(Number(r.values.mini_batch))),
      },
      {
        title: `Model Collapse Step vs N (mini-batch = ${defaultMb})`,
        xLabel: "rollouts per prompt (N)",
        yLabel: "collapse step",
        series: collapseLine((r) => r.values.mini_batch === defaultMb, (r) => Number(r.values.n)),
      },
    ],
    1,
    caption,
  );
  for (const line of caption) console.log(line);
  await finishSweep(outDir, summary, figure);
});

/**
 * Training-set size against collapse (URLVR, ../shared/papers/002, §5.1, Figures 6 and 7).
 *
 * URLVR trains Qwen3-1.7B-Base with the majority-vote reward on random subsets of DAPO-17k of
 * {32, 128, 512, 2048, 8192, 16384} problems, with the global batch fixed (32) and the epochs adjusted
 * so that every run makes the same number of optimisation steps (600); it tracks Ground Truth Reward,
 * Majority Voting Reward and Reward Accuracy (Figure 6) and the KL divergence from the reference
 * model (Figure 7). Small sets (≤ 128) stay stable; large ones hack the reward.
 *
 * Here each size is `data.limit`: the first N problems of the config's dataset (for the bundled
 * model, the 400 problems the synthetic generator draws in random order, so the first N are a random
 * subset). Every run has the config's prompts_per_step and train.steps; a small set is simply
 * revisited more often (prompts are drawn epoch by epoch, lib/rl/prompts.ts). The KL to the
 * reference model is logged (`log.kl_to_ref`) for Figure 7.
 *
 *   deno task sweep:data-size [--sizes 16,64,400] [--steps N] [--out DIR] [--config FILE] [--key value …]
 */
import { z } from "zod";
import { UsageError } from "../lib/errors.ts";
import { GRPO_CONFIG, loadConfig } from "../lib/rl/config.ts";
import { loadTrainingExamples } from "../lib/rl/prompts.ts";
import { parseSweepList, runSweep } from "../lib/rl/sweep.ts";
import { figureScene } from "../lib/report/sweep_figure.ts";
import { runMain } from "./_cli.ts";
import { finishSweep, parseSweepCli } from "./_sweep_cli.ts";

const CONFIG = "configs/demo_majority_vote.yaml";
const WINDOW = 5;

await runMain(async () => {
  const { values, configArgs, outDir } = parseSweepCli(
    "sweep:data-size",
    "Majority-vote training on subsets of different size (URLVR §5.1, Figs. 6–7).",
    CONFIG,
    { sizes: { default: "16,64,400", help: "training-set sizes (the first N problems of the dataset)" } },
  );
  const sizes = parseSweepList(values.sizes, "sizes", z.number().int().min(1));
  const args = [...configArgs, "--log.kl_to_ref", "true"];
  const base = (await loadConfig(GRPO_CONFIG, { file: CONFIG, args })).config;
  const available = (await loadTrainingExamples({ ...base.data, limit: null })).length;
  const tooBig = sizes.filter((n) => n > available);
  if (tooBig.length) {
    throw new UsageError(`--sizes: ${tooBig.join(", ")} exceed the ${available} problems of the dataset`);
  }
  const summary = await runSweep("URLVR §5.1, Figures 6–7: training-set size", {
    outDir,
    file: CONFIG,
    args,
    settings: sizes.map((n) => ({
      label: `size-${n}`,
      values: { size: n },
      overrides: ["--data.limit", String(n)],
    })),
    keys: ["reward_mean", "kl_to_ref", "label_accuracy"],
    window: WINDOW,
    extra: { sizes, available, prompts_per_step: base.train.prompts_per_step },
  });

  const runs = summary.runs;
  const panel = (title: string, key: string, yLabel: string) => ({
    title,
    xLabel: "step",
    yLabel,
    series: runs.map((r) => ({ name: `${r.values.size} problems`, points: r.series[key] })),
  });
  const caption = [
    `Means over the last ${WINDOW} steps (${base.train.prompts_per_step} prompts x ${base.rollout.n} rollouts per step):`,
    ...runs.map((r) =>
      `${String(r.values.size).padStart(6)} problems: ground-truth reward ${fmt(r.final.accuracy)}, ` +
      `majority-vote reward ${fmt(r.final.reward_mean)}, reward accuracy ${fmt(r.final.reward_accuracy)}, ` +
      `KL ${fmt(r.final.kl_to_ref, 4)}; Model Collapse Step ${r.modelCollapseStep ?? "none"}`
    ),
  ];
  const figure = figureScene(
    [
      panel("ground-truth reward (Fig. 6)", "accuracy", "accuracy of rollouts"),
      panel("majority-vote reward (Fig. 6)", "reward_mean", "mean reward"),
      panel("reward accuracy (Fig. 6)", "reward_accuracy", "reward accuracy"),
      panel("KL to the start model (Fig. 7)", "kl_to_ref", "KL"),
    ],
    2,
    caption,
  );
  for (const line of caption) console.log(line);
  await finishSweep(outDir, summary, figure);
});

function fmt(x: number | null, digits = 3): string {
  return x === null ? "n/a" : x.toFixed(digits);
}

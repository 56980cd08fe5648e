/**
 * Majority-vote training on maj@k-filtered subsets (URLVR, ../shared/papers/002, §5.3, Figure 9).
 *
 * URLVR filters DAPO-17k offline: 64 responses per prompt from the base model, maj@64, and keeps
 * prompts whose majority ratio is high (> 40%) while their majority answer is wrong, so that "almost all
 * initial majority votes are incorrect"; it then trains on 32 such prompts as in DAPO-32 (§5.1; maj@8
 * at temperature 1.0 during training) and tracks Label Accuracy (does the training maj@8 match the
 * ground truth), the Majority Voting Reward and validation accuracy.
 *
 * Here the filter runs once with `--k` samples per prompt at the config's rollout temperature, then,
 * per `--thresholds` value t, keeps the first `--subset` prompts whose majority share is > t and whose
 * majority answer is as `--keep` says (wrong: the paper's selection; right; any), writes them to
 * `filter-t<t>.jsonl` in the sweep folder and trains on them with the config (majority-vote reward).
 * Held-out greedy accuracy (the model's split.json) stands in for the validation benchmarks.
 *
 *   deno task sweep:maj-k [--k 16] [--thresholds 0.4,0.6] [--subset 32] [--keep wrong] [--steps N] [--out DIR]
 */
import { join } from "node:path";
import { z } from "zod";
import type { Example } from "../lib/data/fields.ts";
import { UsageError } from "../lib/errors.ts";
import { generate } from "../lib/generate/generate.ts";
import { isEquivalent } from "../lib/grading/equivalence.ts";
import { extractBoxed } from "../lib/grading/extract.ts";
import { writeFileAtomic } from "../lib/log/atomic.ts";
import { majorityAnswer } from "../lib/metrics/metrics.ts";
import { loadModel } from "../lib/model/model.ts";
import { GRPO_CONFIG, loadConfig } from "../lib/rl/config.ts";
import { buildPromptSet, loadTrainingExamples } from "../lib/rl/prompts.ts";
import { judge, judgeOptions } from "../lib/rl/rollout.ts";
import { parseSweepList, runSweep, splitHeldout, type SweepSetting } from "../lib/rl/sweep.ts";
import { figureScene } from "../lib/report/sweep_figure.ts";
import { runMain } from "./_cli.ts";
import { finishSweep, HELDOUT_EVAL_FLAGS, parseSweepCli, readHeldoutEvalFlags } from "./_sweep_cli.ts";

const CONFIG = "configs/demo_majority_vote.yaml";
const WINDOW = 5;
const KEEP = ["wrong", "right", "any"] as const;

/** One prompt's offline vote. */
interface Vote {
  example: Example;
  share: number;
  answer: string | null;
  correct: boolean;
}

/** What one threshold's filter kept, as summary.json records it. */
interface FilterStats {
  threshold: number;
  /** Prompts whose majority share is above the threshold. */
  passing: number;
  passing_majority_correct: number;
  kept: number;
  kept_majority_correct: number;
  file: string;
}

await runMain(async () => {
  const { cli, values, configArgs, outDir } = parseSweepCli(
    "sweep:maj-k",
    "Majority-vote training on prompts filtered by their offline maj@k vote (URLVR §5.3, Fig. 9).",
    CONFIG,
    {
      k: { arg: "K", default: "16", help: "samples per prompt in the offline vote (the paper: 64)" },
      thresholds: { default: "0.4,0.6", help: "keep prompts whose majority share is above each value" },
      subset: { arg: "N", default: "32", help: "prompts trained on per threshold (the paper: 32)" },
      keep: {
        arg: "WHICH",
        default: "wrong",
        help: "whose majority answer is: wrong (the paper), right or any",
      },
      ...HELDOUT_EVAL_FLAGS,
    },
  );
  const k = cli.number("k", z.number().int().min(2));
  const thresholds = parseSweepList(values.thresholds, "thresholds", z.number().min(0).max(1));
  const subset = cli.number("subset", z.number().int().min(1));
  const keep = cli.oneOf("keep", KEEP)!;
  const { every, evalLimit } = readHeldoutEvalFlags(cli);
  const config = (await loadConfig(GRPO_CONFIG, { file: CONFIG, args: configArgs })).config;
  const heldout = await splitHeldout(config.model.path, evalLimit);

  // The offline vote: k samples per prompt from the starting model, answers grouped as the reward does.
  const examples = await loadTrainingExamples(config.data);
  console.log(`offline vote: ${k} samples for each of ${examples.length} prompts …`);
  const model = await loadModel(config.model.path);
  let votes: Vote[];
  try {
    const prompts = await buildPromptSet(config.data, examples, model.tokenizer!);
    const outs = await generate(model, prompts.ids, {
      n: k,
      temperature: config.rollout.temperature,
      topP: config.rollout.top_p,
      maxNewTokens: config.rollout.max_new_tokens,
      stop: config.rollout.stop,
      seed: config.train.seed,
    });
    const judging = judgeOptions(config);
    votes = examples.map((example, p) => {
      const mine = outs.filter((o) => o.promptIndex === p);
      const vote = majorityAnswer(mine.map((o) => extractBoxed(o.text)?.trim() || null), isEquivalent);
      return {
        example,
        share: vote.count / mine.length,
        answer: vote.answer,
        correct: vote.index >= 0 && judge(example, mine[vote.index].text, judging) === true,
      };
    });
  } finally {
    model.release();
  }

  const settings: SweepSetting[] = [];
  const filters: FilterStats[] = [];
  for (const t of thresholds) {
    const passing = votes.filter((v) => v.share > t && v.answer !== null);
    const chosen = passing.filter((v) => keep === "any" || v.correct === (keep === "right")).slice(0, subset);
    if (chosen.length === 0) {
      throw new UsageError(
        `--thresholds ${t}: no prompt has a majority share above ${t} with a ${keep} majority answer; ` +
          "lower the threshold, raise --k or choose another --keep",
      );
    }
    const file = join(outDir, `filter-t${t}.jsonl`);
    await Deno.mkdir(outDir, { recursive: true });
    await writeFileAtomic(
      file,
      chosen.map((v) =>
        JSON.stringify({
          problem: v.example.fields.problem,
          answer: v.example.answer,
          maj_answer: v.answer,
          maj_share: v.share,
          maj_correct: v.correct,
        }) + "\n"
      ).join(""),
    );
    filters.push({
      threshold: t,
      passing: passing.length,
      passing_majority_correct: passing.filter((v) => v.correct).length,
      kept: chosen.length,
      kept_majority_correct: chosen.filter((v) => v.correct).length,
      file: `filter-t${t}.jsonl`,
    });
    settings.push({
      label: `t-${t}`,
      values: { threshold: t, kept: chosen.length },
      // The filtered file and nothing else: no preset mapping, no row limit meant for the pool.
      overrides: [
        "--data.path",
        file,
        "--data.preset",
        "null",
        "--data.limit",
        "null",
        "--data.fields.problem",
        "problem",
        "--data.fields.answer",
        "answer",
      ],
    });
  }
  for (const f of filters) {
    console.log(
      `share > ${f.threshold}: ${f.passing} prompts (${f.passing_majority_correct} with a right majority); ` +
        `kept ${f.kept} with a ${keep} majority`,
    );
  }
  const summary = await runSweep("URLVR §5.3, Figure 9: training on maj@k-filtered prompts", {
    outDir,
    file: CONFIG,
    args: configArgs,
    settings,
    keys: ["reward_mean", "label_accuracy", "p_maj"],
    window: WINDOW,
    heldout: { examples: heldout, every },
    extra: { k, keep, subset, prompts: examples.length, filters },
  });

  const runs = summary.runs;
  const series = (pick: (r: (typeof runs)[number]) => [number, number][]) =>
    runs.map((r) => ({
      name: `share > ${r.values.threshold} (${prompts(Number(r.values.kept))})`,
      points: pick(r),
    }));
  const byThreshold = (pick: (r: (typeof runs)[number]) => number | null) =>
    runs.filter((r) => pick(r) !== null).map((r): [number, number] => [Number(r.values.threshold), pick(r)!]);
  const pct = (x: number | undefined) => x === undefined ? "n/a" : `${(100 * x).toFixed(1)}%`;
  const caption = [
    `Offline maj@${k} over ${examples.length} prompts; kept prompts with a ${keep} majority answer:`,
    ...runs.map((r, i) =>
      `share > ${r.values.threshold}: ${prompts(filters[i].kept)} (${
        filters[i].kept_majority_correct
      } right ` +
      `majorities offline); label accuracy, last ${WINDOW} steps ${
        r.final.label_accuracy?.toFixed(3) ?? "n/a"
      }; ` +
      `held-out accuracy ${pct(r.heldout[0]?.[1])} → ${pct(r.heldout.at(-1)?.[1])}`
    ),
  ];
  const figure = figureScene(
    [
      {
        title: "label accuracy (training maj vote)",
        xLabel: "step",
        yLabel: "label accuracy",
        series: series((r) => r.series.label_accuracy),
      },
      {
        title: "majority-vote reward",
        xLabel: "step",
        yLabel: "mean reward",
        series: series((r) => r.series.reward_mean),
      },
      {
        title: "training accuracy (rollouts)",
        xLabel: "step",
        yLabel: "accuracy",
        series: series((r) => r.series.accuracy),
      },
      {
        title: "held-out greedy accuracy",
        xLabel: "step",
        yLabel: "accuracy",
        series: series((r) => r.heldout),
      },
      {
        title: "by filter threshold",
        xLabel: `majority share threshold (offline maj@${k})`,
        yLabel: "accuracy",
        series: [
          {
            name: `label accuracy, last ${WINDOW} steps`,
            points: byThreshold((r) => r.final.label_accuracy),
          },
          { name: `training accuracy, last ${WINDOW} steps`, points: byThreshold((r) => r.final.accuracy) },
          { name: "held-out accuracy, end", points: byThreshold((r) => r.heldout.at(-1)?.[1] ?? null) },
        ],
      },
    ],
    2,
    caption,
  );
  for (const line of caption) console.log(line);
  await finishSweep(outDir, summary, figure);
});

function prompts(n: number): string {
  return n === 1 ? "1 prompt" : `${n} prompts`;
}

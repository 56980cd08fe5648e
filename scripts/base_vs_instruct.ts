/**
 * The same intrinsic-feedback recipe on a base model and on its instruction-tuned sibling (the RLIF
 * study, ../shared/papers/004: RLIF "can boost the reasoning performance of base LLMs at the beginning
 * phase of the training … However, when training progresses, performance degrades even below the model
 * before training", and "RLIF yields little improvement for instruction-tuned models").
 *
 * Both runs share every setting but `model.path` (default: self-certainty GRPO as in the demo); held-out
 * greedy accuracy is measured before training and every `--eval-every` steps, so the gain (or loss) of
 * each model over training can be read off one figure.
 *
 * The bundled pair: `scripts/assets/arith-tiny` is the "base" (SFT stopped while partly right) and
 * `scripts/assets/arith-tiny-instruct` its "instruct" sibling: the same init, data, split and seed with
 * longer SFT (400 steps instead of 220; `deno task make-demo-model --out scripts/assets/arith-tiny-instruct --steps 400 --role instruct`; held-out greedy accuracy 88.7%
 * against 35.0%, see the two READMEs). The pairing is an analogue, not the papers' pretraining vs
 * instruction tuning: both are supervised on the task; the sibling is simply tuned further, so it is
 * more accurate and more certain before any RL, as an instruct model is on the papers' benchmarks.
 *
 *   deno task compare:base-instruct [--base DIR] [--instruct DIR] [--eval-every N] [--steps N] [--out DIR]
 */
import { runSweep, splitHeldout } from "../lib/rl/sweep.ts";
import { figureScene } from "../lib/report/sweep_figure.ts";
import { runMain } from "./_cli.ts";
import { finishSweep, HELDOUT_EVAL_FLAGS, parseSweepCli, readHeldoutEvalFlags } from "./_sweep_cli.ts";

const CONFIG = "configs/demo_self_certainty.yaml";
const WINDOW = 5;

await runMain(async () => {
  const { cli, values, configArgs, outDir } = parseSweepCli(
    "compare:base-instruct",
    "One intrinsic-reward recipe on a base model and its instruct sibling (RLIF study).",
    CONFIG,
    {
      base: { arg: "DIR", default: "scripts/assets/arith-tiny", help: "the base model folder" },
      instruct: {
        arg: "DIR",
        default: "scripts/assets/arith-tiny-instruct",
        help: "the instruction-tuned sibling",
      },
      ...HELDOUT_EVAL_FLAGS,
    },
  );
  const { every, evalLimit } = readHeldoutEvalFlags(cli);
  if (values.base === values.instruct) cli.fail("--base and --instruct name the same folder");
  // The problems both models are judged on: the base model's held-out split (never seen in SFT).
  const examples = await splitHeldout(values.base, evalLimit);
  const summary = await runSweep("RLIF study: base vs instruct under intrinsic feedback", {
    outDir,
    file: CONFIG,
    args: configArgs,
    settings: [
      { label: "base", values: { model: values.base }, overrides: ["--model.path", values.base] },
      { label: "instruct", values: { model: values.instruct }, overrides: ["--model.path", values.instruct] },
    ],
    keys: ["reward_mean", "signal/selfCertainty"],
    window: WINDOW,
    heldout: { examples, every },
    extra: { heldout_problems: examples.length, heldout_source: `${values.base}/split.json` },
  });

  const runs = summary.runs;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const caption = [
    `Held-out greedy accuracy on ${examples.length} problems, before training → best → last:`,
    ...runs.map((r) => {
      const acc = r.heldout.map((p) => p[1]);
      const first = acc[0], last = acc.at(-1)!, best = Math.max(...acc);
      const sign = last >= first ? "+" : "";
      return `${r.label.padEnd(9)} ${pct(first)} → ${pct(best)} → ${pct(last)} (last − before: ${sign}${
        (100 * (last - first)).toFixed(1)
      } points; training-accuracy collapse step ${r.accuracyCollapseStep ?? "none"})`;
    }),
  ];
  const series = (pick: (r: (typeof runs)[number]) => [number, number][]) =>
    runs.map((r) => ({ name: r.label, points: pick(r) }));
  const figure = figureScene(
    [
      {
        title: "held-out greedy accuracy",
        xLabel: "step",
        yLabel: "accuracy",
        series: series((r) => r.heldout),
      },
      {
        title: "training accuracy (rollouts)",
        xLabel: "step",
        yLabel: "accuracy",
        series: series((r) => r.series.accuracy),
      },
      {
        title: "self-certainty of rollouts",
        xLabel: "step",
        yLabel: "self-certainty",
        series: series((r) => r.series["signal/selfCertainty"]),
      },
    ],
    3,
    caption,
  );
  for (const line of caption) console.log(line);
  await finishSweep(outDir, summary, figure);
});

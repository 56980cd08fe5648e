/**
 * The demo: a complete small RLIF experiment on the CPU in under five minutes of CPU time. The bundled
 * model (scripts/assets/arith-tiny, trained by rlif itself with `deno task make-demo-model`) is trained with
 * GRPO twice from the same start, side by side: with the verifiable reward (is the boxed sum right?) for 40
 * steps and with its own self-certainty (Intuitor; no answer is read) for 30, by which point it has
 * collapsed and lost the answer format, so further steps would only cost time (configs/demo_*.yaml). Before
 * and after, the same held-out problems are answered greedily and sampled, and the table shows accuracy and
 * self-certainty for each model.
 *
 *   deno task demo [--key value …]   (overrides apply to both runs, e.g. --train.steps 10)
 */
import { join } from "node:path";
import { generate } from "../lib/generate/generate.ts";
import { loadModel } from "../lib/model/model.ts";
import { score } from "../lib/model/score.ts";
import { mathAccuracyScore } from "../lib/rewards/math_accuracy.ts";
import { extractBoxed } from "../lib/grading/extract.ts";
import { modelCollapseStep } from "../lib/metrics/metrics.ts";
import { GRPO_CONFIG, loadConfig } from "../lib/rl/config.ts";
import { checkpointDir } from "../lib/rl/checkpoint.ts";
import { trainGrpo } from "../lib/rl/trainer.ts";
import { runMain } from "./_cli.ts";
import { exitOnHelp } from "./_experiment.ts";

await exitOnHelp({
  task: "demo",
  config: "configs/demo_self_certainty.yaml",
  summary: "A complete small RLIF experiment on the CPU in a few minutes: the bundled model " +
    "(scripts/assets/arith-tiny) is trained with GRPO twice from the same start, with the verifiable reward " +
    "(configs/demo_verifiable.yaml) and with its own self-certainty (configs/demo_self_certainty.yaml), " +
    "and evaluated on held-out problems before and after. Config keys given on the command line apply to " +
    "both runs.",
  examples: ["deno task demo", "deno task demo --train.steps 10"],
  fixedConfig: true,
});

const MODEL = "scripts/assets/arith-tiny";
// The problems every model is judged on: the 80 pairs the bundled model's SFT never saw (split.json).
// GRPO itself samples prompts from all 400 pairs of the same range; the self-certainty run never reads
// an answer.
const EVAL = heldoutProblems(join(MODEL, "split.json"));
const MAX_NEW_TOKENS = 12; // "\boxed{38}" is 10 byte tokens, then <|im_end|>
const SAMPLES = 4;
const STEP_WINDOW = 10;

interface Evaluation {
  greedy: number;
  sampled: number;
  format: number;
  selfCertainty: number;
}

function heldoutProblems(path: string): { problem: string; answer: string }[] {
  const split = JSON.parse(Deno.readTextFileSync(path)) as { heldout: string[] };
  return split.heldout.map((problem) => {
    const [a, b] = problem.replace("=", "").split("+").map(Number);
    return { problem, answer: String(a + b) };
  });
}

async function evaluate(dir: string): Promise<Evaluation> {
  const model = await loadModel(dir);
  const prompts = EVAL.map((p) => p.problem);
  const greedy = await generate(model, prompts, { temperature: 0, maxNewTokens: MAX_NEW_TOKENS, seed: 1 });
  const sampled = await generate(model, prompts, {
    temperature: 1,
    n: SAMPLES,
    maxNewTokens: MAX_NEW_TOKENS,
    seed: 1,
  });
  const certainty = await score(model, greedy, { temperature: 1 });
  model.release();
  const acc = (outs: typeof greedy) =>
    outs.filter((o) => mathAccuracyScore(o.text, EVAL[o.promptIndex].answer) === 1).length / outs.length;
  return {
    greedy: acc(greedy),
    sampled: acc(sampled),
    format: greedy.filter((o) => extractBoxed(o.text) !== null).length / greedy.length,
    selfCertainty: certainty.reduce((a, s) => a + s.selfCertainty, 0) / certainty.length,
  };
}

interface Run {
  label: string;
  runDir: string;
  after: Evaluation;
  /** Means over the training rollouts of the first and of the last STEP_WINDOW steps. */
  accuracy: [number, number];
  selfCertainty: [number, number];
  /**
   * The first step whose training accuracy is under 1%, or null: the training-accuracy variant of the
   * Model Collapse Step, which URLVR §6 defines on reward accuracy under majority-vote training.
   */
  accuracyCollapseStep: number | null;
}

/** One step's mean depends on which prompts it drew: average over the first and the last few steps. */
function firstAndLast(perStep: number[]): [number, number] {
  const window = Math.min(STEP_WINDOW, perStep.length);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [mean(perStep.slice(0, window)), mean(perStep.slice(-window))];
}

// Errors reach the user through runMain: one line for their mistakes, 130/143 after a signal.
await runMain(async () => {
  // Both configurations are resolved (and any bad override refused) before any work starts.
  const plans = [];
  for (
    const [label, file] of [
      ["verifiable reward", "configs/demo_verifiable.yaml"],
      ["self-certainty", "configs/demo_self_certainty.yaml"],
    ]
  ) plans.push({ label, config: (await loadConfig(GRPO_CONFIG, { file, args: Deno.args })).config });
  const started = performance.now();
  console.log(`evaluating the bundled model ${MODEL} on ${EVAL.length} problems …`);
  const before = await evaluate(MODEL);
  const runs: Run[] = [];
  for (const { label, config } of plans) {
    console.log(
      `\nGRPO with the ${label} (${config.train.steps} steps, ${config.rollout.n} samples per prompt)`,
    );
    const result = await trainGrpo(config);
    runs.push({
      label,
      runDir: result.runDir,
      after: await evaluate(checkpointDir(result.runDir, result.step)),
      accuracy: firstAndLast(result.metrics.map((m) => m.accuracy as number)),
      selfCertainty: firstAndLast(result.metrics.map((m) => m["signal/selfCertainty"] as number)),
      accuracyCollapseStep: modelCollapseStep(
        result.metrics.map((m) => ({ step: m.step, value: m.accuracy as number })),
      ),
    });
  }

  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(8);
  const num = (x: number) => x.toFixed(4).padStart(14);
  console.log(
    `\n${EVAL.length} held-out problems (never seen in SFT); accuracy greedy and sampled (T=1, ${SAMPLES} per problem)`,
  );
  console.log(
    `${"model".padEnd(34)}${"greedy".padStart(8)}${"sampled".padStart(8)}${"format".padStart(8)}${
      "self-certainty".padStart(16)
    }`,
  );
  const row = (name: string, e: Evaluation) =>
    console.log(
      `${name.padEnd(34)}${pct(e.greedy)}${pct(e.sampled)}${pct(e.format)}  ${num(e.selfCertainty)}`,
    );
  row("bundled model (before)", before);
  for (const r of runs) row(`after GRPO, ${r.label}`, r.after);
  console.log(
    `\ntraining rollouts (T=1), mean of the first ${STEP_WINDOW} steps → mean of the last ${STEP_WINDOW}:`,
  );
  console.log(
    `${"run".padEnd(20)}${"accuracy".padStart(18)}${"self-certainty".padStart(20)}${
      "acc. collapse".padStart(15)
    }`,
  );
  const arrow = ([a, b]: [number, number], digits: number, width: number) =>
    `${a.toFixed(digits)} → ${b.toFixed(digits)}`.padStart(width);
  for (const r of runs) {
    const collapse = String(r.accuracyCollapseStep ?? "none").padStart(15);
    console.log(
      `${r.label.padEnd(20)}${arrow(r.accuracy, 3, 18)}${arrow(r.selfCertainty, 3, 20)}${collapse}`,
    );
  }
  console.log("\nrun directories (config.yaml, metrics.jsonl, metadata.jsonl, checkpoints/):");
  for (const r of runs) console.log(`  ${r.label.padEnd(20)} ${r.runDir}`);
  console.log(`\nanalyse one: deno task analyze ${join(runs[0].runDir)}`);
  console.log(`done in ${((performance.now() - started) / 60000).toFixed(1)} min`);
});

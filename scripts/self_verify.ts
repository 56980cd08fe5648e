/**
 * Self-verification (URLVR section 7): GRPO on Countdown where the policy's own verdict on its answer,
 * asked with the paper's verification prompt, is the reward; TinyZero's ground-truth check is logged as
 * correctness beside it.
 *
 *   deno task self-verify [--config configs/self_verify.yaml] [--key value …]
 *
 * @module
 */
import { runExperiment } from "../lib/rl/experiment.ts";
import { runMain } from "./_cli.ts";

const USAGE = `usage: deno task self-verify [--config configs/self_verify.yaml] [--key value …]
  GRPO on Countdown with the policy's own verdict as the reward (URLVR section 7): each rollout's
  <answer> expression goes into the verification prompt (reward.template: configs/templates/
  self_verify_p2.jinja, or _p1), the policy answers (reward.temperature, 0 = greedy;
  reward.max_new_tokens), and \\boxed{True} scores 1, anything else 0. TinyZero's Countdown check is
  logged as correctness (metrics.jsonl accuracy, metadata.jsonl correct); deno task analyze RUN_DIR
  compares the two. Any config key can be overridden, e.g. --train.steps 2 --reward.template FILE;
  the keys are listed in configs/README.md.`;

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(USAGE);
  Deno.exit(0);
}

await runMain(async () => {
  await runExperiment("self-verify", "configs/self_verify.yaml", Deno.args);
});

/**
 * Self-verification (URLVR section 7): GRPO on Countdown where the policy's own verdict on its answer,
 * asked with the paper's verification prompt, is the reward; TinyZero's ground-truth check is logged as
 * correctness beside it.
 *
 *   deno task self-verify [--config configs/self_verify.yaml] [--section.key VALUE …] (--help lists the keys)
 *
 * @module
 */
import { runExperimentScript } from "./_experiment.ts";

await runExperimentScript({
  task: "self-verify",
  config: "configs/self_verify.yaml",
  summary: "GRPO on Countdown with the policy's own verdict as the reward (URLVR section 7): each " +
    "rollout's <answer> expression goes into the verification prompt (reward.template: " +
    "configs/templates/self_verify_p2.jinja, or _p1), the policy answers (reward.temperature, 0 = greedy; " +
    "reward.max_new_tokens), and \\boxed{True} scores 1, anything else 0. TinyZero's Countdown check is " +
    "logged as correctness (metrics.jsonl accuracy, metadata.jsonl correct); deno task analyze RUN_DIR " +
    "compares the two.",
  examples: [
    "deno task self-verify --train.steps 2",
    "deno task self-verify --reward.template configs/templates/self_verify_p1.jinja",
  ],
});

/**
 * GRPO with a verifiable reward (DeepSeek-R1 / TRL recipe): the boxed answer checked against the ground
 * truth. Every intrinsic signal is logged beside it, so the run also shows how they track correctness.
 *
 *   deno task grpo [--config configs/grpo.yaml] [--section.key VALUE …] (--help lists the keys)
 */
import { runExperimentScript } from "./_experiment.ts";

await runExperimentScript({
  task: "grpo",
  config: "configs/grpo.yaml",
  summary:
    "GRPO with a verifiable reward (DeepSeek-R1 / TRL recipe): the boxed answer checked against the ground truth. Every intrinsic signal is logged beside it, so the run also shows how they track correctness.",
});

/**
 * GRPO with a verifiable reward (DeepSeek-R1 / TRL recipe): the boxed answer checked against the ground
 * truth. Every intrinsic signal is logged beside it, so the run also shows how they track correctness.
 *
 *   deno task grpo [--config configs/grpo.yaml] [--key value …]
 */
import { runExperiment } from "../lib/rl/experiment.ts";
import { runMain } from "./_cli.ts";

await runMain(async () => {
  await runExperiment("grpo", "configs/grpo.yaml", Deno.args);
});

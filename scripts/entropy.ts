/**
 * Entropy minimisation as reward (RENT / EM-RL): negative mean token entropy by default; pass
 * `--reward.name traj_logprob` or `mean_logprob` for the trajectory-level variant.
 *
 *   deno task entropy [--config configs/entropy.yaml] [--key value …]
 */
import { runExperiment } from "../lib/rl/experiment.ts";
import { runMain } from "./_cli.ts";

await runMain(async () => {
  await runExperiment("entropy", "configs/entropy.yaml", Deno.args);
});

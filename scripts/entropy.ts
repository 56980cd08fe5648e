/**
 * Entropy minimisation as reward (RENT / EM-RL): negative mean token entropy by default; pass
 * `--reward.name traj_logprob` or `mean_logprob` for the trajectory-level variant.
 *
 *   deno task entropy [--config configs/entropy.yaml] [--section.key VALUE …] (--help lists the keys)
 */
import { runExperimentScript } from "./_experiment.ts";

await runExperimentScript({
  task: "entropy",
  config: "configs/entropy.yaml",
  summary:
    "Entropy minimisation as reward (RENT / EM-RL): negative mean token entropy by default; --reward.name traj_logprob or mean_logprob for the trajectory-level variant.",
});

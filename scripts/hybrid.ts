/**
 * Hybrid reward: a weighted sum of intrinsic and verifiable rewards (reward.components).
 *
 *   deno task hybrid [--config configs/hybrid.yaml] [--key value …]
 */
import { runExperiment } from "../lib/rl/experiment.ts";
import { runMain } from "./_cli.ts";

await runMain(async () => {
  await runExperiment("hybrid", "configs/hybrid.yaml", Deno.args);
});

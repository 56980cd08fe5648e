/**
 * Hybrid reward: a weighted sum of intrinsic and verifiable rewards (reward.components).
 *
 *   deno task hybrid [--config configs/hybrid.yaml] [--key value …]
 */
import { runExperiment } from "../lib/rl/experiment.ts";

await runExperiment("hybrid", "configs/hybrid.yaml", Deno.args);

/**
 * Hybrid reward: a weighted sum of intrinsic and verifiable rewards (reward.components).
 *
 *   deno task hybrid [--config configs/hybrid.yaml] [--section.key VALUE …] (--help lists the keys)
 */
import { runExperimentScript } from "./_experiment.ts";

await runExperimentScript({
  task: "hybrid",
  config: "configs/hybrid.yaml",
  summary: "Hybrid reward: a weighted sum of intrinsic and verifiable rewards (reward.components).",
});

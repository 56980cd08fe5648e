/**
 * Test-time training (URLVR §5.2): majority-vote GRPO for many passes over a small unlabeled set.
 *
 *   deno task ttt [--config configs/ttt.yaml] [--section.key VALUE …] (--help lists the keys)
 */
import { runExperimentScript } from "./_experiment.ts";

await runExperimentScript({
  task: "ttt",
  config: "configs/ttt.yaml",
  summary: "Test-time training (URLVR §5.2): majority-vote GRPO for many passes over a small unlabeled set.",
});

/**
 * Test-time training (URLVR §5.2): majority-vote GRPO for many passes over a small unlabeled set.
 *
 *   deno task ttt [--config configs/ttt.yaml] [--key value …]
 */
import { runExperiment } from "../lib/rl/experiment.ts";
import { runMain } from "./_cli.ts";

await runMain(async () => {
  await runExperiment("ttt", "configs/ttt.yaml", Deno.args);
});

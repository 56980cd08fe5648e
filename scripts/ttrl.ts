/**
 * TTRL: test-time reinforcement learning with majority vote over each prompt's samples as the
 * pseudo-label. Logs label accuracy and reward accuracy when the data has ground truth.
 *
 *   deno task ttrl [--config configs/ttrl.yaml] [--key value …]
 */
import { runExperiment } from "../lib/rl/experiment.ts";
import { runMain } from "./_cli.ts";

await runMain(async () => {
  await runExperiment("ttrl", "configs/ttrl.yaml", Deno.args);
});

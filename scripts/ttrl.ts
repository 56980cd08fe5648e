/**
 * TTRL: test-time reinforcement learning with majority vote over each prompt's samples as the
 * pseudo-label. Logs label accuracy and reward accuracy when the data has ground truth.
 *
 *   deno task ttrl [--config configs/ttrl.yaml] [--section.key VALUE …] (--help lists the keys)
 */
import { runExperimentScript } from "./_experiment.ts";

await runExperimentScript({
  task: "ttrl",
  config: "configs/ttrl.yaml",
  summary:
    "TTRL: test-time reinforcement learning with majority vote over each prompt's samples as the pseudo-label. Logs label accuracy and reward accuracy when the data has ground truth.",
});

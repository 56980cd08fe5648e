/**
 * Intuitor: GRPO rewarded by the policy's own self-certainty (mean KL(U || p) over the completion),
 * scored online by the current policy. No labels are read; accuracy is logged when the data has answers.
 *
 *   deno task intuitor [--config configs/intuitor.yaml] [--key value …]
 */
import { runExperiment } from "../lib/rl/experiment.ts";
import { runMain } from "./_cli.ts";

await runMain(async () => {
  await runExperiment("intuitor", "configs/intuitor.yaml", Deno.args);
});

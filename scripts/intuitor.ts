/**
 * Intuitor: GRPO rewarded by the policy's own self-certainty (mean KL(U || p) over the completion),
 * scored online by the current policy. No labels are read; accuracy is logged when the data has answers.
 *
 *   deno task intuitor [--config configs/intuitor.yaml] [--section.key VALUE …] (--help lists the keys)
 */
import { runExperimentScript } from "./_experiment.ts";

await runExperimentScript({
  task: "intuitor",
  config: "configs/intuitor.yaml",
  summary:
    "Intuitor: GRPO rewarded by the policy's own self-certainty (mean KL(U || p) over the completion), scored online by the current policy. No labels are read; accuracy is logged when the data has answers.",
});

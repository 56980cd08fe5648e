/**
 * The memory plan of one GRPO step of a config, from the model's config.json alone (or its published
 * config when the folder is not here): resident weights, gradients and optimizer state, what each phase
 * adds, the peak and the FLOPs, against gpu.memory_gb or nvidia-smi's memory.
 *
 *   deno task plan --config configs/urlvr_majority_vote.yaml [--section.key VALUE …]
 */
import { exitOnHelp, type ExperimentScript, printPlan } from "./_experiment.ts";
import { runMain } from "./_cli.ts";
import { GRPO_CONFIG, loadConfig } from "../lib/rl/config.ts";

const script: ExperimentScript = {
  task: "plan",
  config: "configs/grpo.yaml",
  summary: "The GPU memory one GRPO step of a config needs, planned from the model's config.json with " +
    "nothing loaded: per component and phase, the peak, FLOPs per step, and whether it fits " +
    "gpu.memory_gb (else nvidia-smi's memory); exit 1 when it does not, naming the keys that would make it.",
  examples: [
    "deno task plan --config configs/urlvr_majority_vote.yaml",
    "deno task plan --config configs/intuitor.yaml --gpu.memory_gb 80 --train.recompute true",
  ],
  plansOnly: true,
};

await exitOnHelp(script);
await runMain(async () => {
  const { config } = await loadConfig(GRPO_CONFIG, { file: script.config, args: Deno.args });
  Deno.exit(await printPlan(config));
});

/**
 * Hidden-state dynamics: GRPO rewarded by the chain-of-embedding features d1 + d2 of the policy's hidden
 * states, min-max normalised per prompt. With --observe, trains on the verifiable reward (EasyR1's
 * 0.9 accuracy + 0.1 format) and logs d1 / d2 only as probes.
 *
 *   deno task coe [--observe] [--config configs/coe.yaml] [--section.key VALUE …] (--help lists the keys)
 */
import { runExperimentScript } from "./_experiment.ts";

await runExperimentScript(
  {
    task: "coe",
    config: "configs/coe.yaml",
    summary: "Hidden-state dynamics: GRPO rewarded by the chain-of-embedding features d1 + d2 of the " +
      "policy's hidden states, min-max normalised per prompt.",
    switches: {
      observe: {
        doc: "train on the verifiable reward (EasyR1's 0.9 accuracy + 0.1 format) and log d1 / d2 only " +
          "as probes; the run is named <log.name>-observe",
      },
    },
    examples: ["deno task coe --train.steps 2", "deno task coe --observe --train.steps 2"],
  },
  (config, { observe }) =>
    observe
      ? {
        ...config,
        reward: { name: "easyr1_math", scorer: config.reward.scorer, shaping: { name: "none" } },
        log: { ...config.log, name: `${config.log.name}-observe` },
      }
      : config,
);

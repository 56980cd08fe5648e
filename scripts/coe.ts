/**
 * Hidden-state dynamics: GRPO rewarded by the chain-of-embedding features d1 + d2 of the policy's hidden
 * states, min-max normalised per prompt. With --observe, trains on the verifiable reward (EasyR1's
 * 0.9 accuracy + 0.1 format) and logs d1 / d2 only as probes.
 *
 *   deno task coe [--observe] [--config configs/coe.yaml] [--key value …]
 */
import { runExperiment } from "../lib/rl/experiment.ts";

const observe = Deno.args.includes("--observe");
const args = Deno.args.filter((a) => a !== "--observe");
await runExperiment("coe", "configs/coe.yaml", args, (config) =>
  observe
    ? {
      ...config,
      reward: { name: "easyr1_math", scorer: config.reward.scorer, shaping: { name: "none" } },
      log: { ...config.log, name: `${config.log.name}-observe` },
    }
    : config);

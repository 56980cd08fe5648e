/**
 * What every experiment script does: read its YAML (or `--config FILE`) and `--key value` overrides,
 * refuse a bad config before any work starts, train, and say where the run is. With `--log.resume DIR`
 * the run's own config applies, and only the overrides lib/rl/resume.ts allows may change it.
 *
 * @module
 */
import { GRPO_CONFIG, type GrpoConfig, loadConfig } from "./config.ts";
import { trainGrpo, type TrainResult } from "./trainer.ts";

/** Keys printed at the end of a run, when logged. */
const SUMMARY = ["reward_mean", "accuracy", "signal/selfCertainty", "entropy", "response_length", "kl"];

/**
 * Runs the GRPO experiment described by `file` (the experiment's YAML under configs/) and `args`.
 * `adjust` may change the resolved config (e.g. an experiment's mode flag). A bad config throws a
 * `ConfigError` (lib/rl/config.ts) listing every problem with its file, line and allowed values, before any work.
 */
export async function runExperiment(
  name: string,
  file: string,
  args: readonly string[],
  adjust?: (config: GrpoConfig) => GrpoConfig,
): Promise<TrainResult> {
  const loaded = await loadConfig(GRPO_CONFIG, { file, args });
  let config = loaded.config;
  if (adjust) config = adjust(config);
  const result = await trainGrpo(config, {
    overrides: Object.keys(loaded.sources).filter((k) => loaded.sources[k].startsWith("--")),
    resumeCommand: `deno task ${name} --log.resume`,
  });
  const first = result.metrics[0], last = result.metrics.at(-1);
  console.log(`${name}: ${result.stopped} at step ${result.step}; run directory ${result.runDir}`);
  if (first && last) {
    for (const key of SUMMARY) {
      const a = first[key], b = last[key];
      if (typeof a === "number" && typeof b === "number") {
        console.log(
          `  ${key.padEnd(22)} step ${first.step}: ${a.toFixed(4)}  step ${last.step}: ${b.toFixed(4)}`,
        );
      }
    }
  }
  return result;
}

/**
 * The config a resumed run continues with: the run's own `config.yaml`, so the continuation is the same
 * experiment, plus the few keys that may change on resume. `train.steps` may grow (as `max_steps` may in
 * TRL and verl: a finished 12-step run resumed with `--train.steps 14` trains steps 13 and 14; the
 * learning-rate schedule is then that of a 14-step run from the step reached on), and `log.save_every` /
 * `log.every` only say how often to save and print. Any other key the caller set explicitly that differs
 * from the run's value would make it a different experiment, and is refused naming the key.
 *
 * @module
 */
import { join } from "node:path";
import { RlifError } from "../errors.ts";
import { GRPO_CONFIG, type GrpoConfig, resolveConfig } from "./config.ts";

/** Keys a resume may change, and why each is safe. */
export const RESUMABLE_KEYS: Readonly<Record<string, string>> = {
  "train.steps": "how long the run trains",
  "log.save_every": "how often checkpoints are saved",
  "log.every": "how often progress is printed",
};

function getPath(obj: unknown, key: string): unknown {
  let node = obj;
  for (const part of key.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = obj;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts[parts.length - 1]] = value;
}

/** The resumed run's config, and whether it differs from the run's config.yaml. */
export interface ResumedConfig {
  /** The run's config with the allowed overrides applied and `log.resume` set to the run. */
  config: GrpoConfig;
  /** The keys changed from the run's config.yaml (then config.yaml is to be rewritten). */
  changed: string[];
}

/**
 * Reads `dir`'s config.yaml and applies the `overrides` (dotted keys set explicitly, e.g. on the
 * command line, with their values in `requested`) that {@link RESUMABLE_KEYS} allows; throws an
 * RlifError (code "config.resume") naming every other overridden key whose value differs from the run's.
 *
 * @example
 * ```ts
 * const { config } = await resumedConfig("runs/x", requested, ["train.steps"]);
 * ```
 */
export async function resumedConfig(
  dir: string,
  requested: GrpoConfig,
  overrides: readonly string[],
): Promise<ResumedConfig> {
  const file = join(dir, "config.yaml");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new RlifError(
      "config.resume",
      `log.resume: ${dir} has no readable config.yaml (${(e as Error).message}); is it a run directory?`,
    );
  }
  const saved = resolveConfig(GRPO_CONFIG, text, file).config;
  const config = structuredClone(saved) as unknown as Record<string, unknown>;
  const changed: string[] = [], refused: string[] = [];
  for (const key of overrides) {
    if (key === "log.resume" || key === "config") continue;
    const want = getPath(requested, key), have = getPath(saved, key);
    if (JSON.stringify(want) === JSON.stringify(have)) continue;
    if (key in RESUMABLE_KEYS) {
      setPath(config, key, want);
      changed.push(key);
    } else {
      refused.push(`${key} (${JSON.stringify(want)}; the run has ${JSON.stringify(have)})`);
    }
  }
  if (refused.length) {
    throw new RlifError(
      "config.resume",
      `log.resume ${dir}: resuming cannot change ${refused.join(", ")}: that would be another ` +
        `experiment. Drop ${
          refused.length === 1 ? "that override" : "those overrides"
        } to continue the run, ` +
        `or start a new run without --log.resume. A resume may change only ${
          Object.keys(RESUMABLE_KEYS).join(", ")
        }.`,
    );
  }
  const resumed = config as unknown as GrpoConfig;
  return { config: { ...resumed, log: { ...resumed.log, resume: dir } }, changed };
}

/**
 * What samples a step's rollouts (`rollout.engine`): the local engine — the sampling copy of the policy,
 * in process — or replicas of an OpenAI-compatible server (`openai`), kept on the current policy by
 * `rollout.sync: disk`. Both sample prompt group p of a step from the same seed, {@link groupSeed}, so
 * with the same weights they return the same tokens.
 *
 * @module
 */
import { RlifError } from "../errors.ts";
import { type Completion, generate } from "../generate/generate.ts";
import type { Model } from "../model/model.ts";
import type { GrpoConfig } from "./config.ts";
import { type GroupSampling, OpenAIRolloutClient } from "./rollout_openai.ts";
import { syncFolderName, writeSyncFolder } from "./rollout_sync.ts";

/**
 * The seed of prompt group `p` of a step: the step seed and the prompt's position among the step's
 * prompts mixed by murmur3's 32-bit finalizer (after adding p·φ·2³², so neighbouring positions land far
 * apart). Local generation draws sample j of the group from (seed, j, step) with `seeds`, and a
 * replica from (seed, stream j, step) of a request with `seed`: the same stream either way, whichever
 * replica serves the group.
 *
 * @example
 * ```ts
 * groupSeed(1234, 0) !== groupSeed(1234, 1); // true
 * ```
 */
export function groupSeed(stepSeed: number, p: number): number {
  let h = (stepSeed + Math.imul(p + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Seconds a weight sync took: writing the folder, and the slowest replica's reload. */
export interface SyncTiming {
  /** Reading the weights back and writing the folder. */
  readonly writeSeconds: number;
  /** From the reload requests to the last replica's answer. */
  readonly reloadSeconds: number;
  /** Bytes of model.safetensors. */
  readonly bytes: number;
}

/** The sampler of a run's rollouts. */
export interface RolloutEngine {
  /** `rollout.engine`. */
  readonly kind: GrpoConfig["rollout"]["engine"];
  /** `rollout.n` completions of each prompt, group p drawn from `seeds[p]`, prompt-major. */
  sample(prompts: readonly (readonly number[])[], seeds: readonly number[]): Promise<Completion[]>;
  /**
   * Makes the replicas serve the weights of `sampler` as they are after `step` (0: before the first);
   * null when the engine has nothing to sync.
   */
  sync(step: number): Promise<SyncTiming | null>;
}

function samplingOf(config: GrpoConfig): GroupSampling {
  const r = config.rollout;
  return {
    n: r.n,
    temperature: r.temperature,
    topP: r.top_p,
    topK: r.top_k,
    maxNewTokens: r.max_new_tokens,
    stop: r.stop,
  };
}

function envApiKey(): string | null {
  try {
    return Deno.env.get("RLIF_ROLLOUT_API_KEY") ?? null;
  } catch {
    return null; // without --allow-env there is no key to read
  }
}

/**
 * The engine `config.rollout` asks for, sampling from (or syncing) `sampler`; a LoRA `policy` (one
 * carrying an adapter) is synced as its adapter alone.
 */
export function rolloutEngine(config: GrpoConfig, sampler: Model, policy: Model = sampler): RolloutEngine {
  const s = samplingOf(config);
  const r = config.rollout;
  if (r.engine === "local") {
    return {
      kind: "local",
      sample: (prompts, seeds) =>
        generate(sampler, prompts, {
          n: s.n,
          temperature: s.temperature,
          topP: s.topP,
          topK: s.topK,
          maxNewTokens: s.maxNewTokens,
          stop: s.stop,
          seeds,
          batchSize: config.rollout.batch,
        }),
      sync: () => Promise.resolve(null),
    };
  }
  const tokenizer = sampler.tokenizer;
  if (!tokenizer) {
    throw new RlifError(
      "rollout.engine",
      `${config.model.path}: rollout.engine openai needs the model's tokenizer.json`,
    );
  }
  const client = new OpenAIRolloutClient({
    endpoints: r.endpoints,
    model: r.model ?? config.model.path,
    apiKey: r.api_key ?? envApiKey(),
    timeoutMs: r.timeout_s * 1000,
    retries: r.retries,
  });
  // The end ids local generation stops at.
  const eos = tokenizer.eosTokenIds;
  return {
    kind: "openai",
    sample: (prompts, seeds) => client.sample(prompts, seeds, s, tokenizer, eos),
    sync: async (step) => {
      if (r.sync !== "disk") return null;
      const t0 = performance.now();
      const how = r.reload;
      const lora = how === "load_lora_adapter";
      const { dir, bytes } = await writeSyncFolder(lora ? policy : sampler, r.sync_dir!, step);
      const t1 = performance.now();
      if (how === "load_lora_adapter") await client.loadLoraAdapter(`rlif-lora-${syncFolderName(step)}`, dir);
      else await client.reload(dir, how);
      return { writeSeconds: (t1 - t0) / 1000, reloadSeconds: (performance.now() - t1) / 1000, bytes };
    },
  };
}

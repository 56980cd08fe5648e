/**
 * The memory a GRPO run needs, planned before any weight is loaded: one step's phases — rollouts, scoring,
 * the update — run by rlif's own code on the planning device (lib/gpu/plan_device.ts), with placeholder
 * weights of the model's config.json shapes and every completion as long as `rollout.max_new_tokens`
 * allows, prompts of `gpu.prompt_tokens`. The buffer pool counts what the step holds exactly as on a GPU, so the plan is the high-water
 * mark a run logs (`gpu/peak_mib`) at full lengths, phase by phase, with nothing allocated. With `model.lora`
 * the step is the LoRA one: the base at its checkpoint width, the f32 adapter with its gradients and
 * moments, the merged sampling copy, and the base itself as the reference.
 *
 * @module
 */
import { H100_LIMITS, type PlannedDispatch, planningGpu } from "../gpu/plan_device.ts";
import type { Gpu, GpuLimits } from "../gpu/device.ts";
import type { Completion } from "../generate/generate.ts";
import { halfWidthCopy, refreshHalfWidthCopy } from "../model/half_width.ts";
import { loadModelConfig, type ModelConfig, ModelConfigError, parseModelConfig } from "../model/config.ts";
import {
  LLAMA31_8B_JSON,
  OLMO2_7B_JSON,
  QWEN25_15B_JSON,
  QWEN25_7B_JSON,
  QWEN3_17B_BASE_JSON,
  QWEN3_4B_BASE_JSON,
} from "../model/paper_configs.ts";
import { basename, join } from "node:path";
import { type Model, placeholderModel } from "../model/model.ts";
import { createLoraAdapter } from "../model/lora.ts";
import { scoreAll } from "../model/score.ts";
import { createGradients } from "../model/transformer.ts";
import { expectedTensorShapes } from "../model/weights.ts";
import type { GrpoConfig } from "../rl/config.ts";
import { policyOptimizer, updatePolicy } from "../rl/policy_update.ts";
import type { RolloutBatch } from "../rl/rollout.ts";
import { rolloutEngine } from "../rl/rollout_engine.ts";
import { forwardFlopsPerToken, recomputeFlopsPerToken, trainFlopsPerToken } from "./model_cost.ts";

/** One line of a plan: a resident component, or a phase's own buffers on top of the resident ones. */
export interface PlanComponent {
  /** What it is. */
  readonly name: string;
  /** Bytes. */
  readonly bytes: number;
}

/** The plan of one GRPO step. */
export interface MemoryPlan {
  /** What lives through the whole run: masters, gradients, optimizer moments, sampling copy, reference. */
  readonly resident: PlanComponent[];
  /** Each phase's bytes on top of the resident ones, at its high-water mark. */
  readonly phases: PlanComponent[];
  /** The KV cache of one rollout batch (inside the rollout phase). */
  readonly kvCacheBytes: number;
  /** The step's high-water mark: the resident bytes and what the largest phase adds to them. */
  readonly peakBytes: number;
  /** FLOPs of one step: sampling, scoring (policy and reference) and the update (with recompute). */
  readonly flopsPerStep: number;
  /** Tokens per prompt the plan assumed. */
  readonly promptTokens: number;
  /** Dispatches of the step whose grid was folded onto a second axis. */
  readonly foldedDispatches: number;
  /** Forward passes the step's batches were split into beyond one, by the device's limits. */
  readonly splitPasses: number;
}

/** Options of {@link planGrpoMemory}. */
export interface PlanOptions {
  /**
   * Run the step on this device instead (a real one: the same code then measures what the plan
   * computes; its buffers start zeroed, as WebGPU's do, so the placeholder weights are zeros).
   */
  readonly gpu?: Gpu;
  /** The planning device's limits (default an H100's under wgpu: lib/gpu/plan_device.ts). */
  readonly limits?: Readonly<Partial<GpuLimits>>;
  /** Receives every dispatch the planned step records. */
  readonly dispatches?: (d: readonly PlannedDispatch[]) => void;
}

/**
 * Plans one step of `config` on a model of `model`'s shapes: what stays resident, what each phase adds at
 * its high-water mark, and the step's peak. Reads no weights and allocates nothing.
 *
 * @example
 * ```ts
 * const plan = await planGrpoMemory(config, QWEN3_4B_BASE);
 * console.log(plan.peakBytes / 2 ** 30, "GiB");
 * ```
 */
export async function planGrpoMemory(
  config: GrpoConfig,
  model: ModelConfig,
  options: PlanOptions = {},
): Promise<MemoryPlan> {
  // A prompt takes what the context leaves beside the completions, as a run refuses longer ones.
  const promptTokens = Math.max(
    1,
    Math.min(config.gpu.prompt_tokens, model.maxPositionEmbeddings - config.rollout.max_new_tokens),
  );
  const planning = options.gpu
    ? null
    : await planningGpu(options.limits ?? H100_LIMITS, { record: options.dispatches !== undefined });
  const gpu = options.gpu ?? planning!.gpu;
  const counted = gpu.counters();
  const { pool } = gpu;
  const start = pool.stats().liveBytes;
  // The step's high-water mark over its phases, counted from what the pool held before the plan: a phase's
  // base includes what earlier phases left for good (the RoPE tables cached per device).
  let highWater = 0;
  const resident: PlanComponent[] = [];
  const measure = <T>(name: string, build: () => T): T => {
    const before = pool.stats().liveBytes;
    const out = build();
    resident.push({ name, bytes: pool.stats().liveBytes - before });
    return out;
  };
  // No end-of-sequence id: every completion runs to rollout.max_new_tokens, the largest step.
  const shapes = { ...model, eosTokenIds: [] };
  const lora = config.model.lora;
  const usesReference = config.algorithm.kl_coef > 0 || config.log.kl_to_ref;
  let policy: Model, reference: Model | null;
  if (lora) {
    const base = measure(
      `base weights (${checkpointWidth(model)}, frozen)`,
      () => placeholderModel(gpu, shapes, checkpointWidth(model)),
    );
    const settings = {
      r: lora.r,
      alpha: lora.alpha,
      dropout: lora.dropout,
      targetModules: lora.target_modules,
      useRslora: lora.use_rslora,
    };
    policy = base.withAdapter(
      measure(`LoRA adapter (f32, r ${lora.r})`, () => createLoraAdapter(base, settings, 0, "model.lora")),
    );
    // The base with the adapter off: no memory of its own.
    reference = usesReference ? base : null;
  } else {
    policy = measure("policy f32 master weights", () => placeholderModel(gpu, shapes, "f32"));
    reference = usesReference
      ? measure(
        "reference policy (checkpoint width)",
        () => placeholderModel(gpu, shapes, checkpointWidth(model)),
      )
      : null;
  }
  const trained = lora ? "adapter " : "";
  const grads = measure(`${trained}gradients (f32)`, () => createGradients(policy));
  const optimizer = measure(`${trained}AdamW moments (f32)`, () => policyOptimizer(policy, config.train));
  const width = config.rollout.weights;
  const sampler = width === "f32"
    ? policy
    : measure(`sampling copy (${width}${lora ? ", merged" : ""})`, () => halfWidthCopy(policy, width));

  const phases: PlanComponent[] = [];
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    gpu.trim(); // as the trainer trims between phases
    const base = pool.stats().liveBytes;
    pool.resetPeak();
    const out = await run();
    phases.push({ name, bytes: pool.stats().peakBytes - base });
    highWater = Math.max(highWater, pool.stats().peakBytes - start);
    return out;
  };

  const { rollout, train } = config;
  // One generation batch: its rows share the KV cache and decode workspace; later batches reuse them.
  const perBatch = Math.max(1, Math.min(train.prompts_per_step, Math.ceil(rollout.batch / rollout.n)));
  // Token ids as distinct as the vocabulary allows: the embedding backward's upload groups the rows by id,
  // and is largest when every id differs.
  let nextId = 0;
  const distinctIds = (n: number) => Array.from({ length: n }, () => nextId++ % model.vocabSize);
  const prompt = distinctIds(promptTokens);
  // Stop strings need a tokenizer, and only end completions early: the plan takes every one to full length.
  const engine = rolloutEngine({ ...config, rollout: { ...rollout, engine: "local", stop: [] } }, sampler);
  const sampled = await phase(
    "rollouts (one generation batch: KV cache, decode workspace, prefill)",
    () =>
      engine.sample(
        Array.from({ length: perBatch }, () => prompt),
        Array.from({ length: perBatch }, (_, i) => i),
      ),
  );
  const rows = train.prompts_per_step * rollout.n;
  const completions: Completion[] = Array.from({ length: rows }, (_, i) => {
    const c = sampled[i % sampled.length];
    return {
      ...c,
      promptIds: distinctIds(c.promptIds.length),
      completionIds: distinctIds(c.completionIds.length),
    };
  });
  const scoreOptions = { temperature: rollout.temperature };
  const jobs = [{ model: policy, items: completions, options: scoreOptions }];
  if (reference) jobs.push({ model: reference, items: completions, options: scoreOptions });
  const [stats, refStats] = await phase("scoring (policy and reference passes)", () => scoreAll(jobs));
  const batch: RolloutBatch = {
    examples: Array.from({ length: train.prompts_per_step }, (_, i) => i),
    completions,
    stats,
    refLogprobs: refStats ? refStats.map((s) => s.tokenLogprobs) : null,
    klToRef: null,
    rawRewards: new Array(rows).fill(0),
    rewards: new Array(rows).fill(0),
    correct: new Array(rows).fill(null),
    answers: new Array(rows).fill(null),
    pseudoLabels: new Array(train.prompts_per_step).fill(null),
  };
  await phase(
    `update (micro-batches of ${train.micro_batch}${train.recompute ? ", recomputed activations" : ""})`,
    async () => {
      await updatePolicy(
        policy,
        optimizer,
        grads,
        [...policy.trainable.keys()],
        batch,
        new Float64Array(rows),
        config,
        0,
      );
      // The trainer refreshes the sampling copy right after the update, before the pool is trimmed.
      if (sampler !== policy) refreshHalfWidthCopy(sampler, policy);
    },
  );
  if (planning) options.dispatches?.(planning.dispatches);

  const layerKv = 2 * model.numKvHeads * model.headDim * (width === "f32" ? 4 : 2);
  const completionTokens = completions[0].completionIds.length;
  const kvCacheBytes = Math.min(rows, rollout.batch) * (promptTokens + completionTokens) *
    model.numLayers *
    layerKv;
  const context = promptTokens + completionTokens;
  const tokensPerStep = rows * context;
  const flopsPerStep = tokensPerStep * (
    forwardFlopsPerToken(model, context) * (reference ? 3 : 2) + trainFlopsPerToken(model, context) +
    (train.recompute ? recomputeFlopsPerToken(model, context) : 0)
  );
  return {
    resident,
    phases,
    kvCacheBytes,
    peakBytes: highWater,
    flopsPerStep,
    promptTokens,
    foldedDispatches: gpu.counters().folded - counted.folded,
    splitPasses: gpu.counters().splitPasses - counted.splitPasses,
  };
}

/** The width a checkpoint of `model` is stored at, as loadModel keeps it. */
function checkpointWidth(model: ModelConfig): "f32" | "bf16" | "f16" {
  return model.torchDtype === "bfloat16" ? "bf16" : model.torchDtype === "float16" ? "f16" : "f32";
}

/** Parameters of `model` (for the plan's table). */
export function parameterCount(model: ModelConfig): number {
  let n = 0;
  for (const shape of expectedTensorShapes(model).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Published configs the plan uses when a recipe's model folder is not on this machine, by folder name. */
const PUBLISHED: Record<string, Readonly<Record<string, unknown>>> = {
  "Qwen2.5-1.5B": QWEN25_15B_JSON,
  "Qwen2.5-1.5B-Instruct": QWEN25_15B_JSON,
  "Qwen2.5-Math-1.5B": { ...QWEN25_15B_JSON, max_position_embeddings: 4096, rope_theta: 10000 },
  "Qwen2.5-7B": QWEN25_7B_JSON,
  "Qwen2.5-7B-Instruct": QWEN25_7B_JSON,
  "Qwen3-1.7B-Base": QWEN3_17B_BASE_JSON,
  "Qwen3-4B-Base": QWEN3_4B_BASE_JSON,
  "Llama-3.1-8B": LLAMA31_8B_JSON,
  "OLMo-2-1124-7B": OLMO2_7B_JSON,
};

/**
 * The shapes to plan `modelPath` with: its config.json when the folder is here (nothing else of it is
 * read), else the published config.json of a model of that folder name, else an error naming the path.
 */
export async function planModelConfig(modelPath: string): Promise<{ config: ModelConfig; source: string }> {
  try {
    return { config: await loadModelConfig(modelPath), source: join(modelPath, "config.json") };
  } catch (e) {
    if (!(e instanceof ModelConfigError) || e.field !== "" || !e.message.includes("not found")) throw e;
    const name = basename(modelPath.replace(/\/+$/, ""));
    const published = PUBLISHED[name];
    if (!published) {
      throw new ModelConfigError(
        join(modelPath, "config.json"),
        "",
        `not found, and "${name}" is none of the models whose published config rlif knows (` +
          `${Object.keys(PUBLISHED).join(", ")}); point model.path at a folder holding its config.json`,
      );
    }
    return {
      config: parseModelConfig(published, `${name}/config.json`),
      source: `${name}'s published config.json`,
    };
  }
}

/** The GPU memory the run must fit, in GiB: gpu.memory_gb, else nvidia-smi's first GPU, else null. */
export async function gpuMemoryLimitGiB(configured: number | null): Promise<number | null> {
  if (configured !== null) return configured;
  try {
    const out = await new Deno.Command("nvidia-smi", {
      args: ["--query-gpu=memory.total", "--format=csv,noheader,nounits"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const mib = Number(new TextDecoder().decode(out.stdout).trim().split("\n")[0]);
    return out.success && mib > 0 ? mib / 1024 : null;
  } catch {
    return null; // no nvidia-smi here
  }
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/** The plan as a table: resident components, each phase on top of them, the peak and the FLOPs. */
export function formatPlan(plan: MemoryPlan, model: string, limitGiB: number | null): string {
  const rows: [string, string][] = [
    ...plan.resident.map((c) => [c.name, gib(c.bytes)] as [string, string]),
    ...plan.phases.map((c) => [`+ ${c.name}`, gib(c.bytes)] as [string, string]),
    [`  of which the rollout batch's KV cache`, gib(plan.kvCacheBytes)],
    ["peak (resident + largest phase, with the caches earlier phases left)", gib(plan.peakBytes)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const limit = limitGiB === null
    ? "no GPU memory limit known (gpu.memory_gb unset, no nvidia-smi): nothing to check against"
    : plan.peakBytes <= limitGiB * 2 ** 30
    ? `fits ${limitGiB.toFixed(0)} GiB`
    : `does NOT fit ${limitGiB.toFixed(0)} GiB`;
  return [
    `memory plan of one GRPO step: ${model}, prompts of ${plan.promptTokens} tokens, every completion full length`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v.padStart(11)}`),
    `  FLOPs per step: ${(plan.flopsPerStep / 1e12).toFixed(1)} TFLOP`,
    limit,
  ].join("\n");
}

/**
 * Config changes to try, cumulatively and in order, when a plan does not fit: recomputed activations,
 * then the rollout batch (the KV cache) and the micro-batch (the activations) halved in turn down to 8
 * rows and 1 sequence.
 */
export function fitSuggestions(config: GrpoConfig): { key: string; value: unknown }[] {
  const out: { key: string; value: unknown }[] = [];
  if (!config.train.recompute) out.push({ key: "train.recompute", value: true });
  let rows = config.rollout.batch, micro = config.train.micro_batch;
  while (rows > 8 || micro > 1) {
    if (rows > 8) out.push({ key: "rollout.batch", value: rows = Math.max(8, Math.floor(rows / 2)) });
    if (micro > 1) out.push({ key: "train.micro_batch", value: micro = Math.floor(micro / 2) });
  }
  return out;
}

/** A run's plan against the GPU memory it must fit, with the changes that would make it fit. */
export interface PlanVerdict {
  /** The plan of the config as given. */
  readonly plan: MemoryPlan;
  /** Where the model's shapes came from. */
  readonly modelSource: string;
  /** The limit in GiB, or null when none is known. */
  readonly limitGiB: number | null;
  /** Whether the plan fits the limit (null: no limit). */
  readonly fits: boolean | null;
  /** When it does not fit: the changes tried, cumulatively, each with the peak it plans to. */
  readonly remedies: { readonly key: string; readonly value: unknown; readonly peakBytes: number }[];
}

/**
 * Plans `config`'s step (the model's config.json only) against `gpu.memory_gb` (else nvidia-smi's
 * memory); when it does not fit, plans again with each of {@link fitSuggestions} applied in turn, until
 * one fits.
 */
export async function planRun(config: GrpoConfig, options: PlanOptions = {}): Promise<PlanVerdict> {
  const { config: model, source } = await planModelConfig(config.model.path);
  const limitGiB = await gpuMemoryLimitGiB(config.gpu.memory_gb);
  const plan = await planGrpoMemory(config, model, options);
  const fits = limitGiB === null ? null : plan.peakBytes <= limitGiB * 2 ** 30;
  const remedies: PlanVerdict["remedies"][number][] = [];
  if (fits === false) {
    let changed = config;
    for (const { key, value } of fitSuggestions(config)) {
      const [section, name] = key.split(".") as [keyof GrpoConfig, string];
      changed = { ...changed, [section]: { ...changed[section] as object, [name]: value } };
      const peakBytes = (await planGrpoMemory(changed, model, options)).peakBytes;
      remedies.push({ key, value, peakBytes });
      if (peakBytes <= limitGiB! * 2 ** 30) break;
    }
  }
  return { plan, modelSource: source, limitGiB, fits, remedies };
}

/** The verdict as text: the plan's table, then what would make it fit. */
export function verdictText(v: PlanVerdict, model: string): string {
  const lines = [formatPlan(v.plan, `${model} (${v.modelSource})`, v.limitGiB)];
  if (v.fits === false) {
    const fitting = v.remedies.findIndex((r) => r.peakBytes <= v.limitGiB! * 2 ** 30);
    lines.push(
      v.remedies.length === 0
        ? "nothing rlif can change makes it fit: a smaller model, shorter completions or a larger GPU"
        : `to fit, set (each on top of the ones before): ${
          v.remedies.map((r) => `--${r.key} ${JSON.stringify(r.value)} → ${gib(r.peakBytes)}`).join("; ")
        }${fitting < 0 ? "; still too large: LoRA, a smaller model or shorter completions" : ""}`,
    );
  }
  return lines.join("\n");
}

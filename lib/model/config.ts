/**
 * Hugging Face `config.json` / `generation_config.json` parsing for the Qwen2, Qwen3, Llama and OLMo-2 families.
 *
 * The transformer code trusts a {@link ModelConfig}: anything the checkpoint asks for that rlif does not
 * implement (sliding windows, RoPE scalings other than Llama 3's, other activations, quantization) is refused here, naming the
 * file and field, instead of silently producing a different model.
 *
 * @module
 */

import { RlifError } from "../errors.ts";
import { join } from "node:path";
import { z } from "zod";
import { pathText } from "../schema.ts";
import type { Llama3RopeScaling } from "../ops/rope.ts";

/** Model families rlif implements. */
export type ModelArch = "qwen2" | "qwen3" | "llama" | "olmo2";

/**
 * RMSNorm on the query and key projections before RoPE: none (Qwen2, Llama), over each head's `head_dim`
 * values (Qwen3's `q_norm`/`k_norm` of size head_dim), or over the whole projection (OLMo-2's of size
 * heads·head_dim and kv_heads·head_dim).
 */
export type QkNorm = "none" | "head" | "projection";

/** What differs between the families, in one table: everything else is read from config.json. */
export interface ArchTraits {
  /** The `architectures` entry transformers writes. */
  readonly architecture: string;
  /** Whether q/k/v carry biases whatever `attention_bias` says (Qwen2). */
  readonly alwaysQkvBias: boolean;
  /** RMSNorm on q and k before RoPE. */
  readonly qkNorm: QkNorm;
  /**
   * Norms on each sublayer's output before its residual add, and none on its input (OLMo-2:
   * `post_attention_layernorm`, `post_feedforward_layernorm`); false for the pre-norm families.
   */
  readonly postNorms: boolean;
  /** `max_position_embeddings` when config.json does not give it (transformers' config default). */
  readonly defaultMaxPositions: number;
}

/** The families rlif implements and how they differ (MoE variants are refused). */
export const ARCH_TRAITS: Readonly<Record<ModelArch, ArchTraits>> = {
  qwen2: {
    architecture: "Qwen2ForCausalLM",
    alwaysQkvBias: true,
    qkNorm: "none",
    postNorms: false,
    defaultMaxPositions: 32768,
  },
  qwen3: {
    architecture: "Qwen3ForCausalLM",
    alwaysQkvBias: false,
    qkNorm: "head",
    postNorms: false,
    defaultMaxPositions: 32768,
  },
  llama: {
    architecture: "LlamaForCausalLM",
    alwaysQkvBias: false,
    qkNorm: "none",
    postNorms: false,
    defaultMaxPositions: 2048,
  },
  olmo2: {
    architecture: "Olmo2ForCausalLM",
    alwaysQkvBias: false,
    qkNorm: "projection",
    postNorms: true,
    defaultMaxPositions: 2048,
  },
};

/** Checkpoint dtypes a config may announce (`torch_dtype` / `dtype`). */
export type TorchDtype = "float32" | "bfloat16" | "float16";

/** Typed view of a Hugging Face `config.json` for a Qwen2, Qwen3, Llama or OLMo-2 causal LM. */
export interface ModelConfig {
  /** Model family: decides bias layout, norms and defaults ({@link ARCH_TRAITS}). */
  arch: ModelArch;
  /** RMSNorm on q and k before RoPE (Qwen3 per head, OLMo-2 over the projection). */
  qkNorm: QkNorm;
  /** OLMo-2's layout: norms on the attention and MLP outputs before each residual add, none on inputs. */
  postNorms: boolean;
  /** Rows of the embedding and LM head (often larger than the tokenizer's vocabulary). */
  vocabSize: number;
  /** Residual stream width. */
  hiddenSize: number;
  /** Width of the SwiGLU MLP's inner layer. */
  intermediateSize: number;
  /** Number of transformer blocks. */
  numLayers: number;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads (grouped-query attention when fewer than `numHeads`). */
  numKvHeads: number;
  /** Per-head width: `head_dim` when given, else `hiddenSize / numHeads`. */
  headDim: number;
  /** RoPE base frequency. */
  ropeTheta: number;
  /** Llama 3 RoPE scaling (`rope_scaling` with `"rope_type": "llama3"`); absent for plain RoPE. */
  ropeScaling?: Llama3RopeScaling;
  /** RMSNorm epsilon. */
  rmsNormEps: number;
  /** Longest position the checkpoint was trained for. */
  maxPositionEmbeddings: number;
  /** Whether the LM head reuses the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Whether q/k/v projections carry a bias (always for Qwen2; `attention_bias` for the others). */
  attentionBias: boolean;
  /** Whether the attention output projection carries a bias (`attention_bias`; never for Qwen2). */
  outputProjBias: boolean;
  /** Whether the MLP projections carry a bias; always false (true is refused). */
  mlpBias: false;
  /** dtype the checkpoint was saved in (`float32` when the config does not say). */
  torchDtype: TorchDtype;
  /** Beginning-of-sequence token id, when the config names one. */
  bosTokenId: number | undefined;
  /** End-of-sequence token ids from `eos_token_id` (a single id or a list; empty when absent). */
  eosTokenIds: number[];
}

/** Sampling defaults and special ids from `generation_config.json`; absent fields stay undefined. */
export interface GenerationConfig {
  /** Beginning-of-sequence token id. */
  bosTokenId?: number;
  /** Ids that end generation (a single id is widened to a list; empty when absent). */
  eosTokenIds: number[];
  /** Padding token id. */
  padTokenId?: number;
  /** Whether the checkpoint's authors sample (true) or decode greedily (false) by default. */
  doSample?: boolean;
  /** Softmax temperature. */
  temperature?: number;
  /** Nucleus sampling mass. */
  topP?: number;
  /** Top-k cut-off (0 means disabled). */
  topK?: number;
  /** Repetition penalty (1 means none). */
  repetitionPenalty?: number;
  /** Maximum new tokens. */
  maxNewTokens?: number;
  /** Maximum total length (prompt + completion). */
  maxLength?: number;
}

/** Raised for a config file rlif cannot load; names the file and field and says what is supported. */
export class ModelConfigError extends RlifError {
  /** Creates an error about `field` of `file` (field may be empty for whole-file problems). */
  constructor(readonly file: string, readonly field: string, detail: string, options?: ErrorOptions) {
    super("model.config", field ? `${file}: field "${field}" ${detail}` : `${file}: ${detail}`, options);
    this.name = "ModelConfigError";
  }
}

const ARCHITECTURES: Record<string, ModelArch> = Object.fromEntries(
  (Object.entries(ARCH_TRAITS) as [ModelArch, ArchTraits][]).map(([arch, t]) => [t.architecture, arch]),
);
const ARCH_IDS = Object.keys(ARCH_TRAITS) as [ModelArch, ...ModelArch[]];

const TORCH_DTYPES = ["float32", "bfloat16", "float16"] as const satisfies readonly TorchDtype[];

type Json = Record<string, unknown>;

const shown = (v: unknown) => JSON.stringify(v);

/** Error options giving `must be <expected>, got <input>` (or `is required (<expected>)` when absent). */
const expect = (expected: string) => ({
  error: (iss: { input?: unknown }) =>
    iss.input === undefined ? `is required (${expected})` : `must be ${expected}, got ${shown(iss.input)}`,
});

const positiveInt = () => {
  const e = expect("a positive integer");
  return z.number(e).int(e).positive(e);
};
const positiveNumber = () => {
  const e = expect("a positive number");
  return z.number(e).positive(e);
};
const bool = () => z.boolean(expect("true or false"));
const tokenId = () => {
  const e = expect("a non-negative integer token id");
  return z.number(e).int(e).min(0, e);
};
const tokenIds = () =>
  z.union([tokenId(), z.array(tokenId())], expect("a token id or a list of token ids"))
    .transform((v) => (Array.isArray(v) ? [...new Set(v)] : [v]));

const ROPE_TYPES = `supported: null or {"rope_type": "default"} (plain RoPE) and {"rope_type": "llama3", ` +
  `"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"} (Llama-3.1/3.2)`;

const llama3Number = () => {
  const e = expect("a positive number for llama3 scaling");
  return z.number(e).positive(e);
};

const LLAMA3_SCALING = z.looseObject({
  rope_type: z.literal("llama3"),
  factor: llama3Number(),
  low_freq_factor: llama3Number(),
  high_freq_factor: llama3Number(),
  original_max_position_embeddings: llama3Number(),
}).refine((s) => s.high_freq_factor > s.low_freq_factor, {
  path: ["high_freq_factor"],
  error: (iss) => {
    const s = iss.input as Json;
    return `(${s.high_freq_factor}) must be greater than low_freq_factor (${s.low_freq_factor})`;
  },
}).transform((s): Llama3RopeScaling => ({
  factor: s.factor,
  lowFreqFactor: s.low_freq_factor,
  highFreqFactor: s.high_freq_factor,
  originalMaxPositionEmbeddings: s.original_max_position_embeddings,
}));

/** `rope_scaling` / `rope_parameters`: plain RoPE or Llama 3's scaling; every other scheme refused by name. */
const ROPE_SCALING = z.looseObject({}, {
  error: (iss) => `must be an object, got ${shown(iss.input)}; ${ROPE_TYPES}`,
}).superRefine((v, ctx) => {
  const type = (v as Json).rope_type ?? (v as Json).type;
  if (type !== undefined && type !== "default" && type !== "llama3") {
    ctx.addIssue({
      code: "custom",
      message: `has rope_type ${shown(type)}, which rlif does not implement; ${ROPE_TYPES}`,
    });
  }
}).transform((v) => ({ ...v, rope_type: (v as Json).rope_type ?? (v as Json).type ?? "default" }))
  .pipe(z.discriminatedUnion("rope_type", [
    z.looseObject({ rope_type: z.literal("default") }).transform(() => undefined),
    LLAMA3_SCALING,
  ]));

const ARCH_NAMES = `supported: ${Object.keys(ARCHITECTURES).join(", ")}`;
const MODEL_TYPES = `supported: ${Object.values(ARCHITECTURES).map((a) => `"${a}"`).join(", ")}`;
const refuse = (detail: (input: unknown) => string) => ({
  error: (iss: { input?: unknown }) => detail(iss.input),
});

/**
 * The fields of a Hugging Face `config.json` rlif reads, with the refusals of what it does not implement;
 * other fields are ignored. Cross-field rules (architecture agreement, head sizes) follow the fields.
 */
const MODEL_CONFIG_JSON = z.looseObject({
  model_type: z.enum(
    ARCH_IDS,
    refuse((t) => {
      const extra = t === "qwen2_moe" || t === "qwen3_moe" || t === "olmoe"
        ? ` (${t} adds mixture-of-experts layers rlif does not implement)`
        : "";
      return `is ${shown(t)}${extra}; ${MODEL_TYPES}`;
    }),
  ).optional(),
  architectures: z.tuple(
    [z.string()],
    refuse((a) => `must list exactly one architecture, got ${shown(a)}; ${ARCH_NAMES}`),
  )
    .refine(
      (a) => a[0] in ARCHITECTURES,
      refuse((a) => `is ${shown((a as string[])[0])}, which rlif cannot load; ${ARCH_NAMES}`),
    )
    .nullish(),
  hidden_act: z.literal("silu", refuse((a) => `is ${shown(a)}; supported: "silu" (SwiGLU MLP)`)).optional(),
  quantization_config: z.null(
    refuse(() => "is present; rlif loads unquantized F32 / BF16 / F16 checkpoints only"),
  )
    .optional(),
  mlp_bias: bool().refine((b) => !b, "is true; supported: false (MLP without biases)").nullish(),
  use_sliding_window: bool().nullish(),
  layer_types: z.array(z.unknown(), refuse((l) => `must list only "full_attention", got ${shown(l)}`))
    .refine(
      (l) => l.every((t) => t === "full_attention"),
      refuse((l) => `must list only "full_attention", got ${shown(l)}`),
    )
    .nullish(),
  attention_dropout: z.literal(0, refuse((d) => `is ${shown(d)}; supported: 0 (rlif has no dropout)`))
    .nullish(),
  vocab_size: positiveInt(),
  hidden_size: positiveInt(),
  intermediate_size: positiveInt(),
  num_hidden_layers: positiveInt(),
  num_attention_heads: positiveInt(),
  num_key_value_heads: positiveInt().nullish(),
  head_dim: positiveInt().nullish(),
  max_position_embeddings: positiveInt().nullish(),
  rope_theta: positiveNumber().nullish(),
  rope_scaling: ROPE_SCALING.nullish(),
  // transformers >= 5 moves the base and the scaling into `rope_parameters`.
  rope_parameters: z.looseObject({}, refuse((p) => `must be an object, got ${shown(p)}`))
    .pipe(z.looseObject({ rope_theta: positiveNumber().nullish() }))
    .and(ROPE_SCALING.transform((scaling) => ({ scaling })))
    .nullish(),
  rms_norm_eps: positiveNumber().nullish(),
  tie_word_embeddings: bool().nullish(),
  attention_bias: bool().nullish(),
  torch_dtype: z.enum(TORCH_DTYPES, refuse((d) => `is ${shown(d)}; supported: ${TORCH_DTYPES.join(", ")}`))
    .nullish(),
  dtype: z.enum(TORCH_DTYPES, refuse((d) => `is ${shown(d)}; supported: ${TORCH_DTYPES.join(", ")}`))
    .nullish(),
  bos_token_id: tokenId().nullish(),
  eos_token_id: tokenIds().nullish(),
}, refuse(() => "must contain a JSON object")).superRefine((c, ctx) => {
  const fail = (field: string, message: string) => ctx.addIssue({ code: "custom", path: [field], message });
  const fromArchitectures = c.architectures ? ARCHITECTURES[c.architectures[0]] : undefined;
  if (c.model_type && fromArchitectures && c.model_type !== fromArchitectures) {
    return fail(
      "architectures",
      `(${shown(c.architectures)}) disagrees with model_type ${shown(c.model_type)}`,
    );
  }
  const arch = c.model_type ?? fromArchitectures;
  if (!arch) return fail("model_type", `is missing (and so is "architectures"); ${MODEL_TYPES}`);
  if (arch === "qwen3" && c.head_dim == null) {
    return fail(
      "head_dim",
      "is required for qwen3 (Qwen3's head width is set apart from hidden_size / num_attention_heads, " +
        "e.g. 128 for Qwen3-1.7B and -4B); add the value from the checkpoint's original config.json",
    );
  }
  if ((arch === "qwen2" || arch === "qwen3") && c.use_sliding_window) {
    return fail("use_sliding_window", "is true; rlif implements full attention only (set it to false)");
  }
  const heads = c.num_attention_heads, kvHeads = c.num_key_value_heads ?? heads;
  if (heads % kvHeads !== 0) {
    return fail(
      "num_key_value_heads",
      `(${kvHeads}) must divide num_attention_heads (${heads}) for grouped-query attention`,
    );
  }
  if (c.head_dim == null && c.hidden_size % heads !== 0) {
    return fail(
      "num_attention_heads",
      `(${heads}) must divide hidden_size (${c.hidden_size}) when "head_dim" is not given`,
    );
  }
  const headDim = c.head_dim ?? c.hidden_size / heads;
  if (headDim % 2 !== 0) fail("head_dim", `(${headDim}) must be even for rotary embeddings`);
});

/** The fields of a `generation_config.json` rlif reads; other fields are ignored. */
const GENERATION_CONFIG_JSON = z.looseObject({
  eos_token_id: tokenIds().nullish(),
  bos_token_id: tokenId().nullish(),
  pad_token_id: tokenId().nullish(),
  do_sample: bool().nullish(),
  temperature: z.number(expect("a number >= 0")).min(0, expect("a number >= 0")).nullish(),
  top_p: z.number(expect("a number in (0, 1]")).gt(0, expect("a number in (0, 1]")).max(
    1,
    expect("a number in (0, 1]"),
  )
    .nullish(),
  top_k: z.number(expect("an integer >= 0")).int(expect("an integer >= 0")).min(0, expect("an integer >= 0"))
    .nullish(),
  repetition_penalty: positiveNumber().nullish(),
  max_new_tokens: positiveInt().nullish(),
  max_length: positiveInt().nullish(),
}, refuse(() => "must contain a JSON object"));

/** `json` parsed by `schema`, or a {@link ModelConfigError} naming `file` and the first failing field. */
function parseJson<T>(schema: z.ZodType<T>, json: unknown, file: string): T {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new ModelConfigError(file, pathText(issue.path), issue.message);
}

/**
 * Parses a `config.json` object into a {@link ModelConfig}; `file` is the path used in error messages.
 *
 * @example
 * ```ts
 * const config = parseModelConfig(JSON.parse(await Deno.readTextFile("m/config.json")), "m/config.json");
 * ```
 */
export function parseModelConfig(json: unknown, file = "config.json"): ModelConfig {
  const c = parseJson(MODEL_CONFIG_JSON, json, file);
  const arch = (c.model_type ?? ARCHITECTURES[c.architectures![0]]) as ModelArch;
  const numKvHeads = c.num_key_value_heads ?? c.num_attention_heads;
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  // The legacy scaling is still checked beside rope_parameters, so an unsupported one is never ignored.
  const ropeScaling = c.rope_parameters?.scaling ?? c.rope_scaling ?? undefined;
  const traits = ARCH_TRAITS[arch];
  const sharedBias = !traits.alwaysQkvBias && (c.attention_bias ?? false);
  return {
    arch,
    qkNorm: traits.qkNorm,
    postNorms: traits.postNorms,
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads,
    headDim,
    ropeTheta: c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000,
    ...(ropeScaling ? { ropeScaling } : {}),
    rmsNormEps: c.rms_norm_eps ?? 1e-6,
    maxPositionEmbeddings: c.max_position_embeddings ?? traits.defaultMaxPositions,
    tieWordEmbeddings: c.tie_word_embeddings ?? false,
    attentionBias: traits.alwaysQkvBias || sharedBias,
    outputProjBias: sharedBias,
    mlpBias: false,
    torchDtype: c.torch_dtype ?? c.dtype ?? "float32",
    bosTokenId: c.bos_token_id ?? undefined,
    eosTokenIds: c.eos_token_id ?? [],
  };
}

/** Parses a `generation_config.json` object; `file` is the path used in error messages. */
export function parseGenerationConfig(json: unknown, file = "generation_config.json"): GenerationConfig {
  const g = parseJson(GENERATION_CONFIG_JSON, json, file);
  const out: GenerationConfig = { eosTokenIds: g.eos_token_id ?? [] };
  const set = <K extends keyof GenerationConfig>(key: K, v: GenerationConfig[K] | null | undefined) => {
    if (v !== undefined && v !== null) out[key] = v;
  };
  set("bosTokenId", g.bos_token_id);
  set("padTokenId", g.pad_token_id);
  set("doSample", g.do_sample);
  set("temperature", g.temperature);
  set("topP", g.top_p);
  set("topK", g.top_k);
  set("repetitionPenalty", g.repetition_penalty);
  set("maxNewTokens", g.max_new_tokens);
  set("maxLength", g.max_length);
  return out;
}

/** Reads and parses a JSON file, turning a syntax error into a {@link ModelConfigError} naming the file. */
export async function readJsonFile(path: string): Promise<unknown> {
  const text = await Deno.readTextFile(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelConfigError(path, "", `is not valid JSON: ${(e as Error).message}`);
  }
}

/** Loads `config.json` from a model directory (or a path to the file itself). */
export async function loadModelConfig(dirOrFile: string): Promise<ModelConfig> {
  const path = dirOrFile.endsWith(".json") ? dirOrFile : join(dirOrFile, "config.json");
  let json: unknown;
  try {
    json = await readJsonFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) throw e;
    throw new ModelConfigError(
      path,
      "",
      `not found; a model directory holds config.json, *.safetensors and tokenizer.json (Hugging Face layout)`,
      { cause: e },
    );
  }
  return parseModelConfig(json, path);
}

/** Loads `generation_config.json` from a model directory; undefined when the file does not exist. */
export async function loadGenerationConfig(dir: string): Promise<GenerationConfig | undefined> {
  const path = join(dir, "generation_config.json");
  try {
    return parseGenerationConfig(await readJsonFile(path), path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function eosField(ids: readonly number[]): number | number[] | null {
  if (ids.length === 0) return null;
  return ids.length === 1 ? ids[0] : [...ids];
}

/**
 * Serializes a {@link ModelConfig} back to Hugging Face `config.json` fields, so checkpoints rlif writes load
 * in transformers and in rlif alike.
 */
export function modelConfigToJson(config: ModelConfig): Record<string, unknown> {
  const common = {
    bos_token_id: config.bosTokenId ?? null,
    eos_token_id: eosField(config.eosTokenIds),
    // Only when it differs from hidden/heads: older transformers releases ignore head_dim for Qwen2.
    ...(config.headDim * config.numHeads !== config.hiddenSize ? { head_dim: config.headDim } : {}),
    hidden_act: "silu",
    hidden_size: config.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    num_attention_heads: config.numHeads,
    num_hidden_layers: config.numLayers,
    num_key_value_heads: config.numKvHeads,
    rms_norm_eps: config.rmsNormEps,
    rope_scaling: config.ropeScaling
      ? {
        factor: config.ropeScaling.factor,
        high_freq_factor: config.ropeScaling.highFreqFactor,
        low_freq_factor: config.ropeScaling.lowFreqFactor,
        original_max_position_embeddings: config.ropeScaling.originalMaxPositionEmbeddings,
        rope_type: "llama3",
      }
      : null,
    rope_theta: config.ropeTheta,
    tie_word_embeddings: config.tieWordEmbeddings,
    torch_dtype: config.torchDtype,
    use_cache: true,
    vocab_size: config.vocabSize,
  };
  if (config.arch === "qwen2") {
    if (!config.attentionBias || config.outputProjBias) {
      throw new ModelConfigError(
        "config.json",
        "attention_bias",
        "cannot be expressed for qwen2: Qwen2 always has q/k/v biases and no o_proj bias",
      );
    }
    return {
      architectures: ["Qwen2ForCausalLM"],
      model_type: "qwen2",
      attention_dropout: 0,
      max_window_layers: config.numLayers,
      sliding_window: null,
      use_sliding_window: false,
      ...common,
    };
  }
  if (config.attentionBias !== config.outputProjBias) {
    throw new ModelConfigError(
      "config.json",
      "attention_bias",
      `cannot be expressed for ${config.arch}: attention_bias sets q/k/v and o_proj biases together`,
    );
  }
  const shared = {
    architectures: [ARCH_TRAITS[config.arch].architecture],
    model_type: config.arch,
    attention_bias: config.attentionBias,
    attention_dropout: 0,
  };
  switch (config.arch) {
    case "llama":
      return { ...shared, mlp_bias: false, pretraining_tp: 1, ...common };
    case "qwen3":
      // Qwen3 always names its head width (transformers' default of 128 would otherwise apply).
      return {
        ...shared,
        max_window_layers: config.numLayers,
        sliding_window: null,
        use_sliding_window: false,
        ...common,
        head_dim: config.headDim,
      };
    case "olmo2":
      return { ...shared, ...common };
  }
}

/** Serializes a {@link GenerationConfig} to `generation_config.json` fields (undefined fields are left out). */
export function generationConfigToJson(gen: GenerationConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (gen.bosTokenId !== undefined) out.bos_token_id = gen.bosTokenId;
  if (gen.eosTokenIds.length > 0) out.eos_token_id = eosField(gen.eosTokenIds);
  if (gen.padTokenId !== undefined) out.pad_token_id = gen.padTokenId;
  if (gen.doSample !== undefined) out.do_sample = gen.doSample;
  if (gen.temperature !== undefined) out.temperature = gen.temperature;
  if (gen.topP !== undefined) out.top_p = gen.topP;
  if (gen.topK !== undefined) out.top_k = gen.topK;
  if (gen.repetitionPenalty !== undefined) out.repetition_penalty = gen.repetitionPenalty;
  if (gen.maxNewTokens !== undefined) out.max_new_tokens = gen.maxNewTokens;
  if (gen.maxLength !== undefined) out.max_length = gen.maxLength;
  return out;
}

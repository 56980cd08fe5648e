/**
 * Hugging Face `config.json` / `generation_config.json` parsing for the Qwen2 / Llama family.
 *
 * The transformer code trusts a {@link ModelConfig}: anything the checkpoint asks for that rlif does not
 * implement (sliding windows, RoPE scalings other than Llama 3's, other activations, quantization) is refused here, naming the
 * file and field, instead of silently producing a different model.
 *
 * @module
 */

import { RlifError } from "../errors.ts";
import { join } from "node:path";
import type { Llama3RopeScaling } from "../ops/rope.ts";

/** Model families rlif implements. */
export type ModelArch = "qwen2" | "llama";

/** Checkpoint dtypes a config may announce (`torch_dtype` / `dtype`). */
export type TorchDtype = "float32" | "bfloat16" | "float16";

/** Typed view of a Hugging Face `config.json` for a Qwen2 / Llama causal LM. */
export interface ModelConfig {
  /** Model family: decides bias layout and defaults. */
  arch: ModelArch;
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
  /** Whether q/k/v projections carry a bias (always for Qwen2; `attention_bias` for Llama). */
  attentionBias: boolean;
  /** Whether the attention output projection carries a bias (Llama's `attention_bias`; never for Qwen2). */
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
  constructor(readonly file: string, readonly field: string, detail: string) {
    super("model.config", field ? `${file}: field "${field}" ${detail}` : `${file}: ${detail}`);
    this.name = "ModelConfigError";
  }
}

const ARCHITECTURES: Record<string, ModelArch> = {
  Qwen2ForCausalLM: "qwen2",
  LlamaForCausalLM: "llama",
};

const TORCH_DTYPES: readonly TorchDtype[] = ["float32", "bfloat16", "float16"];

type Json = Record<string, unknown>;

class FieldReader {
  constructor(readonly file: string, readonly json: Json) {}

  fail(field: string, detail: string): never {
    throw new ModelConfigError(this.file, field, detail);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  positiveInt(field: string, fallback?: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (fallback === undefined) this.fail(field, "is required (a positive integer)");
      return fallback;
    }
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      this.fail(field, `must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  optionalTokenId(field: string): number | undefined {
    const v = this.json[field];
    if (v === undefined || v === null) return undefined;
    if (!isTokenId(v)) this.fail(field, `must be a non-negative integer token id, got ${JSON.stringify(v)}`);
    return v;
  }

  tokenIdList(field: string): number[] {
    const v = this.json[field];
    if (v === undefined || v === null) return [];
    if (isTokenId(v)) return [v];
    if (Array.isArray(v) && v.every(isTokenId)) return [...new Set(v as number[])];
    return this.fail(field, `must be a token id or a list of token ids, got ${JSON.stringify(v)}`);
  }

  positiveNumber(field: string, fallback: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      this.fail(field, `must be a positive number, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  optionalNumber(field: string, check: (v: number) => boolean, expected: string): number | undefined {
    const v = this.json[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || !check(v)) {
      this.fail(field, `must be ${expected}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.json[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") this.fail(field, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
}

function isTokenId(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function asObject(json: unknown, file: string): Json {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelConfigError(file, "", "must contain a JSON object");
  }
  return json as Json;
}

function detectArch(r: FieldReader): ModelArch {
  const modelType = r.json.model_type;
  const supportedTypes = `supported: ${Object.values(ARCHITECTURES).map((a) => `"${a}"`).join(", ")}`;
  let fromType: ModelArch | undefined;
  if (modelType !== undefined) {
    if (modelType !== "qwen2" && modelType !== "llama") {
      const hint = modelType === "qwen3" || modelType === "qwen2_moe" || modelType === "qwen3_moe"
        ? ` (${modelType} adds layers rlif does not implement)`
        : "";
      r.fail("model_type", `is ${JSON.stringify(modelType)}${hint}; ${supportedTypes}`);
    }
    fromType = modelType;
  }
  const archs = r.json.architectures;
  let fromArchitectures: ModelArch | undefined;
  if (archs !== undefined && archs !== null) {
    const supported = `supported: ${Object.keys(ARCHITECTURES).join(", ")}`;
    if (!Array.isArray(archs) || archs.length !== 1 || typeof archs[0] !== "string") {
      r.fail(
        "architectures",
        `must list exactly one architecture, got ${JSON.stringify(archs)}; ${supported}`,
      );
    }
    fromArchitectures = ARCHITECTURES[archs[0]];
    if (fromArchitectures === undefined) {
      r.fail("architectures", `is ${JSON.stringify(archs[0])}, which rlif cannot load; ${supported}`);
    }
  }
  if (fromType && fromArchitectures && fromType !== fromArchitectures) {
    r.fail(
      "architectures",
      `(${JSON.stringify(archs)}) disagrees with model_type ${JSON.stringify(modelType)}`,
    );
  }
  const arch = fromType ?? fromArchitectures;
  if (!arch) r.fail("model_type", `is missing (and so is "architectures"); ${supportedTypes}`);
  return arch;
}

function ropeTypeOf(v: Json): unknown {
  return v.rope_type ?? v.type;
}

const ROPE_TYPES = `supported: null or {"rope_type": "default"} (plain RoPE) and {"rope_type": "llama3", ` +
  `"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"} (Llama-3.1/3.2)`;

/** Reads the RoPE base and Llama 3 scaling; every other scaling scheme is refused by name. */
function readRope(r: FieldReader): { ropeTheta: number; ropeScaling?: Llama3RopeScaling } {
  const rope = (ropeTheta: number, scaling: Llama3RopeScaling | undefined) =>
    scaling ? { ropeTheta, ropeScaling: scaling } : { ropeTheta };
  // Checked even beside rope_parameters, so an unsupported legacy scaling is never silently ignored.
  const legacy = r.json.rope_scaling;
  const legacyScaling = legacy === undefined || legacy === null
    ? undefined
    : readRopeScaling(r, "rope_scaling", legacy);
  // transformers >= 5 moves the base and the scaling into `rope_parameters`.
  const params = r.json.rope_parameters;
  if (params === undefined || params === null) {
    return rope(r.positiveNumber("rope_theta", 10000), legacyScaling);
  }
  if (typeof params !== "object" || Array.isArray(params)) {
    r.fail("rope_parameters", `must be an object, got ${JSON.stringify(params)}`);
  }
  const p = new FieldReader(r.file, params as Json);
  const ropeTheta = p.has("rope_theta")
    ? p.positiveNumber("rope_theta", 10000)
    : r.positiveNumber("rope_theta", 10000);
  return rope(ropeTheta, readRopeScaling(r, "rope_parameters", params) ?? legacyScaling);
}

function readRopeScaling(r: FieldReader, field: string, value: unknown): Llama3RopeScaling | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    r.fail(field, `must be an object, got ${JSON.stringify(value)}; ${ROPE_TYPES}`);
  }
  const type = ropeTypeOf(value as Json);
  if (type === undefined || type === "default") return undefined;
  if (type !== "llama3") {
    r.fail(field, `has rope_type ${JSON.stringify(type)}, which rlif does not implement; ${ROPE_TYPES}`);
  }
  const need = (key: string): number => {
    const v = (value as Json)[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      r.fail(`${field}.${key}`, `must be a positive number for llama3 scaling, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const scaling = {
    factor: need("factor"),
    lowFreqFactor: need("low_freq_factor"),
    highFreqFactor: need("high_freq_factor"),
    originalMaxPositionEmbeddings: need("original_max_position_embeddings"),
  };
  if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
    r.fail(
      `${field}.high_freq_factor`,
      `(${scaling.highFreqFactor}) must be greater than low_freq_factor (${scaling.lowFreqFactor})`,
    );
  }
  return scaling;
}

function readTorchDtype(r: FieldReader): TorchDtype {
  const field = r.has("torch_dtype") ? "torch_dtype" : "dtype";
  const v = r.json[field];
  if (v === undefined || v === null) return "float32";
  if (typeof v !== "string" || !(TORCH_DTYPES as readonly string[]).includes(v)) {
    r.fail(field, `is ${JSON.stringify(v)}; supported: ${TORCH_DTYPES.join(", ")}`);
  }
  return v as TorchDtype;
}

function refuseUnsupported(r: FieldReader, arch: ModelArch): void {
  const act = r.json.hidden_act ?? "silu";
  if (act !== "silu") r.fail("hidden_act", `is ${JSON.stringify(act)}; supported: "silu" (SwiGLU MLP)`);
  if (r.has("quantization_config")) {
    r.fail("quantization_config", "is present; rlif loads unquantized F32 / BF16 / F16 checkpoints only");
  }
  if (r.bool("mlp_bias", false)) r.fail("mlp_bias", "is true; supported: false (MLP without biases)");
  if (arch === "qwen2" && r.bool("use_sliding_window", false)) {
    r.fail("use_sliding_window", "is true; rlif implements full attention only (set it to false)");
  }
  const layerTypes = r.json.layer_types;
  if (layerTypes !== undefined && layerTypes !== null) {
    if (!Array.isArray(layerTypes) || layerTypes.some((t) => t !== "full_attention")) {
      r.fail("layer_types", `must list only "full_attention", got ${JSON.stringify(layerTypes)}`);
    }
  }
  const dropout = r.json.attention_dropout;
  if (dropout !== undefined && dropout !== null && dropout !== 0) {
    r.fail("attention_dropout", `is ${JSON.stringify(dropout)}; supported: 0 (rlif has no dropout)`);
  }
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
  const r = new FieldReader(file, asObject(json, file));
  const arch = detectArch(r);
  refuseUnsupported(r, arch);

  const hiddenSize = r.positiveInt("hidden_size");
  const numHeads = r.positiveInt("num_attention_heads");
  const numKvHeads = r.positiveInt("num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) {
    r.fail(
      "num_key_value_heads",
      `(${numKvHeads}) must divide num_attention_heads (${numHeads}) for grouped-query attention`,
    );
  }
  let headDim: number;
  if (r.has("head_dim")) {
    headDim = r.positiveInt("head_dim");
  } else {
    if (hiddenSize % numHeads !== 0) {
      r.fail(
        "num_attention_heads",
        `(${numHeads}) must divide hidden_size (${hiddenSize}) when "head_dim" is not given`,
      );
    }
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) r.fail("head_dim", `(${headDim}) must be even for rotary embeddings`);

  const llamaBias = arch === "llama" && r.bool("attention_bias", false);
  return {
    arch,
    vocabSize: r.positiveInt("vocab_size"),
    hiddenSize,
    intermediateSize: r.positiveInt("intermediate_size"),
    numLayers: r.positiveInt("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    ...readRope(r),
    rmsNormEps: r.positiveNumber("rms_norm_eps", 1e-6),
    maxPositionEmbeddings: r.positiveInt("max_position_embeddings", arch === "qwen2" ? 32768 : 2048),
    tieWordEmbeddings: r.bool("tie_word_embeddings", false),
    attentionBias: arch === "qwen2" ? true : llamaBias,
    outputProjBias: llamaBias,
    mlpBias: false,
    torchDtype: readTorchDtype(r),
    bosTokenId: r.optionalTokenId("bos_token_id"),
    eosTokenIds: r.tokenIdList("eos_token_id"),
  };
}

/** Parses a `generation_config.json` object; `file` is the path used in error messages. */
export function parseGenerationConfig(json: unknown, file = "generation_config.json"): GenerationConfig {
  const r = new FieldReader(file, asObject(json, file));
  const out: GenerationConfig = { eosTokenIds: r.tokenIdList("eos_token_id") };
  const bos = r.optionalTokenId("bos_token_id");
  if (bos !== undefined) out.bosTokenId = bos;
  const pad = r.optionalTokenId("pad_token_id");
  if (pad !== undefined) out.padTokenId = pad;
  if (r.has("do_sample")) out.doSample = r.bool("do_sample", false);
  const temperature = r.optionalNumber("temperature", (v) => v >= 0, "a number >= 0");
  if (temperature !== undefined) out.temperature = temperature;
  const topP = r.optionalNumber("top_p", (v) => v > 0 && v <= 1, "a number in (0, 1]");
  if (topP !== undefined) out.topP = topP;
  const topK = r.optionalNumber("top_k", (v) => Number.isInteger(v) && v >= 0, "an integer >= 0");
  if (topK !== undefined) out.topK = topK;
  const rep = r.optionalNumber("repetition_penalty", (v) => v > 0, "a positive number");
  if (rep !== undefined) out.repetitionPenalty = rep;
  const maxNew = r.optionalNumber(
    "max_new_tokens",
    (v) => Number.isInteger(v) && v > 0,
    "a positive integer",
  );
  if (maxNew !== undefined) out.maxNewTokens = maxNew;
  const maxLength = r.optionalNumber("max_length", (v) => Number.isInteger(v) && v > 0, "a positive integer");
  if (maxLength !== undefined) out.maxLength = maxLength;
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
  return parseModelConfig(await readJsonFile(path), path);
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
      "cannot be expressed for llama: attention_bias sets q/k/v and o_proj biases together",
    );
  }
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    attention_bias: config.attentionBias,
    attention_dropout: 0,
    mlp_bias: false,
    pretraining_tp: 1,
    ...common,
  };
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

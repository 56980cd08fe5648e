/**
 * A transformer's parameters on the GPU, with its config and tokenizer: what `loadModel` returns and what
 * the forward / backward passes, generation, scoring and the trainer take.
 *
 * @module
 */
import { join } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import { getDevice } from "../gpu/device.ts";
import { bf16BitsToF32, bytesPerElement, f32ToBf16Bits, type WeightDType } from "../gpu/dtype.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { loadTokenizer, type Tokenizer } from "../tokenizer/tokenizer.ts";
import {
  type GenerationConfig,
  generationConfigToJson,
  loadGenerationConfig,
  loadModelConfig,
  type ModelConfig,
  modelConfigToJson,
} from "./config.ts";
import { writeFileAtomic } from "../log/atomic.ts";
import { openCheckpoint, type StoredValues, type WritableDtype, writeSafetensors } from "./safetensors.ts";
import { EMBED_TOKENS, expectedTensorShapes, LM_HEAD, validateCheckpointTensors } from "./weights.ts";
import { type LoraAdapter, mergedLoraWeights } from "./lora.ts";
import { isLoraAdapterDir, loadLoraAdapter, readLoraAdapterConfig } from "./peft_adapter.ts";
import { RlifError } from "../errors.ts";

/**
 * One row block of a vocabulary matrix (embeddings or LM head). A matrix larger than the device's storage
 * binding limit (a 151,936 × 896 f32 embedding is 545 MB; llvmpipe binds 128 MiB) is held as several
 * blocks stored under `name@0`, `name@1`, …; otherwise there is a single block stored under the name.
 */
export interface VocabShard {
  /** Key in {@link Model.params} (and in gradients). */
  readonly key: string;
  /** The rows, [rows, H]. */
  readonly tensor: Tensor;
  /** Vocabulary id of the first row. */
  readonly first: number;
}

const VOCAB_MATRICES: ReadonlySet<string> = new Set([EMBED_TOKENS, LM_HEAD]);

/**
 * Rows per block of a vocabulary matrix of width `cols` and element type `dtype` so that one block fits a
 * storage binding (a bf16 block holds twice the rows of an f32 one).
 */
export function vocabShardRows(gpu: Gpu, cols: number, dtype: WeightDType = "f32"): number {
  const bytes = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  return Math.max(1, Math.floor(bytes / (cols * bytesPerElement(dtype))));
}

/** Widths a model's weight matrices may be held at. */
export const WEIGHT_WIDTHS: readonly WeightDType[] = ["f32", "bf16", "f16"];

/**
 * Whether a parameter is held at the model's weight width. Matrices are; norm weights and biases (vectors,
 * a few KB per layer) stay f32, so the rmsnorm and bias paths need no half-width variant and the trainer's
 * masters and a half-width copy share their exact values.
 */
export function takesWeightWidth(shape: readonly number[]): boolean {
  return shape.length === 2;
}

/** Tokenizer files copied along when a model is saved. */
const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "chat_template.jinja",
  "special_tokens_map.json",
];

/**
 * A loaded model: config, parameters (by Hugging Face name; matrices f32, bf16 or f16 — see
 * {@link weightDType} — norm weights and biases f32) and, when the folder has one, a tokenizer.
 *
 * @example
 * ```ts
 * import { loadModel } from "./mod.ts";
 * const model = await loadModel("scripts/assets/arith-tiny");
 * console.log(model.config.numLayers, model.tokenizer?.encode("2+3"));
 * ```
 */
export class Model {
  /** The buffers {@link release} gives back: all of them, unless the model shares another's. */
  #owned: readonly Tensor[];

  /**
   * Creates a model from parameters already on the GPU, and the LoRA adapter it carries if any (see
   * {@link adapter}); use {@link loadModel} or {@link modelFromTensors}. It owns the parameters and the
   * adapter: {@link release} gives both back.
   */
  constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly params: ReadonlyMap<string, Tensor>,
    readonly tokenizer?: Tokenizer,
    readonly generationConfig?: GenerationConfig,
    readonly dir?: string,
    /**
     * A LoRA adapter on the decoder's projections (lib/model/lora.ts), or null. With one, every pass adds
     * the adapter's term to the projections it targets, and training trains the adapter alone: the
     * parameters are the frozen base, at any width.
     */
    readonly adapter: LoraAdapter | null = null,
  ) {
    this.#owned = [...params.values(), ...(adapter?.params.values() ?? [])];
    for (const m of adapter?.modules ?? []) {
      const w = params.get(m.weight);
      if (!w || w.shape[0] !== m.b.shape[0] || w.shape[1] !== m.a.shape[1]) {
        throw new Error(
          `model: the adapter of ${m.key} is [${m.b.shape[0]}, ${m.a.shape[1]}] (out, in), the model's ` +
            (w ? `weight is [${w.shape}]` : "has no such weight"),
        );
      }
    }
    for (const [name, shape] of expectedTensorShapes(config)) {
      if (name === LM_HEAD && config.tieWordEmbeddings) continue;
      if (VOCAB_MATRICES.has(name)) {
        const rows = this.vocabShards(name as typeof EMBED_TOKENS).reduce((n, s) => n + s.tensor.shape[0], 0);
        if (rows !== shape[0]) {
          throw new Error(`model: ${name} holds ${rows} rows, the config implies ${shape[0]}`);
        }
        continue;
      }
      const t = params.get(name);
      if (!t) throw new Error(`model: parameter ${name} is missing`);
      if (t.shape.join() !== shape.join()) {
        throw new Error(`model: parameter ${name} has shape [${t.shape}], the config implies [${shape}]`);
      }
    }
  }

  /** A parameter by Hugging Face name; vocabulary matrices are reached through {@link vocabShards}. */
  param(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) {
      const hint = VOCAB_MATRICES.has(name)
        ? " as one tensor (it is split into row blocks: use vocabShards)"
        : "";
      throw new Error(`model: no parameter named ${name}${hint}`);
    }
    return t;
  }

  /** Row blocks of the embeddings or the LM head (the embeddings' when tied), in vocabulary order. */
  vocabShards(name: typeof EMBED_TOKENS | typeof LM_HEAD): VocabShard[] {
    const base = name === LM_HEAD && this.config.tieWordEmbeddings ? EMBED_TOKENS : name;
    const whole = this.params.get(base);
    if (whole) return [{ key: base, tensor: whole, first: 0 }];
    const shards: VocabShard[] = [];
    let first = 0;
    for (let i = 0;; i++) {
      const key = `${base}@${i}`;
      const t = this.params.get(key);
      if (!t) break;
      shards.push({ key, tensor: t, first });
      first += t.shape[0];
    }
    if (shards.length === 0) throw new Error(`model: parameter ${base} is missing`);
    return shards;
  }

  /** Width of the weight matrices: f32 (trainable masters), or bf16 / f16 (inference only). */
  get weightDType(): WeightDType {
    return this.vocabShards(EMBED_TOKENS)[0].tensor.dtype as WeightDType;
  }

  /**
   * This model's parameters with `adapter` attached instead of its own (null: none), sharing every buffer:
   * the base of a LoRA policy is `policy.withAdapter(null)`. Releasing the result gives back its adapter
   * only; the parameters stay this model's.
   */
  withAdapter(adapter: LoraAdapter | null): Model {
    const view = new Model(
      this.gpu,
      this.config,
      this.params,
      this.tokenizer,
      this.generationConfig,
      this.dir,
      adapter,
    );
    view.#owned = [...(adapter?.params.values() ?? [])];
    return view;
  }

  /**
   * A model over `params` (and `adapter`), some of whose tensors are this model's: it releases only
   * `owned`. For copies that replace a few tensors and share the rest (a merged sampling copy).
   */
  sharing(
    params: ReadonlyMap<string, Tensor>,
    owned: readonly Tensor[],
    adapter: LoraAdapter | null = null,
  ): Model {
    const model = new Model(
      this.gpu,
      this.config,
      params,
      this.tokenizer,
      this.generationConfig,
      this.dir,
      adapter,
    );
    model.#owned = [...owned];
    return model;
  }

  /**
   * What training updates, by name: the adapter's factors (PEFT names) when the model carries an adapter,
   * else every parameter.
   */
  get trainable(): ReadonlyMap<string, Tensor> {
    return this.adapter?.params ?? this.params;
  }

  /**
   * Throws unless the model can be trained: an adapter (always f32) over any base, or f32 weights
   * throughout ({@link requireF32Weights}).
   */
  requireTrainable(what: string): void {
    if (!this.adapter) this.requireF32Weights(what);
  }

  /** Throws unless every parameter is f32: gradients and optimiser updates need the f32 masters. */
  requireF32Weights(what: string): void {
    for (const [name, t] of this.params) {
      if (t.dtype !== "f32") {
        throw new Error(
          `${what} needs f32 weights, and this model holds ${t.dtype} ones (${name}); half-width models are ` +
            `for inference: load the model with loadModel(dir, { weights: "f32" }) to train it`,
        );
      }
    }
  }

  /** Keys of {@link params} in checkpoint order (row blocks appear as `name@i`; no tied LM head). */
  get names(): string[] {
    return [...this.params.keys()];
  }

  /** Reads every parameter back to the host under its Hugging Face name (row blocks joined; half widened). */
  async readWeights(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, t] of this.params) {
      const at = name.lastIndexOf("@");
      const data = (await t.read()) as Float32Array;
      if (at < 0) {
        out.set(name, { shape: [...t.shape], data });
        continue;
      }
      const base = name.slice(0, at);
      const prev = out.get(base);
      if (!prev) out.set(base, { shape: [...t.shape], data });
      else {
        const joined = new Float32Array(prev.data.length + data.length);
        joined.set(prev.data);
        joined.set(data, prev.data.length);
        out.set(base, { shape: [prev.shape[0] + t.shape[0], t.shape[1]], data: joined });
      }
    }
    return out;
  }

  /**
   * Saves a Hugging Face folder: config.json, generation_config.json, model.safetensors (by default at the
   * model's weight width, so a bf16 model saved as BF16 reproduces the stored bits; F32 → BF16 / F16 rounds
   * to nearest even) and the tokenizer files of the folder the model came from. Every file is written
   * atomically.
   */
  async save(dir: string, options: { dtype?: WritableDtype } = {}): Promise<void> {
    if (this.adapter) {
      throw new Error(
        "Model.save: the model carries a LoRA adapter; save the adapter (saveLoraAdapter) or the merged " +
          "weights (mergeLoraAdapter) instead",
      );
    }
    const dtype = options.dtype ?? SAFETENSORS_DTYPE[this.weightDType];
    await Deno.mkdir(dir, { recursive: true });
    const weights = await this.readWeights();
    await writeSafetensors(join(dir, "model.safetensors"), weights, { dtype, metadata: { format: "pt" } });
    const torchDtype = dtype === "BF16" ? "bfloat16" : dtype === "F16" ? "float16" : "float32";
    await writeFileAtomic(
      join(dir, "config.json"),
      JSON.stringify({ ...modelConfigToJson(this.config), torch_dtype: torchDtype }, null, 2) + "\n",
    );
    if (this.generationConfig) {
      await writeFileAtomic(
        join(dir, "generation_config.json"),
        JSON.stringify(generationConfigToJson(this.generationConfig), null, 2) + "\n",
      );
    }
    if (this.dir && this.dir !== dir) {
      for (const f of TOKENIZER_FILES) {
        try {
          await writeFileAtomic(join(dir, f), await Deno.readTextFile(join(this.dir, f)));
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
    }
  }

  /**
   * Gives back every buffer the model owns (weights are exact-size buffers: they are destroyed): its
   * parameters and adapter, or, for a model made by {@link withAdapter} or {@link sharing}, what it does
   * not share.
   */
  release(): void {
    for (const t of this.#owned) t.release();
  }
}

const SAFETENSORS_DTYPE: Record<WeightDType, WritableDtype> = { f32: "F32", bf16: "BF16", f16: "F16" };
const WEIGHT_OF_STORED: Record<StoredValues["dtype"], WeightDType> = { F32: "f32", BF16: "bf16", F16: "f16" };

/** Host values of one parameter at the width it is uploaded at: f32 floats or bf16 / f16 bit patterns. */
type HostWeights = Float32Array<ArrayBuffer> | Uint16Array<ArrayBuffer>;

/** Stored values at `dtype`: kept as they are when the widths agree, else widened or rounded (nearest even). */
function atWidth(stored: StoredValues, dtype: WeightDType): HostWeights {
  if (WEIGHT_OF_STORED[stored.dtype] === dtype) return stored.dtype === "F32" ? stored.values : stored.bits;
  const f32 = stored.dtype === "F32"
    ? stored.values
    : stored.dtype === "BF16"
    ? bf16BitsToF32(stored.bits)
    : Float32Array.from(new Float16Array(stored.bits.buffer, stored.bits.byteOffset, stored.bits.length));
  if (dtype === "f32") return f32;
  if (dtype === "bf16") return f32ToBf16Bits(f32);
  const half = Float16Array.from(f32);
  return new Uint16Array(half.buffer, half.byteOffset, half.length);
}

/**
 * Uploads one parameter at `dtype` into buffers of its exact size (weights live as long as the model, so
 * no pool bucket slack), splitting a vocabulary matrix into row blocks that each fit a binding.
 */
function uploadParam(
  gpu: Gpu,
  params: Map<string, Tensor>,
  name: string,
  shape: number[],
  data: HostWeights,
  dtype: WeightDType,
  maxRows?: number,
): void {
  const put = (key: string, values: HostWeights, dims: number[]) => {
    const t = gpu.emptyExact(dims, dtype, key);
    params.set(key, t);
    gpu.writeBytes(t, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  };
  const rows = VOCAB_MATRICES.has(name)
    ? Math.min(maxRows ?? Infinity, vocabShardRows(gpu, shape[1], dtype))
    : Infinity;
  if (shape[0] <= rows) return put(name, data, shape);
  for (let i = 0, first = 0; first < shape[0]; i++, first += rows) {
    const n = Math.min(rows, shape[0] - first);
    put(`${name}@${i}`, data.subarray(first * shape[1], (first + n) * shape[1]), [n, shape[1]]);
  }
}

/**
 * A model of `config` whose parameters are uninitialised tensors at `weights` width (vectors f32), split
 * into vocabulary row blocks as a loaded model would be: for the planning device (lib/gpu/plan_device.ts),
 * where it takes no memory, to record a model's work at real shapes.
 */
export function placeholderModel(gpu: Gpu, config: ModelConfig, weights: WeightDType = "bf16"): Model {
  const params = new Map<string, Tensor>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    if (name === LM_HEAD && config.tieWordEmbeddings) continue;
    const dtype = takesWeightWidth(shape) ? weights : "f32";
    const rows = VOCAB_MATRICES.has(name) ? vocabShardRows(gpu, shape[1], dtype) : Infinity;
    if (shape[0] <= rows) {
      params.set(name, gpu.emptyExact(shape, dtype, name));
      continue;
    }
    for (let i = 0, first = 0; first < shape[0]; i++, first += rows) {
      params.set(`${name}@${i}`, gpu.emptyExact([Math.min(rows, shape[0] - first), shape[1]], dtype, name));
    }
  }
  return new Model(gpu, config, params);
}

/** Throws unless `weights` names a width a model can hold (undefined: the caller's default). */
function checkWeightsOption(where: string, weights: unknown): asserts weights is WeightDType | undefined {
  if (weights !== undefined && !WEIGHT_WIDTHS.includes(weights as WeightDType)) {
    throw new RangeError(
      `${where}: option weights must be "f32" (trainable), "bf16" or "f16" (inference), got ${
        JSON.stringify(weights)
      }`,
    );
  }
}

/**
 * Uploads host tensors (by HF name) as a model with f32 matrices, or bf16 / f16 ones (rounded to nearest
 * even) with `extras.weights`; a tied model's `lm_head.weight`, if present, is dropped.
 */
export function modelFromTensors(
  gpu: Gpu,
  config: ModelConfig,
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  extras: {
    tokenizer?: Tokenizer;
    generationConfig?: GenerationConfig;
    dir?: string;
    vocabShardRows?: number;
    weights?: WeightDType;
  } = {},
): Model {
  checkWeightsOption("modelFromTensors", extras.weights);
  const params = new Map<string, Tensor>();
  try {
    for (const [name, shape] of expectedTensorShapes(config)) {
      if (name === LM_HEAD && config.tieWordEmbeddings) continue;
      const t = tensors.get(name);
      if (!t) throw new Error(`${extras.dir ?? "model"}: tensor ${name} is missing`);
      const dtype = takesWeightWidth(shape) ? extras.weights ?? "f32" : "f32";
      const values = t.data.buffer instanceof ArrayBuffer
        ? t.data as Float32Array<ArrayBuffer>
        : Float32Array.from(t.data);
      uploadParam(
        gpu,
        params,
        name,
        shape,
        atWidth({ dtype: "F32", values }, dtype),
        dtype,
        extras.vocabShardRows,
      );
    }
  } catch (e) {
    for (const t of params.values()) t.release();
    throw e;
  }
  return new Model(gpu, config, params, extras.tokenizer, extras.generationConfig, extras.dir);
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Device to load onto (default: {@link getDevice}). */
  gpu?: Gpu;
  /** Skip the tokenizer (weights-only folders). */
  withoutTokenizer?: boolean;
  /** Most rows per block of the vocabulary matrices (default: what one storage binding holds). */
  vocabShardRows?: number;
  /**
   * Width of the weight matrices on the GPU. Default: the checkpoint's own (that of its embedding matrix),
   * so a BF16 checkpoint stays bf16 (2 bytes per parameter) and an F32 one f32. `"f32"` gives trainable
   * master weights (the trainer's); `"bf16"` / `"f16"` convert any checkpoint for inference. Norm weights
   * and biases stay f32 whatever the width.
   */
  weights?: WeightDType;
  /**
   * A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors) to apply on top of the
   * weights, as `--adapter` does in the scripts.
   */
  adapter?: string;
  /**
   * With `adapter`: merge it into the weights (default: W + s·B·A rounded once to the weights' width, so
   * every inference path, the fused decode step included, runs it at the base's cost), or keep it unmerged
   * on the model (its term added in f32 on every pass, decoding through the unfused forward).
   */
  mergeAdapter?: boolean;
}

/**
 * Loads a Hugging Face model folder: config.json (refusing what rlif does not implement), the safetensors
 * weights (single or sharded; matrices at the checkpoint's width unless `options.weights` names another,
 * read without widening on the host) checked against the shapes the config implies, and tokenizer.json
 * with its chat template; then, with `options.adapter`, a PEFT LoRA adapter over those weights.
 *
 * @example
 * ```ts
 * import { loadModel } from "./model.ts";
 * const model = await loadModel("path/to/Qwen2.5-0.5B-Instruct");
 * console.log(model.config.numLayers, model.tokenizer?.eosTokenIds);
 * ```
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<Model> {
  checkWeightsOption("loadModel", options.weights);
  if (await isLoraAdapterDir(dir)) {
    const { baseModel } = await readLoraAdapterConfig(dir);
    throw new RlifError(
      "model.config",
      `${dir} is a LoRA adapter (adapter_config.json), not a model: load its base` +
        (baseModel ? ` (${baseModel})` : "") + ` with the adapter on top (--model BASE --adapter ${dir})`,
    );
  }
  const config = await loadModelConfig(dir);
  const generationConfig = await loadGenerationConfig(dir);
  const tokenizer = options.withoutTokenizer ? undefined : await loadTokenizer(dir);
  const gpu = options.gpu ?? await getDevice();
  using ckpt = await openCheckpoint(dir);
  validateCheckpointTensors(config, ckpt.names.map((n) => [n, ckpt.info(n)]), dir);
  const stored = ckpt.info(EMBED_TOKENS).dtype;
  const width = options.weights ?? WEIGHT_OF_STORED[stored as StoredValues["dtype"]] ?? "f32";
  const params = new Map<string, Tensor>();
  try {
    for (const [name, shape] of expectedTensorShapes(config)) {
      if (name === LM_HEAD && config.tieWordEmbeddings) continue;
      const dtype = takesWeightWidth(shape) ? width : "f32";
      const values = atWidth(await ckpt.readStored(name), dtype);
      uploadParam(gpu, params, name, shape, values, dtype, options.vocabShardRows);
    }
  } catch (e) {
    for (const t of params.values()) t.release();
    throw e;
  }
  const model = new Model(gpu, config, params, tokenizer, generationConfig, dir);
  if (options.adapter === undefined) return model;
  let adapter: LoraAdapter;
  try {
    adapter = await loadLoraAdapter(options.adapter, model);
  } catch (e) {
    model.release();
    throw e;
  }
  if (options.mergeAdapter === false) {
    return new Model(gpu, config, params, tokenizer, generationConfig, dir, adapter);
  }
  // The base's adapted matrices give way to the merged ones, so the merged model takes no more memory.
  const merged = mergedLoraWeights(model.withAdapter(adapter));
  adapter.release();
  for (const [name, t] of merged) {
    params.get(name)!.release();
    params.set(name, t);
  }
  return new Model(gpu, config, params, tokenizer, generationConfig, dir);
}

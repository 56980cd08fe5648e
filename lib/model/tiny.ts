/**
 * Tiny random checkpoints for tests and smoke runs: a Hugging Face-format model directory (config.json,
 * generation_config.json, model.safetensors) with a byte-level BPE tokenizer and a ChatML template, fully
 * determined by a seed. The files also load in transformers, for side-by-side checks.
 *
 * @module
 */

import { join } from "node:path";
import { seededRandom } from "../data/rng.ts";
import { writeFileAtomic } from "../log/atomic.ts";
import {
  ARCH_TRAITS,
  type GenerationConfig,
  generationConfigToJson,
  type ModelArch,
  type ModelConfig,
  modelConfigToJson,
} from "./config.ts";
import { bf16BitsToFloat32, float32ToBf16Bits, type TensorToWrite, writeSafetensors } from "./safetensors.ts";
import { expectedTensorShapes } from "./weights.ts";

/** Sizes and options of a tiny model; every field has a small default. */
export interface TinyModelOptions {
  /** PRNG seed (default 0). */
  seed?: number;
  /** Family (default "qwen2": q/k/v biases; "qwen3" and "olmo2" add their q/k and output norms). */
  arch?: ModelArch;
  /** Share embeddings and LM head (default false). */
  tied?: boolean;
  /** Storage dtype of model.safetensors (default "f32"). */
  dtype?: "f32" | "bf16";
  /** Transformer blocks (default 2). */
  layers?: number;
  /** Residual width (default 64). */
  hidden?: number;
  /** Query heads (default 4). */
  heads?: number;
  /** Key/value heads (default 2). */
  kvHeads?: number;
  /** Per-head width (default hidden / heads; Qwen3 sets it apart, e.g. 2560 hidden over 32 heads × 128). */
  headDim?: number;
  /** MLP width (default 128). */
  intermediate?: number;
  /** Longest position (default 512). */
  maxPositions?: number;
  /** Embedding rows (default: tokenizer vocabulary rounded up to a multiple of 4). */
  vocabSize?: number;
  /** RoPE base (default 10000). */
  ropeTheta?: number;
}

/** Special tokens of the tiny tokenizer, in id order after the byte and merge tokens. */
export const TINY_SPECIAL_TOKENS: readonly string[] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/** Merges of the tiny tokenizer (byte-level symbols; "Ġ" is the space byte), in rank order. */
export const TINY_MERGES: readonly [string, string][] = [
  ["Ġ", "t"],
  ["h", "e"],
  ["Ġt", "he"],
  ["i", "n"],
  ["e", "r"],
  ["a", "n"],
  ["o", "n"],
  ["Ġ", "a"],
];

/** Token ids of the tiny tokenizer: byte b is id b, merges follow, then the special tokens. */
export const TINY_TOKEN_IDS: {
  readonly endOfText: number;
  readonly imStart: number;
  readonly imEnd: number;
  readonly firstMerge: number;
  readonly tokenizerVocabSize: number;
} = {
  firstMerge: 256,
  endOfText: 256 + TINY_MERGES.length,
  imStart: 256 + TINY_MERGES.length + 1,
  imEnd: 256 + TINY_MERGES.length + 2,
  tokenizerVocabSize: 256 + TINY_MERGES.length + TINY_SPECIAL_TOKENS.length,
};

/** ChatML template (the Qwen2.5 layout without the default system prompt). */
export const TINY_CHAT_TEMPLATE: string = "{%- for message in messages %}" +
  "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}" +
  "{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/** The pre-tokenizer split pattern of Qwen2 (digits one by one, words with their leading space). */
const QWEN2_SPLIT_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?" +
  "[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** GPT-2's byte → printable character table used by byte-level BPE vocabularies. */
export function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCodePoint(printable.includes(b) ? b : next++);
  }
  return table;
}

/** `tokenizer.json` and `tokenizer_config.json` contents of the tiny tokenizer. */
export function makeTinyTokenizerFiles(): {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
} {
  const vocab: Record<string, number> = {};
  byteLevelAlphabet().forEach((symbol, byte) => vocab[symbol] = byte);
  TINY_MERGES.forEach(([a, b], i) => {
    if (!(a in vocab) || !(b in vocab)) {
      throw new Error(`tiny merge ${a} ${b} uses a symbol not in the vocab`);
    }
    vocab[a + b] = TINY_TOKEN_IDS.firstMerge + i;
  });
  const specials = TINY_SPECIAL_TOKENS.map((content, i) => ({
    id: TINY_TOKEN_IDS.endOfText + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials,
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: QWEN2_SPLIT_PATTERN }, behavior: "Isolated", invert: false },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: TINY_MERGES.map(([a, b]) => [a, b]),
    },
  };
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const { id, ...rest } of specials) addedTokensDecoder[String(id)] = rest;
  const tokenizerConfig = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    additional_special_tokens: ["<|im_start|>", "<|im_end|>"],
    bos_token: null,
    chat_template: TINY_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: "<|im_end|>",
    errors: "replace",
    model_max_length: 512,
    pad_token: "<|endoftext|>",
    split_special_tokens: false,
    tokenizer_class: "Qwen2Tokenizer",
    unk_token: null,
  };
  return { tokenizerJson, tokenizerConfig };
}

/** Deterministic standard normal samples (Box-Muller over {@link seededRandom}). */
export function normalSampler(seed: number): () => number {
  const uniform = seededRandom(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - uniform(); // (0, 1]: keeps log finite
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** A tiny model held in memory: parsed config, HF JSON files and float32 tensors. */
export interface TinyCheckpoint {
  /** The model config. */
  config: ModelConfig;
  /** Generation defaults. */
  generationConfig: GenerationConfig;
  /** Parameters by HF name. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  /** `tokenizer.json` contents. */
  tokenizerJson: Record<string, unknown>;
  /** `tokenizer_config.json` contents. */
  tokenizerConfig: Record<string, unknown>;
}

const INIT_STD = 0.02; // transformers' initializer_range default

/** Builds a tiny random model in memory; the same options always give the same numbers. */
export function makeTinyCheckpoint(options: TinyModelOptions = {}): TinyCheckpoint {
  const arch = options.arch ?? "qwen2";
  const sizes = {
    layers: options.layers ?? 2,
    hidden: options.hidden ?? 64,
    heads: options.heads ?? 4,
    kvHeads: options.kvHeads ?? 2,
    intermediate: options.intermediate ?? 128,
    maxPositions: options.maxPositions ?? 512,
    vocabSize: options.vocabSize ?? Math.ceil(TINY_TOKEN_IDS.tokenizerVocabSize / 4) * 4,
  };
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(`tiny model: ${name} must be a positive integer, got ${v}`);
    }
  }
  const { hidden, heads, kvHeads, vocabSize } = sizes;
  if (vocabSize < TINY_TOKEN_IDS.tokenizerVocabSize) {
    throw new RangeError(
      `tiny model: vocabSize ${vocabSize} is below the tiny tokenizer's ${TINY_TOKEN_IDS.tokenizerVocabSize} tokens`,
    );
  }
  if (options.headDim === undefined && hidden % heads !== 0) {
    throw new RangeError(
      `tiny model: heads (${heads}) must divide hidden (${hidden}) unless headDim is given`,
    );
  }
  if (heads % kvHeads !== 0) {
    throw new RangeError(`tiny model: kvHeads (${kvHeads}) must divide heads (${heads})`);
  }
  const headDim = options.headDim ?? hidden / heads;
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) {
    throw new RangeError(`tiny model: headDim must be a positive even integer for RoPE, got ${headDim}`);
  }
  const ropeTheta = options.ropeTheta ?? 10000;
  if (!(ropeTheta > 0)) throw new RangeError(`tiny model: ropeTheta must be positive, got ${ropeTheta}`);
  const bf16 = (options.dtype ?? "f32") === "bf16";

  const traits = ARCH_TRAITS[arch];
  const config: ModelConfig = {
    arch,
    qkNorm: traits.qkNorm,
    postNorms: traits.postNorms,
    vocabSize,
    hiddenSize: hidden,
    intermediateSize: sizes.intermediate,
    numLayers: sizes.layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    ropeTheta,
    rmsNormEps: 1e-6,
    maxPositionEmbeddings: sizes.maxPositions,
    tieWordEmbeddings: options.tied ?? false,
    attentionBias: traits.alwaysQkvBias,
    outputProjBias: false,
    mlpBias: false,
    torchDtype: bf16 ? "bfloat16" : "float32",
    bosTokenId: TINY_TOKEN_IDS.endOfText,
    eosTokenIds: [TINY_TOKEN_IDS.imEnd],
  };
  const generationConfig: GenerationConfig = {
    bosTokenId: TINY_TOKEN_IDS.endOfText,
    eosTokenIds: [TINY_TOKEN_IDS.imEnd, TINY_TOKEN_IDS.endOfText],
    padTokenId: TINY_TOKEN_IDS.endOfText,
    doSample: true,
    temperature: 1,
    topP: 1,
  };

  const normal = normalSampler(options.seed ?? 0);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith("norm.weight")) data.fill(1);
    else for (let i = 0; i < data.length; i++) data[i] = INIT_STD * normal();
    // Hold exactly the values a bf16 file stores, so in-memory and loaded weights agree.
    tensors.set(name, { shape, data: bf16 ? bf16BitsToFloat32(float32ToBf16Bits(data)) : data });
  }
  return { config, generationConfig, tensors, ...makeTinyTokenizerFiles() };
}

/**
 * Writes a tiny random model directory (config.json, generation_config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json); each file is written atomically.
 *
 * @example
 * ```ts
 * await writeTinyCheckpoint("/tmp/tiny", { seed: 1, tied: true });
 * ```
 */
export async function writeTinyCheckpoint(
  dir: string,
  options: TinyModelOptions = {},
): Promise<TinyCheckpoint> {
  const tiny = makeTinyCheckpoint(options);
  await Deno.mkdir(dir, { recursive: true });
  const json = (v: unknown) => JSON.stringify(v, null, 2) + "\n";
  await writeFileAtomic(join(dir, "config.json"), json(modelConfigToJson(tiny.config)));
  await writeFileAtomic(
    join(dir, "generation_config.json"),
    json(generationConfigToJson(tiny.generationConfig)),
  );
  await writeFileAtomic(join(dir, "tokenizer.json"), json(tiny.tokenizerJson));
  await writeFileAtomic(join(dir, "tokenizer_config.json"), json(tiny.tokenizerConfig));
  const tensors = new Map<string, TensorToWrite>(tiny.tensors);
  await writeSafetensors(join(dir, "model.safetensors"), tensors, {
    dtype: (options.dtype ?? "f32") === "bf16" ? "BF16" : "F32",
    metadata: { format: "pt" },
  });
  return tiny;
}

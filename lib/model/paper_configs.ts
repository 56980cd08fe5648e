/**
 * The `config.json` of the models the papers train and evaluate, as published, parsed by the same code
 * that reads a checkpoint: the one definition that cost models, benchmarks and tests of real shapes use
 * for these families (Qwen2.5's lives in qwen25_config.ts).
 *
 * @module
 */

import { type ModelConfig, parseModelConfig } from "./config.ts";

/** Qwen2.5-1.5B-Instruct's config.json (Intuitor §4's model): hidden 1536, 28 layers, 12/2 heads, tied. */
export const QWEN25_15B_JSON: Readonly<Record<string, unknown>> = Object.freeze({
  architectures: ["Qwen2ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: "silu",
  hidden_size: 1536,
  initializer_range: 0.02,
  intermediate_size: 8960,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: "qwen2",
  num_attention_heads: 12,
  num_hidden_layers: 28,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
});

/** Qwen2.5-7B's config.json (Intuitor §4 and the LoRA recipes): hidden 3584, 28 layers, 28/4 heads, untied. */
export const QWEN25_7B_JSON: Readonly<Record<string, unknown>> = Object.freeze({
  ...QWEN25_15B_JSON,
  hidden_size: 3584,
  intermediate_size: 18944,
  max_window_layers: 28,
  num_attention_heads: 28,
  num_hidden_layers: 28,
  num_key_value_heads: 4,
  sliding_window: 131072,
  tie_word_embeddings: false,
  vocab_size: 152064,
});

const QWEN3_COMMON = {
  architectures: ["Qwen3ForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  head_dim: 128,
  hidden_act: "silu",
  initializer_range: 0.02,
  max_position_embeddings: 32768,
  model_type: "qwen3",
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

/** Qwen3-1.7B-Base's config.json (URLVR §4–§7): hidden 2048, 28 layers, 16/8 heads of 128, tied. */
export const QWEN3_17B_BASE_JSON: Readonly<Record<string, unknown>> = Object.freeze({
  ...QWEN3_COMMON,
  hidden_size: 2048,
  intermediate_size: 6144,
  max_window_layers: 28,
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
});

/** Qwen3-4B-Base's config.json (URLVR Table 7, Countdown): hidden 2560 over 32 heads of 128 (not 80). */
export const QWEN3_4B_BASE_JSON: Readonly<Record<string, unknown>> = Object.freeze({
  ...QWEN3_COMMON,
  hidden_size: 2560,
  intermediate_size: 9728,
  max_window_layers: 36,
  num_attention_heads: 32,
  num_hidden_layers: 36,
  num_key_value_heads: 8,
});

/** Llama-3.1-8B's config.json (URLVR C.2): 128,256-token vocabulary, untied head, llama3 RoPE scaling. */
export const LLAMA31_8B_JSON: Readonly<Record<string, unknown>> = Object.freeze({
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  hidden_act: "silu",
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    factor: 8.0,
    low_freq_factor: 1.0,
    high_freq_factor: 4.0,
    original_max_position_embeddings: 8192,
    rope_type: "llama3",
  },
  rope_theta: 500000.0,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  use_cache: true,
  vocab_size: 128256,
});

/** OLMo-2-1124-7B's config.json (URLVR §6.2): post-norms, q/k norms over whole projections, untied. */
export const OLMO2_7B_JSON: Readonly<Record<string, unknown>> = Object.freeze({
  architectures: ["Olmo2ForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  eos_token_id: 100257,
  hidden_act: "silu",
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 11008,
  max_position_embeddings: 4096,
  model_type: "olmo2",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  pad_token_id: 100277,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 500000,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  use_cache: true,
  vocab_size: 100352,
});

/** {@link QWEN25_15B_JSON} parsed. */
export const QWEN25_15B: Readonly<ModelConfig> = Object.freeze(
  parseModelConfig(QWEN25_15B_JSON, "Qwen2.5-1.5B-Instruct/config.json"),
);
/** {@link QWEN25_7B_JSON} parsed. */
export const QWEN25_7B: Readonly<ModelConfig> = Object.freeze(
  parseModelConfig(QWEN25_7B_JSON, "Qwen2.5-7B/config.json"),
);
/** {@link QWEN3_17B_BASE_JSON} parsed. */
export const QWEN3_17B_BASE: Readonly<ModelConfig> = Object.freeze(
  parseModelConfig(QWEN3_17B_BASE_JSON, "Qwen3-1.7B-Base/config.json"),
);
/** {@link QWEN3_4B_BASE_JSON} parsed. */
export const QWEN3_4B_BASE: Readonly<ModelConfig> = Object.freeze(
  parseModelConfig(QWEN3_4B_BASE_JSON, "Qwen3-4B-Base/config.json"),
);
/** {@link LLAMA31_8B_JSON} parsed. */
export const LLAMA31_8B: Readonly<ModelConfig> = Object.freeze(
  parseModelConfig(LLAMA31_8B_JSON, "Llama-3.1-8B/config.json"),
);
/** {@link OLMO2_7B_JSON} parsed. */
export const OLMO2_7B: Readonly<ModelConfig> = Object.freeze(
  parseModelConfig(OLMO2_7B_JSON, "OLMo-2-1124-7B/config.json"),
);

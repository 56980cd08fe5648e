import assert from "node:assert/strict";
import { join } from "node:path";
import {
  generationConfigToJson,
  loadGenerationConfig,
  loadModelConfig,
  ModelConfigError,
  modelConfigToJson,
  parseGenerationConfig,
  parseModelConfig,
} from "../../lib/model/config.ts";
import { QWEN25_05B as QWEN25_05B_SHAPES } from "../../lib/model/qwen25_config.ts";

/** Qwen2.5-0.5B-Instruct's config.json as published. */
const QWEN25_05B = {
  architectures: ["Qwen2ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: "silu",
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-06,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.43.1",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

/** TinyLlama-1.1B-Chat's config.json (a Llama-architecture model with plain RoPE). */
const TINYLLAMA = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: "silu",
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5632,
  max_position_embeddings: 2048,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 22,
  num_key_value_heads: 4,
  pretraining_tp: 1,
  rms_norm_eps: 1e-05,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  use_cache: true,
  vocab_size: 32000,
};

function refuses(json: unknown, field: string, ...fragments: string[]): void {
  assert.throws(() => parseModelConfig(json, "m/config.json"), (e: unknown) => {
    assert.ok(e instanceof ModelConfigError, `expected ModelConfigError, got ${e}`);
    assert.equal(e.file, "m/config.json");
    assert.equal(e.field, field);
    assert.ok(e.message.startsWith("m/config.json: "), e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

Deno.test("parses Qwen2.5-0.5B-Instruct's config", () => {
  // The shapes the library defines once (cost models, benchmarks) are exactly those of the real config.json.
  assert.deepEqual(parseModelConfig(QWEN25_05B), { ...QWEN25_05B_SHAPES });
});

Deno.test("parses a Llama config: no biases by default, explicit head_dim honoured", () => {
  const c = parseModelConfig(TINYLLAMA);
  assert.equal(c.arch, "llama");
  assert.equal(c.headDim, 64);
  assert.equal(c.attentionBias, false);
  assert.equal(c.outputProjBias, false);
  assert.equal(c.rmsNormEps, 1e-5);
  assert.deepEqual(c.eosTokenIds, [2]);

  const wideHeads = parseModelConfig({
    ...TINYLLAMA,
    hidden_size: 2048,
    num_attention_heads: 8,
    head_dim: 128,
  });
  assert.equal(wideHeads.headDim, 128);
  const biased = parseModelConfig({ ...TINYLLAMA, attention_bias: true });
  assert.equal(biased.attentionBias, true);
  assert.equal(biased.outputProjBias, true);
});

Deno.test("defaults: kv heads = heads, float32, untied, no eos", () => {
  const c = parseModelConfig({
    model_type: "qwen2",
    vocab_size: 10,
    hidden_size: 8,
    intermediate_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
  });
  assert.equal(c.numKvHeads, 2);
  assert.equal(c.torchDtype, "float32");
  assert.equal(c.tieWordEmbeddings, false);
  assert.equal(c.ropeTheta, 10000);
  assert.deepEqual(c.eosTokenIds, []);
  assert.equal(c.bosTokenId, undefined);
});

Deno.test("eos_token_id may be a list; dtype may be given as `dtype`", () => {
  const c = parseModelConfig({
    ...TINYLLAMA,
    eos_token_id: [128001, 128008, 128009],
    torch_dtype: undefined,
    dtype: "float16",
  });
  assert.deepEqual(c.eosTokenIds, [128001, 128008, 128009]);
  assert.equal(c.torchDtype, "float16");
});

Deno.test("transformers 5 rope_parameters: default type accepted, theta read from it", () => {
  const c = parseModelConfig({
    ...QWEN25_05B,
    rope_theta: undefined,
    rope_parameters: { rope_type: "default", rope_theta: 5e5 },
  });
  assert.equal(c.ropeTheta, 5e5);
  refuses({ ...QWEN25_05B, rope_parameters: { rope_type: "yarn", factor: 4 } }, "rope_parameters", "yarn");
});

const LLAMA3_SCALING = {
  factor: 32.0,
  high_freq_factor: 4.0,
  low_freq_factor: 1.0,
  original_max_position_embeddings: 8192,
  rope_type: "llama3",
};

Deno.test("rope_scaling: null and default are plain RoPE; llama3 (Llama-3.2) is read and round-trips", () => {
  assert.equal(parseModelConfig({ ...TINYLLAMA, rope_scaling: { type: "default" } }).ropeScaling, undefined);
  const llama32 = { ...TINYLLAMA, rope_theta: 500000.0, rope_scaling: LLAMA3_SCALING };
  const c = parseModelConfig(llama32);
  assert.equal(c.ropeTheta, 500000);
  assert.deepEqual(c.ropeScaling, {
    factor: 32,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositionEmbeddings: 8192,
  });
  assert.deepEqual(modelConfigToJson(c).rope_scaling, LLAMA3_SCALING);
  assert.deepEqual(parseModelConfig(modelConfigToJson(c)), c);
  // transformers >= 5 writes the same fields into rope_parameters.
  const v5 = parseModelConfig({
    ...TINYLLAMA,
    rope_theta: undefined,
    rope_parameters: { ...LLAMA3_SCALING, rope_theta: 500000.0 },
  });
  assert.deepEqual([v5.ropeTheta, v5.ropeScaling], [c.ropeTheta, c.ropeScaling]);
});

Deno.test("rope_scaling: other types and incomplete llama3 fields are refused by name", () => {
  refuses({ ...QWEN25_05B, rope_scaling: { type: "yarn", factor: 4 } }, "rope_scaling", `"yarn"`, `"llama3"`);
  refuses({ ...QWEN25_05B, rope_scaling: "linear" }, "rope_scaling", "must be an object");
  refuses(
    { ...QWEN25_05B, rope_parameters: { rope_type: "default" }, rope_scaling: { type: "yarn", factor: 4 } },
    "rope_scaling",
    `"yarn"`,
  );
  const { factor: _, ...noFactor } = LLAMA3_SCALING;
  refuses({ ...TINYLLAMA, rope_scaling: noFactor }, "rope_scaling.factor", "positive number", "is required");
  refuses(
    { ...TINYLLAMA, rope_scaling: { ...LLAMA3_SCALING, high_freq_factor: 1 } },
    "rope_scaling.high_freq_factor",
    "greater than low_freq_factor",
  );
  refuses(
    { ...TINYLLAMA, rope_parameters: { ...LLAMA3_SCALING, original_max_position_embeddings: -1 } },
    "rope_parameters.original_max_position_embeddings",
  );
});

Deno.test("refuses options rlif does not implement, naming file and field", () => {
  refuses({ ...QWEN25_05B, use_sliding_window: true }, "use_sliding_window", "full attention");
  refuses({ ...QWEN25_05B, layer_types: ["full_attention", "sliding_attention"] }, "layer_types");
  refuses({ ...QWEN25_05B, hidden_act: "gelu" }, "hidden_act", `"gelu"`, `supported: "silu"`);
  refuses({ ...QWEN25_05B, num_key_value_heads: 3 }, "num_key_value_heads", "(3)", "(14)");
  refuses({ ...QWEN25_05B, num_attention_heads: 10 }, "num_attention_heads", "hidden_size (896)");
  refuses({ ...TINYLLAMA, mlp_bias: true }, "mlp_bias", "supported: false");
  refuses({ ...QWEN25_05B, quantization_config: { quant_method: "gptq" } }, "quantization_config");
  refuses({ ...QWEN25_05B, torch_dtype: "float8_e4m3fn" }, "torch_dtype", "bfloat16");
  refuses({ ...QWEN25_05B, attention_dropout: 0.1 }, "attention_dropout");
});

Deno.test("refuses unknown or inconsistent architectures", () => {
  refuses(
    { ...QWEN25_05B, model_type: "qwen3_moe", architectures: undefined },
    "model_type",
    "qwen3_moe",
    `"qwen2"`,
    `"qwen3"`,
    `"llama"`,
    `"olmo2"`,
  );
  refuses(
    { ...QWEN25_05B, architectures: ["Qwen2ForSequenceClassification"] },
    "architectures",
    "Qwen2ForCausalLM",
  );
  refuses({ ...QWEN25_05B, architectures: ["LlamaForCausalLM"] }, "architectures", "disagrees");
  refuses({ ...QWEN25_05B, model_type: undefined, architectures: undefined }, "model_type", "missing");
  assert.equal(parseModelConfig({ ...TINYLLAMA, model_type: undefined }).arch, "llama");
});

Deno.test("refuses missing or malformed sizes", () => {
  refuses({ ...QWEN25_05B, hidden_size: undefined }, "hidden_size", "required");
  refuses({ ...QWEN25_05B, num_hidden_layers: 2.5 }, "num_hidden_layers", "positive integer");
  refuses({ ...QWEN25_05B, eos_token_id: "</s>" }, "eos_token_id");
  refuses({ ...QWEN25_05B, tie_word_embeddings: "yes" }, "tie_word_embeddings");
  assert.throws(() => parseModelConfig([1, 2], "x.json"), /x\.json: must contain a JSON object/);
});

Deno.test("modelConfigToJson round-trips through parseModelConfig", () => {
  for (const json of [QWEN25_05B, TINYLLAMA, { ...TINYLLAMA, attention_bias: true, head_dim: 128 }]) {
    const c = parseModelConfig(json);
    assert.deepEqual(parseModelConfig(modelConfigToJson(c)), c);
  }
});

Deno.test("generation_config: eos list, sampling defaults, validation", () => {
  const g = parseGenerationConfig({
    bos_token_id: 151643,
    pad_token_id: 151643,
    do_sample: true,
    eos_token_id: [151645, 151643],
    repetition_penalty: 1.1,
    temperature: 0.7,
    top_p: 0.8,
    top_k: 20,
    transformers_version: "4.37.0",
  });
  assert.deepEqual(g, {
    bosTokenId: 151643,
    padTokenId: 151643,
    doSample: true,
    eosTokenIds: [151645, 151643],
    repetitionPenalty: 1.1,
    temperature: 0.7,
    topP: 0.8,
    topK: 20,
  });
  assert.deepEqual(parseGenerationConfig(generationConfigToJson(g)), g);
  assert.throws(
    () => parseGenerationConfig({ top_p: 1.5 }, "g.json"),
    /g\.json: field "top_p" must be a number in \(0, 1\]/,
  );
  assert.throws(() => parseGenerationConfig({ top_k: -1 }), /field "top_k"/);
});

Deno.test("loadModelConfig / loadGenerationConfig read a directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(QWEN25_05B));
    assert.equal((await loadModelConfig(dir)).hiddenSize, 896);
    assert.equal((await loadModelConfig(join(dir, "config.json"))).numLayers, 24);
    assert.equal(await loadGenerationConfig(dir), undefined);
    await Deno.writeTextFile(
      join(dir, "generation_config.json"),
      `{"eos_token_id": [1, 2], "temperature": 0.6}`,
    );
    assert.deepEqual(await loadGenerationConfig(dir), { eosTokenIds: [1, 2], temperature: 0.6 });
    await Deno.writeTextFile(join(dir, "config.json"), `{"model_type": "qwen2",`);
    await assert.rejects(loadModelConfig(dir), (e: unknown) => {
      assert.ok(e instanceof ModelConfigError);
      assert.ok(
        e.message.includes(join(dir, "config.json")) && e.message.includes("not valid JSON"),
        e.message,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

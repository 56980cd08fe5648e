import assert from "node:assert/strict";
import { type ModelConfig, parseModelConfig } from "../../lib/model/config.ts";
import { QWEN25_05B } from "../../lib/model/qwen25_config.ts";
import { makeTinyCheckpoint } from "../../lib/model/tiny.ts";
import {
  CheckpointMismatchError,
  expectedTensorShapes,
  findCheckpointProblems,
  type TensorShapeSource,
  validateCheckpointTensors,
} from "../../lib/model/weights.ts";

function shapesOf(config: ModelConfig): Map<string, TensorShapeSource> {
  const out = new Map<string, TensorShapeSource>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    out.set(name, { shape, file: "model.safetensors" });
  }
  return out;
}

Deno.test("Qwen2.5-0.5B: names and shapes of every parameter", () => {
  const shapes = expectedTensorShapes(QWEN25_05B);
  // embed + 24 layers x (2 norms + 4 projections + 3 biases + 3 MLP) + final norm; tied: no lm_head.
  assert.equal(shapes.size, 1 + 24 * 12 + 1);
  assert.deepEqual(shapes.get("model.embed_tokens.weight"), [151936, 896]);
  assert.deepEqual(shapes.get("model.layers.0.self_attn.q_proj.weight"), [896, 896]);
  assert.deepEqual(shapes.get("model.layers.0.self_attn.q_proj.bias"), [896]);
  assert.deepEqual(shapes.get("model.layers.23.self_attn.k_proj.weight"), [128, 896]);
  assert.deepEqual(shapes.get("model.layers.23.self_attn.v_proj.bias"), [128]);
  assert.deepEqual(shapes.get("model.layers.5.self_attn.o_proj.weight"), [896, 896]);
  assert.equal(shapes.has("model.layers.5.self_attn.o_proj.bias"), false);
  assert.deepEqual(shapes.get("model.layers.5.mlp.gate_proj.weight"), [4864, 896]);
  assert.deepEqual(shapes.get("model.layers.5.mlp.down_proj.weight"), [896, 4864]);
  assert.deepEqual(shapes.get("model.layers.5.post_attention_layernorm.weight"), [896]);
  assert.deepEqual(shapes.get("model.norm.weight"), [896]);
  assert.equal(shapes.has("lm_head.weight"), false);
  assert.equal(shapes.has("model.layers.24.input_layernorm.weight"), false);
});

Deno.test("Llama: no biases unless attention_bias, which adds o_proj's too; untied lm_head; head_dim", () => {
  const base = {
    model_type: "llama",
    hidden_size: 64,
    intermediate_size: 96,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    num_hidden_layers: 1,
    vocab_size: 50,
    head_dim: 32,
  };
  const plain = expectedTensorShapes(parseModelConfig(base));
  assert.equal([...plain.keys()].some((n) => n.endsWith(".bias")), false);
  assert.deepEqual(plain.get("lm_head.weight"), [50, 64]);
  assert.deepEqual(plain.get("model.layers.0.self_attn.q_proj.weight"), [128, 64]);
  assert.deepEqual(plain.get("model.layers.0.self_attn.k_proj.weight"), [32, 64]);
  assert.deepEqual(plain.get("model.layers.0.self_attn.o_proj.weight"), [64, 128]);
  const biased = expectedTensorShapes(parseModelConfig({ ...base, attention_bias: true }));
  assert.deepEqual(biased.get("model.layers.0.self_attn.o_proj.bias"), [64]);
  assert.deepEqual(biased.get("model.layers.0.self_attn.q_proj.bias"), [128]);
});

Deno.test("a complete checkpoint validates; inv_freq buffers are ignored", () => {
  const t = shapesOf(QWEN25_05B);
  t.set("model.layers.0.self_attn.rotary_emb.inv_freq", { shape: [32] });
  t.set("model.rotary_emb.inv_freq", { shape: [32] });
  assert.deepEqual(findCheckpointProblems(QWEN25_05B, t), []);
  validateCheckpointTensors(QWEN25_05B, t);
});

Deno.test("a tied model may ship lm_head.weight, but only with the embedding's shape", () => {
  const t = shapesOf(QWEN25_05B);
  t.set("lm_head.weight", { shape: [151936, 896] });
  assert.deepEqual(findCheckpointProblems(QWEN25_05B, t), []);
  t.set("lm_head.weight", { shape: [896, 151936], file: "m.safetensors" });
  assert.deepEqual(findCheckpointProblems(QWEN25_05B, t), [
    {
      kind: "shape",
      name: "lm_head.weight",
      expected: [151936, 896],
      actual: [896, 151936],
      file: "m.safetensors",
    },
  ]);
});

Deno.test("reports missing, unexpected and wrong-shape tensors by name and file", () => {
  const t = shapesOf(QWEN25_05B);
  t.delete("model.layers.3.mlp.up_proj.weight");
  t.set("model.layers.0.self_attn.k_proj.weight", { shape: [896, 896], file: "model-00001.safetensors" });
  t.set("model.layers.0.self_attn.q_norm.weight", { shape: [64], file: "model-00002.safetensors" });
  const problems = findCheckpointProblems(QWEN25_05B, t);
  assert.deepEqual(problems, [
    {
      kind: "shape",
      name: "model.layers.0.self_attn.k_proj.weight",
      expected: [128, 896],
      actual: [896, 896],
      file: "model-00001.safetensors",
    },
    {
      kind: "unexpected",
      name: "model.layers.0.self_attn.q_norm.weight",
      actual: [64],
      file: "model-00002.safetensors",
    },
    { kind: "missing", name: "model.layers.3.mlp.up_proj.weight", expected: [4864, 896] },
  ]);
  assert.throws(() => validateCheckpointTensors(QWEN25_05B, t, "models/q"), (e: unknown) => {
    assert.ok(e instanceof CheckpointMismatchError);
    assert.equal(e.problems.length, 3);
    const m = e.message;
    assert.ok(m.startsWith("models/q: checkpoint does not match config.json (3 problems)"), m);
    assert.ok(m.includes("missing model.layers.3.mlp.up_proj.weight (expected [4864, 896])"), m);
    assert.ok(
      m.includes("unexpected model.layers.0.self_attn.q_norm.weight in model-00002.safetensors [64]"),
      m,
    );
    assert.ok(
      m.includes(
        "wrong shape model.layers.0.self_attn.k_proj.weight in model-00001.safetensors: expected [128, 896], found [896, 896]",
      ),
      m,
    );
    assert.ok(m.includes("Qwen3"), m);
    return true;
  });
});

Deno.test("an untied config without lm_head.weight hints at tie_word_embeddings", () => {
  const untied = { ...QWEN25_05B, tieWordEmbeddings: false };
  const t = shapesOf(QWEN25_05B);
  assert.throws(
    () => validateCheckpointTensors(untied, t),
    /missing lm_head\.weight[\s\S]*"tie_word_embeddings": true/,
  );
});

Deno.test("long problem lists are truncated in the message but kept whole in .problems", () => {
  const t = new Map<string, TensorShapeSource>([["transformer.wte.weight", { shape: [1] }]]);
  try {
    validateCheckpointTensors(QWEN25_05B, t);
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(e instanceof CheckpointMismatchError);
    assert.equal(e.problems.length, 1 + 290);
    assert.match(e.message, /\.\.\. and 271 more/);
    assert.match(e.message, /Hugging Face causal-LM names/);
  }
});

Deno.test("the tiny model's tensors match its config", () => {
  for (const tied of [false, true]) {
    const tiny = makeTinyCheckpoint({ tied, layers: 1 });
    validateCheckpointTensors(tiny.config, tiny.tensors);
  }
});

/**
 * The families' config.json files and checkpoints: the published configs of Qwen3, Llama 3.1 and OLMo-2
 * parse to the shapes their checkpoints hold, round-trip through modelConfigToJson, and bad input (a Qwen3
 * config without head_dim, a checkpoint missing q_norm, a q_norm of the wrong size) is refused in one
 * message naming the file and tensor.
 */
import assert from "node:assert/strict";
import { ModelConfigError, modelConfigToJson, parseModelConfig } from "../../lib/model/config.ts";
import {
  LLAMA31_8B,
  OLMO2_7B,
  OLMO2_7B_JSON,
  QWEN3_17B_BASE,
  QWEN3_4B_BASE,
  QWEN3_4B_BASE_JSON,
} from "../../lib/model/paper_configs.ts";
import { loadModel } from "../../lib/model/model.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { makeTinyCheckpoint, writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { expectedTensorShapes } from "../../lib/model/weights.ts";

Deno.test("families: Qwen3, Llama 3.1 and OLMo-2 configs parse to their checkpoints' shapes", () => {
  assert.equal(QWEN3_4B_BASE.arch, "qwen3");
  assert.equal(QWEN3_4B_BASE.headDim, 128); // 2560 / 32 = 80: head_dim is read, not derived
  assert.equal(QWEN3_4B_BASE.qkNorm, "head");
  assert.equal(QWEN3_4B_BASE.attentionBias, false);
  const q3 = expectedTensorShapes(QWEN3_4B_BASE);
  assert.deepEqual(q3.get("model.layers.0.self_attn.q_proj.weight"), [4096, 2560]);
  assert.deepEqual(q3.get("model.layers.0.self_attn.q_norm.weight"), [128]);
  assert.deepEqual(q3.get("model.layers.35.self_attn.k_norm.weight"), [128]);
  assert.equal(q3.has("lm_head.weight"), false);
  assert.equal(q3.has("model.layers.0.self_attn.q_proj.bias"), false);
  let params = 0;
  for (const s of expectedTensorShapes(QWEN3_17B_BASE).values()) params += s.reduce((a, b) => a * b, 1);
  assert.ok(Math.abs(params / 1e9 - 1.72) < 0.01, `Qwen3-1.7B has ${params} parameters`);

  assert.equal(OLMO2_7B.postNorms, true);
  assert.equal(OLMO2_7B.qkNorm, "projection");
  const olmo = expectedTensorShapes(OLMO2_7B);
  assert.equal(olmo.has("model.layers.0.input_layernorm.weight"), false);
  assert.deepEqual(olmo.get("model.layers.0.self_attn.q_norm.weight"), [4096]);
  assert.deepEqual(olmo.get("model.layers.0.post_feedforward_layernorm.weight"), [4096]);
  assert.deepEqual(olmo.get("lm_head.weight"), [100352, 4096]);

  assert.equal(LLAMA31_8B.vocabSize, 128256);
  assert.equal(LLAMA31_8B.tieWordEmbeddings, false);
  assert.equal(LLAMA31_8B.ropeScaling?.factor, 8);
  for (const c of [QWEN3_17B_BASE, QWEN3_4B_BASE, LLAMA31_8B, OLMO2_7B]) {
    assert.deepEqual(parseModelConfig(modelConfigToJson(c)), c, `${c.arch} round trip`);
  }
});

function refused(json: unknown, ...fragments: string[]): void {
  assert.throws(() => parseModelConfig(json, "m/config.json"), (e: unknown) => {
    assert.ok(e instanceof ModelConfigError);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

Deno.test("families: a Qwen3 config without head_dim, MoE variants and sliding windows are refused by field", () => {
  refused(
    { ...QWEN3_4B_BASE_JSON, head_dim: undefined },
    "m/config.json",
    `"head_dim"`,
    "required for qwen3",
  );
  refused(
    { ...QWEN3_4B_BASE_JSON, model_type: "qwen3_moe", architectures: undefined },
    `"model_type"`,
    "qwen3_moe",
    "mixture-of-experts",
  );
  refused({ ...OLMO2_7B_JSON, model_type: "olmoe", architectures: undefined }, "olmoe", "mixture-of-experts");
  refused({ ...QWEN3_4B_BASE_JSON, use_sliding_window: true }, `"use_sliding_window"`);
  refused({ ...OLMO2_7B_JSON, architectures: ["Qwen3ForCausalLM"] }, `"architectures"`, "disagrees");
});

async function refusedCheckpoint(
  edit: (tensors: Map<string, { shape: number[]; data: Float32Array }>) => void,
  ...fragments: string[]
) {
  const dir = await Deno.makeTempDir({ prefix: "rlif-family-bad-" });
  try {
    await writeTinyCheckpoint(dir, { arch: "qwen3", headDim: 24 });
    const tiny = makeTinyCheckpoint({ arch: "qwen3", headDim: 24 });
    edit(tiny.tensors);
    await writeSafetensors(`${dir}/model.safetensors`, tiny.tensors);
    await assert.rejects(() => loadModel(dir), (e: Error) => {
      for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
      assert.ok(e.message.includes(dir), e.message);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("families: a checkpoint missing q_norm or with a q_norm of the wrong size names the tensor", async () => {
  await refusedCheckpoint(
    (t) => t.delete("model.layers.1.self_attn.q_norm.weight"),
    "missing model.layers.1.self_attn.q_norm.weight (expected [24])",
  );
  await refusedCheckpoint(
    (t) => t.set("model.layers.0.self_attn.k_norm.weight", { shape: [48], data: new Float32Array(48) }),
    "wrong shape model.layers.0.self_attn.k_norm.weight",
    "expected [24], found [48]",
    "hint: Qwen3's q_norm/k_norm hold head_dim values",
  );
  // Qwen3 weights under a Qwen2 config: the q/k norms are unexpected, and the hint names the families.
  await refusedCheckpoint((t) => {
    for (const name of [...t.keys()]) {
      if (name.endsWith("q_proj.weight")) {
        t.set(name.replace("weight", "bias"), { shape: [96], data: new Float32Array(96) });
      }
    }
  }, "unexpected model.layers.0.self_attn.q_proj.bias");
});

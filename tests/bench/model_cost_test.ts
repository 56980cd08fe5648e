import assert from "node:assert/strict";
import {
  forwardFlopsPerToken,
  H100,
  kvCacheBytesPerStep,
  matmulParams,
  type ParamSize,
  roofline,
  trainBytesPerStep,
  trainFlopsPerToken,
  weightBytesPerForward,
} from "../../lib/bench/model_cost.ts";
import { expectedTensorShapes, type ModelConfig, parseModelConfig } from "../../lib/model/io.ts";

/** Qwen2.5-0.5B's config.json (the fields the formulas read). */
const QWEN25_05B: ModelConfig = parseModelConfig({
  architectures: ["Qwen2ForCausalLM"],
  model_type: "qwen2",
  hidden_size: 896,
  intermediate_size: 4864,
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
  vocab_size: 151936,
});

/** Every tensor the config implies, matrices at `matrixBytes` per element, norms and biases at 4. */
function sizes(config: ModelConfig, matrixBytes: number): ParamSize[] {
  const tied = config.tieWordEmbeddings;
  return [...expectedTensorShapes(config)]
    .filter(([name]) => !(tied && name === "lm_head.weight"))
    .map(([name, shape]) => ({
      name,
      elements: shape.reduce((a, b) => a * b, 1),
      bytesPerElement: shape.length === 2 ? matrixBytes : 4,
    }));
}

// Hand-computed for Qwen2.5-0.5B (hidden 896, 14 heads × 64, 2 KV heads, MLP 4864, 24 layers, vocab 151,936):
//   per layer  q 896·896 = 802,816   k, v 128·896 = 114,688 each   o 802,816   gate, up, down 4864·896 = 4,358,144 each
//              = 1,835,008 + 13,074,432 = 14,909,440;   × 24 = 357,826,560
//   LM head (tied embeddings) 151,936·896 = 136,134,656   → matmul weights 493,961,216
//   norms 24·2·896 + 896 = 43,904; q/k/v biases 24·(896 + 128 + 128) = 27,648 → 494,032,768 parameters (the published count)
const MATMUL = 493_961_216;
const PARAMS = 494_032_768;

Deno.test("model cost: Qwen2.5-0.5B's matmul weights and forward FLOPs per token match the hand count", () => {
  assert.equal(matmulParams(QWEN25_05B), MATMUL);
  assert.equal(sizes(QWEN25_05B, 4).reduce((n, p) => n + p.elements, 0), PARAMS);
  assert.equal(forwardFlopsPerToken(QWEN25_05B, 0), 987_922_432); // 2 · 493,961,216
  // Attention at 100 keys: 4 · 14 heads · 64 · 100 · 24 layers = 8,601,600.
  assert.equal(forwardFlopsPerToken(QWEN25_05B, 100), 987_922_432 + 8_601_600);
  assert.equal(trainFlopsPerToken(QWEN25_05B, 100), 3 * (987_922_432 + 8_601_600));
});

Deno.test("model cost: weight bytes per forward follow the stored width; an untied embedding is only gathered", () => {
  assert.equal(weightBytesPerForward(QWEN25_05B, sizes(QWEN25_05B, 4), 64), 4 * PARAMS); // 1,976,131,072
  // bf16 matrices (493,961,216 · 2), norms and biases f32 (71,552 · 4).
  assert.equal(weightBytesPerForward(QWEN25_05B, sizes(QWEN25_05B, 2), 1), 987_922_432 + 286_208);
  // Untied: lm_head read whole (another 136,134,656 weights), the embedding only for the 4 rows looked up.
  const untied = { ...QWEN25_05B, tieWordEmbeddings: false };
  assert.equal(weightBytesPerForward(untied, sizes(untied, 4), 4), 4 * (PARAMS + 4 * 896));
  // A split vocabulary matrix (row blocks named name@i) counts like the whole one.
  const split = sizes(untied, 4).flatMap((p) =>
    p.name === "model.embed_tokens.weight"
      ? [{ ...p, name: `${p.name}@0`, elements: p.elements / 2 }, {
        ...p,
        name: `${p.name}@1`,
        elements: p.elements / 2,
      }]
      : [p]
  );
  assert.equal(weightBytesPerForward(untied, split, 4), 4 * (PARAMS + 4 * 896));
  // Training: weights read twice, every f32 gradient read and written.
  assert.equal(trainBytesPerStep(QWEN25_05B, sizes(QWEN25_05B, 4), 64), 2 * 4 * PARAMS + 8 * PARAMS);
});

Deno.test("model cost: KV-cache bytes and the H100 roofline", () => {
  // 16 sequences · 24 layers · (K and V) · 2 heads · 64 · 300 keys · 4 bytes = 117,964,800.
  assert.equal(kvCacheBytesPerStep(QWEN25_05B, 16, 300), 117_964_800);
  assert.equal(kvCacheBytesPerStep(QWEN25_05B, 16, 300, 2), 58_982_400);
  // Decode at batch 1 in bf16 is memory bound: 988,208,640 B / 3.35e12 B/s = 0.29499 ms.
  const decode = roofline(987_922_432, 988_208_640);
  assert.equal(decode.bound, "memory");
  assert.ok(Math.abs(decode.seconds - 988_208_640 / 3.35e12) < 1e-15);
  // A 512-token forward: 512 · 987,922,432 FLOPs / 67e12 = 7.55 ms of arithmetic against 0.59 ms of weights.
  const prefill = roofline(512 * 987_922_432, 1_976_131_072);
  assert.equal(prefill.bound, "compute");
  assert.ok(Math.abs(prefill.seconds - 512 * 987_922_432 / H100.flopsPerSecond) < 1e-12);
});

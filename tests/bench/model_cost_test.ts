import assert from "node:assert/strict";
import {
  forwardFlopsPerToken,
  H100,
  kvCacheBytesPerStep,
  matmulParams,
  type ParamSize,
  recomputeFlopsPerToken,
  roofline,
  trainBytesPerStep,
  trainFlopsPerToken,
  trainingPeakMemory,
  weightBytesPerForward,
} from "../../lib/bench/model_cost.ts";
import { type ModelConfig, parseModelConfig } from "../../lib/model/config.ts";
import { LLAMA31_8B, OLMO2_7B, QWEN3_17B_BASE, QWEN3_4B_BASE } from "../../lib/model/paper_configs.ts";
import { expectedTensorShapes } from "../../lib/model/weights.ts";

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

/** Qwen2.5-1.5B's config.json (the fields the formulas read). */
const QWEN25_15B: ModelConfig = parseModelConfig({
  architectures: ["Qwen2ForCausalLM"],
  model_type: "qwen2",
  hidden_size: 1536,
  intermediate_size: 8960,
  num_attention_heads: 12,
  num_hidden_layers: 28,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
  vocab_size: 151936,
});

Deno.test("model cost: Qwen2.5-1.5B's training peak at 8 × 1024 tokens, with and without recomputation", () => {
  const params = sizes(QWEN25_15B, 4);
  assert.equal(params.reduce((n, p) => n + p.elements, 0), 1_543_714_304); // the published 1.54B
  const MiB = 2 ** 20;
  // 64 MiB of f32 logits per chunk: 110 rows of 151,936.
  const shape = { batch: 8, seqLen: 1024, logitChunkRows: Math.floor(64 * MiB / (151936 * 4)) };
  const plain = trainingPeakMemory(QWEN25_15B, params, { ...shape, recompute: false });
  const recompute = trainingPeakMemory(QWEN25_15B, params, { ...shape, recompute: true });
  // Saved per layer, T = 8192 rows, each buffer rounded up to a quarter octave:
  //   x, h1, q, o, x2, h2: [T, 1536] f32 = 48 MiB (exact)     k, v: [T, 256] = 8 MiB (exact)
  //   gate, up, act: [T, 8960] = 280 MiB -> 320 MiB            rstd1, rstd2: 32 KiB    lse [T, 12]: 384 KiB
  //   = 288 + 16 + 960 MiB + 448 KiB; x 28 layers
  assert.equal(plain.savedActivations, 28 * (1264 * MiB + 448 * 1024));
  assert.equal(recompute.savedActivations, 28 * 48 * MiB); // only each layer's input
  // Weights exact; gradients and the two moments bucketed alike, whatever the recomputation.
  assert.equal(plain.weights, 4 * 1_543_714_304);
  assert.equal(plain.optimizer, 2 * plain.gradients + 2 * 256); // + the norm and clip scalars
  assert.ok(plain.gradients >= plain.weights && plain.gradients < 1.25 * plain.weights);
  assert.deepEqual(
    [recompute.weights, recompute.gradients, recompute.optimizer],
    [plain.weights, plain.gradients, plain.optimizer],
  );
  for (const m of [plain, recompute]) {
    assert.equal(m.weights + m.gradients + m.optimizer + m.savedActivations + m.transient, m.peakBytes);
  }
  // The rest, replayed on the pool's rules (T = 8192 rows; 74 logits chunks of 110 rows and one of 52):
  //   common to both: the RoPE table 256 B, the batch upload (ids, positions, pastLen, kvLen, rows,
  //   targets and weights of each chunk, 64-element segments: 45,120 i32 = 180,480 B) -> 192 KiB, the
  //   row grouping (2 · 8192 + 1 + 8192 i32 = 98,308 B) -> 112 KiB, the gradient norm's 376,989 partial
  //   sums -> 1.5 MiB, a chunk's logits [110, V] -> 64 MiB, its rows and dx [110, H] -> 768 KiB each
  //   (which the norm backward's [128, H] partial sums then reuse), the last chunk's [52, V] -> 32 MiB
  //   and [52, H] -> 320 KiB each.
  const KiB = 1024;
  const common = 256 + 192 * KiB + 112 * KiB + 1.5 * MiB + 64 * MiB + 2 * 768 * KiB + 32 * MiB +
    2 * 320 * KiB;
  //   saved activations: [T, H] the last layer's output; the one buffer the forward's layers pass round
  //   (o_proj's output, released once added, then down's), which the final norm's output takes; dFinal;
  //   the final norm backward's dx and the three [T, H] the layer backward holds at once besides (of dh2,
  //   dx2, dx2Total, dO, dq, dh1, dxIn, dx); dAct, dgate, dup [T, I] -> 320 MiB each; dk, dv 8 MiB;
  //   the final rstd 32 KiB; attention's delta 384 KiB.
  assert.equal(plain.transient, common + 7 * 48 * MiB + 3 * 320 * MiB + 2 * 8 * MiB + 32 * KiB + 384 * KiB);
  //   recompute: [T, H] the last layer's output; the six buffers each layer's forward releases (h1, q,
  //   o, x2, h2 and the one passed round), which the final norm's output, dFinal, the backward's dx and
  //   the recomputed h1, q and o take; two new for the recomputed o_proj output and x2 (h2 takes the
  //   former); three for the layer backward; gate, up, act and dAct, dgate, dup [T, I]; k, v, dk, dv;
  //   lse, delta; rstd1, rstd2 and the final rstd.
  assert.equal(
    recompute.transient,
    common + 12 * 48 * MiB + 6 * 320 * MiB + 4 * 8 * MiB + 2 * 384 * KiB + 3 * 32 * KiB,
  );
  // Recomputation holds one layer's activations beside the backward's: more transient, far less saved.
  assert.ok(recompute.transient > plain.transient);
  assert.equal((plain.peakBytes / 2 ** 30).toFixed(2), "60.00");
  assert.equal((recompute.peakBytes / 2 ** 30).toFixed(2), "27.93");
  // Without AdamW: its moments and the gradient norm's partial sums, 12.2 GiB less.
  const noMoments = trainingPeakMemory(QWEN25_15B, params, { ...shape, recompute: true, optimizer: false });
  assert.equal(noMoments.peakBytes, recompute.peakBytes - recompute.optimizer - 1.5 * MiB);
  // Recomputation's price: each layer's forward again without the down projection, no LM head:
  // 2 · 28 · (1536·1536·2 + 1536·256·2 + 1536·8960·2) + attention at 512.5 keys = +20% of the step.
  const layers = 2 * 28 * (2 * 1536 * 1536 + 2 * 256 * 1536 + 2 * 1536 * 8960);
  const attention = 4 * 12 * 128 * 512.5 * 28;
  assert.equal(recomputeFlopsPerToken(QWEN25_15B, 512.5), layers + attention);
  assert.equal(
    (recomputeFlopsPerToken(QWEN25_15B, 512.5) / trainFlopsPerToken(QWEN25_15B, 512.5)).toFixed(2),
    "0.20",
  );
});

// Hand-computed from the published config.json files (lib/model/paper_configs.ts); q = heads · head_dim,
// kv = KV heads · head_dim, matrices per layer h·q + 2·h·kv + q·h + 3·h·I:
//   Qwen3-4B     h 2560, q 32·128 = 4096 (not h), kv 1024, I 9728, 36 layers: 100,925,440 per layer;
//                norms 2·2560 + q_norm, k_norm 128 each = 5,376 per layer; tied embedding 151,936·2560 =
//                388,956,160; final norm 2,560 → 36 · 100,930,816 + 388,956,160 + 2,560 = 4,022,468,096
//   Qwen3-1.7B   h 2048, q 2048, kv 1024, I 6144, 28 layers: 50,331,648 + norms 4,352 per layer; tied
//                embedding 311,164,928; final norm 2,048 → 1,720,574,976
//   OLMo-2-7B    h 4096, q = kv = 4096, I 11008, 32 layers: 202,375,168 per layer; no input norm, norms on
//                q and k (4,096 each) and on both outputs (4,096 each) = 16,384 per layer; embedding and
//                LM head 100,352·4096 = 411,041,792 each; final norm 4,096 → 7,298,617,344
//   Llama-3.1-8B h 4096, q 4096, kv 1024, I 14336, 32 layers: 218,103,808 + norms 8,192 per layer;
//                embedding and LM head 128,256·4096 = 525,336,576 each; final norm 4,096 → 8,030,261,248
const FAMILIES = [
  {
    config: QWEN3_4B_BASE,
    name: "Qwen3-4B-Base",
    params: 4_022_468_096,
    published: "4.02",
    layerMatrices: 100_925_440,
    head: 388_956_160,
  },
  {
    config: QWEN3_17B_BASE,
    name: "Qwen3-1.7B-Base",
    params: 1_720_574_976,
    published: "1.72",
    layerMatrices: 50_331_648,
    head: 311_164_928,
  },
  {
    config: OLMO2_7B,
    name: "OLMo-2-7B",
    params: 7_298_617_344,
    published: "7.30",
    layerMatrices: 202_375_168,
    head: 411_041_792,
  },
  {
    config: LLAMA31_8B,
    name: "Llama-3.1-8B",
    params: 8_030_261_248,
    published: "8.03",
    layerMatrices: 218_103_808,
    head: 525_336_576,
  },
];

Deno.test("model cost: Qwen3, OLMo-2 and Llama 3.1 have their published parameter counts and matmul weights", () => {
  for (const f of FAMILIES) {
    const params = sizes(f.config, 4).reduce((n, p) => n + p.elements, 0);
    assert.equal(params, f.params, f.name);
    assert.equal((params / 1e9).toFixed(2), f.published, f.name);
    // Every token multiplies through the layers' matrices and the LM head; the embedding is only gathered.
    const matmul = f.config.numLayers * f.layerMatrices + f.head;
    assert.equal(matmulParams(f.config), matmul, f.name);
    // Norms, RoPE and SwiGLU are a few FLOPs per activation, not per weight: none of them is counted, in
    // any family, so Qwen3's q/k norms and OLMo-2's output norms add weight bytes but no FLOPs.
    const { numHeads, headDim, numLayers } = f.config;
    assert.equal(
      forwardFlopsPerToken(f.config, 1000),
      2 * matmul + 4 * numHeads * headDim * 1000 * numLayers,
    );
  }
});

Deno.test("model cost: the q/k norms and OLMo-2's output norms are read with the weights, at f32", () => {
  // bf16 matrices, f32 norms. Qwen3-4B (tied: the embedding read whole as the LM head): 4,022,272,000
  // matrix elements at 2 bytes, 36 · 5,376 + 2,560 = 196,096 norm weights at 4.
  assert.equal(
    weightBytesPerForward(QWEN3_4B_BASE, sizes(QWEN3_4B_BASE, 2), 8),
    2 * 4_022_272_000 + 4 * 196_096,
  );
  // OLMo-2-7B (untied): 6,887,047,168 matrix elements and the 8 embedding rows gathered at 2 bytes,
  // 32 · 16,384 + 4,096 = 528,384 norm weights at 4.
  assert.equal(
    weightBytesPerForward(OLMO2_7B, sizes(OLMO2_7B, 2), 8),
    2 * (6_887_047_168 + 8 * 4096) + 4 * 528_384,
  );
});

Deno.test("model cost: Qwen3's and OLMo-2's saved activations hold their norms' inputs and statistics", () => {
  const MiB = 2 ** 20, KiB = 1024;
  const shape = { batch: 1, seqLen: 1024, logitChunkRows: 110, optimizer: false };
  // Qwen3-4B, T = 1024 rows: [T, 2560] f32 = 10 MiB (a bucket), [T, 4096] 16 MiB, [T, 1024] 4 MiB,
  // [T, 9728] 38 MiB -> 40 MiB. Per layer: x, h1, x2, h2 (4 · 10); q and k before their norms and after
  // (2 · 16 + 2 · 4); v 4; o 16; gate, up, act (3 · 40) = 220 MiB; rstd1, rstd2 [T] 4 KiB each; the q norm's
  // rstd per row and head [T · 32] 128 KiB, the k norm's [T · 8] 32 KiB; lse [T, 32] 128 KiB.
  const qwen3 = sizes(QWEN3_4B_BASE, 4);
  const q3 = trainingPeakMemory(QWEN3_4B_BASE, qwen3, { ...shape, recompute: false });
  assert.equal(q3.savedActivations, 36 * (220 * MiB + 296 * KiB));
  const q3r = trainingPeakMemory(QWEN3_4B_BASE, qwen3, { ...shape, recompute: true });
  assert.equal(q3r.savedActivations, 36 * 10 * MiB); // only each layer's input
  // OLMo-2-7B: [T, 4096] 16 MiB, [T, 11008] 43 MiB -> 48 MiB. No input norm (no h1, h2), but the outputs
  // before their norms: x, q and k before their norms and after, v, o, attention's output, x2, the MLP's
  // output (10 · 16); gate, up, act (3 · 48) = 304 MiB; the q and k norms' rstd over the projection and the
  // output norms' [T] 4 KiB each; lse 128 KiB.
  const olmo = sizes(OLMO2_7B, 4);
  const o2 = trainingPeakMemory(OLMO2_7B, olmo, { ...shape, recompute: false });
  assert.equal(o2.savedActivations, 32 * (304 * MiB + 144 * KiB));
  const o2r = trainingPeakMemory(OLMO2_7B, olmo, { ...shape, recompute: true });
  assert.equal(o2r.savedActivations, 32 * 16 * MiB);
  for (const m of [q3, q3r, o2, o2r]) {
    assert.equal(m.weights + m.gradients + m.optimizer + m.savedActivations + m.transient, m.peakBytes);
  }
});

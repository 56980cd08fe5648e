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

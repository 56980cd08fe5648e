import assert from "node:assert/strict";
import { trainingPeakMemory } from "../../lib/bench/model_cost.ts";
import { getDevice, type Gpu } from "../../lib/gpu/device.ts";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { bytesPerElement } from "../../lib/gpu/dtype.ts";
import { buildSequenceBatch, type SequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import { lossBackward } from "../../lib/model/train_step.ts";
import { logitChunkRows } from "../../lib/model/head.ts";
import { type Model, modelFromTensors } from "../../lib/model/model.ts";
import { backward, createGradients, forward, type Gradients } from "../../lib/model/transformer.ts";
import { makeTinyCheckpoint, type TinyModelOptions } from "../../lib/model/tiny.ts";
import { AdamW } from "../../lib/ops/adamw.ts";
import { randn, rng } from "../support/numeric.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

/** Right-padded sequences of odd lengths (5 to 13 tokens), none a multiple of a tile. */
const PROMPTS = [[5, 17, 100, 3, 9], [260, 1], [42, 42, 42, 7, 9, 11, 200]];
const COMPLETIONS = [[8, 9, 10], [77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87], [1]];

/** One micro-batch's forward, LM-head backward and backward (the shared training step); gradients add into `grads`. */
function trainStep(
  model: Model,
  batch: SequenceBatch,
  lossWeights: Float32Array,
  grads: Gradients,
  recompute: boolean,
) {
  lossBackward(model, batch, { kind: "weights", weights: lossWeights, temperature: 0.7 }, grads, {
    recompute,
  });
}

for (const variant of [{ tied: false, arch: "qwen2" as const }, { tied: true, arch: "llama" as const }]) {
  Deno.test(`recompute (${variant.arch}${variant.tied ? ", tied" : ""}): gradients are bitwise those of the saved activations`, async () => {
    const gpu = await getDevice();
    // Odd shapes: hidden 52 (2 heads of 26, 1 KV head), MLP 83, 3 layers.
    const tiny = sharpTinyCheckpoint({
      seed: 9,
      ...variant,
      layers: 3,
      hidden: 52,
      heads: 2,
      kvHeads: 1,
      intermediate: 83,
    });
    const model = modelFromTensors(gpu, tiny.config, tiny.tensors);
    const batch = buildSequenceBatch(PROMPTS, COMPLETIONS, 0);
    const lossWeights = Float32Array.from(randn(rng(4), batch.rows.length));
    const run = async (recompute: boolean) => {
      const grads = createGradients(model);
      // Two micro-batches accumulate, as the trainer's do.
      trainStep(model, batch, lossWeights, grads, recompute);
      trainStep(model, batch, lossWeights.map((w) => -0.5 * w), grads, recompute);
      const out = new Map<string, Uint32Array>();
      for (const [name, g] of grads) {
        const values = await g.read() as Float32Array;
        out.set(name, new Uint32Array(values.buffer, values.byteOffset, values.length));
        g.release();
      }
      return out;
    };
    const saved = await run(false);
    const recomputed = await run(true);
    assert.deepEqual([...recomputed.keys()], [...saved.keys()]);
    for (const [name, bits] of saved) {
      const other = recomputed.get(name)!;
      const differ = bits.findIndex((b, i) => b !== other[i]);
      assert.equal(differ, -1, `${name}: element ${differ} differs in its bits`);
      // A gradient of zeros would compare equal however wrong the backward is.
      assert.ok(bits.some((b) => (b & 0x7fffffff) !== 0), `${name}: all zero`);
    }
    model.release();
  });
}

/**
 * Pool bytes one training step and AdamW update add to what is live before it (weights, gradients,
 * moments, and device caches such as RoPE tables, which earlier tests may have filled): the step starts
 * from an empty pool, after a warm-up step that fills this model's caches.
 */
async function measuredGrowth(
  gpu: Gpu,
  model: Model,
  batch: SequenceBatch,
  grads: Gradients,
  optimizer: AdamW,
  recompute: boolean,
): Promise<number> {
  const step = () => {
    trainStep(model, batch, new Float32Array(batch.rows.length).fill(0.01), grads, recompute);
    optimizer.step(model.names.map((k) => grads.get(k)!), 1e-4);
    return gpu.sync();
  };
  await step();
  gpu.flush();
  gpu.pool.trim();
  gpu.pool.resetPeak();
  const before = gpu.pool.stats().liveBytes;
  await step();
  return gpu.pool.stats().peakBytes - before;
}

/** Tokens `at`, `at + 7`, … folded into [5, 205): repeats, so the embedding gradient groups rows. */
const tokens = (n: number, at: number) => Array.from({ length: n }, (_, i) => ((i * 7 + at) % 200) + 5);

/** Training shapes for the peak: odd sizes, biases or none, tied or not, split vocabularies, several logits chunks. */
const PEAK_SHAPES: {
  name: string;
  model: TinyModelOptions;
  vocabShardRows?: number;
  batch: number;
  prompt: number;
  completion: number;
  /** The modes to measure (default both; the head's chunks are the same in either). */
  recompute?: boolean[];
}[] = [
  {
    name: "6 layers, 4 × 64 tokens",
    model: { layers: 6, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128 },
    batch: 4,
    prompt: 32,
    completion: 32,
  },
  {
    name: "5 odd layers, 3 × 37 tokens",
    model: { layers: 5, hidden: 52, heads: 2, kvHeads: 1, intermediate: 83 },
    batch: 3,
    prompt: 18,
    completion: 19,
  },
  {
    name: "llama, tied, vocabulary in blocks of 100 rows",
    model: { arch: "llama", tied: true, layers: 4, hidden: 48, heads: 3, kvHeads: 1, intermediate: 100 },
    vocabShardRows: 100,
    batch: 5,
    prompt: 9,
    completion: 14,
  },
  {
    // Qwen3: RMSNorm over each head's 24 values of q and k (head_dim set apart from hidden / heads).
    name: "qwen3, head_dim 24 over hidden 40",
    model: { arch: "qwen3", layers: 3, hidden: 40, heads: 4, kvHeads: 2, headDim: 24, intermediate: 72 },
    batch: 3,
    prompt: 11,
    completion: 16,
  },
  {
    // OLMo-2: no input norms; q/k norms over the whole projections; norms on both sublayers' outputs.
    name: "olmo2, tied",
    model: { arch: "olmo2", tied: true, layers: 4, hidden: 48, heads: 4, kvHeads: 4, intermediate: 88 },
    batch: 4,
    prompt: 13,
    completion: 10,
  },
  {
    // One sequence of 512 tokens, one KV head of 16: 16 query tiles of 32 rows, so the attention
    // forward splits the keys in two and its scratch takes part in the count.
    name: "one sequence of 512 tokens, split-K attention",
    model: { layers: 2, hidden: 32, heads: 2, kvHeads: 1, intermediate: 40 },
    batch: 1,
    prompt: 300,
    completion: 212,
  },
  {
    // 64 MiB of logits hold 110 rows of 151,936: the 119 completion rows take two chunks, the last of 9.
    // (A step takes seconds on llvmpipe: the LM head's dx is a K = 151,936 product in two workgroups.)
    name: "Qwen's vocabulary, two logits chunks",
    model: { layers: 2, hidden: 8, heads: 2, kvHeads: 1, intermediate: 12, vocabSize: 151_936 },
    batch: 7,
    prompt: 4,
    completion: 17,
    recompute: [true],
  },
];

for (const shape of PEAK_SHAPES) {
  Deno.test(`recompute: a training step's measured peak is trainingPeakMemory's (${shape.name})`, async () => {
    const gpu = await getDevice();
    const tiny = makeTinyCheckpoint({ seed: 1, ...shape.model });
    const model = modelFromTensors(gpu, tiny.config, tiny.tensors, { vocabShardRows: shape.vocabShardRows });
    const batch = buildSequenceBatch(
      Array.from({ length: shape.batch }, (_, b) => tokens(shape.prompt, b)),
      Array.from({ length: shape.batch }, (_, b) => tokens(shape.completion, b + 3)),
      0,
    );
    const grads = createGradients(model);
    const optimizer = new AdamW(gpu, model.names.map((k) => model.params.get(k)!), {});
    const sizes = [...model.params].map(([name, t]) => ({
      name,
      elements: t.size,
      bytesPerElement: bytesPerElement(t.dtype),
    }));
    const peaks: Record<string, number> = {};
    await gpu.sync();
    gpu.flush();
    gpu.pool.trim();
    const resident = gpu.pool.stats().liveBytes;
    for (const recompute of shape.recompute ?? [false, true]) {
      const measured = await measuredGrowth(gpu, model, batch, grads, optimizer, recompute);
      const memory = trainingPeakMemory(model.config, sizes, {
        batch: batch.batch,
        seqLen: batch.seqLen,
        lossRows: batch.rows.length,
        logitChunkRows: logitChunkRows(model),
        recompute,
        ids: batch.ids,
      });
      // What the step adds: the peak less the weights, gradients and moments, and less the RoPE table
      // ([headDim / 2] f32, in the peak's count but cached since the warm-up step).
      const rope = BufferPool.bucket(4 * (model.config.headDim / 2));
      const computed = memory.peakBytes - memory.weights - memory.gradients - memory.optimizer - rope;
      assert.equal(computed, measured, `recompute ${recompute}: computed vs measured bytes the step added`);
      peaks[String(recompute)] = resident + measured;
    }
    if (shape.model.layers! >= 4 && !shape.recompute) {
      assert.ok(peaks.true < 0.8 * peaks.false, `recompute ${peaks.true} B vs ${peaks.false} B`);
    }
    optimizer.release();
    for (const g of grads.values()) g.release();
    model.release();
  });
}

Deno.test("recompute: forward and backward name what is missing", async () => {
  const gpu = await getDevice();
  const tiny = makeTinyCheckpoint({ seed: 2 });
  const model = modelFromTensors(gpu, tiny.config, tiny.tensors);
  const batch = buildSequenceBatch([[5, 6, 7]], [[8, 9]], 0);
  const inputs = uploadBatch(gpu, batch);
  assert.throws(() => forward(model, inputs, { recompute: true }), /recompute .*saveForBackward: true/);
  const fwd = forward(model, inputs);
  const grads = createGradients(model);
  assert.throws(
    () => backward(model, fwd, inputs, batch.ids, fwd.final, grads),
    /did not save activations \(pass saveForBackward: true\)/,
  );
  fwd.release();
  inputs.release();
  for (const g of grads.values()) g.release();
  model.release();
});

Deno.test("trainingPeakMemory: refuses a shape it cannot count, naming the field", () => {
  const tiny = makeTinyCheckpoint({ seed: 2 });
  const shape = { batch: 2, seqLen: 8, logitChunkRows: 4, recompute: true };
  assert.throws(
    () => trainingPeakMemory(tiny.config, [], { ...shape, batch: 0 }),
    /batch must be an integer >= 1/,
  );
  assert.throws(
    () => trainingPeakMemory(tiny.config, [], { ...shape, lossRows: 17 }),
    /lossRows must be an integer in \[0, batch · seqLen = 16\], got 17/,
  );
  assert.throws(
    () => trainingPeakMemory(tiny.config, [], { ...shape, ids: new Int32Array(15) }),
    /ids must hold batch · seqLen = 16 ids, got 15/,
  );
  const ids = new Int32Array(16).fill(3);
  ids[9] = tiny.config.vocabSize;
  assert.throws(
    () => trainingPeakMemory(tiny.config, [], { ...shape, ids }),
    new RegExp(`ids must lie in \\[0, ${tiny.config.vocabSize - 1}\\], got ${tiny.config.vocabSize} at 9`),
  );
});

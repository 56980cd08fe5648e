/**
 * Half-width weights: loadModel's width options and memory, raw half-width reads, saving, the refusal of
 * gradients, the GPU-converted sampling copy, and generation / scoring on bf16 and f16 weights against the
 * float64 reference run on the same rounded weights.
 */
import { join } from "node:path";
import { getDevice } from "../../lib/gpu/device.ts";
import { bf16BitsToF32, f32ToBf16Bits, type WeightDType } from "../../lib/gpu/dtype.ts";
import { type Completion, generate } from "../../lib/generate/generate.ts";
import { halfWidthCopy, refreshHalfWidthCopy } from "../../lib/model/half_width.ts";
import { headBackward, headLogits } from "../../lib/model/head.ts";
import { AdamW } from "../../lib/ops/adamw.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import {
  loadModel,
  type Model,
  modelFromTensors,
  takesWeightWidth,
  vocabShardRows,
} from "../../lib/model/model.ts";
import { openCheckpoint, writeSafetensors } from "../../lib/model/safetensors.ts";
import { score } from "../../lib/model/score.ts";
import { type TinyCheckpoint, writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { createGradients, forward } from "../../lib/model/transformer.ts";
import { assertClose, assertThrowsWith } from "../support/numeric.ts";
import { referenceForward, referenceRowStats } from "../support/reference_model.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "rlif-half-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Host values rounded as a model of width `dtype` holds them: matrices rounded, vectors f32. */
function rounded(tiny: TinyCheckpoint, dtype: WeightDType): TinyCheckpoint["tensors"] {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of tiny.tensors) {
    let data = t.data;
    if (takesWeightWidth(t.shape) && dtype === "bf16") data = bf16BitsToF32(f32ToBf16Bits(t.data));
    if (takesWeightWidth(t.shape) && dtype === "f16") data = Float32Array.from(Float16Array.from(t.data));
    out.set(name, { shape: t.shape, data });
  }
  return out;
}

function paramCount(model: Model): number {
  return [...model.params.values()].reduce((n, t) => n + t.size, 0);
}

function bufferBytes(model: Model): number {
  return [...model.params.values()].reduce((n, t) => n + t.buffer.size, 0);
}

function dtypes(model: Model): string {
  const seen = new Map<string, string[]>();
  for (const t of model.params.values()) {
    const kind = takesWeightWidth(t.shape) ? "matrix" : "vector";
    seen.set(kind, [...new Set([...(seen.get(kind) ?? []), t.dtype])]);
  }
  return `matrices ${seen.get("matrix")}, vectors ${seen.get("vector")}`;
}

async function expectValues(model: Model, want: TinyCheckpoint["tensors"], what: string): Promise<void> {
  const got = await model.readWeights();
  for (const [name, t] of got) {
    const w = want.get(name)!.data;
    for (let i = 0; i < w.length; i++) {
      if (!Object.is(t.data[i], w[i])) {
        throw new Error(`${what}: ${name}[${i}] is ${t.data[i]}, expected ${w[i]}`);
      }
    }
  }
}

Deno.test("loadModel: a bf16 checkpoint stays bf16 on the GPU at <= 2.2 bytes per parameter, counted by the pool", async () => {
  const gpu = await getDevice();
  await withDir(async (dir) => {
    const tiny = await writeTinyCheckpoint(dir, { seed: 3, dtype: "bf16", hidden: 96, heads: 6, kvHeads: 2 });
    gpu.flush();
    const before = gpu.pool.stats().liveBytes;
    const model = await loadModel(dir, { gpu });
    const bytes = bufferBytes(model), params = paramCount(model);
    const perParam = bytes / params;
    if (model.weightDType !== "bf16" || dtypes(model) !== "matrices bf16, vectors f32") {
      throw new Error(`weightDType ${model.weightDType}; ${dtypes(model)}`);
    }
    if (!(perParam <= 2.2)) {
      throw new Error(`${perParam.toFixed(3)} bytes per parameter (${bytes} / ${params})`);
    }
    const live = gpu.pool.stats().liveBytes - before;
    if (live !== bytes) throw new Error(`the pool counts ${live} live bytes for ${bytes} bytes of weights`);
    await expectValues(model, tiny.tensors, "bf16 load");
    model.release();
    gpu.flush();
    const after = gpu.pool.stats().liveBytes - before;
    if (after !== 0) {
      throw new Error(`${after} bytes still live after release (weights are destroyed, not pooled)`);
    }
  });
});

Deno.test("loadModel: weights option gives f32 masters, bf16 or f16 from any checkpoint; F32 and F16 keep theirs", async () => {
  const gpu = await getDevice();
  await withDir(async (dir) => {
    const tiny = await writeTinyCheckpoint(dir, { seed: 5 });
    const cases: [string, WeightDType | undefined, WeightDType][] = [
      ["F32", undefined, "f32"],
      ["F32", "bf16", "bf16"],
      ["F32", "f16", "f16"],
    ];
    for (const [stored, weights, want] of cases) {
      const model = await loadModel(dir, { gpu, weights });
      if (model.weightDType !== want) throw new Error(`${stored} + ${weights}: ${model.weightDType}`);
      await expectValues(model, rounded(tiny, want), `${stored} checkpoint loaded as ${want}`);
      model.release();
    }
    await writeSafetensors(join(dir, "model.safetensors"), tiny.tensors, { dtype: "F16" });
    const asF16 = rounded(tiny, "f16");
    const f16 = await loadModel(dir, { gpu });
    if (f16.weightDType !== "f16" || dtypes(f16) !== "matrices f16, vectors f32") {
      throw new Error(dtypes(f16));
    }
    // An F16 file rounds the vectors too; the model widens them to f32 exactly.
    const f16Values = new Map(
      [...asF16].map(([n, t]) => [n, { ...t, data: Float32Array.from(Float16Array.from(t.data)) }]),
    );
    await expectValues(f16, f16Values, "F16 checkpoint");
    f16.release();
    const widened = await loadModel(dir, { gpu, weights: "f32" });
    if (dtypes(widened) !== "matrices f32, vectors f32") throw new Error(dtypes(widened));
    await expectValues(widened, f16Values, "F16 checkpoint widened");
    widened.release();
    await assertThrowsWith(
      () => loadModel(dir, { gpu, weights: "fp8" as WeightDType }),
      "loadModel",
      "weights",
      '"f32"',
      '"bf16"',
      '"fp8"',
    );
  });
});

Deno.test("loadModel: bf16 vocabulary row blocks hold rows by the 2-byte element size", async () => {
  const gpu = await getDevice();
  await withDir(async (dir) => {
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    for (const [dtype, size] of [["f32", 4], ["bf16", 2], ["f16", 2]] as const) {
      const rows = vocabShardRows(gpu, 896, dtype);
      if (rows !== Math.floor(limit / (896 * size))) throw new Error(`${dtype}: ${rows} rows per block`);
    }
    const tiny = await writeTinyCheckpoint(dir, { seed: 6, dtype: "bf16" });
    const whole = await loadModel(dir, { gpu });
    const split = await loadModel(dir, { gpu, vocabShardRows: 100 });
    const shards = split.vocabShards("model.embed_tokens.weight");
    if (shards.length !== 3 || shards.some((s) => s.tensor.dtype !== "bf16")) {
      throw new Error(`shards ${shards.map((s) => `${s.tensor.dtype}[${s.tensor.shape}]`)}`);
    }
    await expectValues(split, tiny.tensors, "bf16 split");
    const ids = [[5, 17, 100, 150, 210, 260]];
    const b = buildSequenceBatch(ids, [[1, 2]], 0);
    const rows = Int32Array.from({ length: b.batch * b.seqLen }, (_, i) => i);
    const run = async (m: Model) => {
      const inputs = uploadBatch(gpu, b);
      const f = forward(m, inputs);
      const out = await headLogits(m, f.final, rows).read();
      f.release();
      inputs.release();
      return out;
    };
    assertClose(await run(split), await run(whole), { atol: 1e-5, rtol: 1e-5 }, "split vs whole logits");
    whole.release();
    split.release();
  });
});

Deno.test("safetensors: readStored gives BF16 / F16 bit patterns as stored, F32 as floats", async () => {
  await withDir(async (dir) => {
    const values = Float32Array.from([1.5, -2.25, 3e-3, 65504, 1e-8]);
    const path = join(dir, "model.safetensors");
    await writeSafetensors(path, {
      b: { shape: [5], data: values, dtype: "BF16" },
      h: { shape: [5], data: values, dtype: "F16" },
      f: { shape: [5], data: values },
    });
    using ckpt = await openCheckpoint(dir);
    const b = await ckpt.readStored("b"), h = await ckpt.readStored("h"), f = await ckpt.readStored("f");
    if (b.dtype !== "BF16" || b.bits.join() !== f32ToBf16Bits(values).join()) throw new Error("BF16 bits");
    const half = new Uint16Array(Float16Array.from(values).buffer);
    if (h.dtype !== "F16" || h.bits.join() !== half.join()) throw new Error("F16 bits");
    if (f.dtype !== "F32" || f.values.join() !== values.join()) throw new Error("F32 values");
  });
});

Deno.test("Model.save: a bf16 model saved as BF16 reproduces the checkpoint's bits; gradients and AdamW refuse it", async () => {
  const gpu = await getDevice();
  await withDir(async (dir) => {
    await writeTinyCheckpoint(join(dir, "in"), { seed: 7, dtype: "bf16", tied: true });
    const model = await loadModel(join(dir, "in"), { gpu });
    await model.save(join(dir, "out"));
    using a = await openCheckpoint(join(dir, "in"));
    using b = await openCheckpoint(join(dir, "out"));
    for (const name of a.names) {
      if (b.info(name).dtype !== "BF16") throw new Error(`${name} saved as ${b.info(name).dtype}`);
      const [x, y] = [await a.readBytes(name), await b.readBytes(name)];
      if (x.join() !== y.join()) throw new Error(`${name}: saved bits differ from the stored ones`);
    }
    const config = JSON.parse(await Deno.readTextFile(join(dir, "out", "config.json")));
    if (config.torch_dtype !== "bfloat16") throw new Error(`torch_dtype ${config.torch_dtype}`);
    await assertThrowsWith(() => createGradients(model), "createGradients", "bf16", 'weights: "f32"');
    await assertThrowsWith(() => halfWidthCopy(model), "halfWidthCopy", 'weights: "f32"');
    await assertThrowsWith(
      () => new AdamW(gpu, [...model.params.values()]),
      "params[0]",
      "bf16",
      'weights: "f32"',
    );
    const inputs = uploadBatch(gpu, buildSequenceBatch([[1, 2]], [[3]], 0));
    const fwd = forward(model, inputs);
    await assertThrowsWith(
      () =>
        headBackward(model, fwd.final, Int32Array.of(1), Int32Array.of(3), Float32Array.of(1), 1, new Map()),
      "headBackward",
      'weights: "f32"',
    );
    fwd.release();
    inputs.release();
    model.release();
  });
});

for (const dtype of ["bf16", "f16"] as const) {
  Deno.test(`halfWidthCopy: ${dtype} copy equals ${dtype}(masters); refresh re-converts with no readback`, async () => {
    const gpu = await getDevice();
    const tiny = sharpTinyCheckpoint({ seed: 11 });
    const master = modelFromTensors(gpu, tiny.config, tiny.tensors, { vocabShardRows: 120 });
    const copy = halfWidthCopy(master, dtype);
    if (copy.weightDType !== dtype || copy.config !== master.config) throw new Error(dtypes(copy));
    if (copy.names.join() !== master.names.join()) throw new Error("the copy's row blocks differ");
    await expectValues(copy, rounded(tiny, dtype), "fresh copy");
    // New master values (as an optimiser step would leave them), then one refresh.
    const moved = new Map(
      [...tiny.tensors].map(([n, t]) => [n, { ...t, data: t.data.map((v) => v * 0.9 + 0.003) }]),
    );
    const updated = modelFromTensors(gpu, tiny.config, moved, { vocabShardRows: 120 });
    for (const [key, t] of updated.params) gpu.copy(t, master.params.get(key)!);
    const before = gpu.counters();
    refreshHalfWidthCopy(copy, master);
    const after = gpu.counters();
    const halves = [...master.params.values()].filter((t) => takesWeightWidth(t.shape)).length;
    if (after.readbacks !== before.readbacks || after.dispatches - before.dispatches !== halves) {
      throw new Error(
        `refresh: ${after.readbacks - before.readbacks} readbacks, ${after.dispatches - before.dispatches} ` +
          `dispatches for ${halves} matrices`,
      );
    }
    await expectValues(copy, rounded({ ...tiny, tensors: moved }, dtype), "refreshed copy");
    await assertThrowsWith(() => halfWidthCopy(master, "f32" as "bf16"), "halfWidthCopy", "dtype");
    for (const m of [master, copy, updated]) m.release();
  });
}

const PROMPTS = [[5, 17, 100, 3], [260], [42, 42, 42, 7, 9, 11, 200]];

/** How a KV cache of each width rounds what it stores (from the f32 the kernels compute). */
const ROUND = {
  bf16: (x: number) => bf16BitsToF32(f32ToBf16Bits([x]))[0],
  f16: (x: number) => Math.f16round(x),
} as const;

// Every family at half width; Qwen3 with head_dim apart from hidden/heads.
const FAMILIES = [{ arch: "qwen2" as const }, { arch: "qwen3" as const, headDim: 24 }, {
  arch: "olmo2" as const,
}];

for (
  const [dtype, family] of [
    ["bf16", FAMILIES[0]],
    ["f16", FAMILIES[0]],
    ...FAMILIES.slice(1).map((f) => ["bf16", f] as const),
  ] as const
) {
  Deno.test(`generate and score on ${dtype} weights match float64 on the same rounded weights (${family.arch})`, async () => {
    const gpu = await getDevice();
    const tiny = sharpTinyCheckpoint({ seed: 21, ...family });
    const model = modelFromTensors(gpu, tiny.config, tiny.tensors, { weights: dtype });
    if (dtypes(model) !== `matrices ${dtype}, vectors f32`) throw new Error(dtypes(model));
    const weights = rounded(tiny, dtype);
    const v = tiny.config.vocabSize;
    const greedy = await generate(model, PROMPTS, { temperature: 0, maxNewTokens: 8, eosTokenIds: [] });
    greedy.forEach((o, i) => {
      // Greedy by full float64 recomputation on the rounded weights.
      const seq = [...PROMPTS[i]];
      for (let s = 0; s < 8; s++) {
        const { logits } = referenceForward(tiny.config, weights, seq);
        const row = logits.subarray((seq.length - 1) * v, seq.length * v);
        let best = 0;
        for (let j = 1; j < v; j++) if (row[j] > row[best]) best = j;
        seq.push(best);
      }
      const want = seq.slice(PROMPTS[i].length);
      if (o.completionIds.join() !== want.join()) {
        throw new Error(`prompt ${i}: ${dtype} greedy ${o.completionIds}, float64 ${want}`);
      }
    });
    const temperature = 0.8;
    const sampled = await generate(model, PROMPTS, {
      n: 2,
      temperature,
      maxNewTokens: 6,
      eosTokenIds: [],
      seed: 4,
    });
    const scored = await score(model, sampled, { temperature });
    const logprobsOf = (o: Completion, logits: Float64Array) =>
      o.completionIds.map((t, j) => {
        const p = o.promptIds.length + j;
        return referenceRowStats(logits.subarray((p - 1) * v, p * v), t, temperature).logprob;
      });
    sampled.forEach((o, i) => {
      const seq = [...o.promptIds, ...o.completionIds];
      const full = referenceForward(tiny.config, weights, seq).logits;
      // Generation keeps its KV cache at the weights' width: decode steps attend over rounded keys/values.
      const cache = { from: o.promptIds.length, round: ROUND[dtype] };
      const decoded = referenceForward(tiny.config, weights, seq, cache).logits;
      // The rounded weights are exact in f32, so only f32 arithmetic separates GPU and float64: ~1e-5 on
      // scoring's full pass, ~1e-4 on the cached decode's split-K attention.
      assertClose(
        scored[i].tokenLogprobs,
        logprobsOf(o, full),
        { atol: 5e-5, rtol: 5e-5 },
        `score logprobs ${i}`,
      );
      assertClose(o.logprobs, logprobsOf(o, decoded), { atol: 5e-4, rtol: 5e-4 }, `generate logprobs ${i}`);
    });
    // Logits of the full pass against float64 (|logits| ~ 10).
    const b = buildSequenceBatch(PROMPTS, PROMPTS.map(() => [1, 2]), 0);
    const inputs = uploadBatch(gpu, b);
    const fwd = forward(model, inputs);
    const rows = Int32Array.from({ length: b.batch * b.seqLen }, (_, i) => i);
    const logits = await headLogits(model, fwd.final, rows).read();
    PROMPTS.forEach((p, i) => {
      const seq = [...p, 1, 2];
      const ref = referenceForward(tiny.config, weights, seq).logits;
      const off = i * b.seqLen * v;
      assertClose(logits.subarray(off, off + seq.length * v), ref, { atol: 2e-4, rtol: 2e-4 }, `logits ${i}`);
    });
    fwd.release();
    inputs.release();
    model.release();
  });
}

import { getDevice } from "../../lib/gpu/device.ts";
import type { Gpu } from "../../lib/gpu/device.ts";
import { bf16BitsToF32, f32ToBf16Bits } from "../../lib/gpu/dtype.ts";
import type { GpuCounters } from "../../lib/gpu/recorder.ts";
import type { Tensor } from "../../lib/gpu/tensor.ts";
import { generate } from "../../lib/generate/generate.ts";
import { ARCH_TRAITS, type ModelArch, type ModelConfig } from "../../lib/model/config.ts";
import {
  createDecodeWorkspace,
  decodeCacheDType,
  decodeStep,
  fusedDecodeSupported,
  releaseDecodeWorkspace,
} from "../../lib/model/decode_step.ts";
import { lmHeadLogits } from "../../lib/model/head.ts";
import { Model, modelFromTensors } from "../../lib/model/model.ts";
import { createKvCache, forward, modelWeightDType, releaseKvCache } from "../../lib/model/transformer.ts";
import { expectedTensorShapes, layerTensorNames, LM_HEAD } from "../../lib/model/weights.ts";
import { assertClose, rng } from "../support/numeric.ts";
import { referenceForward, type RefWeights } from "../support/reference_model.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

type HostTensors = Map<string, { shape: readonly number[]; data: Float32Array }>;

/**
 * The model with every projection matrix stored as bf16 or f16 (norms, biases and embeddings stay f32),
 * and the host weights the GPU then holds, for the float64 reference.
 */
function halfModel(
  gpu: Gpu,
  config: ModelConfig,
  tensors: HostTensors,
  dtype: "bf16" | "f16" = "bf16",
): { model: Model; ref: HostTensors } {
  const base = modelFromTensors(gpu, config, tensors);
  const params = new Map(base.params);
  const ref: HostTensors = new Map(tensors);
  for (let l = 0; l < config.numLayers; l++) {
    const n = layerTensorNames(l);
    for (const name of [n.qProj, n.kProj, n.vProj, n.oProj, n.gateProj, n.upProj, n.downProj]) {
      const t = tensors.get(name)!;
      base.param(name).release();
      params.set(name, gpu.fromArray(t.data, t.shape, dtype, name));
      const held = dtype === "bf16"
        ? bf16BitsToF32(f32ToBf16Bits(t.data))
        : Float32Array.from(Float16Array.from(t.data));
      ref.set(name, { shape: t.shape, data: held });
    }
  }
  return { model: new Model(gpu, config, params), ref };
}

const PROMPTS = [[5, 17, 100, 3], [260], [42, 42, 42, 7, 9, 11, 200]];

/** Greedy decoding by full recomputation through the float64 reference. */
function referenceGreedy(
  config: ModelConfig,
  weights: RefWeights,
  prompt: number[],
  steps: number,
): number[] {
  const seq = [...prompt];
  const v = config.vocabSize;
  for (let s = 0; s < steps; s++) {
    const { logits } = referenceForward(config, weights, seq);
    const row = logits.subarray((seq.length - 1) * v, seq.length * v);
    let best = 0;
    for (let j = 1; j < v; j++) if (row[j] > row[best]) best = j;
    seq.push(best);
  }
  return seq.slice(prompt.length);
}

for (const dtype of ["bf16", "f16"] as const) {
  Deno.test(`decode step: greedy tokens of a ${dtype} model (${dtype} KV cache) equal float64 greedy recomputation on its rounded weights`, async () => {
    const gpu = await getDevice();
    const tiny = sharpTinyCheckpoint({ seed: 21 });
    const { model, ref } = halfModel(gpu, tiny.config, tiny.tensors, dtype);
    if (decodeCacheDType(model, fusedDecodeSupported(model)) !== dtype) {
      throw new Error(
        `generate would not decode this ${modelWeightDType(model)} model with a ${dtype} cache`,
      );
    }
    const outs = await generate(model, PROMPTS, { temperature: 0, maxNewTokens: 10, eosTokenIds: [] });
    outs.forEach((o, i) => {
      const want = referenceGreedy(tiny.config, ref, PROMPTS[i], 10);
      if (o.completionIds.join() !== want.join()) {
        throw new Error(`prompt ${i}: GPU greedy ${o.completionIds}, reference ${want}`);
      }
    });
    model.release();
  });
}

Deno.test("decode step: a model the fused step does not cover (an f16 norm weight) decodes unfused with an f32 cache, still exactly greedy", async () => {
  const gpu = await getDevice();
  const tiny = sharpTinyCheckpoint({ seed: 21 });
  const base = modelFromTensors(gpu, tiny.config, tiny.tensors);
  const name = layerTensorNames(0).inputNorm;
  const t = tiny.tensors.get(name)!;
  const params = new Map(base.params);
  base.param(name).release();
  params.set(name, gpu.fromArray(t.data, t.shape, "f16", name));
  const model = new Model(gpu, tiny.config, params);
  const ref: HostTensors = new Map(tiny.tensors);
  ref.set(name, { shape: t.shape, data: Float32Array.from(Float16Array.from(t.data)) });
  if (fusedDecodeSupported(model) || decodeCacheDType(model, false) !== "f32") {
    throw new Error("the fused step claims a model with an f16 norm weight");
  }
  const outs = await generate(model, PROMPTS, { temperature: 0, maxNewTokens: 10, eosTokenIds: [] });
  outs.forEach((o, i) => {
    const want = referenceGreedy(tiny.config, ref, PROMPTS[i], 10);
    if (o.completionIds.join() !== want.join()) {
      throw new Error(`prompt ${i}: GPU ${o.completionIds}, reference ${want}`);
    }
  });
  model.release();
});

/**
 * Prefills `prompts` into `cache`, then runs `steps` decode steps of random tokens through `step`,
 * returning each step's logits.
 */
async function decodeLogits(
  model: Model,
  prompts: number[][],
  steps: number,
  cacheDType: "f32" | "bf16",
  step: (ids: Tensor, positions: Tensor, kvLen: Tensor, cache: ReturnType<typeof createKvCache>) => Tensor,
): Promise<Float32Array[]> {
  const { gpu } = model;
  const batch = prompts.length;
  const promptLen = Math.max(...prompts.map((p) => p.length));
  const cache = createKvCache(model, batch, promptLen + steps, cacheDType);
  const ids = new Int32Array(batch * promptLen), pos = new Int32Array(batch * promptLen);
  prompts.forEach((p, b) => {
    ids.set(p, b * promptLen);
    for (let i = 0; i < promptLen; i++) pos[b * promptLen + i] = i;
  });
  const pre = forward(model, {
    batch,
    rowsPerSeq: promptLen,
    ids: gpu.fromArray(ids, [ids.length], "i32"),
    positions: gpu.fromArray(pos, [pos.length], "i32"),
    pastLen: gpu.zeros([batch], "i32"),
    kvLen: gpu.fromArray(prompts.map((p) => p.length), [batch], "i32"),
  }, { cache, prefill: true });
  pre.release();
  const r = rng(9);
  const out: Float32Array[] = [];
  for (let s = 0; s < steps; s++) {
    const tokens = prompts.map(() => Math.floor(r() * model.config.vocabSize));
    const positions = prompts.map((p) => p.length + s);
    const hidden = step(
      gpu.fromArray(tokens, [batch], "i32"),
      gpu.fromArray(positions, [batch], "i32"),
      gpu.fromArray(positions.map((p) => p + 1), [batch], "i32"),
      cache,
    );
    const logits = lmHeadLogits(model, hidden);
    out.push((await logits.read()) as Float32Array);
    logits.release();
  }
  releaseKvCache(cache);
  return out;
}

/** Each family's fused step: Qwen3 with head_dim apart from hidden/heads, OLMo-2 with its output norms. */
const FAMILIES = [
  { arch: "qwen2" as const },
  { arch: "qwen3" as const, headDim: 24 },
  { arch: "olmo2" as const },
  // A residual width that is not a multiple of 4: the matrix-vector kernels' scalar paths.
  { arch: "olmo2" as const, hidden: 42, heads: 3, kvHeads: 1 },
  { arch: "qwen3" as const, hidden: 42, heads: 3, kvHeads: 1, headDim: 10 },
];

for (const family of FAMILIES) {
  for (const dtype of ["f32", "bf16"] as const) {
    Deno.test(`decode step: the fused step's logits equal the unfused forward + LM head (${family.arch}${"hidden" in family ? `, hidden ${family.hidden}` : ""}, ${dtype} weights and cache)`, async () => {
      const gpu = await getDevice();
      const tiny = sharpTinyCheckpoint({ seed: 31, ...family });
      if (!fusedDecodeSupported(modelFromTensors(gpu, tiny.config, tiny.tensors))) {
        throw new Error(`${family.arch}: the fused step does not cover it`);
      }
      const model = dtype === "f32"
        ? modelFromTensors(gpu, tiny.config, tiny.tensors)
        : halfModel(gpu, tiny.config, tiny.tensors).model;
      const steps = 3;
      const ws = createDecodeWorkspace(model, PROMPTS.length, 7 + steps);
      const fused = await decodeLogits(
        model,
        PROMPTS,
        steps,
        dtype,
        (ids, positions, kvLen, cache) => decodeStep(model, ws, cache, ids, positions, kvLen),
      );
      let last: { release(): void } | null = null;
      const unfused = await decodeLogits(model, PROMPTS, steps, "f32", (ids, positions, kvLen, cache) => {
        last?.release();
        const f = forward(model, {
          batch: PROMPTS.length,
          rowsPerSeq: 1,
          ids,
          positions,
          pastLen: positions,
          kvLen,
        }, {
          cache,
        });
        last = f;
        return f.final;
      });
      // f32: the same model on two kernel paths, different summation orders only. bf16: the fused cache
      // also rounds keys and values to bf16 (2^-9 relative), which moves these sharp logits (|z| ~ 10) by
      // up to a few 1e-2; a wrong index or a dropped term moves them by O(1).
      const tol = dtype === "f32" ? { atol: 2e-4, rtol: 1e-4 } : { atol: 0.1, rtol: 0.02 };
      fused.forEach((f, s) => assertClose(f, unfused[s], tol, `step ${s} logits`));
      releaseDecodeWorkspace(ws);
      model.release();
    });
  }
}

/** Qwen2-0.5B's layout (24 layers, 14/2 heads) at tiny widths, with the norms and biases of `arch`. */
function budgetConfig(numLayers: number, arch: ModelArch = "qwen2"): ModelConfig {
  const traits = ARCH_TRAITS[arch];
  return {
    arch,
    qkNorm: traits.qkNorm,
    postNorms: traits.postNorms,
    vocabSize: 256,
    hiddenSize: 64,
    intermediateSize: 96,
    numLayers,
    numHeads: 14,
    numKvHeads: 2,
    headDim: 8,
    ropeTheta: 1000000,
    rmsNormEps: 1e-6,
    maxPositionEmbeddings: 4096,
    tieWordEmbeddings: true,
    attentionBias: traits.alwaysQkvBias,
    outputProjBias: false,
    mlpBias: false,
    torchDtype: "bfloat16",
    bosTokenId: undefined,
    eosTokenIds: [],
  };
}

function randomModel(gpu: Gpu, config: ModelConfig): Model {
  const r = rng(1);
  const tensors: HostTensors = new Map();
  for (const [name, shape] of expectedTensorShapes(config)) {
    if (name === LM_HEAD && config.tieWordEmbeddings) continue;
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * 0.2);
    tensors.set(name, { shape, data: name.endsWith("norm.weight") ? data.map((v) => 1 + v) : data });
  }
  return halfModel(gpu, config, tensors).model;
}

function diff(a: GpuCounters, b: GpuCounters): GpuCounters {
  return {
    dispatches: b.dispatches - a.dispatches,
    submits: b.submits - a.submits,
    bindGroups: b.bindGroups - a.bindGroups,
    readbacks: b.readbacks - a.readbacks,
    folded: b.folded - a.folded,
    splitPasses: b.splitPasses - a.splitPasses,
  };
}

/**
 * Counters of 16 steady-state decode steps of one generate call, from its first run on a fresh model:
 * generate reads the finished flags at steps 8, 16 and 24 (not at 32: the step that would await that
 * check is the last one), then everything once; a snapshot taken as each readback starts brackets steps
 * 9–24 (with the reads of steps 8 and 16).
 */
async function steadyCounts(model: Model, batch: number): Promise<GpuCounters> {
  const gpu = model.gpu;
  const prompts = Array.from({ length: batch }, (_, b) => [1 + b, 2 + b, 3]);
  const snapshots: GpuCounters[] = [];
  const readAll = gpu.readAll;
  gpu.readAll = (t) => (snapshots.push(gpu.counters()), readAll.call(gpu, t));
  try {
    await generate(model, prompts, { temperature: 0, maxNewTokens: 34, eosTokenIds: [], batchSize: batch });
  } finally {
    gpu.readAll = readAll;
  }
  if (snapshots.length !== 4) {
    throw new Error(`expected 3 checks and 1 final readback, saw ${snapshots.length} readbacks`);
  }
  return diff(snapshots[0], snapshots[2]);
}

// Seven dispatches per layer for every family: Qwen3's and OLMo-2's q/k norms fold into norm_rope_kv, and
// OLMo-2's output norms into the next projection's read of the residual stream (one more per step).

for (const [arch, batch] of [["qwen2", 1], ["qwen2", 16], ["qwen3", 16], ["olmo2", 16]] as const) {
  Deno.test(`decode step: budget of a 24-layer ${arch} bf16 model at batch ${batch} (counted over 16 steps)`, async () => {
    const gpu = await getDevice();
    const deep = randomModel(gpu, budgetConfig(24, arch));
    const shallow = randomModel(gpu, budgetConfig(2, arch));
    const c24 = await steadyCounts(deep, batch);
    const c2 = await steadyCounts(shallow, batch);
    const perLayer = (c24.dispatches - c2.dispatches) / 16 / 22;
    const perStep = { dispatches: c24.dispatches / 16, bindGroups: c24.bindGroups / 16 };
    console.log(
      `${arch} batch ${batch}: ${perLayer} dispatches/layer/step, ${perStep.dispatches} dispatches and ` +
        `${perStep.bindGroups} bind groups per step, ${c24.submits} submits and ${c24.readbacks} readbacks per 16 steps`,
    );
    if (perLayer > 7) throw new Error(`${perLayer} dispatches per layer per step (budget 7)`);
    if (perStep.dispatches > 7 * 24 + 8) throw new Error(`${perStep.dispatches} dispatches per step`);
    if (perStep.bindGroups > 10) throw new Error(`${perStep.bindGroups} bind groups per step (budget 10)`);
    if (c24.submits > 2) throw new Error(`${c24.submits} submits in 16 steps (budget 2)`);
    if (c24.readbacks > 2) throw new Error(`${c24.readbacks} readbacks in 16 steps (budget 2)`);
    deep.release();
    shallow.release();
  });
}

/**
 * The decoder's forward and backward passes, assembled by hand from the kernels' forward/backward pairs
 * (the llm.c way: no autograd). The forward saves exactly what each backward needs — or, with recompute,
 * only each layer's input, from which the backward reruns that layer's forward — and the backward walks
 * the layers in reverse calling each op's backward.
 *
 * @module
 */
import type { WeightDType } from "../gpu/dtype.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { add } from "../ops/elementwise.ts";
import { embeddingBackward, embeddingForward, embeddingGradPlan } from "../ops/embedding.ts";
import { linear, linearBackward } from "../ops/matmul.ts";
import { loraBackward, loraForward } from "../ops/lora.ts";
import { rmsnormBackward, rmsnormForward } from "../ops/rmsnorm.ts";
import { ropeBackward, ropeForward } from "../ops/rope.ts";
import { swigluBackward, swigluForward } from "../ops/swiglu.ts";
import { attentionBackward, attentionForward } from "../ops/attention.ts";
import { maskedMeanRows } from "../ops/rows.ts";
import { kvWrite } from "../ops/decode_layer.ts";
import { EMBED_TOKENS, FINAL_NORM, layerTensorNames } from "./weights.ts";
import type { Model } from "./model.ts";

/** Token ids and positions of a right-padded batch, already on the GPU. */
export interface ForwardInputs {
  /** Sequences. */
  readonly batch: number;
  /** Rows per sequence in this call (the padded length, or 1 when decoding). */
  readonly rowsPerSeq: number;
  /** i32 [B·rowsPerSeq] token ids (host copy needed for the embedding backward). */
  readonly ids: Tensor;
  /** i32 [B·rowsPerSeq] RoPE positions. */
  readonly positions: Tensor;
  /** i32 [B]: tokens already in the KV cache before this call (zeros without a cache). */
  readonly pastLen: Tensor;
  /** i32 [B]: keys each sequence may attend to (its valid length): the padding mask. */
  readonly kvLen: Tensor;
}

/** Per-layer KV cache: [B, maxLen, nKv·D] keys and values for every layer. */
export interface KvCache {
  /** Longest sequence the cache holds. */
  readonly maxLen: number;
  /** Element type: f32, or the weights' half width (read only by the fused decode step). */
  readonly dtype: WeightDType;
  /** Keys, one tensor per layer. */
  readonly k: Tensor[];
  /** Values, one tensor per layer. */
  readonly v: Tensor[];
}

/** The width of a model's weights: the dtype of layer 0's q_proj (f32, f16 or bf16). */
export function modelWeightDType(model: Model): WeightDType {
  return model.param(layerTensorNames(0).qProj).dtype as WeightDType;
}

/**
 * Allocates a zeroed KV cache for `batch` sequences of up to `maxLen` tokens, of `dtype` (default f32).
 * A cache at the weights' half width halves the cache's memory and read traffic; only the fused decode
 * step (lib/model/decode_step.ts) reads one, {@link forward} only writes it (prefill).
 */
export function createKvCache(
  model: Model,
  batch: number,
  maxLen: number,
  dtype: WeightDType = "f32",
): KvCache {
  const { numLayers, numKvHeads, headDim } = model.config;
  const width = numKvHeads * headDim;
  const make = (kind: string) =>
    Array.from(
      { length: numLayers },
      (_, l) => model.gpu.zeros([batch, maxLen, width], dtype, `kv.${kind}${l}`),
    );
  return { maxLen, dtype, k: make("k"), v: make("v") };
}

/** Releases a KV cache's buffers. */
export function releaseKvCache(cache: KvCache): void {
  for (const t of [...cache.k, ...cache.v]) t.release();
}

/**
 * What one layer's backward reads from its forward besides the layer's input (f32, T rows each). Entries a
 * family does not have are null: the input norm for OLMo-2 (its projections read the input itself), the
 * pre-norm q/k for Qwen2 and Llama, the output norms for every family but OLMo-2.
 */
export interface LayerActivations {
  /** The input norm's output [T, H] (null when the layer reads its input directly). */
  h1: Tensor | null;
  /** The input norm's reciprocal RMS [T]. */
  rstd1: Tensor | null;
  /** Query projection before the q norm [T, nH·D]. */
  qPre: Tensor | null;
  /** The q norm's reciprocal RMS [T·nH] per head (Qwen3) or [T] over the projection (OLMo-2). */
  qRstd: Tensor | null;
  /** Key projection before the k norm [T, nKv·D]. */
  kPre: Tensor | null;
  /** The k norm's reciprocal RMS, laid out as qRstd's. */
  kRstd: Tensor | null;
  /** Queries after RoPE [T, nH·D]. */
  q: Tensor;
  /** Keys after RoPE [T, nKv·D]. */
  k: Tensor;
  /** Values [T, nKv·D]. */
  v: Tensor;
  /** Attention output [T, nH·D]. */
  o: Tensor;
  /** Attention's log-sum-exp per row and head [T, nH]. */
  lse: Tensor;
  /** The output projection before the post-attention norm [T, H] (OLMo-2). */
  attnOut: Tensor | null;
  /** That norm's reciprocal RMS [T]. */
  attnRstd: Tensor | null;
  /** The residual stream after attention [T, H]. */
  x2: Tensor;
  /** The MLP's input norm's output [T, H] (null when the MLP reads x2 directly). */
  h2: Tensor | null;
  /** That norm's reciprocal RMS [T]. */
  rstd2: Tensor | null;
  /** Gate projection [T, I]. */
  gate: Tensor;
  /** Up projection [T, I]. */
  up: Tensor;
  /** SwiGLU output [T, I]. */
  act: Tensor;
  /** The down projection before the post-feedforward norm [T, H] (OLMo-2). */
  mlpOut: Tensor | null;
  /** That norm's reciprocal RMS [T]. */
  mlpRstd: Tensor | null;
}

function activationTensors(a: LayerActivations): Tensor[] {
  return Object.values(a).filter((t): t is Tensor => t !== null);
}

/** What a training forward keeps for {@link backward}. */
export interface SavedActivations {
  /** The backward recomputes each layer's activations from its input (forward's `recompute`). */
  readonly recompute: boolean;
  /** Each layer's input (the residual stream entering it), f32 [T, H]. */
  readonly inputs: Tensor[];
  /** Every other activation of each layer; empty with recompute. */
  readonly layers: LayerActivations[];
  /** The last layer's output, the final norm's input. */
  readonly lastX: Tensor;
  /** The final norm's reciprocal RMS per row. */
  readonly finalRstd: Tensor;
}

/** Result of {@link forward}: the final normed hidden states and what backward and pooling need. */
export interface ForwardResult {
  /** f32 [T, H]: the last decoder output after the final norm (the LM head's input). */
  readonly final: Tensor;
  /** Pooled hidden states h_0 … h_L, each f32 [B, H], when a pooling mask was given. */
  readonly pooled: Tensor[];
  /** Saved activations (null unless saveForBackward). */
  readonly saved: SavedActivations | null;
  /** Gives every buffer of this result back to the pool. */
  release(): void;
}

/** Options of {@link forward}. */
export interface ForwardOptions {
  /** Keep the activations the backward needs. */
  readonly saveForBackward?: boolean;
  /**
   * With saveForBackward: keep only each layer's input, and let the backward recompute the layer's other
   * activations right before its backward (activation checkpointing per layer). A micro-batch then holds
   * L layer inputs and one layer's activations instead of every layer's, for one more forward's
   * arithmetic. Gradients are bitwise the same: the recomputation runs the same kernels on the same input.
   */
  readonly recompute?: boolean;
  /** f32 [T] mask: mean-pool every hidden state over the rows where it is 1 (HF output_hidden_states). */
  readonly poolMask?: Tensor;
  /** Write this call's keys/values into a cache at `pastLen` and attend over the cache. */
  readonly cache?: KvCache;
  /**
   * The batch starts every sequence (pastLen = 0): attention reads this call's own f32 keys/values and the
   * cache is only written. Required with a half-width cache, which forward cannot read.
   */
  readonly prefill?: boolean;
  /** With prefill: the cache sequence this batch's first sequence is written to (a prefill in passes). */
  readonly cacheFirstSeq?: number;
}

/**
 * Runs the decoder over a batch. Without a cache, keys/values come from this batch (training and scoring);
 * with one, they are appended at each sequence's `pastLen` and attention reads the cache (generation).
 * Work is recorded, not awaited (the pool hands the buffers one layer releases to the next layer's
 * kernel-filled tensors at once, so a long recording does not hold every layer's temporaries).
 */
export function forward(model: Model, inputs: ForwardInputs, options: ForwardOptions = {}): ForwardResult {
  const { gpu, config: cfg } = model;
  const save = options.saveForBackward ?? false;
  const recompute = options.recompute ?? false;
  if (save && options.cache) {
    throw new Error("forward: saveForBackward is for training batches, not KV-cached decoding");
  }
  if (recompute && !save) {
    throw new Error("forward: recompute applies to a training forward; pass saveForBackward: true with it");
  }
  if (options.cacheFirstSeq && !options.prefill) {
    throw new Error("forward: cacheFirstSeq places a prefill's sequences in the cache; pass prefill: true");
  }
  if (options.cache && options.cache.dtype !== "f32" && !options.prefill) {
    throw new Error(
      `forward: a ${options.cache.dtype} KV cache is read only by the fused decode step (decodeStep); ` +
        "pass prefill: true to fill it from a prompt batch, or use an f32 cache",
    );
  }
  const owned: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (owned.push(t), t);
  const pooled: Tensor[] = [];
  const pool = (x: Tensor) => {
    if (options.poolMask) pooled.push(keep(maskedMeanRows(gpu, x, options.poolMask, inputs.batch)));
  };
  const layerInputs: Tensor[] = [];
  const layers: LayerActivations[] = [];

  let x = embed(model, inputs.ids);
  pool(x);
  for (let l = 0; l < cfg.numLayers; l++) {
    const { acts, out } = layerForward(model, l, x, inputs, options);
    if (save && !recompute) {
      layers.push(acts);
      owned.push(...activationTensors(acts));
    } else {
      activationTensors(acts).forEach((t) => t.release());
    }
    if (save) layerInputs.push(keep(x));
    else x.release();
    x = out!;
    if (l < cfg.numLayers - 1) pool(x);
  }
  const { y: final, rstd: finalRstd } = rmsnormForward(gpu, x, model.param(FINAL_NORM), cfg.rmsNormEps);
  pool(final);
  if (save) owned.push(x, finalRstd);
  else {
    x.release();
    finalRstd.release();
  }
  owned.push(final);
  return {
    final,
    pooled,
    saved: save ? { recompute, inputs: layerInputs, layers, lastX: x, finalRstd } : null,
    release: () => owned.forEach((t) => t.release()),
  };
}

/**
 * RMSNorm of a q or k projection [T, heads·D] as the family defines it: over each head's D values (Qwen3,
 * the rows viewed as [T·heads, D]) or over the whole projection (OLMo-2). Returns the owning output
 * [T, heads·D] and the reciprocal RMS.
 */
function qkNormForward(model: Model, t: Tensor, w: Tensor, heads: number): { y: Tensor; rstd: Tensor } {
  const { gpu, config: cfg } = model;
  const [rows, width] = t.shape;
  if (cfg.qkNorm === "projection") return rmsnormForward(gpu, t, w, cfg.rmsNormEps);
  const y = gpu.empty([rows, width], "f32", "qk_norm.y");
  const { rstd } = rmsnormForward(gpu, t.reshape([rows * heads, cfg.headDim]), w, cfg.rmsNormEps, {
    y: y.reshape([rows * heads, cfg.headDim]),
  });
  return { y, rstd };
}

/**
 * Backward of {@link qkNormForward}: dL/d pre-norm projection, the norm weight's gradient added to `dw`
 * (none when null: a frozen base).
 */
function qkNormBackward(
  model: Model,
  dy: Tensor,
  pre: Tensor,
  w: Tensor,
  rstd: Tensor,
  dw: Tensor | null,
  heads: number,
): Tensor {
  const { gpu, config: cfg } = model;
  if (cfg.qkNorm === "projection") return rmsnormBackward(gpu, dy, pre, w, rstd, dw);
  const [rows, width] = pre.shape;
  const perHead = [rows * heads, cfg.headDim];
  const dx = gpu.empty([rows, width], "f32", "qk_norm.dx");
  rmsnormBackward(gpu, dy.reshape(perHead), pre.reshape(perHead), w, rstd, dw, { dx: dx.reshape(perHead) });
  return dx;
}

/**
 * The projection `weight` (Hugging Face name) of `x`: x · Wᵀ (+ bias), plus the adapter's term when the
 * model's LoRA adapter targets it.
 */
function project(model: Model, x: Tensor, weight: string, bias?: Tensor): Tensor {
  const y = linear(model.gpu, x, model.param(weight), bias);
  const lora = model.adapter?.module(weight);
  if (lora) loraForward(model.gpu, x, lora, y);
  return y;
}

/**
 * Backward of {@link project} from dL/dy `dy`: dL/dx into `dx` (added to it) or a new tensor, returned;
 * W's (and the bias's) gradient through `g` unless the base is frozen (`g` gives null), the adapter's
 * factors' gradients through `adapterGrad`.
 */
function projectBackward(
  model: Model,
  dy: Tensor,
  x: Tensor,
  weight: string,
  g: (name: string) => Tensor | null,
  adapterGrad: (name: string) => Tensor,
  options: { dx?: Tensor; bias?: string } = {},
): Tensor {
  const dx = linearBackward(model.gpu, dy, x, model.param(weight), {
    dx: options.dx ?? true,
    accumulateDx: options.dx !== undefined,
    dw: g(weight) ?? false,
    db: options.bias === undefined ? false : g(options.bias) ?? false,
    accumulate: true,
  }).dx!;
  const lora = model.adapter?.module(weight);
  if (lora) {
    loraBackward(model.gpu, dy, x, lora, { dx, da: adapterGrad(lora.aName), db: adapterGrad(lora.bName) });
  }
  return dx;
}

/**
 * Decoder layer `l` from its input `x`: the activations its backward reads, and its output. Pre-norm
 * families (Qwen2, Qwen3, Llama): x2 = x + attention(norm(x)), out = x2 + mlp(norm(x2)). OLMo-2:
 * x2 = x + norm(attention(x)), out = x2 + norm(mlp(x2)). Attention applies the family's q/k norm before
 * RoPE. With `output` false, as when the backward recomputes the activations, a pre-norm layer skips the
 * down projection (its backward does not read it) and returns no output.
 */
function layerForward(
  model: Model,
  l: number,
  x: Tensor,
  inputs: ForwardInputs,
  options: { cache?: KvCache; prefill?: boolean; cacheFirstSeq?: number; output?: boolean },
): { acts: LayerActivations; out: Tensor | null } {
  const { gpu, config: cfg } = model;
  const n = layerTensorNames(l);
  const p = (name: string) => model.param(name);
  const bias = (name: string) => (cfg.attentionBias ? p(name) : undefined);
  const norm = (t: Tensor, name: string) => rmsnormForward(gpu, t, p(name), cfg.rmsNormEps);
  const inNorm = cfg.postNorms ? null : norm(x, n.inputNorm);
  const h1 = inNorm?.y ?? x;
  let q = project(model, h1, n.qProj, bias(n.qBias));
  let k = project(model, h1, n.kProj, bias(n.kBias));
  const v = project(model, h1, n.vProj, bias(n.vBias));
  let qPre: Tensor | null = null, kPre: Tensor | null = null;
  let qRstd: Tensor | null = null, kRstd: Tensor | null = null;
  if (cfg.qkNorm !== "none") {
    [qPre, kPre] = [q, k];
    ({ y: q, rstd: qRstd } = qkNormForward(model, qPre, p(n.qNorm), cfg.numHeads));
    ({ y: k, rstd: kRstd } = qkNormForward(model, kPre, p(n.kNorm), cfg.numKvHeads));
  }
  ropeForward(gpu, q, k, inputs.positions, {
    headDim: cfg.headDim,
    theta: cfg.ropeTheta,
    scaling: cfg.ropeScaling,
    inPlace: true,
  });
  let keys = k, values = v, kvBatchStride = inputs.rowsPerSeq * cfg.numKvHeads * cfg.headDim;
  const { cache } = options;
  if (cache) {
    const first = options.cacheFirstSeq ?? 0;
    kvWrite(gpu, k, inputs.pastLen, cache.k[l], inputs.rowsPerSeq, first);
    kvWrite(gpu, v, inputs.pastLen, cache.v[l], inputs.rowsPerSeq, first);
    if (!options.prefill) {
      keys = cache.k[l];
      values = cache.v[l];
      kvBatchStride = cache.maxLen * cfg.numKvHeads * cfg.headDim;
    }
  }
  const { o, lse } = attentionForward(gpu, q, keys, values, inputs.pastLen, inputs.kvLen, {
    batch: inputs.batch,
    queryLen: inputs.rowsPerSeq,
    numHeads: cfg.numHeads,
    numKvHeads: cfg.numKvHeads,
    headDim: cfg.headDim,
    kvBatchStride,
  });
  const attnProj = project(model, o, n.oProj, cfg.outputProjBias ? p(n.oBias) : undefined);
  const attnNorm = cfg.postNorms ? norm(attnProj, n.postAttentionNorm) : null;
  const x2 = add(gpu, x, attnNorm?.y ?? attnProj);
  if (attnNorm) attnNorm.y.release();
  else attnProj.release();
  const mlpNorm = cfg.postNorms ? null : norm(x2, n.postAttentionNorm);
  const h2 = mlpNorm?.y ?? x2;
  const gate = project(model, h2, n.gateProj);
  const up = project(model, h2, n.upProj);
  const act = swigluForward(gpu, gate, up);
  const acts: LayerActivations = {
    h1: inNorm?.y ?? null,
    rstd1: inNorm?.rstd ?? null,
    qPre,
    qRstd,
    kPre,
    kRstd,
    q,
    k,
    v,
    o,
    lse,
    attnOut: attnNorm ? attnProj : null,
    attnRstd: attnNorm?.rstd ?? null,
    x2,
    h2: mlpNorm?.y ?? null,
    rstd2: mlpNorm?.rstd ?? null,
    gate,
    up,
    act,
    mlpOut: null,
    mlpRstd: null,
  };
  if (options.output === false && !cfg.postNorms) return { acts, out: null };
  const down = project(model, act, n.downProj);
  if (!cfg.postNorms) {
    const out = add(gpu, x2, down);
    down.release();
    return { acts, out };
  }
  const mlpOutNorm = norm(down, n.postFeedforwardNorm);
  acts.mlpOut = down;
  acts.mlpRstd = mlpOutNorm.rstd;
  const out = options.output === false ? null : add(gpu, x2, mlpOutNorm.y);
  mlpOutNorm.y.release();
  return { acts, out };
}

/** Gradients by Hugging Face parameter name (a tied model accumulates the LM head into the embeddings). */
export type Gradients = Map<string, Tensor>;

/**
 * Zero-filled gradient buffers for what a model trains ({@link Model.trainable}): every parameter, or only
 * the LoRA adapter's factors when it carries one (the frozen base gets none).
 */
export function createGradients(model: Model): Gradients {
  model.requireTrainable("createGradients");
  const grads: Gradients = new Map();
  for (const [name, t] of model.trainable) grads.set(name, model.gpu.zeros(t.shape, "f32", `grad.${name}`));
  return grads;
}

/**
 * Backpropagates `dFinal` (dL/d final hidden states, f32 [T, H]) through a forward run with
 * saveForBackward, adding every parameter's gradient into `grads`. `hostIds` are the batch's token ids
 * (the embedding backward groups rows by id on the host). A forward run with recompute has its layers'
 * activations recomputed here, one layer at a time, from the saved layer inputs. Submits after each layer,
 * so one layer's buffers at a time wait in the pool.
 */
export function backward(
  model: Model,
  fwd: ForwardResult,
  inputs: ForwardInputs,
  hostIds: Int32Array,
  dFinal: Tensor,
  grads: Gradients,
): void {
  model.requireTrainable("backward");
  const { gpu, config: cfg } = model;
  const saved = fwd.saved;
  if (!saved || saved.inputs.length !== cfg.numLayers) {
    throw new Error("backward: the forward run did not save activations (pass saveForBackward: true)");
  }
  const grad = (name: string) => {
    const t = grads.get(name);
    if (!t) throw new Error(`backward: no gradient buffer for ${name}`);
    return t;
  };
  // With an adapter the base is frozen: no parameter of it gets a gradient, only the adapter's factors.
  const frozen = model.adapter !== null;
  const g = (name: string) => (frozen ? null : grad(name));
  let dx = rmsnormBackward(gpu, dFinal, saved.lastX, model.param(FINAL_NORM), saved.finalRstd, g(FINAL_NORM));
  for (let l = cfg.numLayers - 1; l >= 0; l--) {
    const x = saved.inputs[l];
    const recomputed = saved.recompute ? layerForward(model, l, x, inputs, { output: false }).acts : null;
    const dxIn = layerBackward(model, l, x, recomputed ?? saved.layers[l], dx, inputs, g, grad);
    if (recomputed) activationTensors(recomputed).forEach((t) => t.release());
    dx.release();
    dx = dxIn;
  }
  if (frozen) {
    dx.release();
    return;
  }
  const plan = embeddingGradPlan(hostIds, cfg.vocabSize);
  for (const shard of model.vocabShards(EMBED_TOKENS)) {
    embeddingBackward(gpu, dx, hostIds, grad(shard.key), plan, { first: shard.first, total: cfg.vocabSize });
  }
  dx.release();
}

/**
 * Backward of {@link layerForward}: from dL/d output `dOut`, adds the layer's parameter gradients (through
 * `g`, which gives null for a frozen base) and its adapter's (through `adapterGrad`), and returns dL/d
 * input. `dOut` is read, not released.
 */
function layerBackward(
  model: Model,
  l: number,
  x: Tensor,
  a: LayerActivations,
  dOut: Tensor,
  inputs: ForwardInputs,
  g: (name: string) => Tensor | null,
  adapterGrad: (name: string) => Tensor,
): Tensor {
  const { gpu, config: cfg } = model;
  const n = layerTensorNames(l);
  const p = (name: string) => model.param(name);
  // out = x2 + [norm∘]down(swiglu(gate(h2), up(h2))), h2 = norm(x2) or x2: dOut reaches x2 directly and
  // through the MLP.
  const dDown = a.mlpOut
    ? rmsnormBackward(gpu, dOut, a.mlpOut, p(n.postFeedforwardNorm), a.mlpRstd!, g(n.postFeedforwardNorm))
    : dOut;
  const h2 = a.h2 ?? a.x2;
  const dAct = projectBackward(model, dDown, a.act, n.downProj, g, adapterGrad);
  if (dDown !== dOut) dDown.release();
  const { dgate, dup } = swigluBackward(gpu, dAct, a.gate, a.up);
  dAct.release();
  const dh2 = projectBackward(model, dgate, h2, n.gateProj, g, adapterGrad);
  projectBackward(model, dup, h2, n.upProj, g, adapterGrad, { dx: dh2 });
  dgate.release();
  dup.release();
  let dx2 = dh2;
  if (a.h2) {
    dx2 = rmsnormBackward(gpu, dh2, a.x2, p(n.postAttentionNorm), a.rstd2!, g(n.postAttentionNorm));
    dh2.release();
  }
  const dx2Total = add(gpu, dx2, dOut);
  dx2.release();
  // x2 = x + [norm∘]o_proj(attention(rope(qk_norm(q(h1))), rope(qk_norm(k(h1))), v(h1))), h1 = norm(x) or x.
  const dAttnProj = a.attnOut
    ? rmsnormBackward(gpu, dx2Total, a.attnOut, p(n.postAttentionNorm), a.attnRstd!, g(n.postAttentionNorm))
    : dx2Total;
  const dO = projectBackward(model, dAttnProj, a.o, n.oProj, g, adapterGrad, {
    bias: cfg.outputProjBias ? n.oBias : undefined,
  });
  if (dAttnProj !== dx2Total) dAttnProj.release();
  let { dq, dk, dv } = attentionBackward(
    gpu,
    dO,
    a.q,
    a.k,
    a.v,
    a.o,
    a.lse,
    inputs.pastLen,
    inputs.kvLen,
    {
      batch: inputs.batch,
      queryLen: inputs.rowsPerSeq,
      numHeads: cfg.numHeads,
      numKvHeads: cfg.numKvHeads,
      headDim: cfg.headDim,
      kvBatchStride: inputs.rowsPerSeq * cfg.numKvHeads * cfg.headDim,
    },
  );
  dO.release();
  ropeBackward(gpu, dq, dk, inputs.positions, {
    headDim: cfg.headDim,
    theta: cfg.ropeTheta,
    scaling: cfg.ropeScaling,
    inPlace: true,
  });
  if (a.qPre && a.kPre) {
    const dqPre = qkNormBackward(model, dq, a.qPre, p(n.qNorm), a.qRstd!, g(n.qNorm), cfg.numHeads);
    const dkPre = qkNormBackward(model, dk, a.kPre, p(n.kNorm), a.kRstd!, g(n.kNorm), cfg.numKvHeads);
    dq.release();
    dk.release();
    [dq, dk] = [dqPre, dkPre];
  }
  const h1 = a.h1 ?? x;
  const bias = (name: string) => (cfg.attentionBias ? name : undefined);
  const dh1 = projectBackward(model, dq, h1, n.qProj, g, adapterGrad, { bias: bias(n.qBias) });
  projectBackward(model, dk, h1, n.kProj, g, adapterGrad, { dx: dh1, bias: bias(n.kBias) });
  projectBackward(model, dv, h1, n.vProj, g, adapterGrad, { dx: dh1, bias: bias(n.vBias) });
  for (const t of [dq, dk, dv]) t.release();
  let dxIn = dh1;
  if (a.h1) {
    dxIn = rmsnormBackward(gpu, dh1, x, p(n.inputNorm), a.rstd1!, g(n.inputNorm));
    dh1.release();
  }
  const dx = add(gpu, dxIn, dx2Total);
  dxIn.release();
  dx2Total.release();
  return dx;
}

/** Embedding lookup over the embedding matrix's row blocks: each block writes the tokens it holds. */
function embed(model: Model, ids: Tensor): Tensor {
  const shards = model.vocabShards(EMBED_TOKENS);
  if (shards.length === 1) return embeddingForward(model.gpu, shards[0].tensor, ids);
  const out = model.gpu.empty([ids.shape[0], model.config.hiddenSize], "f32", "embed.out");
  const total = model.config.vocabSize;
  for (const s of shards) embeddingForward(model.gpu, s.tensor, ids, out, { first: s.first, total });
  return out;
}

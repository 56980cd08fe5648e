/**
 * The fused decode step: one new token per sequence through every layer in seven dispatches per layer
 * (lib/ops/decode_layer.ts), for each family, into a workspace planned once per generation batch.
 *
 * Why a workspace: every buffer of a step is the same buffer every step, so the recorder's bind group
 * cache (lib/gpu/recorder.ts) serves each dispatch from the second step on and a step creates no bind
 * groups; buffers drawn from the pool per step would vary with the pool's free lists and miss it. The
 * residual stream `x` is updated in place by the projections (their residual add is folded in), so one
 * [B, H] buffer carries it through all layers.
 *
 * @module
 */
import type { WeightDType } from "../gpu/dtype.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { embeddingForward } from "../ops/embedding.ts";
import { rmsnormForward } from "../ops/rmsnorm.ts";
import { cachedInvFreq } from "../ops/rope.ts";
import {
  decodeAttention,
  type DecodeAttentionScratch,
  decodeAttentionScratch,
  decodeFusedSupported,
  decodeGateUp,
  decodeGateUpPost,
  type DecodeHeads,
  decodeNormResidual,
  decodeNormRopeKv,
  decodeProjResidual,
  decodeQkv,
  decodeQkvPost,
  decodeRopeKv,
  type PendingResidual,
} from "../ops/decode_layer.ts";
import type { Model } from "./model.ts";
import { type KvCache, modelWeightDType } from "./transformer.ts";
import { EMBED_TOKENS, FINAL_NORM, layerTensorNames } from "./weights.ts";

/** Buffers of the decode steps of one generation batch (B rows), allocated once. */
export interface DecodeWorkspace {
  /** Rows decoded together. */
  readonly batch: number;
  /** f32 [B, H]: the residual stream, updated in place layer by layer. */
  readonly x: Tensor;
  /** f32 [B, nq + 2·nkv]: each layer's q | k | v. */
  readonly qkv: Tensor;
  /** f32 [B, nq]: attention output. */
  readonly o: Tensor;
  /** f32 [B, I]: SwiGLU output. */
  readonly act: Tensor;
  /**
   * OLMo-2 only (null otherwise): a sublayer's output before its norm and deferred residual add, and the
   * second residual-stream buffer (the stream alternates between `x` and it within each layer).
   */
  readonly post: { readonly y: Tensor; readonly x: Tensor } | null;
  /** Split-K attention partials. */
  readonly attention: DecodeAttentionScratch;
  /** f32 [B, H]: the final norm's output (the LM head's input). */
  readonly final: Tensor;
  /** f32 [B]: the final norm's rstd (unused, but the norm kernel writes it). */
  readonly rstd: Tensor;
  /** f32 [B, V]: logits. */
  readonly logits: Tensor;
  /** i32 [B]: sampled tokens, the next step's input. */
  readonly tokens: Tensor;
  /** f32 [B]: their log-probabilities. */
  readonly logprobs: Tensor;
}

function heads(model: Model): DecodeHeads {
  const c = model.config;
  return { heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim };
}

/**
 * Whether {@link decodeStep} runs for this model on its device: enough storage bindings per dispatch, a
 * head dimension the attention kernel holds, f32 norms and biases, q/k/v of one dtype, and no LoRA adapter
 * (the fused projections read one weight matrix each: sample an adapted model from its merged weights).
 */
export function fusedDecodeSupported(model: Model): boolean {
  const c = model.config;
  if (model.adapter) return false;
  if (!decodeFusedSupported(model.gpu, c.headDim) || c.numHeads % c.numKvHeads !== 0) return false;
  // OLMo-2's kernels read no attention biases (no released OLMo-2 has them).
  if (c.postNorms && (c.attentionBias || c.outputProjBias)) return false;
  const n = layerTensorNames(0);
  const f32 = [n.postAttentionNorm, FINAL_NORM];
  if (c.postNorms) f32.push(n.postFeedforwardNorm);
  else f32.push(n.inputNorm);
  if (c.qkNorm !== "none") f32.push(n.qNorm, n.kNorm);
  if (c.attentionBias) f32.push(n.qBias, n.kBias, n.vBias);
  if (c.outputProjBias) f32.push(n.oBias);
  const q = model.param(n.qProj).dtype;
  return f32.every((name) => model.param(name).dtype === "f32") &&
    model.param(n.kProj).dtype === q && model.param(n.vProj).dtype === q;
}

/** Allocates the workspace for `batch` rows and a cache of `maxLen` positions. */
export function createDecodeWorkspace(model: Model, batch: number, maxLen: number): DecodeWorkspace {
  const { gpu, config: c } = model;
  const nq = c.numHeads * c.headDim, nkv = c.numKvHeads * c.headDim;
  return {
    batch,
    x: gpu.empty([batch, c.hiddenSize], "f32", "decode.x"),
    qkv: gpu.empty([batch, nq + 2 * nkv], "f32", "decode.qkv"),
    o: gpu.empty([batch, nq], "f32", "decode.o"),
    act: gpu.empty([batch, c.intermediateSize], "f32", "decode.act"),
    post: c.postNorms
      ? {
        y: gpu.empty([batch, c.hiddenSize], "f32", "decode.post.y"),
        x: gpu.empty([batch, c.hiddenSize], "f32", "decode.post.x"),
      }
      : null,
    attention: decodeAttentionScratch(gpu, batch, maxLen, heads(model)),
    final: gpu.empty([batch, c.hiddenSize], "f32", "decode.final"),
    rstd: gpu.empty([batch], "f32", "decode.rstd"),
    logits: gpu.empty([batch, c.vocabSize], "f32", "decode.logits"),
    tokens: gpu.empty([batch], "i32", "decode.tokens"),
    logprobs: gpu.empty([batch], "f32", "decode.logprobs"),
  };
}

/** Gives a workspace's buffers back to the pool. */
export function releaseDecodeWorkspace(ws: DecodeWorkspace): void {
  for (const t of [ws.x, ws.qkv, ws.o, ws.act, ws.attention.partO, ws.attention.partML]) t.release();
  if (ws.post) [ws.post.y, ws.post.x].forEach((t) => t.release());
  for (const t of [ws.final, ws.rstd, ws.logits, ws.tokens, ws.logprobs]) t.release();
}

/**
 * Records one decode step: token `ids` (i32 [B]) at `positions` (i32 [B], = tokens already cached) go
 * through every layer, their keys/values are appended to `cache` (f32 or the weights' width) and
 * attention covers the first `kvLen[b]` (= positions + 1) cache entries. Returns `ws.final`, the final
 * norm's output f32 [B, H]. Work is recorded, not awaited; nothing is uploaded or read back.
 */
export function decodeStep(
  model: Model,
  ws: DecodeWorkspace,
  cache: KvCache,
  ids: Tensor,
  positions: Tensor,
  kvLen: Tensor,
): Tensor {
  const { gpu, config: c } = model;
  const h = heads(model);
  const shards = model.vocabShards(EMBED_TOKENS);
  for (const s of shards) {
    embeddingForward(
      gpu,
      s.tensor,
      ids,
      ws.x,
      shards.length > 1 ? { first: s.first, total: c.vocabSize } : undefined,
    );
  }
  const invFreq = cachedInvFreq(gpu, c.headDim, c.ropeTheta, c.ropeScaling);
  const p = (name: string) => model.param(name);
  if (ws.post) postNormLayers(model, ws, ws.post, cache, positions, kvLen, invFreq);
  for (let l = 0; l < c.numLayers && !ws.post; l++) {
    const n = layerTensorNames(l);
    const bias = c.attentionBias ? { q: p(n.qBias), k: p(n.kBias), v: p(n.vBias) } : null;
    decodeQkv(
      gpu,
      ws.x,
      p(n.inputNorm),
      c.rmsNormEps,
      { q: p(n.qProj), k: p(n.kProj), v: p(n.vProj) },
      bias,
      ws.qkv,
    );
    if (c.qkNorm === "none") decodeRopeKv(gpu, ws.qkv, positions, invFreq, cache.k[l], cache.v[l], h);
    else {
      const norm = { q: p(n.qNorm), k: p(n.kNorm), perHead: true, eps: c.rmsNormEps };
      decodeNormRopeKv(gpu, ws.qkv, positions, invFreq, cache.k[l], cache.v[l], h, norm);
    }
    decodeAttention(gpu, ws.qkv, kvLen, cache.k[l], cache.v[l], ws.attention, ws.o, h);
    decodeProjResidual(gpu, ws.o, p(n.oProj), c.outputProjBias ? p(n.oBias) : null, ws.x);
    decodeGateUp(gpu, ws.x, p(n.postAttentionNorm), c.rmsNormEps, p(n.gateProj), p(n.upProj), ws.act);
    decodeProjResidual(gpu, ws.act, p(n.downProj), null, ws.x);
  }
  rmsnormForward(gpu, ws.x, p(FINAL_NORM), c.rmsNormEps, { y: ws.final, rstd: ws.rstd });
  return ws.final;
}

/**
 * OLMo-2's layers: x2 = x + rmsnorm(o_proj(attention(x))), out = x2 + rmsnorm(down(act(x2))), with each
 * residual add deferred into the next reader (qkv_proj_post, gate_up_post) and the last one added in place
 * after the final layer. The stream goes x → post.x (written by qkv_proj_post) → x (gate_up_post).
 */
function postNormLayers(
  model: Model,
  ws: DecodeWorkspace,
  post: { readonly y: Tensor; readonly x: Tensor },
  cache: KvCache,
  positions: Tensor,
  kvLen: Tensor,
  invFreq: Tensor,
): void {
  const { gpu, config: c } = model;
  const h = heads(model);
  const p = (name: string) => model.param(name);
  let pending: PendingResidual | null = null;
  for (let l = 0; l < c.numLayers; l++) {
    const n = layerTensorNames(l);
    decodeQkvPost(
      gpu,
      ws.x,
      pending,
      c.rmsNormEps,
      { q: p(n.qProj), k: p(n.kProj), v: p(n.vProj) },
      ws.qkv,
      post.x,
    );
    const norm = { q: p(n.qNorm), k: p(n.kNorm), perHead: false, eps: c.rmsNormEps };
    decodeNormRopeKv(gpu, ws.qkv, positions, invFreq, cache.k[l], cache.v[l], h, norm);
    decodeAttention(gpu, ws.qkv, kvLen, cache.k[l], cache.v[l], ws.attention, ws.o, h);
    decodeProjResidual(gpu, ws.o, p(n.oProj), null, post.y, true);
    const attnOut = { y: post.y, normW: p(n.postAttentionNorm) };
    decodeGateUpPost(gpu, post.x, attnOut, c.rmsNormEps, p(n.gateProj), p(n.upProj), ws.act, ws.x);
    decodeProjResidual(gpu, ws.act, p(n.downProj), null, post.y, true);
    pending = { y: post.y, normW: p(n.postFeedforwardNorm) };
  }
  if (pending) decodeNormResidual(gpu, pending.y, pending.normW, c.rmsNormEps, ws.x);
}

/** The KV cache element type generation uses: the weights' width with the fused step, else f32. */
export function decodeCacheDType(model: Model, fused: boolean): WeightDType {
  return fused ? modelWeightDType(model) : "f32";
}

/**
 * The fused kernels of one decode step (kernels/decode_layer.wgsl): seven dispatches per decoder layer
 * for M rows of one new token each, forward only (decoding needs no backward), weights and KV cache at
 * f32, f16 or bf16 with f32 accumulation. Plus {@link kvWrite}, which stores a prefill's keys and values
 * into a cache of any of those widths.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import type { WeightDType } from "../gpu/dtype.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "decode_layer.wgsl";
const spec = (name: string, entry: string, bindings: string[]): KernelSpec => ({
  name,
  file: FILE,
  entry,
  bindings,
});
const QKV = spec("decode.qkv", "qkv_proj", ["x", "normW", "wq", "wk", "wv", "bq", "bk", "bv", "qkv"]);
const GATE_UP = spec("decode.gateUp", "gate_up", ["x", "normW", "wGate", "wUp", "act"]);
const PROJ = spec("decode.projResidual", "proj_residual", ["input", "w", "bias", "x"]);
const ROPE_KV = spec("decode.ropeKv", "rope_kv", ["positions", "invFreq", "qkv", "kCache", "vCache"]);
const NORM_ROPE_KV = spec("decode.normRopeKv", "norm_rope_kv", [
  "positions",
  "invFreq",
  "qkv",
  "kCache",
  "vCache",
  "qNorm",
  "kNorm",
]);
const NORM_RESIDUAL = spec("decode.normResidual", "norm_residual", ["t", "normW", "x"]);
const QKV_POST = spec("decode.qkvPost", "qkv_proj_post", [
  "x",
  "normW",
  "wq",
  "wk",
  "wv",
  "y",
  "xOut",
  "qkv",
]);
const GATE_UP_POST = spec("decode.gateUpPost", "gate_up_post", [
  "x",
  "normW",
  "wGate",
  "wUp",
  "act",
  "y",
  "xOut",
]);
const ATTN = spec("decode.attention", "attn_partial", [
  "qkv",
  "kvLen",
  "kCache",
  "vCache",
  "partO",
  "partML",
]);
const COMBINE = spec("decode.combine", "attn_combine", ["partO", "partML", "o"]);
const KV_WRITE = spec("kvWrite", "kv_write", ["src", "pastLen", "cache"]);

/** Cache positions one attention workgroup covers; the split count is ceil(maxLen / this). */
export const DECODE_ATTENTION_CHUNK = 256;
/** Largest head dimension the decode attention holds in workgroup memory (MAX_D in the WGSL, tested equal). */
export const DECODE_MAX_HEAD_DIM = 128;
/** The file's override (it gives it no default), set on every decode pipeline. */
const CONSTANTS = { CHUNK: DECODE_ATTENTION_CHUNK };

/**
 * The kernels' tile, defined in the WGSL (function-scope arrays need constants there): threads per
 * workgroup WG, NC output columns × MT rows per matrix-vector workgroup (NG in gate_up), and GMAX query
 * heads of one kv group per attention workgroup (reading the group's keys once).
 */
function tile(gpu: Gpu): Tile {
  let t = tiles.get(gpu);
  if (!t) {
    const c = (name: string) => gpu.kernels.constant(FILE, name);
    tiles.set(gpu, t = { WG: c("WG"), NC: c("NC"), NG: c("NG"), MT: c("MT"), GMAX: c("GMAX") });
  }
  return t;
}
type Tile = { WG: number; NC: number; NG: number; MT: number; GMAX: number };
const tiles = new WeakMap<Gpu, Tile>();
/** Storage buffers the widest decode kernel (qkv) binds at once. */
export const DECODE_STORAGE_BUFFERS = 9;

/** Shape of the attention of one layer. */
export interface DecodeHeads {
  /** Query heads. */
  readonly heads: number;
  /** Key/value heads (divides heads). */
  readonly kvHeads: number;
  /** Head dimension (even, at most {@link DECODE_MAX_HEAD_DIM}). */
  readonly headDim: number;
}

/** Whether the fused decode kernels run on this device for this head dimension (else decode unfused). */
export function decodeFusedSupported(gpu: Gpu, headDim: number): boolean {
  return gpu.limits.maxStorageBuffersPerShaderStage >= DECODE_STORAGE_BUFFERS &&
    headDim % 2 === 0 && headDim <= DECODE_MAX_HEAD_DIM;
}

/** Attention splits of a cache of `maxLen` positions. */
export function decodeAttentionSplits(maxLen: number): number {
  return Math.max(1, Math.ceil(maxLen / DECODE_ATTENTION_CHUNK));
}

function weightDType(kernel: string, ws: [string, Tensor][]): WeightDType {
  const dtype = ws[0][1].dtype;
  for (const [name, w] of ws) {
    expectTensor(kernel, name, w, { dtype: ["f32", "f16", "bf16"] });
    if (w.dtype !== dtype) {
      throw new KernelArgumentError(
        kernel,
        name,
        `must have the dtype of ${ws[0][0]} (${dtype}), got ${w.dtype}`,
      );
    }
  }
  return dtype as WeightDType;
}

/** The q, k, v weights of a decode projection over `hidden` inputs: one dtype, their output widths. */
function qkvWeights(
  kernel: string,
  w: { readonly q: Tensor; readonly k: Tensor; readonly v: Tensor },
  hidden: number,
): { weights: WeightDType; nq: number; nkv: number } {
  const weights = weightDType(kernel, [["wq", w.q], ["wk", w.k], ["wv", w.v]]);
  expectTensor(kernel, "wq", w.q, { shape: [null, hidden] });
  expectTensor(kernel, "wk", w.k, { shape: [null, hidden] });
  expectTensor(kernel, "wv", w.v, { shape: [w.k.shape[0], hidden] });
  return { weights, nq: w.q.shape[0], nkv: w.k.shape[0] };
}

/** The gate and up weights of the MLP's first half over `hidden` inputs: one dtype, their output width. */
function gateUpWeights(
  kernel: string,
  wGate: Tensor,
  wUp: Tensor,
  hidden: number,
): { weights: WeightDType; inter: number } {
  const weights = weightDType(kernel, [["wGate", wGate], ["wUp", wUp]]);
  expectTensor(kernel, "wGate", wGate, { shape: [null, hidden] });
  expectTensor(kernel, "wUp", wUp, { shape: [wGate.shape[0], hidden] });
  return { weights, inter: wGate.shape[0] };
}

function checkEps(kernel: string, eps: number): void {
  if (!(Number.isFinite(eps) && eps > 0)) {
    throw new KernelArgumentError(kernel, "eps", `must be a finite number > 0, got ${eps}`);
  }
}

/**
 * q | k | v of M rows in one dispatch: `out[m] = [rmsnorm(x[m])·Wqᵀ + bq, …·Wkᵀ + bk, …·Wvᵀ + bv]` with
 * x f32 [M, H], normW f32 [H], Wq [nq, H], Wk and Wv [nkv, H] (one weight dtype), f32 biases or none, and
 * out f32 [M, nq + 2·nkv].
 */
export function decodeQkv(
  gpu: Gpu,
  x: Tensor,
  normW: Tensor,
  eps: number,
  w: { readonly q: Tensor; readonly k: Tensor; readonly v: Tensor },
  bias: { readonly q: Tensor; readonly k: Tensor; readonly v: Tensor } | null,
  out: Tensor,
): void {
  const kernel = QKV.name;
  expectTensor(kernel, "x", x, { dtype: "f32", shape: [null, null] });
  const [rows, hidden] = x.shape;
  expectTensor(kernel, "normW", normW, { dtype: "f32", shape: [hidden] });
  checkEps(kernel, eps);
  const { weights, nq, nkv } = qkvWeights(kernel, w, hidden);
  if (bias) {
    expectTensor(kernel, "bq", bias.q, { dtype: "f32", shape: [nq] });
    expectTensor(kernel, "bk", bias.k, { dtype: "f32", shape: [nkv] });
    expectTensor(kernel, "bv", bias.v, { dtype: "f32", shape: [nkv] });
  }
  const n = nq + 2 * nkv;
  expectTensor(kernel, "out", out, { dtype: "f32", shape: [rows, n] });
  if (rows === 0) return;
  // Without biases the bias slots are bound to normW and never read.
  const b = bias ?? { q: normW, k: normW, v: normW };
  gpu.dispatch(QKV, {
    bindings: [x, normW, w.q, w.k, w.v, b.q, b.k, b.v, out],
    params: { rows, k: hidden, n, nq, nkv, has_bias: bias ? 1 : 0, eps },
    workgroups: [Math.ceil(rows / tile(gpu).MT), Math.ceil(n / tile(gpu).NC)],
    variant: { weights, constants: CONSTANTS },
  });
}

/**
 * The SwiGLU MLP's first half in one dispatch: `act = silu(h·Wgᵀ) ⊙ (h·Wuᵀ)`, h = rmsnorm(x), for x f32
 * [M, H], normW f32 [H], Wg and Wu [I, H] (one dtype), act f32 [M, I].
 */
export function decodeGateUp(
  gpu: Gpu,
  x: Tensor,
  normW: Tensor,
  eps: number,
  wGate: Tensor,
  wUp: Tensor,
  act: Tensor,
): void {
  const kernel = GATE_UP.name;
  expectTensor(kernel, "x", x, { dtype: "f32", shape: [null, null] });
  const [rows, hidden] = x.shape;
  expectTensor(kernel, "normW", normW, { dtype: "f32", shape: [hidden] });
  checkEps(kernel, eps);
  const { weights, inter } = gateUpWeights(kernel, wGate, wUp, hidden);
  expectTensor(kernel, "act", act, { dtype: "f32", shape: [rows, inter] });
  if (rows === 0) return;
  gpu.dispatch(GATE_UP, {
    bindings: [x, normW, wGate, wUp, act],
    params: { rows, k: hidden, n: inter, eps },
    workgroups: [Math.ceil(rows / tile(gpu).MT), Math.ceil(inter / tile(gpu).NG)],
    variant: { weights, constants: CONSTANTS },
  });
}

/**
 * OLMo-2's deferred residual add: the last sublayer's stored output `y` (f32 [M, H]) and the weight `normW`
 * (f32 [H]) of the norm applied to it before it joins the residual stream; null at the first layer.
 */
export interface PendingResidual {
  /** The sublayer's output before its norm. */
  readonly y: Tensor;
  /** The norm's weight. */
  readonly normW: Tensor;
}

function checkPostInput(
  kernel: string,
  x: Tensor,
  pending: PendingResidual | null,
  xOut: Tensor,
  eps: number,
): [number, number] {
  expectTensor(kernel, "x", x, { dtype: "f32", shape: [null, null] });
  const [rows, hidden] = x.shape;
  if (pending) {
    expectTensor(kernel, "y", pending.y, { dtype: "f32", shape: [rows, hidden] });
    expectTensor(kernel, "normW", pending.normW, { dtype: "f32", shape: [hidden] });
  }
  expectTensor(kernel, "xOut", xOut, { dtype: "f32", shape: [rows, hidden] });
  if (xOut.buffer === x.buffer || xOut.buffer === pending?.y.buffer) {
    throw new KernelArgumentError(kernel, "xOut", "must not share a buffer with x or y");
  }
  checkEps(kernel, eps);
  return [rows, hidden];
}

/**
 * {@link decodeQkv} for OLMo-2: q | k | v of the input `u = x + rmsnorm(pending.y)·pending.normW` (x alone
 * without a pending output), with no input norm and no biases; `u` is also stored into `xOut`, the residual
 * stream the layer goes on with.
 */
export function decodeQkvPost(
  gpu: Gpu,
  x: Tensor,
  pending: PendingResidual | null,
  eps: number,
  w: { readonly q: Tensor; readonly k: Tensor; readonly v: Tensor },
  out: Tensor,
  xOut: Tensor,
): void {
  const kernel = QKV_POST.name;
  const [rows, hidden] = checkPostInput(kernel, x, pending, xOut, eps);
  const { weights, nq, nkv } = qkvWeights(kernel, w, hidden);
  const n = nq + 2 * nkv;
  expectTensor(kernel, "out", out, { dtype: "f32", shape: [rows, n] });
  if (rows === 0) return;
  // Without a pending output its slots are bound to x and never read.
  gpu.dispatch(QKV_POST, {
    bindings: [x, pending?.normW ?? x, w.q, w.k, w.v, pending?.y ?? x, xOut, out],
    params: { rows, k: hidden, n, nq, nkv, eps, pending: pending ? 1 : 0 },
    workgroups: [Math.ceil(rows / tile(gpu).MT), Math.ceil(n / tile(gpu).NC)],
    variant: { weights, constants: CONSTANTS },
  });
}

/**
 * {@link decodeGateUp} for OLMo-2: the MLP's first half on `u = x + rmsnorm(pending.y)·pending.normW`
 * (no input norm), `u` stored into `xOut`.
 */
export function decodeGateUpPost(
  gpu: Gpu,
  x: Tensor,
  pending: PendingResidual,
  eps: number,
  wGate: Tensor,
  wUp: Tensor,
  act: Tensor,
  xOut: Tensor,
): void {
  const kernel = GATE_UP_POST.name;
  const [rows, hidden] = checkPostInput(kernel, x, pending, xOut, eps);
  const { weights, inter } = gateUpWeights(kernel, wGate, wUp, hidden);
  expectTensor(kernel, "act", act, { dtype: "f32", shape: [rows, inter] });
  if (rows === 0) return;
  gpu.dispatch(GATE_UP_POST, {
    bindings: [x, pending.normW, wGate, wUp, act, pending.y, xOut],
    params: { rows, k: hidden, n: inter, eps, pending: 1 },
    workgroups: [Math.ceil(rows / tile(gpu).MT), Math.ceil(inter / tile(gpu).NG)],
    variant: { weights, constants: CONSTANTS },
  });
}

/**
 * A projection with the residual add folded in, in place: `x += input·Wᵀ (+ bias)` for input f32 [M, K],
 * W [N, K], bias f32 [N] or none, x f32 [M, N] (o_proj and down_proj of the decode step). With
 * `overwrite`, x is set to the projection instead (OLMo-2, whose norm comes between it and the residual).
 */
export function decodeProjResidual(
  gpu: Gpu,
  input: Tensor,
  w: Tensor,
  bias: Tensor | null,
  x: Tensor,
  overwrite = false,
): void {
  const kernel = PROJ.name;
  expectTensor(kernel, "input", input, { dtype: "f32", shape: [null, null] });
  const [rows, k] = input.shape;
  const weights = weightDType(kernel, [["w", w]]);
  expectTensor(kernel, "w", w, { shape: [null, k] });
  const n = w.shape[0];
  if (bias) expectTensor(kernel, "bias", bias, { dtype: "f32", shape: [n] });
  expectTensor(kernel, "x", x, { dtype: "f32", shape: [rows, n] });
  if (x.buffer === input.buffer) {
    throw new KernelArgumentError(kernel, "x", "must not share a buffer with input");
  }
  if (rows === 0) return;
  gpu.dispatch(PROJ, {
    bindings: [input, w, bias ?? input, x],
    params: { rows, k, n, has_bias: bias ? 1 : 0, overwrite: overwrite ? 1 : 0 },
    workgroups: [Math.ceil(rows / tile(gpu).MT), Math.ceil(n / tile(gpu).NC)],
    variant: { weights, constants: CONSTANTS },
  });
}

function checkCache(kernel: string, name: string, cache: Tensor, batch: number, width: number): number {
  expectTensor(kernel, name, cache, { dtype: ["f32", "f16", "bf16"], shape: [batch, null, width] });
  return cache.shape[1];
}

/**
 * RoPE fused with the KV-cache write: rotates the q part of `qkv` (f32 [M, (heads + 2·kvHeads)·D], rows
 * q | k | v) in place at `positions` (i32 [M]) with `invFreq` (f32 [D/2]), and stores the rotated k and
 * the v of row m at position `positions[m]` of caches [M, maxLen, kvHeads·D] (f32, f16 or bf16; both the
 * same). Positions past the cache are not stored.
 */
export function decodeRopeKv(
  gpu: Gpu,
  qkv: Tensor,
  positions: Tensor,
  invFreq: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  heads: DecodeHeads,
): void {
  const kernel = ROPE_KV.name;
  const { nq, nkv, rows } = checkQkv(kernel, qkv, heads);
  expectTensor(kernel, "positions", positions, { dtype: "i32", shape: [rows] });
  expectTensor(kernel, "invFreq", invFreq, { dtype: "f32", shape: [heads.headDim / 2] });
  const maxLen = checkCache(kernel, "kCache", kCache, rows, nkv);
  expectTensor(kernel, "vCache", vCache, { dtype: kCache.dtype, shape: kCache.shape });
  if (rows === 0) return;
  gpu.dispatch(ROPE_KV, {
    bindings: [positions, invFreq, qkv, kCache, vCache],
    params: {
      rows,
      n: nq + 2 * nkv,
      nq,
      nkv,
      heads: heads.heads,
      kv_heads: heads.kvHeads,
      head_dim: heads.headDim,
      max_len: maxLen,
    },
    workgroups: [Math.ceil((heads.heads + heads.kvHeads) * heads.headDim / 2 / tile(gpu).WG), rows],
    variant: { weights: kCache.dtype as WeightDType, constants: CONSTANTS },
  });
}

/**
 * {@link decodeRopeKv} with RMSNorm of q and k folded in before the rotation: over each head's D values
 * (`perHead`, Qwen3: qNorm and kNorm f32 [D]) or over the whole projection (OLMo-2: qNorm f32
 * [heads·D], kNorm f32 [kvHeads·D]). One workgroup per normalised segment and row.
 */
export function decodeNormRopeKv(
  gpu: Gpu,
  qkv: Tensor,
  positions: Tensor,
  invFreq: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  heads: DecodeHeads,
  norm: { readonly q: Tensor; readonly k: Tensor; readonly perHead: boolean; readonly eps: number },
): void {
  const kernel = NORM_ROPE_KV.name;
  const { nq, nkv, rows } = checkQkv(kernel, qkv, heads);
  expectTensor(kernel, "positions", positions, { dtype: "i32", shape: [rows] });
  expectTensor(kernel, "invFreq", invFreq, { dtype: "f32", shape: [heads.headDim / 2] });
  const maxLen = checkCache(kernel, "kCache", kCache, rows, nkv);
  expectTensor(kernel, "vCache", vCache, { dtype: kCache.dtype, shape: kCache.shape });
  const [segLenQ, segLenK] = norm.perHead ? [heads.headDim, heads.headDim] : [nq, nkv];
  expectTensor(kernel, "qNorm", norm.q, { dtype: "f32", shape: [segLenQ] });
  expectTensor(kernel, "kNorm", norm.k, { dtype: "f32", shape: [segLenK] });
  checkEps(kernel, norm.eps);
  if (rows === 0) return;
  const [segQ, segK] = norm.perHead ? [heads.heads, heads.kvHeads] : [1, 1];
  gpu.dispatch(NORM_ROPE_KV, {
    bindings: [positions, invFreq, qkv, kCache, vCache, norm.q, norm.k],
    params: {
      rows,
      n: nq + 2 * nkv,
      nq,
      nkv,
      heads: heads.heads,
      kv_heads: heads.kvHeads,
      head_dim: heads.headDim,
      max_len: maxLen,
      eps: norm.eps,
      seg_q: segQ,
      seg_k: segK,
      seg_len_q: segLenQ,
      seg_len_k: segLenK,
    },
    workgroups: [segQ + segK, rows],
    variant: { weights: kCache.dtype as WeightDType, constants: CONSTANTS },
  });
}

/** `x += rmsnorm(t) · normW` row by row, for t and x f32 [M, H] and normW f32 [H] (OLMo-2's last output norm). */
export function decodeNormResidual(gpu: Gpu, t: Tensor, normW: Tensor, eps: number, x: Tensor): void {
  const kernel = NORM_RESIDUAL.name;
  expectTensor(kernel, "t", t, { dtype: "f32", shape: [null, null] });
  const [rows, hidden] = t.shape;
  expectTensor(kernel, "normW", normW, { dtype: "f32", shape: [hidden] });
  expectTensor(kernel, "x", x, { dtype: "f32", shape: [rows, hidden] });
  checkEps(kernel, eps);
  if (x.buffer === t.buffer) throw new KernelArgumentError(kernel, "x", "must not share a buffer with t");
  if (rows === 0) return;
  gpu.dispatch(NORM_RESIDUAL, {
    bindings: [t, normW, x],
    params: { rows, k: hidden, eps },
    workgroups: rows,
    variant: { weights: "f32", constants: CONSTANTS },
  });
}

function checkQkv(kernel: string, qkv: Tensor, h: DecodeHeads): { nq: number; nkv: number; rows: number } {
  expectInt(kernel, "headDim", h.headDim, 2, DECODE_MAX_HEAD_DIM);
  if (h.headDim % 2 !== 0) throw new KernelArgumentError(kernel, "headDim", `must be even, got ${h.headDim}`);
  expectInt(kernel, "kvHeads", h.kvHeads, 1);
  expectInt(kernel, "heads", h.heads, 1);
  if (h.heads % h.kvHeads !== 0) {
    throw new KernelArgumentError(kernel, "heads", `${h.heads} is not a multiple of kvHeads ${h.kvHeads}`);
  }
  const nq = h.heads * h.headDim, nkv = h.kvHeads * h.headDim;
  expectTensor(kernel, "qkv", qkv, { dtype: "f32", shape: [null, nq + 2 * nkv] });
  return { nq, nkv, rows: qkv.shape[0] };
}

/** Scratch of {@link decodeAttention}: per-split partial outputs and (max, sum) pairs. */
export interface DecodeAttentionScratch {
  /** f32 [M, heads, splits, D]. */
  readonly partO: Tensor;
  /** f32 [M, heads, splits, 2]. */
  readonly partML: Tensor;
}

/** Allocates the scratch of {@link decodeAttention} for M rows and a cache of `maxLen` positions. */
export function decodeAttentionScratch(
  gpu: Gpu,
  rows: number,
  maxLen: number,
  heads: DecodeHeads,
): DecodeAttentionScratch {
  const splits = decodeAttentionSplits(maxLen);
  return {
    partO: gpu.empty([rows, heads.heads, splits, heads.headDim], "f32", "decode.partO"),
    partML: gpu.empty([rows, heads.heads, splits, 2], "f32", "decode.partML"),
  };
}

/**
 * Decode attention over the cache, split-K: row m's rotated q (the q part of `qkv`) attends to cache
 * positions [0, kvLen[m]) of its sequence; chunks of {@link DECODE_ATTENTION_CHUNK} positions run in
 * parallel, each serving all query heads of a kv head (up to 8 per workgroup) so cached keys and values
 * are read once per group, and a second dispatch merges the chunks into `o` (f32 [M, heads·D]). Softmax
 * scale 1/sqrt(D).
 */
export function decodeAttention(
  gpu: Gpu,
  qkv: Tensor,
  kvLen: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  scratch: DecodeAttentionScratch,
  o: Tensor,
  heads: DecodeHeads,
): void {
  const kernel = ATTN.name;
  const { nq, nkv, rows } = checkQkv(kernel, qkv, heads);
  expectTensor(kernel, "kvLen", kvLen, { dtype: "i32", shape: [rows] });
  const maxLen = checkCache(kernel, "kCache", kCache, rows, nkv);
  expectTensor(kernel, "vCache", vCache, { dtype: kCache.dtype, shape: kCache.shape });
  const splits = decodeAttentionSplits(maxLen);
  const d = heads.headDim;
  expectTensor(kernel, "partO", scratch.partO, { dtype: "f32", shape: [rows, heads.heads, splits, d] });
  expectTensor(kernel, "partML", scratch.partML, { dtype: "f32", shape: [rows, heads.heads, splits, 2] });
  expectTensor(kernel, "o", o, { dtype: "f32", shape: [rows, nq] });
  if (rows === 0) return;
  const params = {
    rows,
    n: nq + 2 * nkv,
    nq,
    nkv,
    heads: heads.heads,
    kv_heads: heads.kvHeads,
    head_dim: d,
    max_len: maxLen,
    splits,
    scale: 1 / Math.sqrt(d),
  };
  gpu.dispatch(ATTN, {
    bindings: [qkv, kvLen, kCache, vCache, scratch.partO, scratch.partML],
    params,
    workgroups: [splits, heads.kvHeads * Math.ceil(heads.heads / heads.kvHeads / tile(gpu).GMAX), rows],
    variant: { weights: kCache.dtype as WeightDType, constants: CONSTANTS },
  });
  gpu.dispatch(COMBINE, {
    bindings: [scratch.partO, scratch.partML, o],
    params,
    workgroups: [heads.heads, rows],
    variant: { weights: kCache.dtype as WeightDType, constants: CONSTANTS },
  });
}

/**
 * Appends `rowsPerSeq` new rows per sequence into a KV cache, converting to its width:
 * `cache[firstSeq + b, pastLen[b] + i, :] = src[b·rowsPerSeq + i, :]` for the call's sequences b (as many
 * as `pastLen` holds) and a cache [sequences, maxLen, width] of f32, f16 or bf16 (width even). Rows past
 * maxLen are dropped. A prefill split into passes writes each pass's sequences from its `firstSeq`.
 */
export function kvWrite(
  gpu: Gpu,
  src: Tensor,
  pastLen: Tensor,
  cache: Tensor,
  rowsPerSeq: number,
  firstSeq = 0,
): void {
  expectTensor("kvWrite", "cache", cache, { dtype: ["f32", "f16", "bf16"], shape: [null, null, null] });
  const [cached, maxLen, width] = cache.shape;
  if (width % 2 !== 0) throw new KernelArgumentError("kvWrite", "cache", `width ${width} must be even`);
  expectInt("kvWrite", "rowsPerSeq", rowsPerSeq, 1, maxLen);
  expectTensor("kvWrite", "pastLen", pastLen, { dtype: "i32", shape: [null] });
  const batch = pastLen.shape[0];
  expectInt("kvWrite", "firstSeq", firstSeq, 0, cached - batch);
  expectTensor("kvWrite", "src", src, { dtype: "f32", shape: [batch * rowsPerSeq, width] });
  if (batch === 0 || width === 0) return;
  gpu.dispatch(KV_WRITE, {
    bindings: [src, pastLen, cache],
    params: {
      rows: batch * rowsPerSeq,
      n: width,
      max_len: maxLen,
      rows_per_seq: rowsPerSeq,
      first_seq: firstSeq,
    },
    workgroups: [Math.ceil(width / 2 / tile(gpu).WG), batch * rowsPerSeq],
    variant: { weights: cache.dtype as WeightDType, constants: CONSTANTS },
  });
}

import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "attention.wgsl";
const FORWARD: KernelSpec = {
  name: "attention.forward",
  file: FILE,
  entry: "forward",
  bindings: ["q", "k", "v", "pastLen", "kvLen", "o", "lse"],
};
const COMBINE: KernelSpec = {
  name: "attention.forward.combine",
  file: FILE,
  entry: "combine",
  bindings: ["oPart", "lsePart", "o", "lse"],
};
const DELTA: KernelSpec = {
  name: "attention.backward.delta",
  file: FILE,
  entry: "backward_delta",
  bindings: ["dO", "o", "pastLen", "kvLen", "delta"],
};
const DKDV: KernelSpec = {
  name: "attention.backward.dkdv",
  file: FILE,
  entry: "backward_dkdv",
  bindings: ["q", "k", "v", "pastLen", "kvLen", "dO", "lse", "delta", "dk", "dv"],
};
const DQ: KernelSpec = {
  name: "attention.backward.dq",
  file: FILE,
  entry: "backward_dq",
  bindings: ["q", "k", "v", "pastLen", "kvLen", "dO", "lse", "delta", "dq"],
};

/** Largest head dimension the kernels hold in registers (8 lanes × 16 columns). */
export const ATTENTION_MAX_HEAD_DIM = 128;

/** Shape of one attention call: how q, k and v are laid out and which heads share keys. */
export interface AttentionOptions {
  /** Sequences B. */
  readonly batch: number;
  /** Query rows per sequence Sq (1 for a decode step); q has B·Sq rows. */
  readonly queryLen: number;
  /** Query heads nH. */
  readonly numHeads: number;
  /** Key/value heads nKv; nH must be a multiple, and head h reads kv head h / (nH / nKv). */
  readonly numKvHeads: number;
  /** Head dimension D, 1..128. */
  readonly headDim: number;
  /**
   * Elements between consecutive sequences in k and v, a multiple of nKv·D: S·nKv·D for a training
   * batch [B·S, nKv·D], Smax·nKv·D for a KV cache [B, Smax, nKv·D]. Key rows per sequence = stride / (nKv·D).
   */
  readonly kvBatchStride: number;
  /** Softmax scale; 1/sqrt(D) when omitted. */
  readonly scale?: number;
  /**
   * Forward only: split the keys into at most this many chunks of whole tiles, computed in parallel and
   * merged afterwards (split-K, for decode against a long cache); automatic when omitted.
   */
  readonly splits?: number;
  /** Query rows / keys per tile (8, 16 or 32); the largest that fits workgroup memory when omitted. */
  readonly tileRows?: number;
}

/** Outputs of {@link attentionForward}. */
export interface AttentionForwardResult {
  /** f32 [B·Sq, nH·D]; zero on padding rows. */
  readonly o: Tensor;
  /** f32 [B·Sq, nH]: logsumexp of each row's scaled scores (natural log), 0 on padding rows; for backward. */
  readonly lse: Tensor;
}

/** Outputs of {@link attentionBackward}. */
export interface AttentionBackwardResult {
  /** f32 like q. */
  readonly dq: Tensor;
  /** f32 like k; summed over the query heads of each kv group, zero for keys nobody attends. */
  readonly dk: Tensor;
  /** f32 like v; same convention as dk. */
  readonly dv: Tensor;
}

interface Layout {
  readonly batch: number;
  readonly sq: number;
  readonly nh: number;
  readonly nkv: number;
  readonly hd: number;
  readonly stride: number;
  readonly cap: number;
  readonly scale: number;
  readonly group: number;
}

function layout(kernel: string, opts: AttentionOptions): Layout {
  expectInt(kernel, "batch", opts.batch, 1, 65_535);
  expectInt(kernel, "queryLen", opts.queryLen, 1);
  expectInt(kernel, "numHeads", opts.numHeads, 1);
  expectInt(kernel, "numKvHeads", opts.numKvHeads, 1, opts.numHeads);
  if (opts.numHeads % opts.numKvHeads !== 0) {
    throw new KernelArgumentError(
      kernel,
      "numKvHeads",
      `must divide numHeads ${opts.numHeads}, got ${opts.numKvHeads}`,
    );
  }
  expectInt(kernel, "headDim", opts.headDim, 1, ATTENTION_MAX_HEAD_DIM);
  const rowWidth = opts.numKvHeads * opts.headDim;
  expectInt(kernel, "kvBatchStride", opts.kvBatchStride, rowWidth, 2 ** 32 - 1);
  if (opts.kvBatchStride % rowWidth !== 0) {
    throw new KernelArgumentError(
      kernel,
      "kvBatchStride",
      `must be a multiple of numKvHeads·headDim = ${rowWidth}, got ${opts.kvBatchStride}`,
    );
  }
  const scale = opts.scale ?? 1 / Math.sqrt(opts.headDim);
  if (!Number.isFinite(scale)) throw new KernelArgumentError(kernel, "scale", `must be finite, got ${scale}`);
  return {
    batch: opts.batch,
    sq: opts.queryLen,
    nh: opts.numHeads,
    nkv: opts.numKvHeads,
    hd: opts.headDim,
    stride: opts.kvBatchStride,
    cap: opts.kvBatchStride / rowWidth,
    scale,
    group: opts.numHeads / opts.numKvHeads,
  };
}

type Kind = "forward" | "dkdv" | "dq";

/** Workgroup bytes of one kernel for head dim `hd` and tile `tile` (mirrors the WGSL declarations). */
function workgroupBytes(kind: Kind, hd: number, tile: number): number {
  const kp = (8 * Math.ceil(hd / 8)) | 1;
  const tp = tile + 1;
  if (kind === "forward") return 4 * (2 * tile * kp + tile * tp + 8 * tile);
  if (kind === "dkdv") return 4 * (4 * tile * kp + 2 * tile * tp + 2 * tile);
  return 4 * (4 * tile * kp + tile * tp + 2 * tile);
}

/**
 * The tile (query slots and keys per step) to use: the requested one, or the largest that fits workgroup
 * memory but no larger than needed to hold `slots` query slots (a decode step has only nH/nKv of them, and
 * the tile's unused rows would still be computed).
 */
function pickTile(
  gpu: Gpu,
  kernel: string,
  kind: Kind,
  hd: number,
  requested?: number,
  slots = Infinity,
): number {
  const limit = gpu.limits.maxComputeWorkgroupStorageSize;
  if (requested !== undefined) {
    if (requested !== 8 && requested !== 16 && requested !== 32) {
      throw new KernelArgumentError(kernel, "tileRows", `must be 8, 16 or 32, got ${requested}`);
    }
    const bytes = workgroupBytes(kind, hd, requested);
    if (bytes > limit) {
      throw new KernelArgumentError(
        kernel,
        "tileRows",
        `${requested} needs ${bytes} bytes of workgroup memory for headDim ${hd}, over the device's ${limit}`,
      );
    }
    return requested;
  }
  for (const tile of [32, 16, 8]) {
    if (workgroupBytes(kind, hd, tile) <= limit && (tile === 8 || tile / 2 < slots)) return tile;
  }
  throw new KernelArgumentError(
    kernel,
    "headDim",
    `${hd} needs ${workgroupBytes(kind, hd, 8)} bytes of workgroup memory, over the device's ${limit}`,
  );
}

function checkKv(kernel: string, L: Layout, k: Tensor, v: Tensor, exact: boolean): void {
  const rowWidth = L.nkv * L.hd;
  expectTensor(kernel, "k", k, { dtype: "f32" });
  expectTensor(kernel, "v", v, { dtype: "f32", shape: k.shape });
  if (k.shape.length < 2 || k.shape[k.shape.length - 1] !== rowWidth) {
    throw new KernelArgumentError(
      kernel,
      "k",
      `must have last dimension numKvHeads·headDim = ${rowWidth}, got shape [${k.shape.join(", ")}]`,
    );
  }
  const need = L.batch * L.stride;
  if (exact ? k.size !== need : k.size < need) {
    throw new KernelArgumentError(
      kernel,
      "k",
      `must hold ${exact ? "exactly" : "at least"} batch·kvBatchStride = ${need} elements, got ${k.size} ` +
        `(shape [${k.shape.join(", ")}])`,
    );
  }
}

function params(L: Layout, splits: number, chunk: number): Record<string, number> {
  return {
    batch: L.batch,
    sq: L.sq,
    nh: L.nh,
    nkv: L.nkv,
    kv_stride: L.stride,
    kv_cap: L.cap,
    scale: L.scale,
    splits,
    chunk,
  };
}

/** Split-K count: enough workgroups to fill a large GPU, at least 256 keys per split. */
function autoSplits(L: Layout, tile: number): number {
  const base = Math.ceil((L.sq * L.group) / tile) * L.batch * L.nkv;
  if (base >= 256) return 1;
  return Math.max(1, Math.min(Math.ceil(512 / base), Math.floor(L.cap / 256)));
}

/**
 * Causal grouped-query attention forward (flash-attention style, online softmax, f32 accumulation).
 *
 * Query row i of sequence b sits at position `pastLen[b] + i` and attends keys j <= that position with
 * j < `kvLen[b]`; rows whose position is not below `kvLen[b]` are padding and output zeros. Keys and
 * values are read with `kvBatchStride`, so the same call serves a training batch [B·S, nKv·D] and a KV
 * cache [B, Smax, nKv·D] (decode: queryLen 1). Only `batch·kvBatchStride` elements of k/v are read, and
 * kvLen is clamped to the key rows per sequence.
 *
 * @param q f32 [B·Sq, nH·D] (after RoPE).
 * @param k f32 [..., nKv·D] with at least B·kvBatchStride elements.
 * @param v f32, same shape as k.
 * @param pastLen i32 [B]: position of each sequence's first query row.
 * @param kvLen i32 [B]: valid key rows of each sequence.
 */
export function attentionForward(
  gpu: Gpu,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  pastLen: Tensor,
  kvLen: Tensor,
  opts: AttentionOptions,
  out: { o?: Tensor; lse?: Tensor } = {},
): AttentionForwardResult {
  const kernel = FORWARD.name;
  const L = layout(kernel, opts);
  const rows = L.batch * L.sq;
  expectTensor(kernel, "q", q, { dtype: "f32", shape: [rows, L.nh * L.hd] });
  checkKv(kernel, L, k, v, false);
  expectTensor(kernel, "pastLen", pastLen, { dtype: "i32", shape: [L.batch] });
  expectTensor(kernel, "kvLen", kvLen, { dtype: "i32", shape: [L.batch] });
  const tile = pickTile(gpu, kernel, "forward", L.hd, opts.tileRows, L.sq * L.group);
  if (opts.splits !== undefined) expectInt(kernel, "splits", opts.splits, 1, 65_535);
  const wanted = opts.splits ?? autoSplits(L, tile);
  const chunk = Math.ceil(Math.ceil(L.cap / wanted) / tile) * tile;
  const splits = Math.ceil(L.cap / chunk);
  const o = out.o ?? gpu.empty([rows, L.nh * L.hd], "f32", "attention.forward.o");
  const lse = out.lse ?? gpu.empty([rows, L.nh], "f32", "attention.forward.lse");
  expectTensor(kernel, "o", o, { dtype: "f32", shape: [rows, L.nh * L.hd] });
  expectTensor(kernel, "lse", lse, { dtype: "f32", shape: [rows, L.nh] });

  const variant = { constants: { HD: L.hd, RT: tile / 8 } };
  const grid: [number, number, number] = [Math.ceil((L.sq * L.group) / tile), L.batch * L.nkv, splits];
  const pr = params(L, splits, chunk);
  if (splits === 1) {
    gpu.dispatch(FORWARD, {
      bindings: [q, k, v, pastLen, kvLen, o, lse],
      params: pr,
      workgroups: grid,
      variant,
    });
    return { o, lse };
  }
  const oPart = gpu.empty([splits, rows, L.nh * L.hd], "f32", "attention.forward.oPart");
  const lsePart = gpu.empty([splits, rows, L.nh], "f32", "attention.forward.lsePart");
  gpu.dispatch(FORWARD, {
    bindings: [q, k, v, pastLen, kvLen, oPart, lsePart],
    params: pr,
    workgroups: grid,
    variant,
  });
  gpu.dispatch(COMBINE, {
    bindings: [oPart, lsePart, o, lse],
    params: pr,
    workgroups: Math.ceil((rows * L.nh * L.hd) / 256),
    variant: { constants: { HD: L.hd } },
  });
  // The pool hands these out again only after the recorded work is submitted.
  oPart.release();
  lsePart.release();
  return { o, lse };
}

/**
 * Backward of {@link attentionForward}: dq, dk, dv from dO and the forward's o and lse. Deterministic (no
 * atomics): dk/dv are accumulated per key block over every query row and head of the kv group, dq per
 * query block over the keys. Padding rows get zero dq and contribute nothing. k and v must hold exactly
 * batch·kvBatchStride elements; dk/dv have their shape and are fully written.
 */
export function attentionBackward(
  gpu: Gpu,
  dO: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  lse: Tensor,
  pastLen: Tensor,
  kvLen: Tensor,
  opts: AttentionOptions,
  out: { dq?: Tensor; dk?: Tensor; dv?: Tensor } = {},
): AttentionBackwardResult {
  const kernel = "attention.backward";
  const L = layout(kernel, opts);
  const rows = L.batch * L.sq;
  const qShape = [rows, L.nh * L.hd];
  expectTensor(kernel, "dO", dO, { dtype: "f32", shape: qShape });
  expectTensor(kernel, "q", q, { dtype: "f32", shape: qShape });
  checkKv(kernel, L, k, v, true);
  expectTensor(kernel, "o", o, { dtype: "f32", shape: qShape });
  expectTensor(kernel, "lse", lse, { dtype: "f32", shape: [rows, L.nh] });
  expectTensor(kernel, "pastLen", pastLen, { dtype: "i32", shape: [L.batch] });
  expectTensor(kernel, "kvLen", kvLen, { dtype: "i32", shape: [L.batch] });
  const dkdvTile = pickTile(gpu, kernel, "dkdv", L.hd, opts.tileRows);
  const dqTile = pickTile(gpu, kernel, "dq", L.hd, opts.tileRows);
  const dq = out.dq ?? gpu.empty(qShape, "f32", "attention.backward.dq");
  const dk = out.dk ?? gpu.empty(k.shape, "f32", "attention.backward.dk");
  const dv = out.dv ?? gpu.empty(v.shape, "f32", "attention.backward.dv");
  expectTensor(kernel, "dq", dq, { dtype: "f32", shape: qShape });
  expectTensor(kernel, "dk", dk, { dtype: "f32", shape: k.shape });
  expectTensor(kernel, "dv", dv, { dtype: "f32", shape: v.shape });

  const pr = params(L, 1, L.cap);
  const delta = gpu.empty([rows, L.nh], "f32", "attention.backward.delta");
  gpu.dispatch(DELTA, {
    bindings: [dO, o, pastLen, kvLen, delta],
    params: pr,
    workgroups: Math.ceil((rows * L.nh) / 256),
    variant: { constants: { HD: L.hd } },
  });
  gpu.dispatch(DKDV, {
    bindings: [q, k, v, pastLen, kvLen, dO, lse, delta, dk, dv],
    params: pr,
    workgroups: [Math.ceil(L.cap / dkdvTile), L.batch * L.nkv],
    variant: { constants: { HD: L.hd, RT: dkdvTile / 8 } },
  });
  gpu.dispatch(DQ, {
    bindings: [q, k, v, pastLen, kvLen, dO, lse, delta, dq],
    params: pr,
    workgroups: [Math.ceil((L.sq * L.group) / dqTile), L.batch * L.nkv],
    variant: { constants: { HD: L.hd, RT: dqTile / 8 } },
  });
  delta.release();
  return { dq, dk, dv };
}

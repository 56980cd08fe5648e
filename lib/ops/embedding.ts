import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { WeightDType } from "../gpu/dtype.ts";

const FILE = "embedding.wgsl";
const FORWARD: KernelSpec = {
  name: "embedding.forward",
  file: FILE,
  entry: "embedding_forward",
  bindings: ["table", "ids", "out"],
};
const BACKWARD: KernelSpec = {
  name: "embedding.backward",
  file: FILE,
  entry: "embedding_backward",
  bindings: ["dy", "plan", "dTable"],
};

/**
 * Token positions grouped by id (CSR): the tokens of `uniqueIds[u]` are `order[offsets[u]..offsets[u+1])`,
 * ascending, and `uniqueIds` is ascending. Built on the host by {@link embeddingGradPlan}.
 */
export interface EmbeddingGradPlan {
  /** Distinct ids, ascending. */
  readonly uniqueIds: Int32Array;
  /** Start of each id's run in `order`, plus the total at the end (length `uniqueIds.length + 1`). */
  readonly offsets: Int32Array;
  /** Token positions sorted by id, ascending within each id (length: the number of tokens). */
  readonly order: Int32Array;
}

/**
 * Groups token positions by id for {@link embeddingBackward}. Throws when an id is negative or, with
 * `vocabSize`, not below it. Cost is O(T log T) on the host, once per batch of token ids.
 */
export function embeddingGradPlan(ids: Int32Array, vocabSize?: number): EmbeddingGradPlan {
  checkHostIds("embeddingGradPlan", ids, vocabSize);
  const order = Int32Array.from(ids.keys());
  // Stable sort by id: ties keep token order, which fixes the summation order on the GPU.
  order.sort((a, b) => ids[a] - ids[b] || a - b);
  const unique: number[] = [];
  const offsets: number[] = [];
  for (let k = 0; k < order.length; k++) {
    const id = ids[order[k]];
    if (k === 0 || id !== ids[order[k - 1]]) {
      unique.push(id);
      offsets.push(k);
    }
  }
  offsets.push(order.length);
  return { uniqueIds: Int32Array.from(unique), offsets: Int32Array.from(offsets), order };
}

/**
 * Where a table's rows sit in the full vocabulary when it is one row shard of a larger matrix (a
 * vocabulary too large for one storage binding): rows `first … first + V − 1` of a `total`-row matrix.
 */
export interface RowShardRange {
  /** Id of the shard's first row. */
  readonly first: number;
  /** Rows of the whole matrix. */
  readonly total: number;
}

/**
 * Embedding lookup: row `ids[t]` of `table` ([V, H], f32 or f16) for every token, as f32 [T, H].
 * With `shard`, `table` holds rows [first, first + V) of a larger matrix: only tokens whose id falls there
 * are written, so every shard writes into the same `out`.
 *
 * `ids` is an i32 tensor [T] or a host Int32Array (validated against V, then uploaded, which submits the
 * work recorded so far). Ids that only exist on the GPU (sampled tokens) cannot be checked here: the
 * kernel clamps them into [0, V), so an out-of-range id yields row 0 or row V-1 instead of reading
 * outside the table.
 */
export function embeddingForward(
  gpu: Gpu,
  table: Tensor,
  ids: Tensor | Int32Array,
  out?: Tensor,
  shard?: RowShardRange,
): Tensor {
  const k = FORWARD.name;
  expectTensor(k, "table", table, { dtype: ["f32", "f16", "bf16"], shape: [null, null] });
  const [vocab, cols] = table.shape;
  expectInt(k, "table.shape[0]", vocab, 1, 2 ** 31 - 1);
  const { first, total } = shardRange(k, vocab, shard);
  let idsT: Tensor;
  let owned = false;
  if (ids instanceof Int32Array) {
    checkHostIds(k, ids, total);
    idsT = gpu.fromArray(ids, [ids.length], "i32", "embedding.forward.ids");
    owned = true;
  } else {
    expectTensor(k, "ids", ids, { dtype: "i32", shape: [null] });
    idsT = ids;
  }
  const tokens = idsT.shape[0];
  const y = out ?? gpu.empty([tokens, cols], "f32", "embedding.forward.out");
  expectTensor(k, "out", y, { dtype: "f32", shape: [tokens, cols] });
  if (tokens > 0 && cols > 0) {
    gpu.dispatch(FORWARD, {
      bindings: [table, idsT, y],
      params: { tokens, cols, vocab, unique: 0, first, total },
      workgroups: tokens,
      variant: { weights: table.dtype as WeightDType },
    });
  }
  // The pool holds a released buffer back until the dispatch above is submitted.
  if (owned) idsT.release();
  return y;
}

/**
 * Embedding gradient: adds `Σ_{t: ids[t] = v} dy[t]` into row v of `dTable` ([V, H], f32) for every id v
 * present; other rows are not touched, so zero `dTable` first for a fresh gradient. Deterministic (fixed
 * summation order, no atomics). `ids` are the host copy of the forward's ids; pass `plan` to reuse a
 * grouping built once. Uploads the plan (one write, which submits recorded work first). With `shard`,
 * `dTable` holds rows [first, first + V) of a larger matrix and only those ids are accumulated.
 */
export function embeddingBackward(
  gpu: Gpu,
  dy: Tensor,
  ids: Int32Array,
  dTable: Tensor,
  plan?: EmbeddingGradPlan,
  shard?: RowShardRange,
): void {
  const k = BACKWARD.name;
  expectTensor(k, "dTable", dTable, { dtype: "f32", shape: [null, null] });
  const [vocab, cols] = dTable.shape;
  expectTensor(k, "dy", dy, { dtype: "f32", shape: [ids.length, cols] });
  const { first, total } = shardRange(k, vocab, shard);
  checkHostIds(k, ids, total);
  const g = plan ?? embeddingGradPlan(ids, total);
  checkPlan(k, g, ids);
  // The plan's ids are ascending: this shard's ids are one contiguous run of it.
  let [u0, u1] = [0, g.uniqueIds.length];
  while (u0 < u1 && g.uniqueIds[u0] < first) u0++;
  while (u1 > u0 && g.uniqueIds[u1 - 1] >= first + vocab) u1--;
  const unique = u1 - u0;
  if (unique === 0 || cols === 0) return;
  const packed = new Int32Array(2 * unique + 1 + ids.length);
  packed.set(g.uniqueIds.subarray(u0, u1).map((id) => id - first), 0);
  packed.set(g.offsets.subarray(u0, u1 + 1), unique);
  packed.set(g.order, 2 * unique + 1);
  const planT = gpu.fromArray(packed, [packed.length], "i32", "embedding.backward.plan");
  gpu.dispatch(BACKWARD, {
    bindings: [dy, planT, dTable],
    params: { tokens: ids.length, cols, vocab, unique, first, total },
    workgroups: unique,
    variant: { weights: "f32" },
  });
  planT.release();
}

function shardRange(kernel: string, vocab: number, shard?: RowShardRange): RowShardRange {
  if (!shard) return { first: 0, total: vocab };
  expectInt(kernel, "shard.total", shard.total, vocab, 2 ** 31 - 1);
  expectInt(kernel, "shard.first", shard.first, 0, shard.total - vocab);
  return shard;
}

function checkHostIds(kernel: string, ids: Int32Array, vocab?: number): void {
  if (!(ids instanceof Int32Array)) {
    throw new KernelArgumentError(kernel, "ids", "must be an Int32Array of token ids");
  }
  const max = vocab ?? 2 ** 31;
  for (let t = 0; t < ids.length; t++) {
    if (ids[t] < 0 || ids[t] >= max) {
      throw new KernelArgumentError(
        kernel,
        "ids",
        `must hold ids in [0, ${max - 1}], got ${ids[t]} at token ${t}`,
      );
    }
  }
}

function checkPlan(kernel: string, plan: EmbeddingGradPlan, ids: Int32Array): void {
  const { uniqueIds, offsets, order } = plan;
  const fail = (why: string) => {
    throw new KernelArgumentError(kernel, "plan", `${why}; build it with embeddingGradPlan(ids)`);
  };
  if (order.length !== ids.length) fail(`covers ${order.length} tokens, ids has ${ids.length}`);
  if (
    offsets.length !== uniqueIds.length + 1 || offsets[0] !== 0 || offsets[uniqueIds.length] !== ids.length
  ) {
    fail("has offsets that do not span the tokens");
  }
  // Distinct ids and each token exactly once: two workgroups on one row would race.
  const seen = new Uint8Array(ids.length);
  for (let u = 0; u < uniqueIds.length; u++) {
    if (u > 0 && uniqueIds[u] <= uniqueIds[u - 1]) fail(`has ids that are not strictly ascending at ${u}`);
    if (offsets[u + 1] < offsets[u]) fail(`has decreasing offsets at ${u}`);
    for (let j = offsets[u]; j < offsets[u + 1]; j++) {
      const t = order[j];
      if (!(t >= 0 && t < ids.length) || ids[t] !== uniqueIds[u] || seen[t]) {
        fail(`does not match ids: order[${j}] = ${t} is not a token of id ${uniqueIds[u]}`);
      }
      seen[t] = 1;
    }
  }
}

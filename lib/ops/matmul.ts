import type { Gpu } from "../gpu/device.ts";
import { expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec, KernelVariant } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { WeightDType } from "../gpu/dtype.ts";
import {
  chooseMatmulTiles,
  isLargeTiling,
  type MatmulTiles,
  matmulTuning,
  tilesProblem,
} from "./matmul_tiles.ts";

export { DEFAULT_MATMUL_TILES, type MatmulTiles, matmulTiles } from "./matmul_tiles.ts";

const FILE = "matmul.wgsl";
const WEIGHT_DTYPES: readonly WeightDType[] = ["f32", "f16", "bf16"];

/**
 * The pipeline variant for a B operand: its dtype for the weight loaders, and the element type of the
 * vec4 view, which only f32 and native f16 have (packed half-width B is read by the scalar entry points).
 */
function weightVariant(gpu: Gpu, b: Tensor): { weights: WeightDType; vec4: boolean; wt: string } {
  const weights = b.dtype as WeightDType;
  const vec4 = weights === "f32" || (weights === "f16" && gpu.features.f16);
  return { weights, vec4, wt: vec4 ? weights : "f32" };
}

const tiled = (entry: string): KernelSpec => ({
  name: "matmul",
  file: FILE,
  entry,
  bindings: ["a", "b", "bias", "out"],
});
/** Tiled entry points indexed [vec4 loads of A][vec4 loads of B]. */
const TILED: readonly (readonly KernelSpec[])[] = [
  [tiled("matmul_ss"), tiled("matmul_sv")],
  [tiled("matmul_vs"), tiled("matmul_vv")],
];
/** The double-buffered large-tile entry points, indexed like {@link TILED}. */
const TILED_LARGE: readonly (readonly KernelSpec[])[] = [
  [tiled("matmul_big_ss"), tiled("matmul_big_sv")],
  [tiled("matmul_big_vs"), tiled("matmul_big_vv")],
];
const NAIVE: KernelSpec = {
  name: "matmulNaive",
  file: FILE,
  entry: "matmul_naive",
  bindings: ["a", "b", "bias", "out"],
};
const BIAS_GRAD: KernelSpec = {
  name: "linearBackward.db",
  file: FILE,
  entry: "bias_grad",
  bindings: ["dy", "db"],
};

/** Options of {@link matmul}: C = alpha · op(A) · op(B) (+ bias) (+ beta · C). */
export interface MatmulOptions {
  /** A is stored [K, M] (op(A) = Aᵀ). */
  readonly transA?: boolean;
  /** B is stored [N, K] (op(B) = Bᵀ), as Hugging Face linear weights are. */
  readonly transB?: boolean;
  /** Scale of the product; default 1. */
  readonly alpha?: number;
  /** Scale of the existing contents of `out` added to the result; default 0 (out is not read). */
  readonly beta?: number;
  /** f32 [N], added to every row after scaling by alpha. */
  readonly bias?: Tensor;
  /** Destination f32 [M, N] or [batch, M, N]; allocated when omitted. */
  readonly out?: Tensor;
  /**
   * Workgroup tiling (benchmarks and tuning). When omitted, the tuning table's entry for the shape class,
   * else the fixed rule of `defaultMatmulTiles` (see lib/ops/matmul_tiles.ts).
   */
  readonly tiles?: MatmulTiles;
}

interface Plan {
  m: number;
  n: number;
  k: number;
  batch: number;
  strideA: number;
  strideB: number;
  outShape: number[];
  transA: boolean;
  transB: boolean;
}

/**
 * Checks the operands of C = op(A)·op(B) for `kernel`, naming them `names.a` / `names.b` in errors.
 * Rank-2 operands are broadcast across the batch of a rank-3 one.
 */
function plan(
  kernel: string,
  gpu: Gpu,
  a: Tensor,
  b: Tensor,
  opts: MatmulOptions,
  names: { a: string; b: string } = { a: "a", b: "b" },
): Plan {
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  expectTensor(kernel, names.a, a, { dtype: "f32" });
  expectTensor(kernel, names.b, b, { dtype: WEIGHT_DTYPES });
  for (const [name, t] of [[names.a, a], [names.b, b]] as const) {
    if (t.shape.length !== 2 && t.shape.length !== 3) {
      throw new KernelArgumentError(kernel, name, `must have rank 2 or 3, got shape [${t.shape.join(", ")}]`);
    }
    if (t.shape.some((d) => d < 1)) {
      throw new KernelArgumentError(kernel, name, `has an empty dimension: shape [${t.shape.join(", ")}]`);
    }
  }
  const [ra, ca] = a.shape.slice(-2);
  const [m, k] = transA ? [ca, ra] : [ra, ca];
  const batch = Math.max(a.shape.length === 3 ? a.shape[0] : 1, b.shape.length === 3 ? b.shape[0] : 1);
  const lead = b.shape.length === 3 ? [a.shape.length === 3 ? a.shape[0] : null] : [];
  // op(B) must be [K, N]: the K side of B is fixed by A, so a wrong transpose shows up here.
  expectTensor(kernel, names.b, b, { shape: [...lead, ...(transB ? [null, k] : [k, null])] });
  const [rb, cb] = b.shape.slice(-2);
  const n = transB ? rb : cb;
  const rank3 = a.shape.length === 3 || b.shape.length === 3;
  const outShape = rank3 ? [batch, m, n] : [m, n];
  if (batch > gpu.limits.maxComputeWorkgroupsPerDimension) {
    throw new KernelArgumentError(
      kernel,
      names.a,
      `has a batch of ${batch}, over maxComputeWorkgroupsPerDimension ${gpu.limits.maxComputeWorkgroupsPerDimension}`,
    );
  }
  if (opts.bias) expectTensor(kernel, "bias", opts.bias, { dtype: "f32", shape: [n] });
  if (opts.out) {
    expectTensor(kernel, "out", opts.out, { dtype: "f32", shape: outShape });
    for (const [name, t] of [[names.a, a], [names.b, b], ["bias", opts.bias]] as const) {
      // WebGPU forbids binding one buffer as writable storage next to any other use in a dispatch.
      if (t && t.buffer === opts.out.buffer) {
        throw new KernelArgumentError(
          kernel,
          "out",
          `shares its GPU buffer with "${name}"; use a separate tensor`,
        );
      }
    }
  }
  for (const key of ["alpha", "beta"] as const) {
    const v = opts[key];
    if (v !== undefined && !Number.isFinite(v)) {
      throw new KernelArgumentError(kernel, key, `must be a finite number, got ${v}`);
    }
  }
  if ((opts.beta ?? 0) !== 0 && !opts.out) {
    throw new KernelArgumentError(kernel, "beta", "is non-zero but no `out` was given to accumulate into");
  }
  return {
    m,
    n,
    k,
    batch,
    strideA: a.shape.length === 3 ? m * k : 0,
    strideB: b.shape.length === 3 ? k * n : 0,
    outShape,
    transA,
    transB,
  };
}

function checkTiles(kernel: string, gpu: Gpu, t: MatmulTiles): void {
  const problem = tilesProblem(t, gpu.limits);
  if (problem) throw new KernelArgumentError(kernel, "tiles", `${JSON.stringify(t)}: ${problem}`);
}

function params(pl: Plan, opts: MatmulOptions): Record<string, number> {
  return {
    m: pl.m,
    n: pl.n,
    k: pl.k,
    stride_a: pl.strideA,
    stride_b: pl.strideB,
    alpha: opts.alpha ?? 1,
    beta: opts.beta ?? 0,
    has_bias: opts.bias ? 1 : 0,
  };
}

/**
 * Records the tiled kernel for a checked plan, on the given tiles or those {@link chooseMatmulTiles}
 * picks from the adapter's tuning table (a lookup: nothing is timed or read back here).
 */
function recordTiled(gpu: Gpu, a: Tensor, b: Tensor, pl: Plan, opts: MatmulOptions, label: string): Tensor {
  const w = weightVariant(gpu, b);
  const shape = { m: pl.m, n: pl.n, k: pl.k, batch: pl.batch, transA: pl.transA, transB: pl.transB };
  const tiles = opts.tiles ??
    chooseMatmulTiles({ ...shape, weights: w.weights }, matmulTuning(gpu), gpu.limits).tiles;
  checkTiles("matmul", gpu, tiles);
  const large = isLargeTiling(tiles);
  const tm = tiles.tm ?? 4, tn = tiles.tn ?? 4;
  const out = opts.out ?? gpu.empty(pl.outShape, "f32", label);
  // vec4 loads need the stored contiguous dimension (and so every batch stride) to be a multiple of 4.
  const vecA = (pl.transA ? pl.m : pl.k) % 4 === 0 && a.byteOffset % 16 === 0 ? 1 : 0;
  const vecB = w.vec4 && (pl.transB ? pl.k : pl.n) % 4 === 0 && b.byteOffset % 16 === 0 ? 1 : 0;
  const variant: KernelVariant = {
    weights: w.weights,
    aliases: { WT: w.wt },
    constants: {
      WG_X: tiles.wgX,
      WG_Y: tiles.wgY,
      BK: tiles.bk,
      TRANS_A: pl.transA ? 1 : 0,
      TRANS_B: pl.transB ? 1 : 0,
      ...(large ? { TM4: tm / 4, TN4: tn / 4, BUFS: 2 } : {}),
    },
  };
  gpu.dispatch((large ? TILED_LARGE : TILED)[vecA][vecB], {
    // Without a bias the slot still needs a read-only buffer; A is one.
    bindings: [a, b, opts.bias ?? a, out],
    params: params(pl, opts),
    workgroups: [Math.ceil(pl.n / (tn * tiles.wgX)), Math.ceil(pl.m / (tm * tiles.wgY)), pl.batch],
    variant,
  });
  return out;
}

/**
 * General matrix product C = alpha · op(A) · op(B) (+ bias[N] on every row) (+ beta · C), recorded as one
 * tiled dispatch. A is f32 [M, K] (or [K, M] with `transA`); B is f32, f16 or bf16 [K, N] (or [N, K] with
 * `transB`); sums are f32 in increasing k, so results are deterministic.
 * Either operand may carry a leading batch dimension; a rank-2 operand is shared by every batch (e.g. one
 * weight for all heads). Returns `out` (f32 [M, N], or [batch, M, N] when batched).
 *
 * @example
 * ```ts
 * import { getDevice, matmul } from "../../mod.ts";
 * const gpu = await getDevice();
 * const a = gpu.fromArray([1, 2, 3, 4], [2, 2]);
 * console.log(await matmul(gpu, a, a, { transB: true }).read()); // [5, 11, 11, 25]
 * ```
 */
export function matmul(gpu: Gpu, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const pl = plan("matmul", gpu, a, b, opts);
  return recordTiled(gpu, a, b, pl, opts, "matmul.out");
}

/**
 * Benchmark baseline and test cross-check only: the same product as {@link matmul} with one thread per
 * output element and no tiling. Ignores `tiles`.
 */
export function matmulNaive(gpu: Gpu, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const pl = plan("matmulNaive", gpu, a, b, opts);
  const out = opts.out ?? gpu.empty(pl.outShape, "f32", "matmulNaive.out");
  gpu.dispatch(NAIVE, {
    bindings: [a, b, opts.bias ?? a, out],
    params: params(pl, opts),
    workgroups: [Math.ceil(pl.n / 16), Math.ceil(pl.m / 16), pl.batch],
    variant: {
      weights: weightVariant(gpu, b).weights,
      aliases: { WT: weightVariant(gpu, b).wt },
      constants: { TRANS_A: pl.transA ? 1 : 0, TRANS_B: pl.transB ? 1 : 0 },
    },
  });
  return out;
}

/**
 * Hugging Face Linear: y = x · wᵀ + bias, with x f32 [M, K], w [N, K] (f32, or f16 / bf16 for inference)
 * and bias f32 [N]. Returns `out` or a new f32 [M, N].
 *
 * @example
 * ```ts
 * import { getDevice, linear } from "../../mod.ts";
 * const gpu = await getDevice();
 * const x = gpu.fromArray([1, 2], [1, 2]);
 * const w = gpu.fromArray([1, 0, 1, 1, 0, 1], [3, 2]);
 * console.log(await linear(gpu, x, w, gpu.fromArray([0, 0, 10], [3])).read()); // [1, 3, 12]
 * ```
 */
export function linear(gpu: Gpu, x: Tensor, w: Tensor, bias?: Tensor, out?: Tensor): Tensor {
  expectTensor("linear", "x", x, { dtype: "f32", shape: [null, null] });
  expectTensor("linear", "w", w, { shape: [null, x.shape[1]] });
  const opts: MatmulOptions = { transB: true, bias, out };
  const pl = plan("linear", gpu, x, w, opts, { a: "x", b: "w" });
  return recordTiled(gpu, x, w, pl, opts, "linear.out");
}

/** What {@link linearBackward} computes and where. */
export interface LinearBackwardOptions {
  /** dX = dY · W into this f32 [M, K] tensor, a new one when `true` (default), skipped when `false`. */
  readonly dx?: Tensor | boolean;
  /** Add dY · W into the given `dx` instead of overwriting it (an input that feeds several layers). */
  readonly accumulateDx?: boolean;
  /** dW = dYᵀ · X into this f32 [N, K] tensor, a new one when `true` (default), skipped when `false`. */
  readonly dw?: Tensor | boolean;
  /** db = column sums of dY into this f32 [N] tensor, a new one when `true`, skipped when `false` (default). */
  readonly db?: Tensor | boolean;
  /** Add into the given `dw` and `db` instead of overwriting them (gradient accumulation over micro-batches). */
  readonly accumulate?: boolean;
}

/** Gradients produced by {@link linearBackward}; `null` for the ones that were skipped. */
export interface LinearGrads {
  /** f32 [M, K], or null. */
  readonly dx: Tensor | null;
  /** f32 [N, K], or null. */
  readonly dw: Tensor | null;
  /** f32 [N], or null. */
  readonly db: Tensor | null;
}

function destination(
  gpu: Gpu,
  d: Tensor | boolean,
  accumulate: boolean,
  name: string,
  shape: number[],
): Tensor | null {
  if (d === false) return null;
  if (d === true) {
    if (accumulate) {
      throw new KernelArgumentError("linearBackward", name, "must be a tensor to accumulate into");
    }
    return gpu.empty(shape, "f32", `linearBackward.${name}`);
  }
  expectTensor("linearBackward", name, d, { dtype: "f32", shape });
  return d;
}

/**
 * Backward of {@link linear} for y = x · wᵀ + b: dX = dY · W, dW (+)= dYᵀ · X, db (+)= Σ_rows dY. Every
 * reduction runs in a fixed order (no atomics), so gradients are bitwise reproducible. `w` may be f16 or
 * bf16 (for dX only); dY and X are f32.
 */
export function linearBackward(
  gpu: Gpu,
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  opts: LinearBackwardOptions = {},
): LinearGrads {
  expectTensor("linearBackward", "dy", dy, { dtype: "f32", shape: [null, null] });
  const [m, n] = dy.shape;
  expectTensor("linearBackward", "x", x, { dtype: "f32", shape: [m, null] });
  const k = x.shape[1];
  expectTensor("linearBackward", "w", w, {
    dtype: WEIGHT_DTYPES,
    shape: [n, k],
  });
  if (m < 1 || n < 1 || k < 1) {
    throw new KernelArgumentError("linearBackward", "dy", `has an empty dimension (M ${m}, N ${n}, K ${k})`);
  }
  const accumulate = opts.accumulate ?? false;
  const accumulateDx = opts.accumulateDx ?? false;
  const dx = destination(gpu, opts.dx ?? true, accumulateDx, "dx", [m, k]);
  const dw = destination(gpu, opts.dw ?? true, accumulate, "dw", [n, k]);
  const db = destination(gpu, opts.db ?? false, accumulate, "db", [n]);
  const inputs = [["dy", dy], ["x", x], ["w", w]] as const;
  for (const [name, d] of [["dx", dx], ["dw", dw], ["db", db]] as const) {
    for (const [iname, t] of inputs) {
      if (d && d.buffer === t.buffer) {
        throw new KernelArgumentError("linearBackward", name, `shares its GPU buffer with "${iname}"`);
      }
    }
  }
  if (dx) {
    const o: MatmulOptions = { out: dx, beta: accumulateDx ? 1 : 0 };
    recordTiled(gpu, dy, w, plan("linearBackward", gpu, dy, w, o, { a: "dy", b: "w" }), o, "");
  }
  if (dw) {
    const o: MatmulOptions = { out: dw, beta: accumulate ? 1 : 0, transA: true };
    recordTiled(gpu, dy, x, plan("linearBackward", gpu, dy, x, o, { a: "dy", b: "x" }), o, "");
  }
  if (db) {
    gpu.dispatch(BIAS_GRAD, {
      bindings: [dy, db],
      params: {
        m,
        n,
        k: 1,
        stride_a: 0,
        stride_b: 0,
        alpha: 1,
        beta: accumulate ? 1 : 0,
        has_bias: 0,
      },
      workgroups: Math.ceil(n / 64),
      variant: { weights: "f32", aliases: { WT: "f32" } },
    });
  }
  return { dx, dw, db };
}

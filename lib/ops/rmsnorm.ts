import type { Gpu } from "../gpu/device.ts";
import { expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec, KernelVariant } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "rmsnorm.wgsl";
/** Rows per partial column sum of dw: the kernel's `override ROWS_PER_BLOCK`, set from here. */
const ROWS_PER_BLOCK = 64;
const WG = 256;

const FORWARD: KernelSpec = {
  name: "rmsnorm.forward",
  file: FILE,
  entry: "rmsnorm_forward",
  bindings: ["x", "w", "y", "rstd"],
};
const BACKWARD_DX: KernelSpec = {
  name: "rmsnorm.backward_dx",
  file: FILE,
  entry: "rmsnorm_backward_dx",
  bindings: ["dy", "x", "w", "rstd", "dx"],
};
const BACKWARD_DW_PARTIAL: KernelSpec = {
  name: "rmsnorm.backward_dw_partial",
  file: FILE,
  entry: "rmsnorm_backward_dw_partial",
  bindings: ["dy", "x", "rstd", "partial"],
};
const BACKWARD_DW_REDUCE: KernelSpec = {
  name: "rmsnorm.backward_dw_reduce",
  file: FILE,
  entry: "rmsnorm_backward_dw_reduce",
  bindings: ["partial", "dw"],
};

/** Outputs of {@link rmsnormForward}. */
export interface RmsNormOutputs {
  /** Normalized and scaled rows, f32 [T, H]. */
  readonly y: Tensor;
  /** Per-row 1 / sqrt(mean(x²) + eps), f32 [T]; {@link rmsnormBackward} needs it. */
  readonly rstd: Tensor;
}

/**
 * RMSNorm of each row of `x` (f32 [T, H]) with weight `w` (f32 or f16 [H]):
 * `y = w * (x * rstd)`, `rstd = 1 / sqrt(mean(x²) + eps)`, in Hugging Face's f32 order of operations.
 * Pass `out.y` / `out.rstd` to reuse buffers (`out.y` must not be `x`: WebGPU forbids a buffer bound both
 * read-only and writable in one dispatch).
 */
export function rmsnormForward(
  gpu: Gpu,
  x: Tensor,
  w: Tensor,
  eps: number,
  out: { y?: Tensor; rstd?: Tensor } = {},
): RmsNormOutputs {
  const k = FORWARD.name;
  expectTensor(k, "x", x, { dtype: "f32", shape: [null, null] });
  const [rows, cols] = x.shape;
  expectTensor(k, "w", w, { dtype: ["f32", "f16"], shape: [cols] });
  checkEps(k, eps);
  const y = out.y ?? gpu.empty([rows, cols], "f32", "rmsnorm.forward.y");
  expectTensor(k, "y", y, { dtype: "f32", shape: [rows, cols] });
  const rstd = out.rstd ?? gpu.empty([rows], "f32", "rmsnorm.forward.rstd");
  expectTensor(k, "rstd", rstd, { dtype: "f32", shape: [rows] });
  notAliased(k, "y", y, x, w);
  notAliased(k, "rstd", rstd, x, w, y);
  if (rows > 0 && cols > 0) {
    gpu.dispatch(FORWARD, {
      bindings: [x, w, y, rstd],
      params: { rows, cols, eps, blocks: 0, accumulate: 0 },
      workgroups: rows,
      variant: variantFor(w),
    });
  }
  return { y, rstd };
}

/**
 * RMSNorm backward. Returns dx (f32 [T, H], into `opts.dx` when given) and, unless `dw` is null, writes
 * the weight gradient `Σ_rows dy * x̂` into `dw` (f32 [H]): added to its contents when
 * `opts.accumulate` (the default, for gradient accumulation over micro-batches), stored over them
 * otherwise. Deterministic: fixed-order two-pass column reduction, no atomics.
 */
export function rmsnormBackward(
  gpu: Gpu,
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  rstd: Tensor,
  dw: Tensor | null,
  opts: { accumulate?: boolean; dx?: Tensor } = {},
): Tensor {
  const k = "rmsnorm.backward";
  expectTensor(k, "x", x, { dtype: "f32", shape: [null, null] });
  const [rows, cols] = x.shape;
  expectTensor(k, "dy", dy, { dtype: "f32", shape: [rows, cols] });
  expectTensor(k, "w", w, { dtype: ["f32", "f16"], shape: [cols] });
  expectTensor(k, "rstd", rstd, { dtype: "f32", shape: [rows] });
  if (dw !== null) expectTensor(k, "dw", dw, { dtype: "f32", shape: [cols] });
  const dx = opts.dx ?? gpu.empty([rows, cols], "f32", "rmsnorm.backward.dx");
  expectTensor(k, "dx", dx, { dtype: "f32", shape: [rows, cols] });
  notAliased(k, "dx", dx, dy, x, w, rstd);
  if (dw !== null) notAliased(k, "dw", dw, dy, x, w, rstd, dx);
  if (cols === 0) return dx;
  const variant = variantFor(w);
  const blocks = Math.ceil(rows / ROWS_PER_BLOCK);
  const params = { rows, cols, eps: 0, blocks, accumulate: opts.accumulate === false ? 0 : 1 };
  if (rows > 0) {
    gpu.dispatch(BACKWARD_DX, { bindings: [dy, x, w, rstd, dx], params, workgroups: rows, variant });
  }
  if (dw !== null) {
    // With no rows the reduce pass still runs (zero blocks) so a non-accumulating dw becomes zeros.
    const partial = gpu.empty([Math.max(blocks, 1), cols], "f32", "rmsnorm.backward.partial");
    if (rows > 0) {
      gpu.dispatch(BACKWARD_DW_PARTIAL, {
        bindings: [dy, x, rstd, partial],
        params,
        workgroups: [Math.ceil(cols / WG), blocks],
        variant,
      });
    }
    gpu.dispatch(BACKWARD_DW_REDUCE, {
      bindings: [partial, dw],
      params,
      workgroups: Math.ceil(cols / WG),
      variant,
    });
    partial.release();
  }
  return dx;
}

/** Every rmsnorm pipeline gets ROWS_PER_BLOCK (the file's override has no default). */
function variantFor(w: Tensor): KernelVariant {
  return { aliases: { WT: w.dtype }, constants: { ROWS_PER_BLOCK } };
}

function checkEps(kernel: string, eps: number): void {
  if (!(Number.isFinite(eps) && eps >= 0)) {
    throw new KernelArgumentError(kernel, "eps", `must be a finite number >= 0, got ${eps}`);
  }
}

/** WebGPU rejects a dispatch that binds one buffer both writable and read-only; say which argument. */
function notAliased(kernel: string, name: string, out: Tensor, ...inputs: Tensor[]): void {
  if (inputs.some((t) => t.buffer === out.buffer)) {
    throw new KernelArgumentError(kernel, name, "must not share a buffer with another argument");
  }
}

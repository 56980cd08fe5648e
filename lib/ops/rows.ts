import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "rows.wgsl";
const GATHER: KernelSpec = {
  name: "gatherRows",
  file: FILE,
  entry: "gather_rows",
  bindings: ["src", "index", "dst"],
};
const SCATTER: KernelSpec = {
  name: "scatterAddRows",
  file: FILE,
  entry: "scatter_add_rows",
  bindings: ["src", "index", "dst"],
};
const POOL: KernelSpec = {
  name: "maskedMeanRows",
  file: FILE,
  entry: "masked_mean_rows",
  bindings: ["x", "mask", "pooled"],
};

/** `out[r, :] = src[index[r], :]` for src [N, W] and index i32 [R]; indices must lie in [0, N). */
export function gatherRows(gpu: Gpu, src: Tensor, index: Tensor, out?: Tensor): Tensor {
  expectTensor("gatherRows", "src", src, { dtype: "f32", shape: [null, null] });
  expectTensor("gatherRows", "index", index, { dtype: "i32", shape: [null] });
  const [rows, width] = [index.shape[0], src.shape[1]];
  const dst = out ?? gpu.empty([rows, width], "f32", "gatherRows.out");
  expectTensor("gatherRows", "out", dst, { dtype: "f32", shape: [rows, width] });
  if (rows > 0) {
    gpu.dispatch(GATHER, {
      bindings: [src, index, dst],
      params: { rows, width, seq_len: 0, batch: 0 },
      workgroups: [Math.ceil(width / 64), rows],
    });
  }
  return dst;
}

/**
 * `dst[index[r], :] += src[r, :]`: the backward of {@link gatherRows}. Indices must be unique (each
 * destination row is written by one workgroup), which keeps the result deterministic.
 */
export function scatterAddRows(gpu: Gpu, src: Tensor, index: Tensor, dst: Tensor): void {
  expectTensor("scatterAddRows", "src", src, { dtype: "f32", shape: [null, null] });
  expectTensor("scatterAddRows", "index", index, { dtype: "i32", shape: [src.shape[0]] });
  expectTensor("scatterAddRows", "dst", dst, { dtype: "f32", shape: [null, src.shape[1]] });
  const [rows, width] = src.shape;
  if (rows === 0) return;
  gpu.dispatch(SCATTER, {
    bindings: [src, index, dst],
    params: { rows, width, seq_len: 0, batch: 0 },
    workgroups: [Math.ceil(width / 64), rows],
  });
}

/**
 * Mean of the rows of each sequence weighted by `mask`: x [batch·seqLen, W], mask f32 [batch·seqLen] →
 * [batch, W]. A sequence whose mask sums to zero pools to zeros.
 */
export function maskedMeanRows(gpu: Gpu, x: Tensor, mask: Tensor, batch: number, out?: Tensor): Tensor {
  expectTensor("maskedMeanRows", "x", x, { dtype: "f32", shape: [null, null] });
  expectInt("maskedMeanRows", "batch", batch, 1);
  const [t, width] = x.shape;
  if (t % batch !== 0) {
    throw new RangeError(`maskedMeanRows: ${t} rows do not split into ${batch} sequences of equal length`);
  }
  expectTensor("maskedMeanRows", "mask", mask, { dtype: "f32", shape: [t] });
  const dst = out ?? gpu.empty([batch, width], "f32", "maskedMeanRows.out");
  expectTensor("maskedMeanRows", "out", dst, { dtype: "f32", shape: [batch, width] });
  gpu.dispatch(POOL, {
    bindings: [x, mask, dst],
    params: { rows: t, width, seq_len: t / batch, batch },
    workgroups: [Math.ceil(width / 64), batch],
  });
  return dst;
}

const COPY_COLUMNS: KernelSpec = {
  name: "copyColumns",
  file: FILE,
  entry: "copy_columns",
  bindings: ["src", "dst"],
};

/**
 * Copies `width` columns between row-major matrices with the same number of rows:
 * `dst[r, dstOffset + c] = src[r, srcOffset + c]`.
 */
export function copyColumns(
  gpu: Gpu,
  src: Tensor,
  srcOffset: number,
  dst: Tensor,
  dstOffset: number,
  width: number,
): void {
  const k = COPY_COLUMNS.name;
  expectTensor(k, "src", src, { dtype: "f32", shape: [null, null] });
  expectTensor(k, "dst", dst, { dtype: "f32", shape: [src.shape[0], null] });
  expectInt(k, "width", width, 0);
  expectInt(k, "srcOffset", srcOffset, 0, src.shape[1] - width);
  expectInt(k, "dstOffset", dstOffset, 0, dst.shape[1] - width);
  const rows = src.shape[0];
  if (rows === 0 || width === 0) return;
  gpu.dispatch(COPY_COLUMNS, {
    bindings: [src, dst],
    params: {
      rows,
      width,
      src_stride: src.shape[1],
      src_offset: srcOffset,
      dst_stride: dst.shape[1],
      dst_offset: dstOffset,
    },
    workgroups: [Math.ceil(width / 64), rows],
  });
}

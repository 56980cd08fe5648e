/**
 * Narrowing f32 tensors to bf16 / f16 on the GPU (the sampling copy of f32 master weights), one dispatch
 * per tensor, round to nearest even and bit-identical to the host encoders.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { expectTensor } from "../gpu/check.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "convert.wgsl";
const TO_BF16: KernelSpec = {
  name: "convert.f32_to_bf16",
  file: FILE,
  entry: "f32_to_bf16",
  bindings: ["src", "dst"],
};
const TO_F16: KernelSpec = { ...TO_BF16, name: "convert.f32_to_f16", entry: "f32_to_f16" };

/**
 * Records `dst = half(src)`: f32 `src` rounded to nearest even into the bf16 or f16 tensor `dst` of the same
 * shape (a new one, from the pool, when `dst` is omitted, with `dtype`). bf16 NaNs become 0x7fc0 (as torch
 * and `f32ToBf16Bits` do); f16 overflows to ±Inf like `Float16Array`. No readback.
 */
export function convertToHalf(
  gpu: Gpu,
  src: Tensor,
  dst: Tensor | "bf16" | "f16",
): Tensor {
  expectTensor("convertToHalf", "src", src, { dtype: "f32" });
  const out = typeof dst === "string" ? gpu.empty(src.shape, dst, `convert.${dst}`) : dst;
  expectTensor("convertToHalf", "dst", out, { dtype: ["bf16", "f16"], shape: src.shape });
  const words = Math.ceil(src.size / 2);
  if (words > 0) {
    gpu.dispatch(out.dtype === "bf16" ? TO_BF16 : TO_F16, {
      bindings: [src, out],
      params: { n: src.size },
      workgroups: Math.ceil(words / 256),
    });
  }
  return out;
}

import type { Gpu } from "../gpu/device.ts";
import { expectTensor } from "../gpu/check.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "elementwise.wgsl";
const ADD: KernelSpec = {
  name: "add",
  file: FILE,
  entry: "add",
  bindings: ["a", "b", "out"],
};
const AXPY: KernelSpec = {
  name: "axpy",
  file: FILE,
  entry: "axpy",
  bindings: ["x", "y"],
};
const SCALE: KernelSpec = {
  name: "scale",
  file: FILE,
  entry: "scale",
  bindings: ["v"],
};

const groups = (n: number) => Math.ceil(n / 256);

/**
 * Residual add: `a + b` into a new tensor (or `out`). Its backward is the identity for both inputs.
 */
export function add(gpu: Gpu, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  expectTensor("add", "a", a, { dtype: "f32" });
  expectTensor("add", "b", b, { dtype: "f32", shape: a.shape });
  const y = out ?? gpu.empty(a.shape, "f32", "add.out");
  expectTensor("add", "out", y, { dtype: "f32", shape: a.shape });
  gpu.dispatch(ADD, { bindings: [a, b, y], params: { n: a.size, alpha: 1 }, workgroups: groups(a.size) });
  return y;
}

/** In place `y += alpha * x` (gradient accumulation). */
export function axpy(gpu: Gpu, alpha: number, x: Tensor, y: Tensor): void {
  expectTensor("axpy", "x", x, { dtype: "f32" });
  expectTensor("axpy", "y", y, { dtype: "f32", shape: x.shape });
  gpu.dispatch(AXPY, { bindings: [x, y], params: { n: x.size, alpha }, workgroups: groups(x.size) });
}

/** In place `v *= alpha`. */
export function scale(gpu: Gpu, v: Tensor, alpha: number): void {
  expectTensor("scale", "v", v, { dtype: "f32" });
  gpu.dispatch(SCALE, { bindings: [v], params: { n: v.size, alpha }, workgroups: groups(v.size) });
}

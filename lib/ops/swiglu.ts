import type { Gpu } from "../gpu/device.ts";
import { expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "swiglu.wgsl";
const FORWARD: KernelSpec = {
  name: "swiglu.forward",
  file: FILE,
  entry: "swiglu_forward",
  bindings: ["gate", "up", "y"],
};
const BACKWARD: KernelSpec = {
  name: "swiglu.backward",
  file: FILE,
  entry: "swiglu_backward",
  bindings: ["dy", "gate", "up", "dgate", "dup"],
};
const BACKWARD_FUSED: KernelSpec = {
  name: "swiglu.backward_fused",
  file: FILE,
  entry: "swiglu_backward_fused",
  bindings: ["dy", "gate", "up", "dGateUp"],
};

const groups = (n: number) => Math.ceil(n / 256);

/** `silu(gate) * up` elementwise for separate f32 [T, I] tensors (HF's gate_proj and up_proj outputs). */
export function swigluForward(gpu: Gpu, gate: Tensor, up: Tensor, out?: Tensor): Tensor {
  const k = FORWARD.name;
  expectTensor(k, "gate", gate, { dtype: "f32", shape: [null, null] });
  expectTensor(k, "up", up, { dtype: "f32", shape: gate.shape });
  const [rows, cols] = gate.shape;
  return forward(gpu, gate, up, rows, cols, { g_stride: cols, g_off: 0, u_stride: cols, u_off: 0 }, out);
}

/**
 * `silu(gate) * up` where `gateUp` (f32 [T, 2I]) holds gate in columns [0, I) and up in [I, 2I) of each
 * row: the output of one projection whose weight is gate_proj stacked over up_proj. Returns f32 [T, I].
 */
export function swigluForwardFused(gpu: Gpu, gateUp: Tensor, out?: Tensor): Tensor {
  const [rows, cols] = fusedShape(FORWARD.name, gateUp);
  const strides = { g_stride: 2 * cols, g_off: 0, u_stride: 2 * cols, u_off: cols };
  return forward(gpu, gateUp, gateUp, rows, cols, strides, out);
}

/** Gradients of {@link swigluForward}: `dgate = dy·up·silu'(gate)`, `dup = dy·silu(gate)`, f32 [T, I]. */
export function swigluBackward(
  gpu: Gpu,
  dy: Tensor,
  gate: Tensor,
  up: Tensor,
  out: { dgate?: Tensor; dup?: Tensor } = {},
): { dgate: Tensor; dup: Tensor } {
  const k = BACKWARD.name;
  expectTensor(k, "gate", gate, { dtype: "f32", shape: [null, null] });
  expectTensor(k, "up", up, { dtype: "f32", shape: gate.shape });
  expectTensor(k, "dy", dy, { dtype: "f32", shape: gate.shape });
  const [rows, cols] = gate.shape;
  const dgate = out.dgate ?? gpu.empty(gate.shape, "f32", "swiglu.backward.dgate");
  const dup = out.dup ?? gpu.empty(gate.shape, "f32", "swiglu.backward.dup");
  expectTensor(k, "dgate", dgate, { dtype: "f32", shape: gate.shape });
  expectTensor(k, "dup", dup, { dtype: "f32", shape: gate.shape });
  notAliased(k, "dgate", dgate, dy, gate, up, dup);
  notAliased(k, "dup", dup, dy, gate, up);
  const n = rows * cols;
  if (n > 0) {
    gpu.dispatch(BACKWARD, {
      bindings: [dy, gate, up, dgate, dup],
      params: { n, cols, g_stride: cols, g_off: 0, u_stride: cols, u_off: 0 },
      workgroups: groups(n),
    });
  }
  return { dgate, dup };
}

/** Gradient of {@link swigluForwardFused} in the input's layout: f32 [T, 2I], dgate then dup per row. */
export function swigluBackwardFused(gpu: Gpu, dy: Tensor, gateUp: Tensor, out?: Tensor): Tensor {
  const k = BACKWARD_FUSED.name;
  const [rows, cols] = fusedShape(k, gateUp);
  expectTensor(k, "dy", dy, { dtype: "f32", shape: [rows, cols] });
  const d = out ?? gpu.empty(gateUp.shape, "f32", "swiglu.backward_fused.dGateUp");
  expectTensor(k, "dGateUp", d, { dtype: "f32", shape: gateUp.shape });
  notAliased(k, "dGateUp", d, dy, gateUp);
  const n = rows * cols;
  if (n > 0) {
    gpu.dispatch(BACKWARD_FUSED, {
      bindings: [dy, gateUp, gateUp, d],
      params: { n, cols, g_stride: 2 * cols, g_off: 0, u_stride: 2 * cols, u_off: cols },
      workgroups: groups(n),
    });
  }
  return d;
}

function forward(
  gpu: Gpu,
  gate: Tensor,
  up: Tensor,
  rows: number,
  cols: number,
  strides: { g_stride: number; g_off: number; u_stride: number; u_off: number },
  out?: Tensor,
): Tensor {
  const y = out ?? gpu.empty([rows, cols], "f32", "swiglu.forward.y");
  expectTensor(FORWARD.name, "y", y, { dtype: "f32", shape: [rows, cols] });
  notAliased(FORWARD.name, "y", y, gate, up);
  const n = rows * cols;
  if (n > 0) {
    gpu.dispatch(FORWARD, {
      bindings: [gate, up, y],
      params: { n, cols, ...strides },
      workgroups: groups(n),
    });
  }
  return y;
}

function fusedShape(kernel: string, gateUp: Tensor): [number, number] {
  expectTensor(kernel, "gateUp", gateUp, { dtype: "f32", shape: [null, null] });
  const [rows, width] = gateUp.shape;
  if (width % 2 !== 0) {
    throw new KernelArgumentError(kernel, "gateUp", `must have an even width (gate then up), got ${width}`);
  }
  return [rows, width / 2];
}

/** WebGPU rejects a dispatch that binds one buffer both writable and read-only; say which argument. */
function notAliased(kernel: string, name: string, out: Tensor, ...inputs: Tensor[]): void {
  if (inputs.some((t) => t.buffer === out.buffer)) {
    throw new KernelArgumentError(kernel, name, "must not share a buffer with another argument");
  }
}

/**
 * A LoRA adapter on a linear layer (PEFT's `lora.Linear`): y = x · Wᵀ + s · (x · Aᵀ) · Bᵀ with the base
 * weight W [out, in] frozen at any width, A f32 [r, in], B f32 [out, r] and s = alpha / r (alpha / √r with
 * rsLoRA). Forward and backward are matmuls through the rank-r bottleneck (never the [out, in] product B·A,
 * which would cost as much as W); {@link loraMerge} forms W + s·B·A once, for sampling copies and merged
 * checkpoints.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { WeightDType } from "../gpu/dtype.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { convertToHalf } from "./convert.ts";
import { linear, matmul } from "./matmul.ts";

const MERGE: KernelSpec = {
  name: "loraMerge",
  file: "lora.wgsl",
  entry: "lora_merge",
  bindings: ["w", "a", "b", "out"],
};

/** The adapter of one linear layer: its two factors and their scale. */
export interface LoraFactors {
  /** f32 [r, in]: the down projection (PEFT's `lora_A`). */
  readonly a: Tensor;
  /** f32 [out, r]: the up projection (PEFT's `lora_B`). */
  readonly b: Tensor;
  /** s: lora_alpha / r, or lora_alpha / √r with rsLoRA. */
  readonly scale: number;
}

/** Checks the factors against each other and, when given, against the layer's input and output widths. */
function checkFactors(kernel: string, f: LoraFactors, inFeatures?: number, outFeatures?: number): void {
  expectTensor(kernel, "a", f.a, { dtype: "f32", shape: [null, inFeatures ?? null] });
  expectTensor(kernel, "b", f.b, { dtype: "f32", shape: [outFeatures ?? null, f.a.shape[0]] });
  if (!Number.isFinite(f.scale)) {
    throw new KernelArgumentError(kernel, "scale", `must be a finite number, got ${f.scale}`);
  }
}

/**
 * Records y += s · (x · Aᵀ) · Bᵀ into `y` (f32 [T, out], holding the base layer's x · Wᵀ + bias), for x
 * f32 [T, in]: two matmuls through a [T, r] intermediate.
 */
export function loraForward(gpu: Gpu, x: Tensor, f: LoraFactors, y: Tensor): void {
  expectTensor("loraForward", "x", x, { dtype: "f32", shape: [null, null] });
  checkFactors("loraForward", f, x.shape[1]);
  expectTensor("loraForward", "y", y, { dtype: "f32", shape: [x.shape[0], f.b.shape[0]] });
  const xa = linear(gpu, x, f.a);
  matmul(gpu, xa, f.b, { transB: true, alpha: f.scale, beta: 1, out: y });
  xa.release();
}

/** Where {@link loraBackward} adds its gradients (each f32, added to what it holds). */
export interface LoraGradients {
  /** dL/dx [T, in], holding the base layer's dY · W already. */
  readonly dx: Tensor;
  /** dL/dA [r, in]. */
  readonly da: Tensor;
  /** dL/dB [out, r]. */
  readonly db: Tensor;
}

/**
 * Backward of {@link loraForward} from dL/dy `dy` (f32 [T, out]) at input `x`: with u = x · Aᵀ,
 * dB += s · dyᵀ · u, du = s · dy · B, dA += duᵀ · x, dx += du · A. The base layer's own dx (dY · W) is the
 * caller's (linearBackward); its dW is never formed, the base being frozen. u is recomputed (T · r values,
 * a [T, in] × [in, r] product) rather than kept from the forward.
 */
export function loraBackward(gpu: Gpu, dy: Tensor, x: Tensor, f: LoraFactors, grads: LoraGradients): void {
  const k = "loraBackward";
  expectTensor(k, "x", x, { dtype: "f32", shape: [null, null] });
  const [t, inF] = x.shape;
  expectTensor(k, "dy", dy, { dtype: "f32", shape: [t, null] });
  checkFactors(k, f, inF, dy.shape[1]);
  expectTensor(k, "dx", grads.dx, { dtype: "f32", shape: x.shape });
  expectTensor(k, "da", grads.da, { dtype: "f32", shape: f.a.shape });
  expectTensor(k, "db", grads.db, { dtype: "f32", shape: f.b.shape });
  const u = linear(gpu, x, f.a);
  matmul(gpu, dy, u, { transA: true, alpha: f.scale, beta: 1, out: grads.db });
  const du = matmul(gpu, dy, f.b, { alpha: f.scale });
  u.release();
  matmul(gpu, du, x, { transA: true, beta: 1, out: grads.da });
  matmul(gpu, du, f.a, { beta: 1, out: grads.dx });
  du.release();
}

/**
 * Records out = W + s · B · A for a base weight `w` [out, in] (f32, f16 or bf16) and its adapter. `out` is
 * a tensor of w's shape: f32, or bf16 / f16, which receives the f32 sum rounded once to nearest even (the
 * merged sampling copy of a LoRA policy; a merged checkpoint). A new f32 tensor when omitted.
 */
export function loraMerge(gpu: Gpu, w: Tensor, f: LoraFactors, out?: Tensor): Tensor {
  const k = MERGE.name;
  expectTensor(k, "w", w, { dtype: ["f32", "f16", "bf16"], shape: [null, null] });
  const [rows, cols] = w.shape;
  checkFactors(k, f, cols, rows);
  if (out) {
    expectTensor(k, "out", out, { dtype: ["f32", "f16", "bf16"], shape: w.shape });
    if (out.buffer === w.buffer) {
      throw new KernelArgumentError(k, "out", `shares its GPU buffer with "w"; merge into a separate tensor`);
    }
  }
  if (rows * cols > 0xffffffff) {
    throw new KernelArgumentError(k, "w", `has ${rows * cols} elements, more than a u32 index reaches`);
  }
  const sum = out?.dtype === "f32" ? out : gpu.empty(w.shape, "f32", "loraMerge.out");
  gpu.dispatch(MERGE, {
    bindings: [w, f.a, f.b, sum],
    params: { rows, cols, rank: f.a.shape[0], scale: f.scale },
    workgroups: Math.ceil((rows * cols) / 256),
    variant: { weights: w.dtype as WeightDType },
  });
  if (!out || out === sum) return sum;
  convertToHalf(gpu, sum, out);
  sum.release();
  return out;
}

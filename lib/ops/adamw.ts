import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "adamw.wgsl";
const PARTIAL: KernelSpec = {
  name: "adamw.grad_norm",
  file: FILE,
  entry: "grad_norm_partial",
  bindings: ["grads", "partials"],
};
const FINALIZE: KernelSpec = {
  name: "adamw.grad_norm",
  file: FILE,
  entry: "grad_norm_finalize",
  bindings: ["partials", "norm", "clip"],
};
const UPDATE: KernelSpec = {
  name: "adamw.update",
  file: FILE,
  entry: "update",
  bindings: ["param", "grad", "m", "v", "clip"],
};

/** Elements per partial sum of the gradient norm: the kernels' `override CHUNK`, set from here. */
const CHUNK = 4096;
/** Every adamw pipeline gets CHUNK (the file's override has no default). */
const VARIANT = { constants: { CHUNK } };

/**
 * Splits a tensor into flat views no larger than the device's storage binding limit (big embeddings
 * exceed it on some adapters); the split points are multiples of 1024 elements, which keeps every view
 * on the storage offset alignment.
 */
function pieces(gpu: Gpu, kernel: string, name: string, t: Tensor): Tensor[] {
  if (t.isReleased) throw new KernelArgumentError(kernel, name, "was released before use");
  const limit = Math.floor(gpu.limits.maxStorageBufferBindingSize / 4 / 1024) * 1024;
  if (t.size <= limit) return [t.reshape([t.size])];
  const out: Tensor[] = [];
  for (let at = 0; at < t.size; at += limit) out.push(t.view([Math.min(limit, t.size - at)], at));
  return out;
}

/** The global gradient norm and the clip factor, each an `f32[1]` tensor that stays on the GPU. */
export interface GradNorm {
  /** ‖g‖₂ over every gradient, before clipping. */
  readonly norm: Tensor;
  /**
   * min(1, maxNorm / (norm + 1e-6)), or 1 when clipping is off; −1 when the norm is not finite, the flag
   * on which {@link adamwUpdate} leaves everything unchanged.
   */
  readonly clip: Tensor;
}

/**
 * Records the global L2 norm of `grads` and torch's clip factor for `maxNorm` (≤ 0 or Infinity: no
 * clipping). Per-tensor partial sums of squares go into a scratch buffer, then one workgroup adds them
 * in a fixed order, so the result is bitwise reproducible. Nothing is read back.
 */
export function gradNorm(
  gpu: Gpu,
  grads: readonly Tensor[],
  maxNorm: number,
  out: Partial<GradNorm> = {},
): GradNorm {
  const kernel = PARTIAL.name;
  grads.forEach((g, i) => expectTensor(kernel, `grads[${i}]`, g, { dtype: "f32" }));
  if (typeof maxNorm !== "number" || Number.isNaN(maxNorm)) {
    throw new KernelArgumentError(
      kernel,
      "maxNorm",
      `must be a number (<= 0 or Infinity for no clipping), got ${maxNorm}`,
    );
  }
  const norm = out.norm ?? gpu.empty([1], "f32", `${kernel}.norm`);
  const clip = out.clip ?? gpu.empty([1], "f32", `${kernel}.clip`);
  expectTensor(kernel, "norm", norm, { dtype: "f32", shape: [1] });
  expectTensor(kernel, "clip", clip, { dtype: "f32", shape: [1] });
  const views = grads.flatMap((g, i) => pieces(gpu, kernel, `grads[${i}]`, g)).filter((v) => v.size > 0);
  const counts = views.map((v) => Math.ceil(v.size / CHUNK));
  const total = counts.reduce((a, b) => a + b, 0);
  const partials = gpu.empty([Math.max(1, total)], "f32", `${kernel}.partials`);
  let first = 0;
  views.forEach((v, i) => {
    gpu.dispatch(PARTIAL, {
      bindings: [v, partials],
      params: { n: v.size, first },
      workgroups: counts[i],
      variant: VARIANT,
    });
    first += counts[i];
  });
  const clipping = Number.isFinite(maxNorm) && maxNorm > 0;
  gpu.dispatch(FINALIZE, {
    bindings: [partials, norm, clip],
    params: { count: total, max_norm: clipping ? maxNorm : 0 },
    workgroups: 1,
    variant: VARIANT,
  });
  partials.release();
  return { norm, clip };
}

/** Hyperparameters of one AdamW update (torch.optim.AdamW's names, camel-cased). */
export interface AdamWHyper {
  /** Learning rate. */
  readonly lr: number;
  /** First-moment decay β1. */
  readonly beta1: number;
  /** Second-moment decay β2. */
  readonly beta2: number;
  /** Added to sqrt(v̂) in the denominator. */
  readonly eps: number;
  /** Decoupled weight decay: p ← p·(1 − lr·weightDecay) before the Adam step. */
  readonly weightDecay: number;
  /** 1-based step number t for the bias corrections 1 − β^t. */
  readonly step: number;
}

function checkHyper(kernel: string, h: AdamWHyper): void {
  const bad = (name: string, ok: boolean, want: string, value: number) => {
    if (!ok) throw new KernelArgumentError(kernel, name, `must be ${want}, got ${value}`);
  };
  bad("lr", Number.isFinite(h.lr) && h.lr >= 0, "a finite number >= 0", h.lr);
  bad("beta1", h.beta1 >= 0 && h.beta1 < 1, "in [0, 1)", h.beta1);
  bad("beta2", h.beta2 >= 0 && h.beta2 < 1, "in [0, 1)", h.beta2);
  bad("eps", Number.isFinite(h.eps) && h.eps > 0, "a finite number > 0", h.eps);
  bad(
    "weightDecay",
    Number.isFinite(h.weightDecay) && h.weightDecay >= 0,
    "a finite number >= 0",
    h.weightDecay,
  );
  expectInt(kernel, "step", h.step, 1);
}

/**
 * Records one AdamW update of `param` in place, with its moments `m` and `v` (all f32 of one size), from
 * `grad` scaled by `clip[0]` (an `f32[1]` from {@link gradNorm}; a negative or non-finite value skips the
 * update, moments included):
 * p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * p ← p − lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps).
 */
export function adamwUpdate(
  gpu: Gpu,
  param: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  clip: Tensor,
  hyper: AdamWHyper,
): void {
  const kernel = UPDATE.name;
  expectTensor(kernel, "param", param, { dtype: "f32" });
  for (const [name, t] of [["grad", grad], ["m", m], ["v", v]] as const) {
    expectTensor(kernel, name, t, { dtype: "f32" });
    if (t.size !== param.size) {
      throw new KernelArgumentError(
        kernel,
        name,
        `must have ${param.size} elements like param, got ${t.size}`,
      );
    }
  }
  expectTensor(kernel, "clip", clip, { dtype: "f32", shape: [1] });
  checkHyper(kernel, hyper);
  const { lr, beta1, beta2, eps, weightDecay, step } = hyper;
  // Scalars in float64 on the host, each rounded once to f32, as torch does with Python floats.
  const params = {
    decay: 1 - lr * weightDecay,
    beta1,
    one_minus_beta1: 1 - beta1,
    beta2,
    one_minus_beta2: 1 - beta2,
    step_size: lr / (1 - beta1 ** step),
    bc2_sqrt: Math.sqrt(1 - beta2 ** step),
    eps,
  };
  const [ps, gs, ms, vs] = ([["param", param], ["grad", grad], ["m", m], ["v", v]] as const).map((
    [name, t],
  ) => pieces(gpu, kernel, name, t));
  ps.forEach((p, i) => {
    if (p.size === 0) return;
    gpu.dispatch(UPDATE, {
      bindings: [p, gs[i], ms[i], vs[i], clip],
      params: { n: p.size, ...params },
      workgroups: Math.ceil(p.size / 256),
      variant: VARIANT,
    });
  });
}

/** Options of {@link AdamW}; defaults are torch.optim.AdamW's. */
export interface AdamWOptions {
  /** Learning rate used when {@link AdamW.step} gets none. Default 1e-3. */
  readonly lr?: number;
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.999. */
  readonly beta2?: number;
  /** Default 1e-8. */
  readonly eps?: number;
  /** One value for all tensors, or one per tensor (e.g. 0 for norms and biases). Default 0.01. */
  readonly weightDecay?: number | readonly number[];
  /** Global gradient-norm clipping threshold; ≤ 0 or Infinity disables clipping. Default Infinity. */
  readonly maxGradNorm?: number;
}

/**
 * AdamW state for a fixed list of f32 parameter tensors: zero-initialised moments, the step count, and
 * the last step's gradient norm and clip factor as GPU tensors (read them back with the step's other
 * scalars). Schedules belong to the caller, which passes the learning rate per step.
 *
 * @example
 * ```ts
 * const opt = new AdamW(gpu, weights, { lr: 1e-6, weightDecay: 0.01, maxGradNorm: 1 });
 * opt.step(grads, scheduleLr(step));
 * const [norm] = await opt.gradNorm.read();
 * ```
 */
export class AdamW {
  /** First moments, one per parameter. */
  readonly m: Tensor[];
  /** Second moments, one per parameter. */
  readonly v: Tensor[];
  /** Gradient norm of the latest step (before clipping), `f32[1]`. */
  readonly gradNorm: Tensor;
  /** Clip factor applied in the latest step, `f32[1]`. */
  readonly clipCoef: Tensor;
  /** Steps taken so far; set it when resuming from a checkpoint. */
  stepCount = 0;
  private readonly weightDecay: readonly number[];

  /** Allocates zeroed moments for `params` (recorded, not submitted). */
  constructor(
    private readonly gpu: Gpu,
    readonly params: readonly Tensor[],
    readonly options: AdamWOptions = {},
  ) {
    params.forEach((p, i) => {
      if (p.dtype === "bf16" || p.dtype === "f16") {
        throw new KernelArgumentError(
          UPDATE.name,
          `params[${i}]`,
          `is ${p.dtype}: AdamW updates f32 master weights; load the model with loadModel(dir, { weights: "f32" })`,
        );
      }
      expectTensor(UPDATE.name, `params[${i}]`, p, { dtype: "f32" });
    });
    const wd = options.weightDecay ?? 0.01;
    if (typeof wd !== "number" && wd.length !== params.length) {
      throw new KernelArgumentError(
        UPDATE.name,
        "weightDecay",
        `has ${wd.length} entries for ${params.length} parameters`,
      );
    }
    this.weightDecay = typeof wd === "number" ? params.map(() => wd) : [...wd];
    this.m = params.map((p) => gpu.zeros(p.shape, "f32", "adamw.m"));
    this.v = params.map((p) => gpu.zeros(p.shape, "f32", "adamw.v"));
    this.gradNorm = gpu.zeros([1], "f32", "adamw.grad_norm");
    this.clipCoef = gpu.zeros([1], "f32", "adamw.clip");
  }

  /** Records one step: global norm, clip factor, and the update of every parameter. */
  step(grads: readonly Tensor[], lr: number = this.options.lr ?? 1e-3): void {
    this.clipGradients(grads);
    this.update(grads, lr);
  }

  /**
   * Records the first half of {@link step}: the global norm into {@link gradNorm} and the clip factor
   * into {@link clipCoef}, which a caller may still set to −1 (skip) before {@link update}.
   */
  clipGradients(grads: readonly Tensor[]): void {
    this.checkGrads(grads);
    gradNorm(this.gpu, grads, this.options.maxGradNorm ?? Infinity, {
      norm: this.gradNorm,
      clip: this.clipCoef,
    });
  }

  /** Records the second half of {@link step}: the update of every parameter with {@link clipCoef}. */
  update(grads: readonly Tensor[], lr: number = this.options.lr ?? 1e-3): void {
    this.checkGrads(grads);
    const step = this.stepCount + 1;
    this.params.forEach((p, i) => {
      adamwUpdate(this.gpu, p, grads[i], this.m[i], this.v[i], this.clipCoef, {
        lr,
        beta1: this.options.beta1 ?? 0.9,
        beta2: this.options.beta2 ?? 0.999,
        eps: this.options.eps ?? 1e-8,
        weightDecay: this.weightDecay[i],
        step,
      });
    });
    this.stepCount = step;
  }

  /** Refuses gradients that do not match the parameters one to one. */
  private checkGrads(grads: readonly Tensor[]): void {
    if (grads.length !== this.params.length) {
      throw new KernelArgumentError(
        UPDATE.name,
        "grads",
        `has ${grads.length} tensors for ${this.params.length}`,
      );
    }
  }

  /** Frees the moments and the norm buffers. */
  release(): void {
    for (const t of [...this.m, ...this.v, this.gradNorm, this.clipCoef]) t.release();
  }
}

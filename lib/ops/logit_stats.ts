import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "logit_stats.wgsl";
const FORWARD: KernelSpec = {
  name: "logit_stats.forward",
  file: FILE,
  entry: "forward",
  bindings: ["logits", "targets", "stats"],
};
const BACKWARD_INPLACE: KernelSpec = {
  name: "logit_stats.backward",
  file: FILE,
  entry: "backward_inplace",
  bindings: ["logits", "targets", "weights"],
};
const BACKWARD: KernelSpec = {
  name: "logit_stats.backward",
  file: FILE,
  entry: "backward",
  bindings: ["logits", "targets", "weights", "out"],
};

/**
 * Column indices of the `[R, 6]` tensor {@link logitStats} returns, for z = logits / T:
 * `logsumexp` = log Σ exp z; `meanLogit` = mean of z; `entropy` = lse − Σ softmax(z)·z;
 * `top2Gap` = p(top-1) − p(top-2) (0 when the top is tied, 1 when V = 1); `targetLogprob` =
 * z[target] − lse (0 for targets outside [0, V)); `argmax` = lowest index of the maximum, as an exact
 * f32. Self-certainty is KL(U‖p) = logsumexp − meanLogit − log V.
 */
export const LOGIT_STAT = {
  logsumexp: 0,
  meanLogit: 1,
  entropy: 2,
  top2Gap: 3,
  targetLogprob: 4,
  argmax: 5,
} as const;

/** Number of columns of the statistics tensor. */
export const LOGIT_STAT_COUNT = 6;

// The argmax travels as f32, exact only below 2^24.
const MAX_VOCAB = 2 ** 24;

// Threads per row: 256 once the row gives each thread several logits, down to 16 for tiny vocabularies.
function variantFor(vocab: number) {
  return { constants: { WG: Math.min(256, Math.max(16, 2 ** Math.ceil(Math.log2(Math.ceil(vocab / 8))))) } };
}

function checkTemperature(kernel: string, temperature: number): void {
  if (!(typeof temperature === "number" && Number.isFinite(temperature) && temperature > 0)) {
    throw new KernelArgumentError(kernel, "temperature", `must be a finite number > 0, got ${temperature}`);
  }
}

function checkLogits(kernel: string, logits: Tensor): [number, number] {
  expectTensor(kernel, "logits", logits, { dtype: "f32", shape: [null, null] });
  const [rows, vocab] = logits.shape;
  expectInt(kernel, "logits.shape[1] (vocabulary)", vocab, 1, MAX_VOCAB);
  return [rows, vocab];
}

/**
 * Per-row statistics of `logits / temperature` (see {@link LOGIT_STAT} for the columns) into a new
 * `f32[R, 6]` tensor or `out`. `targets` is `i32[R]`; rows whose target is outside [0, V) still get
 * every other statistic.
 */
export function logitStats(
  gpu: Gpu,
  logits: Tensor,
  targets: Tensor,
  temperature = 1,
  out?: Tensor,
): Tensor {
  const kernel = FORWARD.name;
  const [rows, vocab] = checkLogits(kernel, logits);
  expectTensor(kernel, "targets", targets, { dtype: "i32", shape: [rows] });
  checkTemperature(kernel, temperature);
  const stats = out ?? gpu.empty([rows, LOGIT_STAT_COUNT], "f32", `${kernel}.stats`);
  expectTensor(kernel, "out", stats, { dtype: "f32", shape: [rows, LOGIT_STAT_COUNT] });
  if (rows > 0) {
    gpu.dispatch(FORWARD, {
      bindings: [logits, targets, stats],
      params: { rows, vocab, temperature },
      workgroups: rows,
      variant: variantFor(vocab),
    });
  }
  return stats;
}

/**
 * Gradient of L = Σ_r weights[r] · log softmax(logits[r] / T)[targets[r]] with respect to the logits:
 * `weights[r] · (onehot(targets[r]) − softmax(z_r)) / T`. Written over `logits` unless `out` is given
 * (in place is the default: the logits chunk is dead once its gradient exists). Rows with a zero weight
 * or a target outside [0, V) get exact zeros. Returns the gradient tensor.
 */
export function logitStatsBackward(
  gpu: Gpu,
  logits: Tensor,
  targets: Tensor,
  weights: Tensor,
  temperature = 1,
  out?: Tensor,
): Tensor {
  const kernel = BACKWARD.name;
  const [rows, vocab] = checkLogits(kernel, logits);
  expectTensor(kernel, "targets", targets, { dtype: "i32", shape: [rows] });
  expectTensor(kernel, "weights", weights, { dtype: "f32", shape: [rows] });
  checkTemperature(kernel, temperature);
  if (out) {
    expectTensor(kernel, "out", out, { dtype: "f32", shape: [rows, vocab] });
    if (out.buffer === logits.buffer) {
      throw new KernelArgumentError(
        kernel,
        "out",
        "must not share a buffer with logits; omit it for in place",
      );
    }
  }
  if (rows > 0) {
    const args = { params: { rows, vocab, temperature }, workgroups: rows, variant: variantFor(vocab) };
    if (out) gpu.dispatch(BACKWARD, { bindings: [logits, targets, weights, out], ...args });
    else gpu.dispatch(BACKWARD_INPLACE, { bindings: [logits, targets, weights], ...args });
  }
  return out ?? logits;
}

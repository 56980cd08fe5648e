/**
 * The GRPO loss on the GPU (kernels/grpo_loss.wgsl): per logits chunk, each row's clipped surrogate and
 * KL term from logp_new = log softmax(logits / T)[target], written over the logits as their gradient,
 * with per-token terms kept in a step-wide `tokenStats` buffer; after the last micro-batch one reduction
 * turns them into the step's statistics next to the gradient norm (one readback per optimizer step).
 * lib/rl/grpo.ts documents the formulas; the aggregation weights come from the host per token.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import { KernelArgumentError } from "../gpu/errors.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { isKlEstimator, KL_ESTIMATORS, type KlEstimator } from "../rl/kl.ts";

const FILE = "grpo_loss.wgsl";
const BACKWARD: KernelSpec = {
  name: "grpo_loss.backward",
  file: FILE,
  entry: "loss_backward",
  bindings: ["logits", "targets", "tokens", "tokenStats"],
};
const LOG_RATIO: KernelSpec = {
  name: "grpo_loss.log_ratio",
  file: FILE,
  entry: "log_ratio",
  bindings: ["logits", "targets", "tokens", "tokenStats"],
};
const SEQUENCE_SUMS: KernelSpec = {
  name: "grpo_loss.sequence_sums",
  file: FILE,
  entry: "sequence_sums",
  bindings: ["tokenStats", "offsets"],
};
const REDUCE: KernelSpec = {
  name: "grpo_loss.reduce",
  file: FILE,
  entry: "reduce",
  bindings: ["tokenStats", "report", "norm", "clip"],
};

/** Columns of the per-token inputs `tokens` [N, 4]. */
export const GRPO_TOKEN_INPUT = { logpOld: 0, logpRef: 1, advantage: 2, weight: 3 } as const;
/** Number of columns of the per-token inputs. */
export const GRPO_TOKEN_INPUT_COUNT = 4;

/**
 * Columns of `tokenStats` [N, 8] and of the first 8 entries of the report: w·pg, w·kl (w the
 * aggregation weight), kl, clipped (1 where the clipped branch is strictly active), ratio, entropy of
 * softmax(logits / T), logp_new, dL/dlogp_new. The report sums them over tokens and adds the gradient
 * norm at {@link GRPO_REPORT_NORM}.
 */
export const GRPO_STAT = {
  pgLoss: 0,
  klLoss: 1,
  kl: 2,
  clipped: 3,
  ratio: 4,
  entropy: 5,
  logp: 6,
  dLogp: 7,
} as const;
/** Number of columns of `tokenStats`. */
export const GRPO_STAT_COUNT = 8;
/** Index of the gradient norm in the report. */
export const GRPO_REPORT_NORM = GRPO_STAT_COUNT;
/** Entries of the report tensor. */
export const GRPO_REPORT_SIZE = GRPO_STAT_COUNT + 1;

/**
 * Where the importance ratio lives: `token` — r_t = π(y_t | ·) / π_old(y_t | ·) per token (PPO, verl,
 * TRL, EasyR1); `sequence` — ρ_i = π(y_i | x) / π_old(y_i | x) = exp Σ_t (logp_new − logp_old) over the
 * response tokens of sequence i, shared by all its tokens (the CoE thesis §3.2, its GRPO objective).
 */
export const GRPO_RATIOS = ["token", "sequence"] as const;
/** One of {@link GRPO_RATIOS}. */
export type GrpoRatio = (typeof GRPO_RATIOS)[number];

/** Hyper-parameters of the GPU loss (lib/rl/grpo.ts's `GrpoLossConfig`, plus whether logp_ref exists). */
export interface GrpoKernelConfig {
  /** Lower clip ε_low in [0, 1). */
  readonly clipLow: number;
  /** Upper clip ε_high ≥ 0. */
  readonly clipHigh: number;
  /** KL weight β ≥ 0. */
  readonly klCoef: number;
  /** KL estimator (lib/rl/kl.ts). */
  readonly klEstimator: KlEstimator;
  /** Dual-clip constant c > 1, or null/undefined for none. */
  readonly dualClip?: number | null;
  /** Whether the token inputs carry reference log-probs (no KL term without them). */
  readonly hasRef: boolean;
  /**
   * The ratio (default token). `sequence` needs {@link grpoLogRatio} over all of a sequence's chunks and
   * {@link grpoSequenceSums} recorded before this loss.
   */
  readonly ratio?: GrpoRatio;
}

const ESTIMATOR_CODE: Record<string, number> = { k1: 0, kl: 0, abs: 1, k2: 2, mse: 2, k3: 3, low_var_kl: 4 };

function checkConfig(kernel: string, c: GrpoKernelConfig): void {
  const bad = (name: string, ok: boolean, want: string, value: unknown) => {
    if (!ok) throw new KernelArgumentError(kernel, name, `must be ${want}, got ${value}`);
  };
  bad("clipLow", c.clipLow >= 0 && c.clipLow < 1, "in [0, 1)", c.clipLow);
  bad("clipHigh", Number.isFinite(c.clipHigh) && c.clipHigh >= 0, "a finite number >= 0", c.clipHigh);
  bad("klCoef", Number.isFinite(c.klCoef) && c.klCoef >= 0, "a finite number >= 0", c.klCoef);
  bad("klEstimator", isKlEstimator(c.klEstimator), `one of ${KL_ESTIMATORS.join(", ")}`, c.klEstimator);
  bad(
    "dualClip",
    c.dualClip == null || (Number.isFinite(c.dualClip) && c.dualClip > 1),
    "a number > 1 or null (off)",
    c.dualClip,
  );
  bad(
    "ratio",
    c.ratio == null || (GRPO_RATIOS as readonly string[]).includes(c.ratio),
    GRPO_RATIOS.join(" or "),
    c.ratio,
  );
  if (c.klCoef > 0 && !c.hasRef) {
    throw new KernelArgumentError(kernel, "klCoef", `is ${c.klCoef} but there are no reference log-probs`);
  }
}

// Threads per row as kernels/logit_stats.wgsl chooses them.
function variantFor(vocab: number) {
  return { constants: { WG: Math.min(256, Math.max(16, 2 ** Math.ceil(Math.log2(Math.ceil(vocab / 8))))) } };
}

/**
 * Records the GRPO loss of one logits chunk: rows r of `logits` [R, V] (in place replaced by dL/dlogits)
 * are tokens `first + r` of `tokens` [N, 4] (see {@link GRPO_TOKEN_INPUT}) and of `tokenStats` [N, 8]
 * (written, see {@link GRPO_STAT}); `targets` is `i32[R]`. Targets outside [0, V) give zero gradient
 * and zero statistics.
 */
export function grpoLossBackward(
  gpu: Gpu,
  logits: Tensor,
  targets: Tensor,
  tokens: Tensor,
  tokenStats: Tensor,
  first: number,
  temperature: number,
  config: GrpoKernelConfig,
): void {
  const kernel = BACKWARD.name;
  const { rows, vocab } = checkChunk(kernel, logits, targets, tokens, tokenStats, first, temperature);
  checkConfig(kernel, config);
  if (rows === 0) return;
  const straight = config.klEstimator.endsWith("+");
  const base = straight ? config.klEstimator.slice(0, -1) : config.klEstimator;
  gpu.dispatch(BACKWARD, {
    bindings: [logits, targets, tokens, tokenStats],
    params: {
      rows,
      vocab,
      temperature,
      first,
      // Both bounds in float64 first, then rounded once, as torch clamps with Python floats.
      lo: 1 - config.clipLow,
      hi: 1 + config.clipHigh,
      kl_coef: config.hasRef ? config.klCoef : 0,
      dual_clip: config.dualClip ?? 0,
      estimator: ESTIMATOR_CODE[base],
      straight: straight ? 1 : 0,
      has_ref: config.hasRef ? 1 : 0,
      seq_ratio: config.ratio === "sequence" ? 1 : 0,
    },
    workgroups: rows,
    variant: variantFor(vocab),
  });
}

function checkChunk(
  kernel: string,
  logits: Tensor,
  targets: Tensor,
  tokens: Tensor,
  tokenStats: Tensor,
  first: number,
  temperature: number,
): { rows: number; vocab: number } {
  expectTensor(kernel, "logits", logits, { dtype: "f32", shape: [null, null] });
  const [rows, vocab] = logits.shape;
  expectInt(kernel, "logits.shape[1] (vocabulary)", vocab, 1);
  expectTensor(kernel, "targets", targets, { dtype: "i32", shape: [rows] });
  expectTensor(kernel, "tokens", tokens, { dtype: "f32", shape: [null, GRPO_TOKEN_INPUT_COUNT] });
  const n = tokens.shape[0];
  expectTensor(kernel, "tokenStats", tokenStats, { dtype: "f32", shape: [n, GRPO_STAT_COUNT] });
  expectInt(kernel, "first", first, 0, n - rows);
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    throw new KernelArgumentError(kernel, "temperature", `must be a finite number > 0, got ${temperature}`);
  }
  return { rows, vocab };
}

/**
 * Records the sequence ratio's first pass over one logits chunk (read, not overwritten), with the
 * arguments of {@link grpoLossBackward}: each token's logp_new − logp_old and its aggregation weight go
 * to its `tokenStats` row, for {@link grpoSequenceSums}.
 */
export function grpoLogRatio(
  gpu: Gpu,
  logits: Tensor,
  targets: Tensor,
  tokens: Tensor,
  tokenStats: Tensor,
  first: number,
  temperature: number,
): void {
  const { rows, vocab } = checkChunk(LOG_RATIO.name, logits, targets, tokens, tokenStats, first, temperature);
  if (rows === 0) return;
  gpu.dispatch(LOG_RATIO, {
    bindings: [logits, targets, tokens, tokenStats],
    params: { rows, vocab, temperature, first },
    workgroups: rows,
    variant: variantFor(vocab),
  });
}

/**
 * Records the per-sequence sums of the sequence ratio: sequence s covers tokens
 * [first + offsets[s], first + offsets[s + 1]) of `tokenStats`, already filled by {@link grpoLogRatio};
 * each of its tokens gets log ρ_s = Σ (logp_new − logp_old) and Σ w, which {@link grpoLossBackward} with
 * `ratio: "sequence"` reads. `offsets` is `i32[S + 1]`, non-decreasing from 0.
 */
export function grpoSequenceSums(gpu: Gpu, tokenStats: Tensor, offsets: Tensor, first: number): void {
  const kernel = SEQUENCE_SUMS.name;
  expectTensor(kernel, "tokenStats", tokenStats, { dtype: "f32", shape: [null, GRPO_STAT_COUNT] });
  expectTensor(kernel, "offsets", offsets, { dtype: "i32", shape: [null] });
  expectInt(kernel, "first", first, 0, tokenStats.shape[0]);
  const sequences = offsets.shape[0] - 1;
  if (sequences < 1) return;
  gpu.dispatch(SEQUENCE_SUMS, {
    bindings: [tokenStats, offsets],
    params: { sequences, first },
    workgroups: sequences,
    variant: { constants: { WG: 64 } },
  });
}

/**
 * Records the step's reduction: `report` [9] gets the token sums of every {@link GRPO_STAT} column (of
 * the first `tokenStats.shape[0]` tokens) and the gradient norm `norm[0]`; a non-finite loss
 * (Σ w·pg + klCoef · Σ w·kl) sets `clip[0]` to −1, the flag that makes the AdamW kernels skip the update.
 * Record it after the gradient norm and before the update.
 */
export function grpoLossReduce(
  gpu: Gpu,
  tokenStats: Tensor,
  klCoef: number,
  norm: Tensor,
  clip: Tensor,
  report: Tensor,
): void {
  const kernel = REDUCE.name;
  expectTensor(kernel, "tokenStats", tokenStats, { dtype: "f32", shape: [null, GRPO_STAT_COUNT] });
  expectTensor(kernel, "report", report, { dtype: "f32", shape: [GRPO_REPORT_SIZE] });
  expectTensor(kernel, "norm", norm, { dtype: "f32", shape: [1] });
  expectTensor(kernel, "clip", clip, { dtype: "f32", shape: [1] });
  if (!(Number.isFinite(klCoef) && klCoef >= 0)) {
    throw new KernelArgumentError(kernel, "klCoef", `must be a finite number >= 0, got ${klCoef}`);
  }
  gpu.dispatch(REDUCE, {
    bindings: [tokenStats, report, norm, clip],
    params: { tokens: tokenStats.shape[0], kl_coef: klCoef },
    workgroups: 1,
  });
}

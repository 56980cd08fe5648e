/**
 * Learning-rate schedules with linear warmup, as Hugging Face transformers' `optimization.py`.
 * `step` is the 0-based index of the optimizer update (LambdaLR's `last_epoch`), so with warmup the
 * first update uses a multiplier of 0, exactly as in transformers.
 *
 * ```
 * warmup (step < W):  m = step / max(1, W)
 * constant:           m = 1                                              (get_constant_schedule_with_warmup)
 * cosine:             p = (step − W) / max(1, T − W)
 *                     m = max(0, ½·(1 + cos(π · 2·cycles · p)))            (get_cosine_schedule_with_warmup)
 *                     with a floor ρ: m = m·(1 − ρ) + ρ                  (get_cosine_with_min_lr_schedule_with_warmup)
 * lr = base_lr · m
 * ```
 * `cycles` is 0.5 (one half-cosine from 1 to 0). One deliberate difference: past `T` transformers' cosine
 * rises again; here `p` is capped at 1 so the rate stays at its floor.
 *
 * @module
 */

/** Learning-rate schedule names. */
export type LrScheduleName = "constant" | "cosine";

/** The allowed {@link LrScheduleName} values. */
export const LR_SCHEDULES: readonly LrScheduleName[] = ["constant", "cosine"];

/** Options of {@link lrMultiplier}. */
export interface LrScheduleOptions {
  /** Which schedule. */
  schedule: LrScheduleName;
  /** Linear warmup updates `W`. */
  warmupSteps: number;
  /** Total optimizer updates `T` (cosine reaches its floor at `T`). */
  totalSteps: number;
  /** Cosine floor as a fraction of the base rate (transformers' `min_lr_rate`), default 0. */
  minLrRatio?: number;
  /** Number of cosine cycles, default 0.5 (a single decay). */
  numCycles?: number;
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`lr schedule: ${name} is ${v}; it must be an integer >= ${min}`);
  }
}

/**
 * The multiplier of the base learning rate at optimizer update `step` (0-based).
 *
 * @example
 * ```ts
 * lrMultiplier(5, { schedule: "cosine", warmupSteps: 10, totalSteps: 110 }); // 0.5 (warmup)
 * lrMultiplier(60, { schedule: "cosine", warmupSteps: 10, totalSteps: 110 }); // 0.5 (half-way down)
 * ```
 */
export function lrMultiplier(step: number, opts: LrScheduleOptions): number {
  checkInt("step", step, 0);
  checkInt("warmupSteps", opts.warmupSteps, 0);
  checkInt("totalSteps", opts.totalSteps, 1);
  const minRatio = opts.minLrRatio ?? 0, cycles = opts.numCycles ?? 0.5;
  if (!(minRatio >= 0 && minRatio <= 1)) {
    throw new RangeError(`lr schedule: minLrRatio ${minRatio} must be in [0, 1]`);
  }
  if (!(cycles > 0)) throw new RangeError(`lr schedule: numCycles ${cycles} must be > 0`);
  if (!LR_SCHEDULES.includes(opts.schedule)) {
    throw new RangeError(`lr schedule: "${opts.schedule}" is not one of ${LR_SCHEDULES.join(", ")}`);
  }
  const w = opts.warmupSteps;
  if (step < w) return step / Math.max(1, w);
  if (opts.schedule === "constant") return 1;
  const progress = Math.min(1, (step - w) / Math.max(1, opts.totalSteps - w));
  const m = Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
  return m * (1 - minRatio) + minRatio;
}

/**
 * The learning rate at optimizer update `step`: `baseLr · lrMultiplier(step, opts)`.
 *
 * @example
 * ```ts
 * learningRate(0, 3e-6, { schedule: "constant", warmupSteps: 0, totalSteps: 10 }); // 3e-6
 * ```
 */
export function learningRate(step: number, baseLr: number, opts: LrScheduleOptions): number {
  return baseLr * lrMultiplier(step, opts);
}

/**
 * Warmup updates from an explicit count or a ratio of the total, as transformers'
 * `TrainingArguments.get_warmup_steps`: the count when > 0, else `ceil(total · ratio)`.
 *
 * @example
 * ```ts
 * resolveWarmupSteps({ warmupSteps: 0, warmupRatio: 0.1, totalSteps: 58 }); // 6
 * ```
 */
export function resolveWarmupSteps(
  opts: { warmupSteps: number; warmupRatio: number; totalSteps: number },
): number {
  checkInt("warmupSteps", opts.warmupSteps, 0);
  checkInt("totalSteps", opts.totalSteps, 1);
  if (!(opts.warmupRatio >= 0 && opts.warmupRatio <= 1)) {
    throw new RangeError(`lr schedule: warmupRatio ${opts.warmupRatio} must be in [0, 1]`);
  }
  return opts.warmupSteps > 0 ? opts.warmupSteps : Math.ceil(opts.totalSteps * opts.warmupRatio);
}

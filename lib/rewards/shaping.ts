/**
 * Reward shaping within one group: normalisation (z-score, min-max), percentile filtering,
 * discretisation, and weighted mixes of rewards ({@link hybrid}). Every function takes one group's values
 * in rollout order and returns new values in the same order; non-finite input is an error.
 *
 * @module
 */

import { RewardError } from "./errors.ts";
import type { RewardFn, RolloutGroup, Shaping } from "./types.ts";
import { z } from "zod";

/** A group shaping as a config gives it, after defaults: its name and options. */
export type ShapingConfig =
  | { name: "none" }
  | { name: "zscore"; eps: number; std: "sample" | "population" }
  | { name: "minmax" }
  | { name: "percentile"; top: number; bottom: number }
  | { name: "discretize"; top: number; bottom: number; middle: number };

const fraction = (doc: string) => z.number().min(0).max(1).default(0.5).describe(doc);
const SHAPING_OBJECTS = [
  z.strictObject({ name: z.literal("none") }).describe("Rewards unchanged."),
  z.strictObject({
    name: z.literal("zscore"),
    eps: z.number().min(0).default(1e-6).describe("Added to the std before dividing."),
    std: z.enum(["sample", "population"]).default("sample").describe("Bessel-corrected (sample) or not."),
  }).describe("(x − mean) / (std + eps) within the group."),
  z.strictObject({ name: z.literal("minmax") }).describe(
    "(x − min) / (max − min) within the group (the hidden-state paper's normalisation).",
  ),
  z.strictObject({
    name: z.literal("percentile"),
    top: fraction("Fraction of each group counted as top."),
    bottom: fraction("Fraction of each group counted as bottom."),
  }).describe(
    "Train on the top and bottom fractions of each group only: the rest get advantage 0 and no loss weight.",
  ),
  z.strictObject({
    name: z.literal("discretize"),
    top: fraction("Fraction of each group that gets 1."),
    bottom: fraction("Fraction of each group that gets 0."),
    middle: z.number().default(0.5).describe("Value of every other rollout."),
  }).describe("Top fraction 1, bottom fraction 0, the rest `middle`."),
] as const;

/** Every shaping name {@link SHAPING_SCHEMA} accepts. */
export const SHAPING_NAMES: readonly string[] = SHAPING_OBJECTS.map((o) => o.shape.name.value);

/**
 * A shaping in a config: a name (`minmax`) or a mapping with the name and options
 * (`{name: percentile, top: 0.25, bottom: 0.25}`); both parse to the mapping with defaults filled in.
 */
export const SHAPING_SCHEMA: z.ZodType<ShapingConfig> = z.preprocess(
  (v) => (typeof v === "string" ? { name: v } : v),
  z.discriminatedUnion("name", SHAPING_OBJECTS),
) as z.ZodType<ShapingConfig>;

/** The shaping function a parsed {@link ShapingConfig} describes. */
export function shapingFromConfig(config: ShapingConfig): Shaping {
  switch (config.name) {
    case "zscore":
      return (v) => zScore(v, { eps: config.eps, std: config.std });
    case "minmax":
      return minMax;
    case "percentile": {
      const fractions = { top: config.top, bottom: config.bottom };
      return Object.assign((v: readonly number[]) => percentileFilter(v, fractions), {
        keep: (v: readonly number[]) => percentileMask(v, fractions),
      });
    }
    case "discretize":
      return (v) => discretize(v, { top: config.top, bottom: config.bottom, middle: config.middle });
    default:
      return (v) => [...v];
  }
}

function checkFinite(what: string, values: readonly number[]): void {
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new RewardError(`${what}: value ${i} is ${v}, expected a finite number`);
  });
}

function checkFraction(what: string, name: string, x: number): void {
  if (!(x >= 0 && x <= 1)) {
    throw new RewardError(`${what}: ${name} must be a fraction in [0, 1] (0.25 = 25%), got ${x}`);
  }
}

/** Options for {@link zScore}. */
export interface ZScoreOptions {
  /** Added to the standard deviation before dividing, so a constant group maps to zeros (default 1e-6). */
  eps?: number;
  /**
   * "sample" divides the sum of squares by n − 1 (Bessel; `torch.std`'s default, which TRL and verl use
   * for GRPO advantages); "population" by n. Default "sample".
   */
  std?: "sample" | "population";
}

/**
 * Group z-score: (x − mean) / (std + eps). A constant group gives zeros; a group of one gives [0] (there
 * is nothing to compare it with, and the sample std is undefined).
 *
 * @example
 * ```ts
 * import { zScore } from "./mod.ts";
 * zScore([1, 2, 3]); // [-1, 0, 1] (sample std 1, up to eps)
 * zScore([1, 2, 3], { std: "population", eps: 0 }); // [-1.2247, 0, 1.2247]
 * ```
 */
export function zScore(values: readonly number[], options: ZScoreOptions = {}): number[] {
  const eps = options.eps ?? 1e-6;
  const mode = options.std ?? "sample";
  checkFinite("zScore", values);
  if (!(eps >= 0)) throw new RewardError(`zScore: eps must be >= 0, got ${eps}`);
  if (mode !== "sample" && mode !== "population") {
    throw new RewardError(`zScore: std must be "sample" or "population", got ${JSON.stringify(mode)}`);
  }
  const n = values.length;
  if (n <= 1) return values.map(() => 0);
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const ss = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  const std = Math.sqrt(ss / (mode === "sample" ? n - 1 : n));
  // A constant group has std 0 and numerators 0; with eps 0 that would be 0/0.
  if (std === 0) return values.map(() => 0);
  return values.map((v) => (v - mean) / (std + eps));
}

/**
 * Group min-max scaling to [0, 1]: (x − min) / (max − min). A constant group (max = min) gives all
 * zeros, so it carries no preference.
 *
 * @example
 * ```ts
 * import { minMax } from "./mod.ts";
 * minMax([2, 4, 3]); // [0, 1, 0.5]
 * minMax([5, 5]); // [0, 0]
 * ```
 */
export function minMax(values: readonly number[]): number[] {
  checkFinite("minMax", values);
  if (values.length === 0) return [];
  const lo = Math.min(...values), hi = Math.max(...values);
  if (hi === lo) return values.map(() => 0);
  return values.map((v) => (v - lo) / (hi - lo));
}

/**
 * Which values lie in the top (or bottom) `fraction` of the group. The cut is k = ⌈fraction·n⌉ ranks
 * (so any fraction above 0 keeps at least one rollout), and every value tied with the k-th one is in:
 * ties at the boundary are never split by rollout order, so the set may hold more than k values.
 */
export function inExtremeFraction(
  values: readonly number[],
  fraction: number,
  side: "top" | "bottom",
): boolean[] {
  const n = values.length;
  // The tolerance keeps 0.3·10 = 3.0000000000000004 at 3 ranks, not 4.
  const k = Math.min(n, Math.ceil(fraction * n - 1e-9));
  if (k <= 0) return values.map(() => false);
  const sorted = [...values].sort((a, b) => (side === "top" ? b - a : a - b));
  const cut = sorted[k - 1];
  return values.map((v) => (side === "top" ? v >= cut : v <= cut));
}

/** Fractions of the group to keep at each end, for {@link percentileFilter} and {@link discretize}. */
export interface ExtremeFractions {
  /** Fraction of the group at the top (highest values), in [0, 1]. */
  top: number;
  /** Fraction of the group at the bottom (lowest values), in [0, 1]. */
  bottom: number;
}

/**
 * Which rollouts of the group lie in its top `top` or bottom `bottom` fraction (boundary ties handled as
 * in {@link inExtremeFraction}): the ones percentile filtering trains on. The rest are masked out of the
 * update (advantage 0, no loss weight) rather than given reward 0, which group normalisation would turn
 * into a nonzero advantage.
 *
 * @example
 * ```ts
 * import { percentileMask } from "./mod.ts";
 * percentileMask([5, 1, 3, 4], { top: 0.25, bottom: 0.25 }); // [true, true, false, false]
 * ```
 */
export function percentileMask(values: readonly number[], options: ExtremeFractions): boolean[] {
  checkFinite("percentileMask", values);
  checkFraction("percentileMask", "top", options.top);
  checkFraction("percentileMask", "bottom", options.bottom);
  const top = inExtremeFraction(values, options.top, "top");
  const bottom = inExtremeFraction(values, options.bottom, "bottom");
  return values.map((_, i) => top[i] || bottom[i]);
}

/**
 * Keeps the values of the top `top` and bottom `bottom` fractions of the group and sets every other value
 * to 0 (boundary ties handled as in {@link inExtremeFraction}). As a run's `reward.shaping` the others
 * are masked out of the update instead ({@link percentileMask}); the zeros serve hybrid terms.
 *
 * @example
 * ```ts
 * import { percentileFilter } from "./mod.ts";
 * percentileFilter([5, 1, 3, 4], { top: 0.25, bottom: 0.25 }); // [5, 1, 0, 0]
 * ```
 */
export function percentileFilter(values: readonly number[], options: ExtremeFractions): number[] {
  checkFinite("percentileFilter", values);
  checkFraction("percentileFilter", "top", options.top);
  checkFraction("percentileFilter", "bottom", options.bottom);
  const keep = percentileMask(values, options);
  return values.map((v, i) => (keep[i] ? v : 0));
}

/** Options for {@link discretize}. */
export interface DiscretizeOptions extends ExtremeFractions {
  /** Value for rollouts in neither (or, through ties, both) extremes (default 0.5). */
  middle?: number;
}

/**
 * Turns values into preferences: the top `top` fraction gets 1, the bottom `bottom` fraction 0, and the
 * rest `middle` (0.5 by default, i.e. no preference, rather than dropping them, so every rollout keeps a
 * reward). A rollout in both sets — possible only through boundary ties, e.g. a constant group — gets
 * `middle` too.
 *
 * @example
 * ```ts
 * import { discretize } from "./mod.ts";
 * discretize([0.9, 0.1, 0.5, 0.7], { top: 0.25, bottom: 0.25 }); // [1, 0, 0.5, 0.5]
 * discretize([2, 2, 2], { top: 0.5, bottom: 0.5 }); // [0.5, 0.5, 0.5]
 * ```
 */
export function discretize(values: readonly number[], options: DiscretizeOptions): number[] {
  checkFinite("discretize", values);
  checkFraction("discretize", "top", options.top);
  checkFraction("discretize", "bottom", options.bottom);
  const middle = options.middle ?? 0.5;
  if (!Number.isFinite(middle)) throw new RewardError(`discretize: middle must be finite, got ${middle}`);
  const top = inExtremeFraction(values, options.top, "top");
  const bottom = inExtremeFraction(values, options.bottom, "bottom");
  return values.map((_, i) => (top[i] === bottom[i] ? middle : top[i] ? 1 : 0));
}

/** One term of a {@link hybrid} reward. */
export interface HybridComponent {
  /** The reward. */
  fn: RewardFn;
  /** Its weight in the sum (any finite number; negative flips a signal). */
  weight: number;
  /** Applied to this reward's values within the group before weighting (e.g. `zScore`). */
  shaping?: Shaping;
  /** A name for error messages (default "component i"). */
  name?: string;
}

/**
 * Weighted sum of rewards, each optionally shaped within the group first:
 * Σ weight_k · shaping_k(fn_k(group)). Shaping each term before mixing puts signals of different scales
 * (self-certainty in nats, accuracy in {0, 1}) on a common footing.
 *
 * @example
 * ```ts
 * import { hybrid, mathAccuracy, selfCertainty, zScore } from "./mod.ts";
 * const reward = hybrid([
 *   { fn: mathAccuracy, weight: 1 },
 *   { fn: selfCertainty, weight: 0.5, shaping: zScore },
 * ]);
 * reward(group); // one number per rollout
 * ```
 */
export function hybrid(components: readonly HybridComponent[]): RewardFn {
  if (components.length === 0) throw new RewardError("hybrid: needs at least one component");
  components.forEach((c, k) => {
    if (typeof c.fn !== "function") throw new RewardError(`hybrid: component ${k} has no reward function`);
    if (!Number.isFinite(c.weight)) {
      throw new RewardError(
        `hybrid: ${c.name ?? `component ${k}`} has weight ${c.weight}, expected a number`,
      );
    }
  });
  return (group: RolloutGroup) => {
    const total = new Array<number>(group.rollouts.length).fill(0);
    components.forEach((c, k) => {
      const name = c.name ?? `component ${k}`;
      let values = c.fn(group);
      if (values.length !== total.length) {
        throw new RewardError(
          `hybrid: ${name} returned ${values.length} values for a group of ${total.length} rollouts`,
        );
      }
      if (c.shaping) values = c.shaping(values);
      checkFinite(`hybrid: ${name}`, values);
      for (let i = 0; i < total.length; i++) total[i] += c.weight * values[i];
    });
    return total;
  };
}

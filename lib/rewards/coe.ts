/**
 * Rewards from the Chain-of-Embedding statistics: how the completion's pooled hidden state moves through
 * the layers. Each reads one feature the scoring pass computed; none changes its sign, so a config that
 * wants the opposite direction negates it through `hybrid` with a negative weight.
 *
 * @module
 */

import { readStat } from "./stats_view.ts";
import type { RolloutGroup } from "./types.ts";

/**
 * First-order hidden-state dynamics (`coe.d1`) as the reward.
 *
 * @example
 * ```ts
 * import { coeD1 } from "./mod.ts";
 * coeD1({ prompt: "2+2?", rollouts }); // [0.82, 0.77, ...]
 * ```
 */
export function coeD1(group: RolloutGroup): number[] {
  return readStat("coeD1", "coe.d1", group, (s) => s.coe?.d1);
}

/**
 * Second-order hidden-state dynamics (`coe.d2`) as the reward.
 *
 * @example
 * ```ts
 * import { coeD2 } from "./mod.ts";
 * coeD2({ prompt: "2+2?", rollouts }); // [0.31, 0.29, ...]
 * ```
 */
export function coeD2(group: RolloutGroup): number[] {
  return readStat("coeD2", "coe.d2", group, (s) => s.coe?.d2);
}

/**
 * Sum of first- and second-order dynamics (`coe.d1 + coe.d2`) as the reward.
 *
 * @example
 * ```ts
 * import { coeD1D2 } from "./mod.ts";
 * coeD1D2({ prompt: "2+2?", rollouts }); // [1.13, 1.06, ...]
 * ```
 */
export function coeD1D2(group: RolloutGroup): number[] {
  return readStat("coeD1D2", "coe.d1 + coe.d2", group, (s) => s.coe ? s.coe.d1 + s.coe.d2 : undefined);
}

/**
 * CoE-R score (`coe.r`) as the reward.
 *
 * @example
 * ```ts
 * import { coeR } from "./mod.ts";
 * coeR({ prompt: "2+2?", rollouts }); // [0.12, -0.05, ...]
 * ```
 */
export function coeR(group: RolloutGroup): number[] {
  return readStat("coeR", "coe.r", group, (s) => s.coe?.r);
}

/**
 * CoE-C score (`coe.c`) as the reward.
 *
 * @example
 * ```ts
 * import { coeC } from "./mod.ts";
 * coeC({ prompt: "2+2?", rollouts }); // [0.44, 0.39, ...]
 * ```
 */
export function coeC(group: RolloutGroup): number[] {
  return readStat("coeC", "coe.c", group, (s) => s.coe?.c);
}

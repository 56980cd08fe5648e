/**
 * The per-token KL estimators between the policy and the reference policy that a config may name, with
 * their derivative with respect to the policy's log-prob, as verl's `kl_penalty` / `kl_penalty_forward`
 * (verl/trainer/ppo/core_algos.py) define them; the GPU loss kernel (kernels/grpo_loss.wgsl) computes
 * them. With `x = logp_new`, `r = logp_ref`, `d = x − r`:
 *
 * | name         | value                                              | d value / dx                          | follows                      |
 * | ------------ | -------------------------------------------------- | ------------------------------------- | ---------------------------- |
 * | `k1` (`kl`)  | `d`                                                | `1`                                   | verl `"kl"` / `"k1"`         |
 * | `abs`        | `abs(d)`                                           | `sign(d)` (0 at d = 0, as torch.abs)  | verl `"abs"`                 |
 * | `k2` (`mse`) | `d² / 2`                                           | `d`                                   | verl `"mse"` / `"k2"`        |
 * | `k3`         | `exp(−d) + d − 1`                                  | `1 − exp(−d)`                         | Schulman's k3, unclamped, as TRL's GRPO `per_token_kl` |
 * | `low_var_kl` | `clamp(exp(k) − k − 1, −10, 10)`, `k = clamp(−d, −20, 20)` | `1 − exp(k)` where neither clamp is active, else 0 | verl `"low_var_kl"` |
 *
 * verl treats `"k3"` as an alias of `"low_var_kl"` (clamped); here `k3` is the unclamped estimator so
 * both variants are available — pick `low_var_kl` to reproduce a verl run that said `k3`.
 *
 * A trailing `+` (`k1+`, `abs+`, `k3+`, `low_var_kl+`) is verl's straight-through variant: the value
 * of the named estimator, the gradient of `k2` (`d`), i.e. `k2 − sg(k2) + sg(named)`. `k2+`/`mse+` are
 * plain `k2`, as in verl.
 *
 * Clamp derivatives follow torch.clamp's backward: the gradient passes where `min <= input <= max`
 * (bounds inclusive) and is 0 outside.
 *
 * @module
 */

/** Base KL estimator names (verl's `kl_penalty` names, with `k3` unclamped as in TRL). */
export type KlBaseEstimator = "k1" | "kl" | "abs" | "k2" | "mse" | "k3" | "low_var_kl";

/** A KL estimator name, optionally with verl's straight-through `+` suffix. */
export type KlEstimator = KlBaseEstimator | `${KlBaseEstimator}+`;

/** The estimator names a config may choose (the canonical spellings). */
export const KL_ESTIMATORS: readonly KlEstimator[] = [
  "k1",
  "k2",
  "k3",
  "low_var_kl",
  "abs",
  "k1+",
  "k3+",
  "low_var_kl+",
  "abs+",
];

const BASES: readonly string[] = ["k1", "kl", "abs", "k2", "mse", "k3", "low_var_kl"];

/**
 * True when `name` is a KL estimator this module implements.
 *
 * @example
 * ```ts
 * isKlEstimator("low_var_kl+"); // true
 * ```
 */
export function isKlEstimator(name: string): name is KlEstimator {
  return BASES.includes(name.endsWith("+") ? name.slice(0, -1) : name);
}

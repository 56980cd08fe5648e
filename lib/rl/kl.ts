/**
 * Per-token KL estimators between the policy and the reference policy, with their derivative with
 * respect to the policy's log-prob, as verl's `kl_penalty` / `kl_penalty_forward`
 * (verl/trainer/ppo/core_algos.py) define them. With `x = logp_new`, `r = logp_ref`, `d = x − r`:
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

/** Value and derivative w.r.t. `logp_new` of one token's KL estimate. */
export interface KlTerm {
  /** The estimate. */
  value: number;
  /** d value / d logp_new (the straight-through gradient for `+` names). */
  grad: number;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function baseTerm(base: string, logpNew: number, logpRef: number): KlTerm {
  const d = logpNew - logpRef;
  switch (base) {
    case "k1":
    case "kl":
      return { value: d, grad: 1 };
    case "abs":
      return { value: Math.abs(d), grad: d > 0 ? 1 : d < 0 ? -1 : 0 };
    case "k2":
    case "mse":
      return { value: 0.5 * d * d, grad: d };
    case "k3": {
      const e = Math.exp(-d);
      return { value: e + d - 1, grad: 1 - e };
    }
    case "low_var_kl": {
      const raw = logpRef - logpNew;
      const k = clamp(raw, -20, 20);
      const e = Math.exp(k);
      const kld = e - k - 1;
      const value = clamp(kld, -10, 10);
      const pass = raw >= -20 && raw <= 20 && kld >= -10 && kld <= 10;
      // d kld / dk = e − 1 and dk / dx = −1.
      return { value, grad: pass ? 1 - e : 0 };
    }
  }
  throw new RangeError(`unknown KL estimator "${base}"; use one of ${KL_ESTIMATORS.join(", ")}`);
}

/**
 * One token's KL estimate and its derivative with respect to `logpNew`.
 *
 * @example
 * ```ts
 * klTerm("k3", Math.log(0.5), Math.log(0.25)); // value exp(-ln 2) + ln 2 - 1 ≈ 0.1931, grad 0.5
 * ```
 */
export function klTerm(estimator: KlEstimator, logpNew: number, logpRef: number): KlTerm {
  if (!isKlEstimator(estimator)) {
    throw new RangeError(`unknown KL estimator "${estimator}"; use one of ${KL_ESTIMATORS.join(", ")}`);
  }
  const straightThrough = estimator.endsWith("+");
  const base = straightThrough ? estimator.slice(0, -1) : estimator;
  const term = baseTerm(base, logpNew, logpRef);
  if (straightThrough) term.grad = logpNew - logpRef;
  return term;
}

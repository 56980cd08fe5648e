/**
 * Weight interpolation between two checkpoints of one architecture, θ(α) = (1 − α)·θ_base + α·θ_tuned,
 * for "how far along the fine-tuning direction does accuracy move" sweeps.
 *
 * @module
 */

/** A tensor as a flat Float32Array, or with its shape. */
export type WeightTensor = Float32Array | { shape: readonly number[]; data: Float32Array };

function dataOf(t: WeightTensor): Float32Array {
  return t instanceof Float32Array ? t : t.data;
}

function shapeOf(t: WeightTensor): string {
  return t instanceof Float32Array ? `[${t.length}]` : `[${t.shape.join(", ")}]`;
}

/**
 * Checks that two weight maps hold the same tensor names with the same shapes; throws an error
 * listing what differs (missing names, extra names, shape mismatches).
 */
export function checkSameLayout(
  base: ReadonlyMap<string, WeightTensor>,
  tuned: ReadonlyMap<string, WeightTensor>,
): void {
  const problems: string[] = [];
  for (const name of base.keys()) if (!tuned.has(name)) problems.push(`${name} is only in the base weights`);
  for (const name of tuned.keys()) if (!base.has(name)) problems.push(`${name} is only in the tuned weights`);
  for (const [name, a] of base) {
    const b = tuned.get(name);
    if (!b) continue;
    const sameShape = a instanceof Float32Array || b instanceof Float32Array
      ? dataOf(a).length === dataOf(b).length
      : a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
    if (!sameShape) problems.push(`${name}: base ${shapeOf(a)} vs tuned ${shapeOf(b)}`);
    else if (dataOf(a).length !== dataOf(b).length) {
      problems.push(`${name}: base has ${dataOf(a).length} values, tuned ${dataOf(b).length}`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join("; ");
    throw new RangeError(
      `interpolateWeights: the checkpoints do not match (${problems.length} problem(s)): ${shown}` +
        (problems.length > 10 ? "; …" : "") + ". Both must be the same architecture.",
    );
  }
}

/**
 * θ(α) = (1 − α)·base + α·tuned for every tensor; α = 0 gives the base weights, 1 the tuned ones, and
 * values outside [0, 1] extrapolate. The result keeps the input's form (shape objects stay objects).
 *
 * @example
 * ```ts
 * import { interpolateWeights } from "./mod.ts";
 * const base = new Map([["w", new Float32Array([0, 2])]]);
 * const tuned = new Map([["w", new Float32Array([1, 4])]]);
 * interpolateWeights(base, tuned, 0.5).get("w"); // Float32Array [0.5, 3]
 * ```
 */
export function interpolateWeights<T extends WeightTensor>(
  base: ReadonlyMap<string, T>,
  tuned: ReadonlyMap<string, T>,
  alpha: number,
): Map<string, T> {
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
    throw new RangeError(`interpolateWeights: alpha is ${alpha}; it must be a finite number`);
  }
  checkSameLayout(base, tuned);
  const out = new Map<string, T>();
  for (const [name, a] of base) {
    const x = dataOf(a);
    const y = dataOf(tuned.get(name)!);
    const z = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) z[i] = x[i] + alpha * (y[i] - x[i]);
    out.set(name, (a instanceof Float32Array ? z : { ...a, data: z }) as T);
  }
  return out;
}

/**
 * Parses a list of interpolation coefficients such as `"0,0.25,0.5,0.75,1"`.
 *
 * @example
 * ```ts
 * import { parseAlphas } from "./mod.ts";
 * parseAlphas("0, 0.5, 1"); // [0, 0.5, 1]
 * ```
 */
export function parseAlphas(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) throw new RangeError(`--alphas "${text}" is empty; give numbers like 0,0.5,1`);
  return parts.map((p) => {
    const v = Number(p);
    if (!Number.isFinite(v)) {
      throw new RangeError(`--alphas: "${p}" is not a number; give numbers like 0,0.5,1`);
    }
    return v;
  });
}

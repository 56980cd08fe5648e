/**
 * A half-width (bf16 / f16) copy of an f32 model for sampling, refreshed from the f32 masters on the GPU:
 * the trainer's policy trains in f32 while its copy, at half the bytes, generates the rollouts. A LoRA
 * policy's copy is its merged weights, bf16(W + s·B·A) for each adapted projection, sharing the frozen
 * tensors that already have the copy's width with the base, so the fused decode step samples it.
 *
 * @module
 */
import type { Tensor } from "../gpu/tensor.ts";
import { convertToHalf } from "../ops/convert.ts";
import { loraMerge } from "../ops/lora.ts";
import { Model, takesWeightWidth } from "./model.ts";

/** Widths a half-width copy may have. */
export type HalfWidth = "bf16" | "f16";

/**
 * A new model sharing `master`'s config, tokenizer and generation config whose weight matrices are `dtype`
 * roundings (nearest even) of `master`'s f32 ones, in exact-size buffers with the same row blocks; norm
 * weights and biases are f32 copies. Converted on the GPU with no readback; keep it current with
 * {@link refreshHalfWidthCopy}. Release it like any model.
 */
export function halfWidthCopy(master: Model, dtype: HalfWidth = "bf16"): Model {
  if (dtype !== "bf16" && dtype !== "f16") {
    throw new RangeError(`halfWidthCopy: dtype must be "bf16" or "f16", got ${JSON.stringify(dtype)}`);
  }
  if (master.adapter) return mergedCopy(master, dtype);
  master.requireF32Weights("halfWidthCopy");
  const params = new Map<string, Tensor>();
  for (const [key, t] of master.params) {
    params.set(
      key,
      master.gpu.emptyExact(t.shape, takesWeightWidth(t.shape) ? dtype : "f32", `${dtype}.${key}`),
    );
  }
  const copy = new Model(
    master.gpu,
    master.config,
    params,
    master.tokenizer,
    master.generationConfig,
    master.dir,
  );
  refreshHalfWidthCopy(copy, master);
  return copy;
}

/**
 * Records the re-conversion of every parameter of `copy` from `master`'s current f32 values: one dispatch
 * (or one buffer copy, for the f32 vectors) per tensor, nothing read back. Call it after each optimiser
 * update so the copy samples from the updated policy.
 */
export function refreshHalfWidthCopy(copy: Model, master: Model): void {
  if (master.adapter) {
    // Only the adapted projections change: the rest of the base is frozen.
    for (const m of master.adapter.modules) {
      const dst = copy.params.get(m.weight);
      if (!dst || dst === master.params.get(m.weight)) {
        throw new Error(
          `refreshHalfWidthCopy: the copy has no merged ${m.weight}; make it with halfWidthCopy(master)`,
        );
      }
      loraMerge(master.gpu, master.param(m.weight), m, dst);
    }
    return;
  }
  master.requireF32Weights("refreshHalfWidthCopy");
  if (copy.params.size !== master.params.size) {
    throw new Error(
      `refreshHalfWidthCopy: the copy holds ${copy.params.size} tensors, the master ${master.params.size}; ` +
        `make the copy with halfWidthCopy(master)`,
    );
  }
  for (const [key, src] of master.params) {
    const dst = copy.params.get(key);
    if (!dst || dst.shape.join() !== src.shape.join()) {
      throw new Error(
        `refreshHalfWidthCopy: the copy has no tensor ${key} of shape [${src.shape}]; make it with halfWidthCopy(master)`,
      );
    }
    if (dst.dtype === "f32") master.gpu.copy(src, dst);
    else convertToHalf(master.gpu, src, dst);
  }
}

/**
 * The sampling copy of a model carrying a LoRA adapter: each adapted projection merged into a new `dtype`
 * tensor, every other tensor shared with the base where it already has the copy's width (vectors are f32
 * in both) or converted once from an f32 base (it is frozen). A bf16 base cannot give an f16 copy: the
 * tensors it would share are bf16.
 */
function mergedCopy(master: Model, dtype: HalfWidth): Model {
  const params = new Map<string, Tensor>();
  const owned: Tensor[] = [];
  for (const [key, t] of master.params) {
    const want = takesWeightWidth(t.shape) ? dtype : "f32";
    if (master.adapter!.module(key)) {
      const merged = master.gpu.emptyExact(t.shape, want, `${dtype}.${key}`);
      owned.push(merged);
      params.set(key, merged);
    } else if (t.dtype === want) {
      params.set(key, t);
    } else if (t.dtype === "f32") {
      const half = convertToHalf(master.gpu, t, master.gpu.emptyExact(t.shape, want, `${dtype}.${key}`));
      owned.push(half);
      params.set(key, half);
    } else {
      for (const o of owned) o.release();
      throw new RangeError(
        `halfWidthCopy: the base holds ${t.dtype} weights (${key}), which a ${dtype} copy cannot share; ` +
          `sample at the base's width (rollout.weights ${t.dtype})`,
      );
    }
  }
  const copy = master.sharing(params, owned);
  refreshHalfWidthCopy(copy, master);
  return copy;
}

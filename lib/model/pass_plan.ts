/**
 * How many sequences one forward pass may take so that it stays inside the device's limits: no activation
 * tensor over `maxStorageBufferBindingSize` and no per-row grid axis (the KV-cache write's) over
 * `maxComputeWorkgroupsPerDimension`. Prefill, scoring and training split their batches by it, so long
 * prompts run on any device (and under RLIF_DEVICE_LIMITS on a tiny model, as on an H100 at real shapes).
 *
 * @module
 */
import { RlifError } from "../errors.ts";
import type { Model } from "./model.ts";

/** The widest f32 activation row a forward pass keeps: hidden, q projection, k|v, or the MLP's. */
function widestRow(model: Model): number {
  const c = model.config;
  return Math.max(c.hiddenSize, c.numHeads * c.headDim, 2 * c.numKvHeads * c.headDim, c.intermediateSize);
}

/** Rows (tokens) one forward pass may hold on this device. */
export function rowsPerPass(model: Model): number {
  const { maxStorageBufferBindingSize, maxComputeWorkgroupsPerDimension } = model.gpu.limits;
  return Math.min(
    Math.floor(maxStorageBufferBindingSize / (4 * widestRow(model))),
    maxComputeWorkgroupsPerDimension,
  );
}

/**
 * Sequences of `tokensPerSeq` tokens one forward pass may take (at least 1), capped at `wanted`. Throws a
 * clear error when a single sequence is already too long for one pass on this device.
 */
export function sequencesPerPass(model: Model, tokensPerSeq: number, wanted = Infinity): number {
  const rows = rowsPerPass(model);
  if (tokensPerSeq > rows) {
    const { maxStorageBufferBindingSize: binding, maxComputeWorkgroupsPerDimension: grid } = model.gpu.limits;
    throw new RlifError(
      "model.sequence_too_long",
      `a sequence of ${tokensPerSeq} tokens does not fit one forward pass on this device: at most ${rows} ` +
        `(f32 rows of ${widestRow(model)} values within maxStorageBufferBindingSize ${binding}, and ` +
        `maxComputeWorkgroupsPerDimension ${grid}); shorten the prompt or completion`,
    );
  }
  return Math.max(1, Math.min(wanted, Math.floor(rows / Math.max(1, tokensPerSeq))));
}

/**
 * rlif: reinforcement learning from internal feedback for transformer language models, on WebGPU.
 *
 * @example
 * ```ts
 * import * as rlif from "./mod.ts";
 * const gpu = await rlif.getDevice();
 * const a = gpu.fromArray([1, 2, 3], [3]);
 * console.log(await rlif.add(gpu, a, a).read()); // Float32Array [2, 4, 6]
 * ```
 * @module
 */
export * from "./lib/gpu/mod.ts";
export * from "./lib/ops/mod.ts";

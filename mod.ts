/**
 * rlif: reinforcement learning from internal feedback for transformer language models, on WebGPU.
 *
 * @example
 * ```ts
 * import * as rlif from "./mod.ts";
 * const model = await rlif.loadModel("path/to/Qwen2.5-0.5B-Instruct");
 * const outs = await rlif.generate(model, ["What is 2+3?"], { chat: true, n: 4, temperature: 0.7, seed: 1 });
 * const stats = await rlif.score(model, outs, { temperature: 0.7 });
 * console.log(stats.map((s) => s.selfCertainty));
 * ```
 * @module
 */
export * from "./lib/gpu/mod.ts";
export * from "./lib/ops/mod.ts";
export * from "./lib/model/mod.ts";
export * from "./lib/tokenizer/mod.ts";
export * from "./lib/generate/mod.ts";
export * from "./lib/rewards/mod.ts";
export * from "./lib/data/mod.ts";
export * from "./lib/eval/mod.ts";
export * from "./lib/rl/mod.ts";
export * from "./lib/log/mod.ts";

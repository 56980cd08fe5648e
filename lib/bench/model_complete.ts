/**
 * The benchmark loop's sampling callback backed by a model (`deno task eval`, `deno task interpolate`).
 *
 * @module
 */
import { generate, type GenerateOptions } from "../generate/generate.ts";
import type { Model } from "../model/model.ts";
import type { CompleteFn } from "./benchmarks.ts";

/** Stride between the seeds of successive calls: far from the row counts one call draws. */
const SEED_STRIDE = 100_003;

/**
 * A {@link CompleteFn} that samples `n` completions per prompt from `model` with `options`. Each call gets
 * its own seed, `options.seed + 100003·call`: generate draws from (seed, row in the call), so without it
 * every batch of prompts would reuse the first batch's random numbers.
 */
export function modelCompleteFn(
  model: Model,
  options: Omit<GenerateOptions, "n" | "seed"> & { seed: number },
): CompleteFn {
  let call = 0;
  return async (prompts, n) => {
    const outs = await generate(model, prompts, { ...options, n, seed: options.seed + SEED_STRIDE * call++ });
    const grouped: string[][] = prompts.map(() => []);
    for (const o of outs) grouped[o.promptIndex].push(o.text);
    return grouped;
  };
}

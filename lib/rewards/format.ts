/**
 * The `<think>…</think>` then `\boxed{…}` format reward.
 *
 * @module
 */

import { z } from "zod";
import type { RolloutGroup } from "./types.ts";

/**
 * The whole completion (after `prefill`) must be, in order:
 * optional whitespace, `<think>`, any text without another `<think>` or `</think>`, `</think>`, then any
 * text that contains `\boxed{` … `}` and no `<think>` / `</think>`. So exactly one think block, first,
 * closed, and a boxed answer after it. The braces are matched greedily, not counted: a `\boxed{` with a
 * `}` anywhere after it passes (accuracy, not format, judges the box's content). Like EasyR1's
 * `<think>.*</think>.*\\boxed\{.*\}.*` but stricter about where the think block sits and how many there
 * are.
 */
export const THINK_BOXED_FORMAT: RegExp =
  /^\s*<think>(?:(?!<\/?think>)[\s\S])*<\/think>(?:(?!<\/?think>)[\s\S])*\\boxed\{(?:(?!<\/?think>)[\s\S])*\}(?:(?!<\/?think>)[\s\S])*$/;

/** The options `format` takes in a config (YAML keys), with their defaults. */
export const FORMAT_OPTIONS: z.ZodType<{ prefill: string }> = z.strictObject({
  prefill: z.string().default("").describe(
    "Text the prompt already put at the start of the assistant's turn (e.g. <think>), prepended before matching.",
  ),
});

/** Options for {@link formatReward} and the rewards built on it. */
export interface FormatOptions {
  /**
   * Text the prompt already put at the start of the assistant's turn (e.g. `"<think>"` for a template
   * that ends with it); it is prepended to each completion before matching. Default "".
   */
  prefill?: string;
}

/**
 * 1 when `prefill + text` matches {@link THINK_BOXED_FORMAT}, else 0.
 *
 * @example
 * ```ts
 * import { formatScore } from "./mod.ts";
 * formatScore("<think>2+2 is 4</think> The answer is \\boxed{4}."); // 1
 * formatScore("The answer is \\boxed{4}."); // 0
 * ```
 */
export function formatScore(text: string, options: FormatOptions = {}): number {
  return THINK_BOXED_FORMAT.test((options.prefill ?? "") + text) ? 1 : 0;
}

/**
 * Format reward for a group: {@link formatScore} of every rollout.
 *
 * @example
 * ```ts
 * import { formatReward } from "./mod.ts";
 * formatReward({ prompt: "…", rollouts: [{ text: "<think>…</think>\\boxed{1}" }, { text: "1" }] }); // [1, 0]
 * ```
 */
export function formatReward(group: RolloutGroup, options: FormatOptions = {}): number[] {
  return group.rollouts.map((r) => formatScore(r.text, options));
}

/**
 * The Countdown reward (TinyZero): build the target from the given numbers with + − × ÷.
 *
 * @module
 */

import { ArithmeticSyntaxError, parseArithmetic } from "./arithmetic_expression.ts";
import { RewardError } from "./errors.ts";
import type { RolloutGroup } from "./types.ts";

/** A Countdown problem: reach `target` using each of `nums` exactly once. */
export interface CountdownProblem {
  /** The number to reach. */
  target: number;
  /** The numbers to use, each exactly once (repeats in the list may each be used once). */
  nums: readonly number[];
}

/** Score for a correct equation. */
export const COUNTDOWN_CORRECT = 1.0;
/** Score for an extracted answer that is wrong or not a valid equation over the given numbers. */
export const COUNTDOWN_FORMAT_ONLY = 0.1;
/** Absolute tolerance on |value − target|, as in TinyZero. */
export const COUNTDOWN_TOLERANCE = 1e-5;

/** The trimmed content of the last `<answer>…</answer>` in the text (spanning lines), or null. */
export function extractAnswerTagContent(text: string): string | null {
  let last: string | null = null;
  for (const m of text.matchAll(/<answer>([\s\S]*?)<\/answer>/g)) last = m[1];
  return last === null ? null : last.trim();
}

/**
 * Where the Countdown reward looks for the `<answer>` tag:
 * - `"rlif"` (the default): the last `<answer>…</answer>` anywhere in the completion, spanning lines;
 * - `"tinyzero"`: TinyZero's scorer (TinyZero, verl/utils/reward_score/countdown.py, extract_solution):
 *   only the completion's last line — the text after its last newline, so a completion that ends with
 *   a newline has no answer — and its last `<answer>…</answer>`. TinyZero first cuts the decoded
 *   prompt + response at the assistant marker (`Assistant:` or `<|im_start|>assistant`); a completion
 *   here is already the text after that marker.
 *
 * The URLVR self-verification recipe (Countdown, its section 7) scores with "the ground truth scoring
 * function", TinyZero's countdown.py, so it uses the `"tinyzero"` rule.
 */
export type CountdownRule = "rlif" | "tinyzero";

/** Every {@link CountdownRule}, in the order configs list them. */
export const COUNTDOWN_RULES: readonly CountdownRule[] = ["rlif", "tinyzero"];

/** Options of the Countdown reward. */
export interface CountdownOptions {
  /** Where the `<answer>` tag is looked for (see {@link CountdownRule}). Default `"rlif"`. */
  rule?: CountdownRule;
}

/** The equation a completion answers with under `rule`, or null when it has no `<answer>` tag there. */
export function countdownEquation(completion: string, rule: CountdownRule = "rlif"): string | null {
  if (rule === "rlif") return extractAnswerTagContent(completion);
  if (rule !== "tinyzero") {
    throw new RewardError(`countdown: rule must be "rlif" or "tinyzero", got ${JSON.stringify(rule)}`);
  }
  const lastLine = completion.slice(completion.lastIndexOf("\n") + 1);
  let last: string | null = null;
  for (const m of lastLine.matchAll(/<answer>(.*?)<\/answer>/g)) last = m[1];
  return last === null ? null : last.trim();
}

/** Whether two lists hold the same numbers with the same multiplicities. */
function sameMultiset(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort((p, q) => p - q), y = [...b].sort((p, q) => p - q);
  return x.every((v, i) => v === y[i]);
}

/**
 * Why an equation scores what it does; `null` when it is correct.
 *
 * @example
 * ```ts
 * import { countdownVerdict } from "./mod.ts";
 * countdownVerdict("(6 - 2) * 5", { target: 20, nums: [2, 5, 6] }); // null
 * countdownVerdict("6 * 5 - 2", { target: 20, nums: [2, 5, 6] }); // "evaluates to 28, not 20"
 * ```
 */
export function countdownVerdict(equation: string, problem: CountdownProblem): string | null {
  let parsed;
  try {
    parsed = parseArithmetic(equation);
  } catch (e) {
    if (e instanceof ArithmeticSyntaxError) return `not a valid equation: ${e.message}`;
    throw e;
  }
  if (!sameMultiset(parsed.numbers, problem.nums)) {
    return `uses [${parsed.numbers.join(", ")}], must use each of [${problem.nums.join(", ")}] exactly once`;
  }
  if (!Number.isFinite(parsed.value)) return "divides by zero";
  if (!(Math.abs(parsed.value - problem.target) < COUNTDOWN_TOLERANCE)) {
    return `evaluates to ${parsed.value}, not ${problem.target}`;
  }
  return null;
}

/**
 * TinyZero's Countdown score for one completion: the last `<answer>…</answer>` (anywhere, or on the last
 * line only with `rule: "tinyzero"`, see {@link CountdownRule}) is the equation. It scores
 * 1.0 when it contains only digits, `+ - * /`, parentheses and whitespace, parses, uses exactly the
 * multiset `nums` (each literal read as an integer) and evaluates (true division) to within 1e-5 of the
 * target; 0.1 when an answer was extracted but fails any of that; 0 when there is no `<answer>` tag.
 *
 * @example
 * ```ts
 * import { countdownReward } from "./mod.ts";
 * countdownReward("<think>…</think><answer>(6 - 2) * 5</answer>", { target: 20, nums: [2, 5, 6] }); // 1
 * countdownReward("<answer>6 * 5 - 2</answer>", { target: 20, nums: [2, 5, 6] }); // 0.1
 * countdownReward("20", { target: 20, nums: [2, 5, 6] }); // 0
 * ```
 */
export function countdownReward(
  completion: string,
  problem: CountdownProblem,
  options: CountdownOptions = {},
): number {
  const equation = countdownEquation(completion, options.rule);
  if (equation === null) return 0;
  return countdownVerdict(equation, problem) === null ? COUNTDOWN_CORRECT : COUNTDOWN_FORMAT_ONLY;
}

/** Reads and checks `{ target, nums }` from a group's meta, naming what is missing or malformed. */
export function countdownProblemFromMeta(meta: Record<string, unknown> | undefined): CountdownProblem {
  const target = meta?.target;
  const nums = meta?.nums;
  if (typeof target !== "number" || !Number.isFinite(target)) {
    throw new RewardError(
      `countdown: group.meta.target must be a finite number, got ${JSON.stringify(target)}; ` +
        `load the dataset with the "countdown" preset (fields target and nums)`,
    );
  }
  if (!Array.isArray(nums) || nums.length === 0 || !nums.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new RewardError(
      `countdown: group.meta.nums must be a non-empty list of non-negative integers, got ${
        JSON.stringify(nums)
      }`,
    );
  }
  return { target, nums: nums as number[] };
}

/**
 * Countdown reward for a group: {@link countdownReward} of every rollout, with `target` and `nums` taken
 * from `group.meta`; `options.rule` chooses where the answer is looked for (default `"rlif"`, the
 * URLVR recipe's is `"tinyzero"`).
 *
 * @example
 * ```ts
 * import { countdown } from "./mod.ts";
 * countdown({ prompt: "…", meta: { target: 20, nums: [2, 5, 6] }, rollouts: [{ text: "<answer>(6-2)*5</answer>" }] });
 * // [1]
 * ```
 */
export function countdown(group: RolloutGroup, options: CountdownOptions = {}): number[] {
  const problem = countdownProblemFromMeta(group.meta);
  return group.rollouts.map((r) => countdownReward(r.text, problem, options));
}

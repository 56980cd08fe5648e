/**
 * Self-verification (URLVR, "How far can unsupervised RLVR scale", section 7): the policy checks its own
 * Countdown answer with a verification prompt (Prompt 1 or 2 of its appendix C.1) and its verdict is the
 * reward, with no ground truth involved.
 *
 * @module
 */

import { z } from "zod";
import { loadPromptTemplate, type PromptTemplate } from "../data/prompt_template.ts";
import { extractBoxed } from "../grading/extract.ts";
import { countdownEquation, countdownProblemFromMeta, type CountdownRule } from "./countdown.ts";
import type { AskingRewardFn, PolicyAsk, RolloutGroup } from "./types.ts";

/** The options `self_verify` takes in a config (YAML keys), with their defaults. */
export interface SelfVerifyOptions {
  /** Jinja verification prompt with fields expr, nums, target. */
  template: string;
  /** Where the expression is read from the response (see {@link CountdownRule}). */
  rule: CountdownRule;
  /** Most tokens of a verdict. */
  max_new_tokens: number;
  /** Sampling temperature of the verdict; 0 decodes greedily. */
  temperature: number;
}

/** Schema of {@link SelfVerifyOptions}; the paper states the prompts only, the other defaults are rlif's. */
export const SELF_VERIFY_OPTIONS: z.ZodType<SelfVerifyOptions> = z.strictObject({
  template: z.string().min(1).default("configs/templates/self_verify_p2.jinja").describe(
    "Verification prompt (fields expr, nums, target): URLVR appendix C.1 Prompt 2 (self_verify_p2.jinja) or 1 (_p1).",
  ),
  rule: z.enum(["rlif", "tinyzero"]).default("tinyzero").describe(
    "Where the expression is read from the response: tinyzero = last line's <answer> (URLVR section 7's scorer).",
  ),
  max_new_tokens: z.number().int().min(1).default(256).describe(
    "Most tokens of a verdict (not stated in URLVR).",
  ),
  temperature: z.number().min(0).default(0).describe(
    "Sampling temperature of the verdict; 0 = greedy (not stated in URLVR).",
  ),
});

/**
 * The verdict a verification answer gives: the content of its last balanced `\boxed{…}`, trimmed,
 * compared without case — `True` is 1, anything else (`False`, another content, no box) is 0. Both of
 * the paper's prompts ask for exactly `\boxed{True}` or `\boxed{False}`.
 *
 * @example
 * ```ts
 * import { parseVerdict } from "./mod.ts";
 * parseVerdict("All checks pass. \\boxed{True}"); // 1
 * parseVerdict("\\boxed{True} ... no, \\boxed{False}"); // 0
 * parseVerdict("looks right"); // 0
 * ```
 */
export function parseVerdict(answer: string): 0 | 1 {
  return extractBoxed(answer)?.toLowerCase() === "true" ? 1 : 0;
}

/**
 * The self-verification reward of a step's groups: each rollout's expression (its `<answer>` under
 * `rule`, "" when it has none — Prompt 2's first step tells the verifier what to do then) goes into the
 * verification prompt with its group's `nums` and `target`; the policy answers every prompt through `ask`
 * (one generation call for all groups) and {@link parseVerdict} of each answer is the reward.
 *
 * @example
 * ```ts
 * const [rewards] = await selfVerify([group], ask, template, { rule: "tinyzero", max_new_tokens: 256, temperature: 0 });
 * ```
 */
export async function selfVerify(
  groups: readonly RolloutGroup[],
  ask: PolicyAsk,
  template: PromptTemplate,
  options: Omit<SelfVerifyOptions, "template">,
): Promise<number[][]> {
  const render = { applyChatTemplate: ask.applyChatTemplate, chatTemplateKwargs: ask.chatTemplateKwargs };
  const prompts = groups.flatMap((group) => {
    const { target, nums } = countdownProblemFromMeta(group.meta);
    return group.rollouts.map((r) =>
      template.render({ expr: countdownEquation(r.text, options.rule) ?? "", nums, target }, render)
    );
  });
  const answers = await ask.generate(prompts, {
    maxNewTokens: options.max_new_tokens,
    temperature: options.temperature,
  });
  let k = 0;
  return groups.map((group) => group.rollouts.map(() => parseVerdict(answers[k++])));
}

/**
 * The `self_verify` reward with its options bound: the template file is read once, on first use.
 *
 * @example
 * ```ts
 * const reward = selfVerifyReward({ template: "configs/templates/self_verify_p2.jinja", rule: "tinyzero", max_new_tokens: 256, temperature: 0 });
 * const [values] = await reward([group], ask);
 * ```
 */
export function selfVerifyReward(options: SelfVerifyOptions): AskingRewardFn {
  let template: Promise<PromptTemplate> | null = null;
  return async (groups, ask) => {
    template ??= loadPromptTemplate(options.template);
    return await selfVerify(groups, ask, await template, options);
  };
}

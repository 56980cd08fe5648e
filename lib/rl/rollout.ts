/**
 * One step's rollouts: G completions per prompt from the policy's sampling weights (its half-width copy,
 * or the policy itself), one scoring pass (the f32 policy's — the old log-probabilities and every
 * intrinsic signal; the frozen reference's when the KL term or the offline scorer needs it), rewards over
 * each prompt's group (a reward that needs the policy to generate asks the sampling weights), and
 * correctness where it can be judged.
 *
 * @module
 */
import type { Example } from "../data/fields.ts";
import { extractBoxed } from "../grading/extract.ts";
import { type Completion, generate } from "../generate/generate.ts";
import type { Model } from "../model/model.ts";
import { scoreAll } from "../model/score.ts";
import { countdownReward, type CountdownRule } from "../rewards/countdown.ts";
import { mathAccuracyScore } from "../rewards/math_accuracy.ts";
import type { RewardSpec } from "../rewards/registry.ts";
import type { Shaping } from "../rewards/types.ts";
import type { CompletionStats, PolicyAsk, RolloutGroup } from "../rewards/types.ts";
import type { GrpoConfig } from "./config.ts";

/** Everything one step learns from, completion-aligned (prompt-major, G per prompt). */
export interface RolloutBatch {
  /** Example index of each prompt of the step. */
  readonly examples: number[];
  /** The completions, G per prompt. */
  readonly completions: Completion[];
  /** The policy's statistics of each completion (its token log-probabilities are the old ones). */
  readonly stats: CompletionStats[];
  /** The reference model's token log-probabilities (KL term), when it ran. */
  readonly refLogprobs: number[][] | null;
  /** The reward before shaping. */
  readonly rawRewards: number[];
  /** The reward after per-group shaping: what advantages are computed from. */
  readonly rewards: number[];
  /** Whether each completion is right, when the example can be graded. */
  readonly correct: (boolean | null)[];
  /** The extracted answer of each completion. */
  readonly answers: (string | null)[];
  /** Per prompt: the voting reward's pseudo-label. */
  readonly pseudoLabels: (string | null)[];
}

/** The models and reward a step needs. */
export interface RolloutContext {
  /** The f32 policy: scores the completions (old log-probabilities, intrinsic signals). */
  readonly policy: Model;
  /** The weights that sample: the policy's half-width copy (`rollout.weights`), or the policy itself. */
  readonly sampler: Model;
  /** Frozen initial policy: KL reference and offline scorer (null when neither is used). */
  readonly reference: Model | null;
  readonly reward: RewardSpec;
  readonly shaping: Shaping;
  readonly config: GrpoConfig;
}

/**
 * Whether a completion answers its example correctly; null when the example has nothing to check.
 * `countdownRule` says where a Countdown answer is read (see {@link CountdownRule}; default "rlif").
 */
export function judge(example: Example, text: string, countdownRule?: CountdownRule): boolean | null {
  if (example.answer !== null) return mathAccuracyScore(text, example.answer) === 1;
  const { target, nums } = example.fields as { target?: unknown; nums?: unknown };
  if (typeof target === "number" && Array.isArray(nums)) {
    return countdownReward(text, { target, nums: nums as number[] }, { rule: countdownRule }) === 1;
  }
  return null;
}

/** Samples, scores and rewards the completions of one step. */
export async function collectRollouts(
  ctx: RolloutContext,
  examples: readonly Example[],
  prompts: { texts: string[]; ids: number[][] },
  indices: number[],
  seed: number,
): Promise<RolloutBatch> {
  const { rollout, reward, algorithm } = ctx.config;
  const n = rollout.n;
  const completions = await generate(ctx.sampler, indices.map((i) => prompts.ids[i]), {
    n,
    temperature: rollout.temperature,
    topP: rollout.top_p,
    topK: rollout.top_k,
    maxNewTokens: rollout.max_new_tokens,
    stop: rollout.stop,
    seed,
  });
  // Logits are divided by the sampling temperature before every statistic, as in TRL and verl.
  const options = { temperature: rollout.temperature };
  const needRef = algorithm.kl_coef > 0 || (reward.scorer === "offline" && ctx.reward.needsStats);
  // The policy's and the reference's scores come home in one readback.
  const jobs = [{ model: ctx.policy, items: completions, options }];
  if (needRef && ctx.reference) jobs.push({ model: ctx.reference, items: completions, options });
  const [stats, refStats = null] = await scoreAll(jobs);
  const rewardStats = reward.scorer === "offline" && refStats ? refStats : stats;

  const groups: RolloutGroup[] = indices.map((ex, p) => ({
    prompt: prompts.texts[ex],
    groundTruth: examples[ex].answer,
    meta: examples[ex].fields,
    rollouts: completions.slice(p * n, (p + 1) * n).map((c, j) => ({
      text: c.text,
      stats: rewardStats[p * n + j],
    })),
  }));
  // A reward that asks the policy asks about the whole step at once: one generation call.
  const asked = ctx.reward.ask ? await ctx.reward.ask(groups, policyAsk(ctx, seed)) : null;
  const rawRewards: number[] = [], rewards: number[] = [], pseudoLabels: (string | null)[] = [];
  groups.forEach((group, p) => {
    const outcome = ctx.reward.vote?.(group);
    const raw = outcome?.rewards ?? asked?.[p] ?? ctx.reward.fn(group);
    rawRewards.push(...raw);
    rewards.push(...ctx.shaping(raw));
    pseudoLabels.push(outcome?.label ?? null);
  });
  const rule = ctx.reward.countdownRule;
  const correct = completions.map((c, k) => judge(examples[indices[Math.floor(k / n)]], c.text, rule));
  return {
    examples: indices,
    completions,
    stats,
    refLogprobs: algorithm.kl_coef > 0 && refStats ? refStats.map((s) => s.tokenLogprobs) : null,
    rawRewards,
    rewards,
    correct,
    answers: completions.map((c) => extractBoxed(c.text)),
    pseudoLabels,
  };
}

/**
 * The sampling weights as a reward that asks the policy sees them: prompts rendered as the run renders
 * its own (through the chat template when `data.chat_template`), one answer each, drawn with the step's seed.
 */
function policyAsk(ctx: RolloutContext, seed: number): PolicyAsk {
  const tokenizer = ctx.sampler.tokenizer;
  if (!tokenizer) throw new Error("reward: asking the policy needs its tokenizer.json");
  return {
    generate: async (texts, o) => {
      const ids = texts.map((t) => tokenizer.encode(t, { addSpecialTokens: false }));
      const out = await generate(ctx.sampler, ids, {
        maxNewTokens: o.maxNewTokens,
        temperature: o.temperature,
        seed,
      });
      return out.map((c) => c.text);
    },
    applyChatTemplate: ctx.config.data.chat_template
      ? (messages, o) => tokenizer.applyChatTemplate(messages, o)
      : undefined,
  };
}

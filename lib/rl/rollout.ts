/**
 * One step's rollouts: G completions per prompt from the policy's sampling weights (its half-width copy,
 * or the policy itself), one scoring pass (the f32 policy's — the old log-probabilities and every
 * intrinsic signal; the frozen reference's when the KL term or the offline scorer needs it), rewards over
 * each prompt's group (a reward that needs the policy to generate asks the sampling weights), and
 * correctness where it can be judged — by the run's grader, as the reward judges.
 *
 * @module
 */
import type { Example } from "../data/fields.ts";
import { isEquivalent } from "../grading/equivalence.ts";
import { extractBoxed } from "../grading/extract.ts";
import { type Completion, generate } from "../generate/generate.ts";
import { highestScoreCorrect, majorityShare } from "../metrics/metrics.ts";
import type { Model } from "../model/model.ts";
import { scoreAll } from "../model/score.ts";
import type { GraderName } from "../grading/grade.ts";
import { countdownReward, type CountdownRule } from "../rewards/countdown.ts";
import { mathAccuracyScore } from "../rewards/math_accuracy.ts";
import type { RewardSpec } from "../rewards/registry.ts";
import type { Shaping } from "../rewards/types.ts";
import type { CompletionStats, PolicyAsk, RolloutGroup } from "../rewards/types.ts";
import { type GrpoConfig, runCountdownRule, runGrader } from "./config.ts";
import { groupSeed, type RolloutEngine, rolloutEngine } from "./rollout_engine.ts";

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
  /** Mean per-token KL of the scoring policy to the reference over the step's rollouts, when it ran. */
  readonly klToRef: number | null;
  /** The reward before shaping. */
  readonly rawRewards: number[];
  /** The reward after per-group shaping: what advantages are computed from. */
  readonly rewards: number[];
  /**
   * Whether each completion takes part in the update (the shaping's keep-mask: percentile filtering's
   * extremes); absent when the shaping keeps every completion.
   */
  readonly keep?: boolean[];
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
  /** The reward, resolved within the run's grader (`rewardFromConfig(config.reward, { grader: runGrader(config) })`). */
  readonly reward: RewardSpec;
  /** The reward's per-group shaping, with its keep-mask when it drops completions from the update. */
  readonly shaping: Shaping;
  readonly config: GrpoConfig;
  /** What samples the completions (default: the local engine over `sampler`). */
  readonly engine?: RolloutEngine;
}

/** How {@link judge} decides correctness. */
export interface JudgeOptions {
  /** Grader of answers with a ground truth, as `math_accuracy` grades (default `"rlif"`). */
  readonly grader?: GraderName;
  /** Where a Countdown answer is read, as the `countdown` reward reads it (default `"rlif"`). */
  readonly countdownRule?: CountdownRule;
}

/**
 * How a GRPO config's run judges correctness: its grader ({@link runGrader}) and its Countdown rule
 * ({@link runCountdownRule}) — the same choices its reward makes, so the logged correctness is what the
 * reward pays for.
 */
export function judgeOptions(config: GrpoConfig): Required<JudgeOptions> {
  return { grader: runGrader(config), countdownRule: runCountdownRule(config) };
}

/**
 * Whether a completion answers its example correctly; null when the example has nothing to check.
 *
 * @example
 * ```ts
 * const example = { fields: {}, answer: "\\frac{1}{3}", origin: "row 1" };
 * judge(example, "\\boxed{0.3333}"); // true: rlif compares decimals as written to their precision
 * judge(example, "\\boxed{0.3333}", { grader: "math_verify" }); // false
 * ```
 */
export function judge(example: Example, text: string, options: JudgeOptions = {}): boolean | null {
  if (example.answer !== null) return mathAccuracyScore(text, example.answer, options.grader) === 1;
  const { target, nums } = example.fields as { target?: unknown; nums?: unknown };
  if (typeof target === "number" && Array.isArray(nums)) {
    return countdownReward(text, { target, nums: nums as number[] }, { rule: options.countdownRule }) === 1;
  }
  return null;
}

/**
 * Samples, scores and rewards the completions of one step. Prompt group p is sampled from
 * `groupSeed(seed, p)`, by whichever engine samples.
 */
export async function collectRollouts(
  ctx: RolloutContext,
  examples: readonly Example[],
  prompts: { texts: string[]; ids: number[][] },
  indices: number[],
  seed: number,
): Promise<RolloutBatch> {
  const { rollout, reward, algorithm } = ctx.config;
  const n = rollout.n;
  const engine = ctx.engine ?? rolloutEngine(ctx.config, ctx.sampler);
  const completions = await engine.sample(
    indices.map((i) => prompts.ids[i]),
    indices.map((_, p) => groupSeed(seed, p)),
  );
  // Sampling's and scoring's buffers have shapes of their own: what one phase leaves free the next would
  // not reuse, and kept it would add up over a run's many lengths, so it goes back to the device.
  const gpu = ctx.policy.gpu;
  gpu.trim();
  // Logits are divided by the sampling temperature before every statistic, as in TRL and verl.
  const options = { temperature: rollout.temperature };
  const needRef = algorithm.kl_coef > 0 || ctx.config.log.kl_to_ref ||
    (reward.scorer === "offline" && ctx.reward.needsStats);
  // The policy's and the reference's scores come home in one readback.
  const jobs = [{ model: ctx.policy, items: completions, options }];
  if (needRef && ctx.reference) jobs.push({ model: ctx.reference, items: completions, options });
  const [stats, refStats = null] = await scoreAll(jobs);
  gpu.trim();
  const rewardStats = reward.scorer === "offline" && refStats ? refStats : stats;
  const tokenizer = ctx.sampler.tokenizer;
  const decode = tokenizer ? (ids: number[]) => tokenizer.decode(ids, { skipSpecialTokens: true }) : null;

  const groups: RolloutGroup[] = indices.map((ex, p) => ({
    prompt: prompts.texts[ex],
    groundTruth: examples[ex].answer,
    meta: examples[ex].fields,
    rollouts: completions.slice(p * n, (p + 1) * n).map((c, j) => ({
      text: c.text,
      stats: rewardStats[p * n + j],
      answerSpan: answerTokenSpan(decode, c.completionIds, c.text),
    })),
  }));
  // A reward that asks the policy asks about the whole step at once: one generation call.
  const asked = ctx.reward.ask ? await ctx.reward.ask(groups, policyAsk(ctx, seed)) : null;
  const rawRewards: number[] = [], rewards: number[] = [], pseudoLabels: (string | null)[] = [];
  const keep: boolean[] = [];
  groups.forEach((group, p) => {
    const outcome = ctx.reward.vote?.(group);
    const raw = outcome?.rewards ?? asked?.[p] ?? ctx.reward.fn(group);
    rawRewards.push(...raw);
    rewards.push(...ctx.shaping(raw));
    if (ctx.shaping.keep) keep.push(...ctx.shaping.keep(raw));
    pseudoLabels.push(outcome?.label ?? null);
  });
  // A reward may read Countdown answers its own way (self_verify: TinyZero's rule); correctness follows it.
  const judging = {
    ...judgeOptions(ctx.config),
    ...(ctx.reward.countdownRule ? { countdownRule: ctx.reward.countdownRule } : {}),
  };
  const correct = completions.map((c, k) => judge(examples[indices[Math.floor(k / n)]], c.text, judging));
  return {
    examples: indices,
    completions,
    stats,
    refLogprobs: algorithm.kl_coef > 0 && refStats ? refStats.map((s) => s.tokenLogprobs) : null,
    klToRef: ctx.config.log.kl_to_ref && refStats
      ? klToReference(stats.map((s) => s.tokenLogprobs), refStats.map((s) => s.tokenLogprobs))
      : null,
    rawRewards,
    rewards,
    ...(ctx.shaping.keep ? { keep } : {}),
    correct,
    answers: completions.map((c) => extractBoxed(c.text)),
    pseudoLabels,
  };
}

/**
 * The completion tokens `[start, end)` that spell the final answer, the last `\boxed{…}` with its
 * braces: the first token whose decoded prefix reaches into it through the one that completes it. Null
 * when the text has no complete box, or without a tokenizer to map characters to tokens.
 *
 * @example
 * ```ts
 * answerTokenSpan((ids) => ids.map((i) => "ab\\boxed{7}"[i]).join(""), [...Array(11).keys()], "ab\\boxed{7}");
 * // { start: 2, end: 11 }
 * ```
 */
export function answerTokenSpan(
  decode: ((ids: number[]) => string) | null,
  completionIds: readonly number[],
  text: string,
): { start: number; end: number } | null {
  const open = text.lastIndexOf("\\boxed{");
  if (decode === null || open < 0) return null;
  let depth = 0, close = -1;
  for (let i = open + "\\boxed".length; i < text.length && close < 0; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) close = i;
  }
  if (close < 0) return null;
  // Decoded prefixes grow with the token count, so each boundary is a binary search over prefix lengths.
  const firstReaching = (chars: number) => {
    let lo = 0, hi = completionIds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (decode(completionIds.slice(0, mid + 1)).length >= chars) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const start = firstReaching(open + 1);
  const end = firstReaching(close + 1) + 1;
  return end > start && end <= completionIds.length ? { start, end } : null;
}

/**
 * The training–inference mismatch of a step: the mean over every completion token of
 * |log p_engine − log p_learner|, the engine's log-probability of the sampled token against the f32
 * policy's in the scoring pass. The scoring pass is under the temperature-scaled distribution (logits / T,
 * no top-k or top-p truncation), as the local engine's are: engines that report raw log-probabilities are
 * comparable only at T = 1 (`rollout.engine_logprobs`). Null without tokens.
 */
export function logprobMismatch(
  completions: readonly Completion[],
  stats: readonly CompletionStats[],
): number | null {
  let sum = 0, count = 0;
  completions.forEach((c, i) => {
    c.logprobs.forEach((x, t) => {
      sum += Math.abs(x - stats[i].tokenLogprobs[t]);
      count++;
    });
  });
  return count ? sum / count : null;
}

/**
 * Mean over every completion token of Schulman's k3 estimate of KL(π ‖ π_ref),
 * exp(r − x) − (r − x) − 1 with x, r the policy's and the reference's log-probabilities of the sampled
 * token: non-negative and unbiased for tokens sampled from π (URLVR Fig. 7 tracks this KL).
 */
export function klToReference(policy: readonly number[][], reference: readonly number[][]): number | null {
  let sum = 0, count = 0;
  policy.forEach((xs, i) => {
    xs.forEach((x, t) => {
      const d = reference[i][t] - x;
      sum += Math.exp(d) - d - 1;
      count++;
    });
  });
  return count ? sum / count : null;
}

/** Pseudo-label diagnostics of one step (URLVR App. B.2), null where they cannot be judged. */
export interface RolloutDiagnostics {
  /**
   * Voting rewards: the share of prompts whose majority-vote label is correct (eq. 39). Every other
   * reward: the share of prompts whose highest-raw-reward response is correct (eq. 43).
   */
  label_accuracy: number | null;
  /** Voting rewards only: how often a rollout's 0/1 reward agrees with its correctness (eq. 40). */
  reward_accuracy: number | null;
  /** Mean over prompts of the majority answer's share of the group (p_maj, URLVR App. A.1). */
  p_maj: number | null;
}

/**
 * The step's label accuracy, reward accuracy and p_maj. Answers are grouped with the same equivalence
 * the voting rewards use (`isEquivalent`).
 */
export function rolloutDiagnostics(b: RolloutBatch): RolloutDiagnostics {
  const n = b.completions.length / b.examples.length;
  const voting = b.pseudoLabels.some((l) => l !== null);
  const labels = b.examples.map((_, p) => {
    const c = b.correct.slice(p * n, (p + 1) * n);
    if (!voting) return highestScoreCorrect(b.rawRewards.slice(p * n, (p + 1) * n), c);
    const label = b.pseudoLabels[p];
    const k = b.answers.slice(p * n, (p + 1) * n).indexOf(label);
    return label === null || k < 0 ? null : c[k];
  }).filter((x): x is boolean => x !== null);
  const agree = b.rawRewards.map((r, k) => (b.correct[k] === null ? null : (r > 0.5) === b.correct[k]))
    .filter((x): x is boolean => x !== null);
  // Empty boxes do not vote, as in the voting rewards.
  const answers = b.answers.map((a) => a?.trim() || null);
  const shares = b.examples.map((_, p) => majorityShare(answers.slice(p * n, (p + 1) * n), isEquivalent));
  const share = (xs: boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : null);
  return {
    label_accuracy: share(labels),
    reward_accuracy: voting ? share(agree) : null,
    p_maj: shares.length ? shares.reduce((a, x) => a + x, 0) / shares.length : null,
  };
}

/**
 * The sampling weights as a reward that asks the policy sees them: prompts rendered as the run renders
 * its own (through the chat template and its `data.chat_template_kwargs` when `data.chat_template`), one
 * answer each, drawn with the step's seed.
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
    chatTemplateKwargs: ctx.config.data.chat_template ? ctx.config.data.chat_template_kwargs : undefined,
  };
}

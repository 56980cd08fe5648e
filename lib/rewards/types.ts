/**
 * The shapes rewards work on: per-completion scoring statistics (one forward pass of the policy over
 * prompt + completion) and a group of rollouts that share one prompt.
 *
 * @module
 */

/**
 * Chain-of-Embedding statistics of one completion: how the hidden state, mean-pooled over the
 * completion's tokens, moves from layer to layer (h_0 = embedding output, h_1 … h_L = decoder layer
 * outputs, h_L after the final norm).
 */
export interface CoeStats {
  /**
   * First-order dynamics (layer-to-layer steps): mean_l ‖h_{l+1} − h_l‖ / Z with Z = ‖h_L − h_0‖ + 1e-8.
   */
  d1: number;
  /** Second-order dynamics (change between steps): mean_l ‖h_{l+1} − 2h_l + h_{l−1}‖ / Z. */
  d2: number;
  /** CoE magnitude feature: mean_l ‖h_{l+1} − h_l‖ / ‖h_L − h_0‖ (d1 without the epsilon). */
  mag: number;
  /** CoE angle feature: mean_l arccos(cos(h_{l+1}, h_l)) / arccos(cos(h_L, h_0)). */
  ang: number;
  /** CoE-R score (magnitude and angle combined in real space): mag − ang. */
  r: number;
  /**
   * CoE-C score (magnitude and angle combined in the complex plane): |mean_l mag_l · e^{i·ang_l}| over the
   * per-layer normalised magnitudes and angles.
   */
  c: number;
}

/** Every intrinsic signal of one completion, computed in one scoring pass. */
export interface CompletionStats {
  /** Log-probability of each sampled completion token under the policy. */
  tokenLogprobs: number[];
  /** Entropy (nats) of the policy's next-token distribution at each completion position. */
  tokenEntropy: number[];
  /** Intuitor self-certainty: mean over positions of KL(uniform ‖ policy). */
  selfCertainty: number;
  /** Mean of `tokenEntropy`. */
  meanTokenEntropy: number;
  /** Sum of `tokenLogprobs`: log-probability of the whole completion. */
  trajectoryLogprob: number;
  /** Mean of `tokenLogprobs`. */
  meanLogprob: number;
  /**
   * Disparity: mean over positions of p(top-1) − p(top-2), the gap between the two largest next-token
   * probabilities (not log-probabilities), in [0, 1].
   */
  topGap: number;
  /**
   * p(top-1) − p(top-2) at each completion position (`topGap` is its mean). The scoring pass fills it;
   * optional so stats built by hand without it still serve every other reward.
   */
  tokenTopGap?: number[];
  /** Hidden-state trajectory features. */
  coe: CoeStats;
}

/** One sampled completion, with its scoring statistics when a scoring pass ran. */
export interface GroupRollout {
  /** Decoded completion text (without the prompt). */
  text: string;
  /** Intrinsic statistics; required by intrinsic and self-certainty-weighted rewards. */
  stats?: CompletionStats;
  /**
   * Completion tokens `[start, end)` of the final answer (the last `\boxed{…}`), null when the text has
   * none; the trainer's rollouts carry it, for rewards over the answer only (RLSF's disparity).
   */
  answerSpan?: { start: number; end: number } | null;
}

/** One prompt's G rollouts, the unit every reward works on. */
export interface RolloutGroup {
  /** The rendered prompt text. */
  prompt: string;
  /** Reference answer for verifiable rewards; absent or null in label-free training. */
  groundTruth?: string | null;
  /** The example's other fields (Countdown's `target` and `nums`, ...). */
  meta?: Record<string, unknown>;
  /** The group's completions. */
  rollouts: GroupRollout[];
}

/**
 * A reward: one number per rollout of a group, in rollout order.
 *
 * @example
 * ```ts
 * import type { RewardFn } from "./mod.ts";
 * const lengthPenalty: RewardFn = (group) => group.rollouts.map((r) => -r.text.length / 1000);
 * ```
 */
export type RewardFn = (group: RolloutGroup) => number[];

/**
 * A per-group transform of reward values (normalisation, filtering, discretisation). A shaping that
 * drops rollouts from the update (percentile filtering) also carries `keep`: which rollouts of the group
 * take part, from the same raw values. The trainer gives the others advantage 0 and no loss weight, and
 * leaves them out of the group's mean and std; the shaped values alone (as a hybrid term sees them) zero
 * them instead.
 */
export type Shaping = ((values: readonly number[]) => number[]) & {
  readonly keep?: (values: readonly number[]) => boolean[];
};

/** Options of one {@link PolicyAsk.generate} call. */
export interface AskOptions {
  /** Most tokens of each answer. */
  readonly maxNewTokens: number;
  /** Sampling temperature; 0 decodes greedily. */
  readonly temperature: number;
}

/**
 * The policy as a reward that asks it a question sees it (a reward with `needs: "generate"`): the
 * trainer's sampling weights at the current step, and the chat templating its prompts were rendered with.
 */
export interface PolicyAsk {
  /** One completion of each prompt text, in order (the texts are tokenized without special tokens). */
  generate(prompts: readonly string[], options: AskOptions): Promise<string[]>;
  /** The tokenizer's chat template, when the run renders prompts through it (`data.chat_template`). */
  readonly applyChatTemplate?: (
    messages: { role: string; content: string }[],
    options: { addGenerationPrompt: boolean; variables?: Record<string, unknown> },
  ) => string;
  /** The chat template's extra variables the run's prompts were rendered with (`data.chat_template_kwargs`). */
  readonly chatTemplateKwargs?: Record<string, unknown>;
}

/**
 * A reward that asks the policy before it scores (self-verification), over a step's groups at once so
 * that the policy answers in one batched generation: per group, one number per rollout in rollout order.
 */
export type AskingRewardFn = (groups: readonly RolloutGroup[], ask: PolicyAsk) => Promise<number[][]>;

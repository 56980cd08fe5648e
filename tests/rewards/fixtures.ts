import type { CompletionStats, GroupRollout, RolloutGroup } from "../../lib/rewards/types.ts";

/** Stats whose fields are all distinct so a reward reading the wrong one is caught. */
export function stats(overrides: Partial<CompletionStats> = {}): CompletionStats {
  return {
    tokenLogprobs: [-0.5, -1.5],
    tokenEntropy: [0.25, 0.75],
    selfCertainty: 3,
    meanTokenEntropy: 0.5,
    trajectoryLogprob: -2,
    meanLogprob: -1,
    topGap: 0.45,
    coe: { d1: 0.8, d2: 0.3, mag: 0.6, ang: 0.2, r: 0.4, c: 0.7 },
    ...overrides,
  };
}

/** A group of rollouts from texts (and optional stats per rollout). */
export function group(
  texts: string[],
  options: {
    stats?: (CompletionStats | undefined)[];
    groundTruth?: string | null;
    meta?: Record<string, unknown>;
  } = {},
): RolloutGroup {
  const rollouts: GroupRollout[] = texts.map((text, i) => ({ text, stats: options.stats?.[i] }));
  return { prompt: "p", groundTruth: options.groundTruth, meta: options.meta, rollouts };
}

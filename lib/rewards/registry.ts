/**
 * Rewards and shapings by the names YAML configs use. Options are the YAML's snake_case keys; an
 * unknown name or option is an error that lists what is valid.
 *
 * @module
 */

import type { VoteOutcome } from "./answer_classes.ts";
import { bordaVoteOutcome } from "./borda_vote.ts";
import { coeC, coeD1, coeD1D2, coeD2, coeR } from "./coe.ts";
import { countdown } from "./countdown.ts";
import { easyR1Math } from "./easyr1_math.ts";
import { negativeEntropy } from "./entropy.ts";
import { RewardError } from "./errors.ts";
import { formatReward } from "./format.ts";
import { majorityVoteOutcome } from "./majority_vote.ts";
import { mathAccuracy } from "./math_accuracy.ts";
import { selfCertainty } from "./self_certainty.ts";
import { discretize, hybrid, type HybridComponent, minMax, percentileFilter, zScore } from "./shaping.ts";
import { topGap } from "./top_gap.ts";
import {
  meanLogprob,
  normalizedSequenceProbability,
  sequenceProbability,
  trajectoryLogprob,
} from "./trajectory.ts";
import type { RewardFn, RolloutGroup, Shaping } from "./types.ts";

/** What a reward reads, so a trainer knows what it must compute first. */
export type RewardKind = "intrinsic" | "ensemble" | "verifiable" | "hybrid";

/** A reward resolved from its config name. */
export interface RewardSpec {
  /** The config name. */
  name: string;
  /** The reward, with its options bound. */
  fn: RewardFn;
  /** Intrinsic (needs stats), ensemble (votes over answers), verifiable (needs ground truth or meta), hybrid. */
  kind: RewardKind;
  /** Whether any rollout stats are read (run the scoring pass first). */
  needsStats: boolean;
  /** Whether `group.groundTruth` is read. */
  needsGroundTruth: boolean;
  /** For voting rewards: the full outcome with the pseudo-label; its `rewards` equal `fn(group)`. */
  vote?: (group: RolloutGroup) => VoteOutcome;
}

/** Options a config may give a reward, as parsed from YAML. */
export type RewardOptions = Record<string, unknown>;

interface Entry {
  kind: RewardKind;
  needsStats: boolean;
  needsGroundTruth: boolean;
  options: readonly string[];
  doc: string;
  build: (
    options: RewardOptions,
    name: string,
  ) => Omit<RewardSpec, "name" | "kind" | "needsStats" | "needsGroundTruth">;
}

function num(name: string, options: RewardOptions, key: string): number | undefined {
  const v = options[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new RewardError(`reward "${name}": option ${key} must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function str(name: string, options: RewardOptions, key: string): string | undefined {
  const v = options[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") {
    throw new RewardError(`reward "${name}": option ${key} must be a string, got ${JSON.stringify(v)}`);
  }
  return v;
}

const intrinsic = (fn: RewardFn, doc: string): Entry => ({
  kind: "intrinsic",
  needsStats: true,
  needsGroundTruth: false,
  options: [],
  doc,
  build: () => ({ fn }),
});

const REWARDS: Record<string, Entry> = {
  self_certainty: intrinsic(selfCertainty, "Intuitor self-certainty"),
  neg_entropy: intrinsic(negativeEntropy, "minus mean token entropy (RENT, EM-RL token)"),
  traj_logprob: intrinsic(trajectoryLogprob, "sum of token log-probabilities (EM-RL trajectory)"),
  mean_logprob: intrinsic(meanLogprob, "mean token log-probability"),
  seq_prob: intrinsic(sequenceProbability, "exp(sum logprob) (RLSC)"),
  seq_prob_norm: intrinsic(normalizedSequenceProbability, "exp(mean logprob)"),
  top_gap: intrinsic(topGap, "mean top-1 minus top-2 token probability"),
  coe_d1: intrinsic(coeD1, "CoE first-order dynamics"),
  coe_d2: intrinsic(coeD2, "CoE second-order dynamics"),
  coe_d1_d2: intrinsic(coeD1D2, "CoE d1 + d2"),
  coe_r: intrinsic(coeR, "CoE-R"),
  coe_c: intrinsic(coeC, "CoE-C"),
  majority_vote: {
    kind: "ensemble",
    needsStats: false,
    needsGroundTruth: false,
    options: [],
    doc: "TTRL majority vote over \\boxed answers",
    build: () => ({ fn: (g) => majorityVoteOutcome(g).rewards, vote: majorityVoteOutcome }),
  },
  borda_vote: {
    kind: "ensemble",
    needsStats: true,
    needsGroundTruth: false,
    options: ["power"],
    doc: "vote weighted by self-certainty rank, (N - r + 1)^power",
    build: (o, name) => {
      const power = num(name, o, "power");
      const vote = (g: RolloutGroup) => bordaVoteOutcome(g, { power });
      return { fn: (g) => vote(g).rewards, vote };
    },
  },
  math_accuracy: {
    kind: "verifiable",
    needsStats: false,
    needsGroundTruth: true,
    options: [],
    doc: "last \\boxed answer equivalent to the ground truth",
    build: () => ({ fn: mathAccuracy }),
  },
  format: {
    kind: "verifiable",
    needsStats: false,
    needsGroundTruth: false,
    options: ["prefill"],
    doc: "<think>...</think> then \\boxed{...}",
    build: (o, name) => {
      const prefill = str(name, o, "prefill");
      return { fn: (g) => formatReward(g, { prefill }) };
    },
  },
  easyr1_math: {
    kind: "verifiable",
    needsStats: false,
    needsGroundTruth: true,
    options: ["format_weight", "prefill"],
    doc: "(1 - format_weight) * accuracy + format_weight * format",
    build: (o, name) => {
      const formatWeight = num(name, o, "format_weight"), prefill = str(name, o, "prefill");
      return { fn: (g) => easyR1Math(g, { formatWeight, prefill }) };
    },
  },
  countdown: {
    kind: "verifiable",
    needsStats: false,
    needsGroundTruth: false,
    options: [],
    doc: "TinyZero Countdown: 1 correct, 0.1 answered, 0 no <answer>",
    build: () => ({ fn: countdown }),
  },
};

/** Every reward name {@link rewardByName} accepts ("hybrid" included). */
export const REWARD_NAMES: readonly string[] = [...Object.keys(REWARDS), "hybrid"];

/** Every shaping name {@link shapingByName} accepts. */
export const SHAPING_NAMES: readonly string[] = ["none", "zscore", "minmax", "percentile", "discretize"];

const SHAPING_OPTIONS: Record<string, readonly string[]> = {
  none: [],
  zscore: ["eps", "std"],
  minmax: [],
  percentile: ["top", "bottom"],
  discretize: ["top", "bottom", "middle"],
};

function checkOptionKeys(what: string, options: RewardOptions, valid: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!valid.includes(key)) {
      throw new RewardError(
        `${what}: unknown option "${key}"; ` +
          (valid.length ? `valid options: ${valid.join(", ")}` : "it takes none"),
      );
    }
  }
}

function asOptions(what: string, value: unknown): RewardOptions {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new RewardError(`${what}: options must be a mapping, got ${JSON.stringify(value)}`);
  }
  return value as RewardOptions;
}

/**
 * A shaping by config name: "none", "zscore" (eps, std: "sample" | "population"), "minmax",
 * "percentile" (top, bottom fractions) or "discretize" (top, bottom, middle).
 *
 * @example
 * ```ts
 * import { shapingByName } from "./mod.ts";
 * shapingByName("percentile", { top: 0.25, bottom: 0.25 })([5, 1, 3, 4]); // [5, 1, 0, 0]
 * ```
 */
export function shapingByName(name: string, options: RewardOptions = {}): Shaping {
  const valid = SHAPING_OPTIONS[name];
  if (!valid) throw new RewardError(`unknown shaping "${name}"; valid shapings: ${SHAPING_NAMES.join(", ")}`);
  const what = `shaping "${name}"`;
  checkOptionKeys(what, options, valid);
  const n = (key: string) => num(what, options, key);
  const need = (key: string) => {
    const v = n(key);
    if (v === undefined) throw new RewardError(`${what}: option ${key} is required`);
    return v;
  };
  switch (name) {
    case "zscore": {
      const std = str(what, options, "std");
      if (std !== undefined && std !== "sample" && std !== "population") {
        throw new RewardError(`${what}: std must be "sample" or "population", got "${std}"`);
      }
      const eps = n("eps");
      return (v) => zScore(v, { eps, std: std as "sample" | "population" | undefined });
    }
    case "minmax":
      return minMax;
    case "percentile": {
      const top = need("top"), bottom = need("bottom");
      return (v) => percentileFilter(v, { top, bottom });
    }
    case "discretize": {
      const top = need("top"), bottom = need("bottom"), middle = n("middle");
      return (v) => discretize(v, { top, bottom, middle });
    }
    default:
      return (v) => [...v];
  }
}

function resolveHybrid(options: RewardOptions): RewardSpec {
  checkOptionKeys(`reward "hybrid"`, options, ["components"]);
  const list = options.components;
  if (!Array.isArray(list) || list.length === 0) {
    throw new RewardError(
      `reward "hybrid": option components must be a non-empty list of {name, weight, options?, shaping?}`,
    );
  }
  const specs: RewardSpec[] = [];
  const components: HybridComponent[] = list.map((raw, k) => {
    const what = `reward "hybrid": component ${k}`;
    const c = asOptions(what, raw);
    checkOptionKeys(what, c, ["name", "weight", "options", "shaping"]);
    if (typeof c.name !== "string") throw new RewardError(`${what}: name must be a reward name string`);
    if (c.name === "hybrid") {
      throw new RewardError(`${what}: hybrids do not nest; list the components directly`);
    }
    const weight = c.weight ?? 1;
    if (typeof weight !== "number" || !Number.isFinite(weight)) {
      throw new RewardError(`${what} (${c.name}): weight must be a number, got ${JSON.stringify(c.weight)}`);
    }
    const spec = resolveReward(c.name, asOptions(`${what} (${c.name}) options`, c.options));
    specs.push(spec);
    let shaping: Shaping | undefined;
    if (typeof c.shaping === "string") shaping = shapingByName(c.shaping);
    else if (c.shaping !== undefined && c.shaping !== null) {
      const s = asOptions(`${what} (${c.name}) shaping`, c.shaping);
      const { name: shapingName, ...shapingOptions } = s;
      if (typeof shapingName !== "string") {
        throw new RewardError(`${what} (${c.name}): shaping needs a name (${SHAPING_NAMES.join(", ")})`);
      }
      shaping = shapingByName(shapingName, shapingOptions);
    }
    return { fn: spec.fn, weight, shaping, name: c.name };
  });
  return {
    name: "hybrid",
    fn: hybrid(components),
    kind: "hybrid",
    needsStats: specs.some((s) => s.needsStats),
    needsGroundTruth: specs.some((s) => s.needsGroundTruth),
  };
}

/**
 * A reward by config name with what it needs, and for voting rewards the pseudo-label. `options` are the
 * YAML's keys: `borda_vote` {power}, `format` {prefill}, `easyr1_math` {format_weight, prefill},
 * `hybrid` {components: [{name, weight, options?, shaping?: name | {name, ...options}}]}; the others take
 * none.
 *
 * @example
 * ```ts
 * import { resolveReward } from "./mod.ts";
 * const spec = resolveReward("majority_vote");
 * spec.needsStats; // false
 * spec.vote!(group).label; // the group's pseudo-label
 * ```
 */
export function resolveReward(name: string, options: RewardOptions = {}): RewardSpec {
  if (name === "hybrid") return resolveHybrid(options);
  const entry = REWARDS[name];
  if (!entry) {
    throw new RewardError(`unknown reward "${name}"; valid rewards: ${REWARD_NAMES.join(", ")}`);
  }
  checkOptionKeys(`reward "${name}"`, options, entry.options);
  return {
    name,
    kind: entry.kind,
    needsStats: entry.needsStats,
    needsGroundTruth: entry.needsGroundTruth,
    ...entry.build(options, name),
  };
}

/**
 * The reward function for a config name (see {@link resolveReward} for names and options).
 *
 * @example
 * ```ts
 * import { rewardByName } from "./mod.ts";
 * const reward = rewardByName("easyr1_math", { format_weight: 0.1 });
 * reward({ prompt: "1+1?", groundTruth: "2", rollouts: [{ text: "<think>…</think>\\boxed{2}" }] }); // [1]
 * ```
 */
export function rewardByName(name: string, options: RewardOptions = {}): RewardFn {
  return resolveReward(name, options).fn;
}

/** One line per reward name with what it computes, for `--help` output and error messages. */
export function describeRewards(): string {
  return Object.entries(REWARDS)
    .map(([name, e]) => `${name}: ${e.doc}${e.options.length ? ` (options: ${e.options.join(", ")})` : ""}`)
    .concat("hybrid: weighted sum of rewards (options: components)")
    .join("\n");
}

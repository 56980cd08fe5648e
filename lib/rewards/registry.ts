/**
 * Rewards and shapings by the names YAML configs use. Each reward's options are a zod schema declared
 * beside it (the YAML's snake_case keys with defaults); {@link REWARD_CONFIG_SCHEMA} is a config's whole
 * `reward` section. An unknown name or option is an error that names its path and lists what is valid.
 *
 * @module
 */

import type { VoteOutcome } from "./answer_classes.ts";
import { BORDA_VOTE_OPTIONS, bordaVoteOutcome } from "./borda_vote.ts";
import { coeC, coeD1, coeD1D2, coeD2, coeR } from "./coe.ts";
import { countdown, COUNTDOWN_RULES, type CountdownRule } from "./countdown.ts";
import { EASYR1_MATH_OPTIONS, easyR1Math } from "./easyr1_math.ts";
import { negativeEntropy } from "./entropy.ts";
import { RewardError } from "./errors.ts";
import { FORMAT_OPTIONS, formatReward } from "./format.ts";
import { majorityVoteOutcome } from "./majority_vote.ts";
import { MATH_ACCURACY_OPTIONS, mathAccuracy } from "./math_accuracy.ts";
import { selfCertainty } from "./self_certainty.ts";
import { SELF_VERIFY_OPTIONS, type SelfVerifyOptions, selfVerifyReward } from "./self_verify.ts";
import {
  hybrid,
  type HybridComponent,
  SHAPING_NAMES,
  SHAPING_SCHEMA,
  type ShapingConfig,
  shapingFromConfig,
} from "./shaping.ts";
import { TOP_GAP_OPTIONS, topGap, type TopGapSpan } from "./top_gap.ts";
import {
  meanLogprob,
  normalizedSequenceProbability,
  sequenceProbability,
  trajectoryLogprob,
} from "./trajectory.ts";
import type { AskingRewardFn, RewardFn, RolloutGroup, Shaping } from "./types.ts";
import { z } from "zod";
import { schemaProblems } from "../schema.ts";
import type { GraderName } from "../grading/grade.ts";

export { SHAPING_NAMES };

/**
 * What a reward reads, so a trainer knows what it must compute first; "external" rewards ask the policy
 * (URLVR section 7's self-verification, an external reward in its taxonomy, section 2.2).
 */
export type RewardKind = "intrinsic" | "ensemble" | "verifiable" | "external" | "hybrid";

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
  /**
   * For rewards that need the policy to generate (self_verify): the reward, given the policy to ask;
   * the trainer calls it instead of `fn`, which throws.
   */
  ask?: AskingRewardFn;
  /** How the ground-truth judge reads Countdown answers in runs of this reward (default "rlif"). */
  countdownRule?: CountdownRule;
}

/** Options a config may give a reward, as parsed from YAML. */
export type RewardOptions = Record<string, unknown>;

interface Entry {
  kind: RewardKind;
  needsStats: boolean;
  needsGroundTruth: boolean;
  /** The reward's options (YAML keys) with their defaults; parsed before `build` sees them. */
  // deno-lint-ignore no-explicit-any
  options: z.ZodType<any>;
  doc: string;
  // deno-lint-ignore no-explicit-any
  build: (options: any) => Omit<RewardSpec, "name" | "kind" | "needsStats" | "needsGroundTruth">;
}

const NO_OPTIONS = z.strictObject({});

/** The options `countdown` takes in a config (YAML keys), with their defaults. */
export const COUNTDOWN_OPTIONS: z.ZodType<{ rule: CountdownRule }> = z.strictObject({
  rule: z.enum(COUNTDOWN_RULES as [CountdownRule, ...CountdownRule[]]).default("rlif").describe(
    "Where the <answer> tag is read: rlif = the last one anywhere; tinyzero = on the last line only " +
      "(TinyZero's countdown.py, the URLVR recipe's scorer).",
  ),
});

const intrinsic = (fn: RewardFn, doc: string): Entry => ({
  kind: "intrinsic",
  needsStats: true,
  needsGroundTruth: false,
  options: NO_OPTIONS,
  doc,
  build: () => ({ fn }),
});

const REWARDS: Record<string, Entry> = {
  self_certainty: intrinsic(selfCertainty, "Intuitor self-certainty"),
  neg_entropy: intrinsic(negativeEntropy, "minus mean token entropy (RENT, EM-RL token)"),
  traj_logprob: intrinsic(
    trajectoryLogprob,
    "sum of token log-probabilities (EM-RL's sequence log-likelihood; URLVR's Trajectory-Level Entropy is the mean: trajectory_entropy)",
  ),
  mean_logprob: intrinsic(meanLogprob, "mean token log-probability (same reward as trajectory_entropy)"),
  trajectory_entropy: intrinsic(
    meanLogprob,
    "URLVR Trajectory-Level Entropy (Table 1, eq. 33): mean token log-probability, (1/|y|) log pi(y|x)",
  ),
  seq_prob: intrinsic(sequenceProbability, "exp(sum logprob) (RLSC)"),
  seq_prob_norm: intrinsic(normalizedSequenceProbability, "exp(mean logprob)"),
  top_gap: {
    kind: "intrinsic",
    needsStats: true,
    needsGroundTruth: false,
    options: TOP_GAP_OPTIONS,
    doc: "mean top-1 minus top-2 token probability; span: answer = RLSF's probability disparity",
    build: (o: { span: TopGapSpan }) => ({ fn: (g) => topGap(g, { span: o.span }) }),
  },
  coe_d1: intrinsic(coeD1, "CoE first-order dynamics"),
  coe_d2: intrinsic(coeD2, "CoE second-order dynamics"),
  coe_d1_d2: intrinsic(coeD1D2, "CoE d1 + d2"),
  coe_r: intrinsic(coeR, "CoE-R"),
  coe_c: intrinsic(coeC, "CoE-C"),
  majority_vote: {
    kind: "ensemble",
    needsStats: false,
    needsGroundTruth: false,
    options: NO_OPTIONS,
    doc: "TTRL majority vote over \\boxed answers",
    build: () => ({ fn: (g) => majorityVoteOutcome(g).rewards, vote: majorityVoteOutcome }),
  },
  borda_vote: {
    kind: "ensemble",
    needsStats: true,
    needsGroundTruth: false,
    options: BORDA_VOTE_OPTIONS,
    doc: "vote weighted by self-certainty rank, (N - r + 1)^power",
    build: (o: { power: number }) => {
      const vote = (g: RolloutGroup) => bordaVoteOutcome(g, { power: o.power });
      return { fn: (g) => vote(g).rewards, vote };
    },
  },
  math_accuracy: {
    kind: "verifiable",
    needsStats: false,
    needsGroundTruth: true,
    options: MATH_ACCURACY_OPTIONS,
    doc: "1 when the answer is right by the grader (rlif: the last \\boxed answer), else 0",
    build: (o: { grader: GraderName }) => ({ fn: (g) => mathAccuracy(g, { grader: o.grader }) }),
  },
  format: {
    kind: "verifiable",
    needsStats: false,
    needsGroundTruth: false,
    options: FORMAT_OPTIONS,
    doc: "<think>...</think> then \\boxed{...}",
    build: (o: { prefill: string }) => ({ fn: (g) => formatReward(g, { prefill: o.prefill }) }),
  },
  easyr1_math: {
    kind: "verifiable",
    needsStats: false,
    needsGroundTruth: true,
    options: EASYR1_MATH_OPTIONS,
    doc: "(1 - format_weight) * accuracy + format_weight * format",
    build: (o: { format_weight: number; prefill: string; grader: GraderName }) => ({
      fn: (g) => easyR1Math(g, { formatWeight: o.format_weight, prefill: o.prefill, grader: o.grader }),
    }),
  },
  countdown: {
    kind: "verifiable",
    needsStats: false,
    needsGroundTruth: false,
    options: COUNTDOWN_OPTIONS,
    doc: "TinyZero Countdown: 1 correct, 0.1 answered, 0 no <answer>",
    build: (o: { rule: CountdownRule }) => ({ fn: (g) => countdown(g, { rule: o.rule }) }),
  },
  self_verify: {
    kind: "external",
    needsStats: false,
    needsGroundTruth: false,
    options: SELF_VERIFY_OPTIONS,
    doc: "URLVR self-verification: the policy's \\boxed{True} verdict on its own Countdown answer",
    build: (o: SelfVerifyOptions) => ({
      fn: () => {
        throw new RewardError("self_verify asks the policy for its verdict: call the spec's ask, not fn");
      },
      ask: selfVerifyReward(o),
      countdownRule: o.rule,
    }),
  },
};

/** Every reward name {@link rewardByName} accepts ("hybrid" included). */
export const REWARD_NAMES: readonly string[] = [...Object.keys(REWARDS), "hybrid"];

// deno-lint-ignore no-explicit-any
const shapeOf = (schema: z.ZodType): Record<string, z.ZodType> => (schema as any)._zod.def.shape;

/** One term of a hybrid reward in a config, after defaults. */
export interface HybridComponentConfig {
  /** Reward of this term (any but hybrid). */
  name: string;
  /** Its weight in the sum. */
  weight: number;
  /** The term's reward options (that reward's keys). */
  options: RewardOptions;
  /** Shaping of this term's values within the group, before weighting. */
  shaping?: ShapingConfig;
}

const COMPONENT_VARIANTS = Object.entries(REWARDS).map(([name, e]) =>
  z.strictObject({
    name: z.literal(name),
    weight: z.number().default(1).describe("Weight of this term in the sum."),
    options: e.options.default({}).describe("The term's reward options: its keys listed under reward.name."),
    shaping: SHAPING_SCHEMA.optional().describe("Shaping of this term within the group, before weighting."),
  })
);

const HYBRID_OPTIONS = z.strictObject({
  components: z.array(
    // deno-lint-ignore no-explicit-any
    z.discriminatedUnion("name", COMPONENT_VARIANTS as any) as z.ZodType<HybridComponentConfig>,
  ).min(1).describe(
    "Terms of the weighted sum: [{name, weight, options, shaping}], each shaped within the group first.",
  ),
});

const HYBRID: Entry = {
  kind: "hybrid",
  needsStats: false,
  needsGroundTruth: false,
  options: HYBRID_OPTIONS,
  doc: "weighted sum of rewards, each with its own options and shaping",
  build: () => ({ fn: () => [] }),
};

const ENTRIES: Record<string, Entry> = { ...REWARDS, hybrid: HYBRID };

/** The options schema of each reward name (its YAML keys besides `name`), for docs and validation. */
export const REWARD_OPTIONS: Readonly<Record<string, z.ZodType>> = Object.fromEntries(
  Object.entries(ENTRIES).map(([name, e]) => [name, e.options]),
);

/** The `reward` section of a config after defaults: the reward's name, who scores, shaping, its options. */
export interface RewardConfig {
  /** One of {@link REWARD_NAMES}. */
  name: string;
  /** Who scores intrinsic rewards: the current policy (online) or the frozen initial model (offline). */
  scorer: "online" | "offline";
  /** Per-group transform of the final rewards before advantages. */
  shaping: ShapingConfig;
  /** The named reward's options (e.g. `power` of borda_vote, `components` of hybrid). */
  [option: string]: unknown;
}

const REWARD_CONFIG_VARIANTS = Object.entries(ENTRIES).map(([name, e]) =>
  z.strictObject({
    name: z.literal(name),
    scorer: z.enum(["online", "offline"]).default("online").describe(
      "Who scores intrinsic rewards: online = the current policy (Intuitor), offline = the frozen initial model.",
    ),
    shaping: SHAPING_SCHEMA.default({ name: "none" }).describe(
      "Per-group transform of rewards before advantages: a name or {name, ...options}.",
    ),
    ...shapeOf(e.options),
  })
);

/**
 * The `reward` section of a config: a mapping discriminated by `name`, holding `scorer`, `shaping` and the
 * named reward's own options (`{name: borda_vote, power: 1}`, `{name: hybrid, components: [...]}`).
 */
export const REWARD_CONFIG_SCHEMA: z.ZodType<RewardConfig> = z.discriminatedUnion(
  "name",
  // deno-lint-ignore no-explicit-any
  REWARD_CONFIG_VARIANTS as any,
) as unknown as z.ZodType<RewardConfig>;

function parsed<T>(schema: z.ZodType<T>, value: unknown, prefix: string): T {
  const r = schemaProblems(schema, value, prefix);
  if (r.problems) throw new RewardError(r.problems.map((p) => p.message).join("; "));
  return r.value;
}

/**
 * A shaping by config name: "none", "zscore" (eps, std: "sample" | "population"), "minmax",
 * "percentile" (top, bottom fractions; it also carries the keep-mask that drops the rest from the
 * update) or "discretize" (top, bottom, middle).
 *
 * @example
 * ```ts
 * import { shapingByName } from "./mod.ts";
 * const percentile = shapingByName("percentile", { top: 0.25, bottom: 0.25 });
 * percentile([5, 1, 3, 4]); // [5, 1, 0, 0]
 * percentile.keep?.([5, 1, 3, 4]); // [true, true, false, false]
 * ```
 */
export function shapingByName(name: string, options: RewardOptions = {}): Shaping {
  return shapingFromConfig(parsed(SHAPING_SCHEMA, { name, ...options }, "shaping"));
}

/** What a reward is resolved within: settings of the run that its options may leave to the run. */
export interface RewardContext {
  /**
   * The run's grader (a GRPO config's `grading.grader`): rewards that take a `grader` option and name
   * none grade with it. Default `"rlif"`.
   */
  grader?: GraderName;
}

// Whether a reward's options include `grader` (the rewards that judge answers against a ground truth).
const takesGrader = (e: Entry) => "grader" in shapeOf(e.options);

function resolveHybrid(options: { components: HybridComponentConfig[] }, context: RewardContext): RewardSpec {
  const specs: RewardSpec[] = [];
  const components: HybridComponent[] = options.components.map((c) => {
    const spec = resolveReward(c.name, c.options, context);
    if (spec.ask) {
      throw new RewardError(`reward "hybrid": component ${c.name} asks the policy, which hybrid cannot`);
    }
    specs.push(spec);
    const shaping = c.shaping ? shapingFromConfig(c.shaping) : undefined;
    return { fn: spec.fn, weight: c.weight, shaping, name: c.name };
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
 * YAML's keys, checked against the reward's schema ({@link REWARD_OPTIONS}): `borda_vote` {power},
 * `format` {prefill}, `math_accuracy` {grader}, `easyr1_math` {format_weight, prefill, grader},
 * `countdown` {rule}, `self_verify` {template, rule, max_new_tokens, temperature}, `hybrid` {components:
 * [{name, weight, options, shaping: name | {name, ...options}}]}; the others take none. A `grader` left
 * unnamed is `context.grader`, else rlif.
 *
 * @example
 * ```ts
 * import { resolveReward } from "./mod.ts";
 * const spec = resolveReward("majority_vote");
 * spec.needsStats; // false
 * spec.vote!(group).label; // the group's pseudo-label
 * ```
 */
export function resolveReward(
  name: string,
  options: RewardOptions = {},
  context: RewardContext = {},
): RewardSpec {
  const entry = ENTRIES[name];
  if (!entry) {
    throw new RewardError(`unknown reward "${name}"; valid rewards: ${REWARD_NAMES.join(", ")}`);
  }
  const o = parsed(entry.options, options, `reward "${name}"`);
  if (entry === HYBRID) return resolveHybrid(o, context);
  if (takesGrader(entry)) o.grader ??= context.grader ?? "rlif";
  return {
    name,
    kind: entry.kind,
    needsStats: entry.needsStats,
    needsGroundTruth: entry.needsGroundTruth,
    ...entry.build(o),
  };
}

/**
 * The reward and the shaping a parsed `reward` config section describes (see {@link REWARD_CONFIG_SCHEMA}),
 * resolved within the run's `context` (see {@link resolveReward}).
 *
 * @example
 * ```ts
 * const { reward, shaping } = rewardFromConfig({ name: "borda_vote", scorer: "online", shaping: { name: "none" }, power: 1 });
 * ```
 */
export function rewardFromConfig(
  config: RewardConfig,
  context: RewardContext = {},
): { reward: RewardSpec; shaping: Shaping } {
  const { name, scorer: _scorer, shaping, ...options } = config;
  return { reward: resolveReward(name, options, context), shaping: shapingFromConfig(shaping) };
}

/** The reward's own terms as `[name, options]`: itself, or each component of a hybrid. */
function rewardTerms(config: RewardConfig): Array<[string, RewardOptions]> {
  const { name, scorer: _scorer, shaping: _shaping, ...options } = config;
  if (name !== "hybrid") return [[name, options]];
  return (options.components as HybridComponentConfig[]).map((c) => [c.name, c.options]);
}

/**
 * The graders a parsed `reward` section names itself (its `grader` option, or its hybrid components'),
 * each once, in order; empty when it leaves grading to the run.
 *
 * @example
 * ```ts
 * rewardGraders({ name: "math_accuracy", scorer: "online", shaping: { name: "none" }, grader: "mathruler" });
 * // ["mathruler"]
 * ```
 */
export function rewardGraders(config: RewardConfig): GraderName[] {
  const named = rewardTerms(config).map(([, o]) => o.grader as GraderName | undefined);
  return [...new Set(named.filter((g): g is GraderName => g !== undefined))];
}

// The rule a term reads Countdown answers by when its options leave `rule` out (their schemas' defaults).
const COUNTDOWN_RULE_DEFAULTS: Readonly<Record<string, CountdownRule>> = {
  countdown: "rlif",
  self_verify: "tinyzero",
};

/**
 * The Countdown rules of a parsed `reward` section's terms that read Countdown answers (countdown, and
 * self_verify, whose rule also picks the expression it asks about), each once; empty when no term does.
 *
 * @example
 * ```ts
 * rewardCountdownRules({ name: "self_verify", scorer: "online", shaping: { name: "none" } }); // ["tinyzero"]
 * ```
 */
export function rewardCountdownRules(config: RewardConfig): CountdownRule[] {
  const terms = rewardTerms(config).filter(([name]) => name in COUNTDOWN_RULE_DEFAULTS);
  return [
    ...new Set(
      terms.map(([name, o]) => (o.rule as CountdownRule | undefined) ?? COUNTDOWN_RULE_DEFAULTS[name]),
    ),
  ];
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
  return Object.entries(ENTRIES)
    .map(([name, e]) => {
      const keys = Object.keys(shapeOf(e.options));
      return `${name}: ${e.doc}${keys.length ? ` (options: ${keys.join(", ")})` : ""}`;
    })
    .join("\n");
}

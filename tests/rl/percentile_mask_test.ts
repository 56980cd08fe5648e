/**
 * Percentile filtering masks the middle of each group out of the update: a masked completion's tokens,
 * old log-probabilities and reward change nothing, bit for bit, and the update equals the one on the
 * kept completions alone (its weights normalised over them). Without the mask, the same changes move the
 * weights, so the comparison can fail. The rollout carries the shaping's mask from the raw rewards.
 */
import { getDevice } from "../../lib/gpu/device.ts";
import { type Model, modelFromTensors } from "../../lib/model/model.ts";
import { createOptimizer } from "../../lib/model/train_step.ts";
import { createGradients } from "../../lib/model/transformer.ts";
import { resolveReward, shapingByName } from "../../lib/rewards/registry.ts";
import { percentileMask } from "../../lib/rewards/shaping.ts";
import { groupAdvantages } from "../../lib/rl/advantages.ts";
import { GRPO_CONFIG, type GrpoConfig, resolveConfig } from "../../lib/rl/config.ts";
import { updatePolicy } from "../../lib/rl/policy_update.ts";
import { collectRollouts, type RolloutBatch } from "../../lib/rl/rollout.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const gpu = await getDevice();
const PROMPT = [5, 17, 100];
const COMPLETIONS = [[8, 9, 10, 11], [7, 7], [77, 78, 79], [1, 2, 3, 4, 5]];
const OLD = COMPLETIONS.map((c) => c.map((_, k) => -2 - 0.25 * k));
const REWARDS = [0.9, 0.4, 0.1, 0.6];
const KEEP = [true, false, true, false];
const LR = 0.02;

function tinyModel(): Model {
  const tiny = sharpTinyCheckpoint({ seed: 5 });
  return modelFromTensors(gpu, tiny.config, tiny.tensors);
}

function configOf(lossAgg: string): GrpoConfig {
  return resolveConfig(
    GRPO_CONFIG,
    `model: {path: unused}
rollout: {n: 4, max_new_tokens: 8}
algorithm: {kl_coef: 0, clip_low: 0.2, clip_high: 0.2, loss_agg: ${lossAgg}}
train: {prompts_per_step: 1, micro_batch: 1, lr: ${LR}, grad_clip: 0}`,
    "mask.yaml",
  ).config;
}

function batchOf(completions: number[][], old: number[][], keep?: boolean[]): RolloutBatch {
  return {
    completions: completions.map((c) => ({ promptIds: PROMPT, completionIds: c })),
    stats: old.map((tokenLogprobs) => ({ tokenLogprobs })),
    refLogprobs: null,
    ...(keep ? { keep } : {}),
  } as unknown as RolloutBatch;
}

/**
 * One update of a fresh copy of the model, advantages from the rewards as the trainer computes them (the
 * batch's keep-mask passed on); its weights afterwards.
 */
async function update(batch: RolloutBatch, rewards: number[], config: GrpoConfig) {
  const advantages = groupAdvantages(rewards, config.rollout.n, { mask: batch.keep });
  const policy = tinyModel();
  const grads = createGradients(policy);
  const optimizer = createOptimizer(policy, {
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    maxGradNorm: 0,
  });
  await updatePolicy(
    policy,
    optimizer,
    grads,
    policy.names,
    batch,
    advantages,
    config,
    LR,
  );
  const params = new Map<string, Float32Array>();
  for (const n of policy.names) params.set(n, await policy.params.get(n)!.read() as Float32Array);
  optimizer.release();
  for (const g of grads.values()) g.release();
  policy.release();
  return params;
}

function firstDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string | null {
  for (const [n, x] of a) {
    const k = x.findIndex((v, i) => !Object.is(v, b.get(n)![i]));
    if (k >= 0) return `${n}[${k}]: ${x[k]} vs ${b.get(n)![k]}`;
  }
  return null;
}

// Same lengths, so the micro-batches keep their shapes: only the masked sequences' contents differ.
const OTHER_COMPLETIONS = COMPLETIONS.map((c, i) => (KEEP[i] ? c : c.map((t) => (t * 7 + 3) % 200)));
const OTHER_OLD = OLD.map((o, i) => (KEEP[i] ? o : o.map((x) => x - 1.5)));
const OTHER_REWARDS = REWARDS.map((r, i) => (KEEP[i] ? r : -3 * r + 5));

for (const lossAgg of ["token-mean", "seq-mean-token-mean"]) {
  Deno.test(`percentile mask (${lossAgg}): masked completions add nothing to the update, bitwise`, async () => {
    const config = configOf(lossAgg);
    const masked = await update(batchOf(COMPLETIONS, OLD, KEEP), REWARDS, config);
    const changed = await update(batchOf(OTHER_COMPLETIONS, OTHER_OLD, KEEP), OTHER_REWARDS, config);
    const diff = firstDifference(masked, changed);
    if (diff) throw new Error(`changing masked completions moved the update: ${diff}`);
    // The kept completions alone, with their own normaliser, give the same update.
    const kept = (xs: number[][] | number[]) => xs.filter((_, i) => KEEP[i]);
    const alone = await update(
      batchOf(kept(COMPLETIONS) as number[][], kept(OLD) as number[][]),
      kept(REWARDS) as number[],
      { ...config, rollout: { ...config.rollout, n: 2 } },
    );
    const vsAlone = firstDifference(masked, alone);
    if (vsAlone) throw new Error(`masked update differs from the kept completions' update: ${vsAlone}`);
    // Without the mask (the old behaviour) the same changes move the weights: the test can fail.
    const open = await update(batchOf(COMPLETIONS, OLD), REWARDS, config);
    const openChanged = await update(batchOf(OTHER_COMPLETIONS, OTHER_OLD), OTHER_REWARDS, config);
    if (firstDifference(open, openChanged) === null) {
      throw new Error(
        "without the mask the changed completions left the update unchanged; the test sees nothing",
      );
    }
  });
}

Deno.test("percentile mask: updatePolicy refuses a keep-mask of the wrong length, naming it", async () => {
  const policy = tinyModel();
  const grads = createGradients(policy);
  const optimizer = createOptimizer(policy, {
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    maxGradNorm: 0,
  });
  try {
    await updatePolicy(
      policy,
      optimizer,
      grads,
      policy.names,
      batchOf(COMPLETIONS, OLD, [true, false]),
      new Float64Array(4),
      configOf("token-mean"),
      LR,
    );
    throw new Error("a 2-entry keep-mask for 4 sequences was accepted");
  } catch (e) {
    if (!(e instanceof RangeError) || !e.message.includes("batch.keep has 2 entries for 4 sequences")) {
      throw e;
    }
  } finally {
    optimizer.release();
    for (const g of grads.values()) g.release();
    policy.release();
  }
});

Deno.test("percentile mask: rollouts carry the shaping's mask of each group's raw rewards", async () => {
  const tiny = sharpTinyCheckpoint({ seed: 13 });
  const policy = modelFromTensors(gpu, tiny.config, tiny.tensors);
  const config = resolveConfig(
    GRPO_CONFIG,
    "model: {path: m}\nrollout: {n: 4, max_new_tokens: 5, temperature: 0.9}",
    "mask.yaml",
  ).config;
  const prompts = { texts: ["a", "b"], ids: [[5, 17, 100], [260, 1]] };
  const examples = prompts.texts.map((t) => ({ fields: { problem: t }, answer: null, origin: t }));
  const ctx = { policy, sampler: policy, reference: null, reward: resolveReward("self_certainty"), config };
  const fractions = { top: 0.25, bottom: 0.25 };
  const batch = await collectRollouts(
    { ...ctx, shaping: shapingByName("percentile", fractions) },
    examples,
    prompts,
    [0, 1],
    3,
  );
  const want = [0, 1].flatMap((g) => percentileMask(batch.rawRewards.slice(4 * g, 4 * g + 4), fractions));
  if (batch.keep?.join() !== want.join()) throw new Error(`keep ${batch.keep} != ${want}`);
  if (!batch.keep.includes(false)) throw new Error("the mask masks nothing; the test sees nothing");
  const plain = await collectRollouts(
    { ...ctx, shaping: shapingByName("none") },
    examples,
    prompts,
    [0, 1],
    3,
  );
  if ("keep" in plain) throw new Error("a shaping without a mask produced one");
  policy.release();
});

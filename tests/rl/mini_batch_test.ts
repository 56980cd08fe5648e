/**
 * `train.mini_batch` (verl's ppo_mini_batch_size): a step of 2 prompts with mini_batch 1 takes two
 * optimizer updates, read back together once, the second with a ratio away from 1 against the old log-probs
 * scored before the first; it equals two updates done by hand on the halves of the batch, bit for bit,
 * and differs from the one-update step. The config rejects a mini_batch that does not divide
 * prompts_per_step.
 */
import { getDevice } from "../../lib/gpu/device.ts";
import { type Model, modelFromTensors } from "../../lib/model/model.ts";
import { score } from "../../lib/model/score.ts";
import { createOptimizer } from "../../lib/model/train_step.ts";
import { createGradients } from "../../lib/model/transformer.ts";
import { ConfigError, GRPO_CONFIG, type GrpoConfig, resolveConfig } from "../../lib/rl/config.ts";
import { updatePolicy, type UpdateStats } from "../../lib/rl/policy_update.ts";
import type { RolloutBatch } from "../../lib/rl/rollout.ts";
import { assertClose } from "../support/numeric.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const gpu = await getDevice();
const PROMPTS = [[5, 17, 100], [5, 17, 100], [260, 1], [260, 1]];
const COMPLETIONS = [[8, 9, 10, 11], [7, 7], [77, 78, 79], [1, 2, 3, 4, 5]];
const ADVANTAGES = [1.2, -0.7, 0.4, -1.5];
const LR = 0.02;

function tinyModel(): Model {
  const tiny = sharpTinyCheckpoint({ seed: 5 });
  return modelFromTensors(gpu, tiny.config, tiny.tensors);
}

function configOf(train: string): GrpoConfig {
  return resolveConfig(
    GRPO_CONFIG,
    `model: {path: unused}
rollout: {n: 2, max_new_tokens: 8}
algorithm: {kl_coef: 0, clip_low: 0.2, clip_high: 0.2}
train: {${train}, micro_batch: 1, lr: ${LR}, grad_clip: 0}`,
    "mini.yaml",
  ).config;
}

function batchOf(from: number, to: number, old: number[][]): RolloutBatch {
  return {
    completions: PROMPTS.slice(from, to).map((p, i) => ({
      promptIds: p,
      completionIds: COMPLETIONS[from + i],
    })),
    stats: old.slice(from, to).map((tokenLogprobs) => ({ tokenLogprobs })),
    refLogprobs: null,
  } as unknown as RolloutBatch;
}

/** Runs `steps` (each [first sequence, end, config]) on a fresh copy of the model; returns stats and weights. */
async function run(steps: [number, number, GrpoConfig][], old: number[][]) {
  const policy = tinyModel();
  const grads = createGradients(policy);
  const optimizer = createOptimizer(policy, {
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    maxGradNorm: 0,
  });
  const stats: UpdateStats[] = [];
  const before = gpu.counters();
  for (const [from, to, config] of steps) {
    const advantages = Float64Array.from(ADVANTAGES.slice(from, to));
    stats.push(
      await updatePolicy(
        policy,
        optimizer,
        grads,
        policy.names,
        batchOf(from, to, old),
        advantages,
        config,
        LR,
      ),
    );
  }
  const readbacks = gpu.counters().readbacks - before.readbacks;
  const params = new Map<string, Float32Array>();
  for (const n of policy.names) params.set(n, await policy.params.get(n)!.read() as Float32Array);
  optimizer.release();
  for (const g of grads.values()) g.release();
  policy.release();
  return { stats, params, readbacks };
}

function differs(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  for (const [n, x] of a) if (x.some((v, k) => !Object.is(v, b.get(n)![k]))) return true;
  return false;
}

Deno.test("mini_batch 1 of 2 prompts: two optimizer updates with their own ratio, equal to two updates by hand", async () => {
  const scorer = tinyModel();
  const scored = await score(
    scorer,
    PROMPTS.map((p, i) => ({ promptIds: p, completionIds: COMPLETIONS[i] })),
    {
      temperature: 1,
    },
  );
  scorer.release();
  // The rollout's scoring pass: the old policy is the model before any update of the step.
  const old = scored.map((s) => [...s.tokenLogprobs]);

  const mini = await run([[0, 4, configOf("prompts_per_step: 2, mini_batch: 1")]], old);
  const [step] = mini.stats;
  if (step.updates !== 2) throw new Error(`mini_batch 1 of 2 prompts took ${step.updates} updates; want 2`);
  if (mini.readbacks !== 1) throw new Error(`${mini.readbacks} readbacks for 2 updates; want one per step`);

  const whole = configOf("prompts_per_step: 1");
  const byHand = await run([[0, 2, whole], [2, 4, whole]], old);
  const [first, second] = byHand.stats;
  assertClose([first.ratioMean], [1], { atol: 1e-5, rtol: 0 }, "first update: ratio mean (on-policy)");
  // The second update's ratio is against the old log-probs, after the first update moved the weights.
  if (!(Math.abs(second.ratioMean - 1) > 1e-3)) {
    throw new Error(
      `second update: ratio mean ${second.ratioMean}; the first update should have moved it from 1`,
    );
  }
  if (differs(mini.params, byHand.params)) {
    throw new Error("mini-batch step differs from two updates by hand");
  }
  const tokens = (a: number, b: number) => COMPLETIONS.slice(a, b).reduce((s, c) => s + c.length, 0);
  const t1 = tokens(0, 2), t2 = tokens(2, 4);
  // Per-step statistics: the updates' losses and gradient norms averaged, per-token ones token-weighted.
  assertClose(
    [step.loss, step.gradNorm, step.ratioMean, step.clipFraction, step.entropy],
    [
      (first.loss + second.loss) / 2,
      (first.gradNorm + second.gradNorm) / 2,
      (first.ratioMean * t1 + second.ratioMean * t2) / (t1 + t2),
      (first.clipFraction * t1 + second.clipFraction * t2) / (t1 + t2),
      (first.entropy * t1 + second.entropy * t2) / (t1 + t2),
    ],
    { atol: 1e-6, rtol: 1e-6 },
    "step statistics vs the two updates",
  );

  const single = await run([[0, 4, configOf("prompts_per_step: 2")]], old);
  if (single.stats[0].updates !== 1 || single.readbacks !== 1) {
    throw new Error(
      `no mini_batch: ${single.stats[0].updates} updates, ${single.readbacks} readbacks; want 1, 1`,
    );
  }
  if (!differs(mini.params, single.params)) {
    throw new Error("two mini-batch updates equal one whole-batch update");
  }
});

Deno.test("mini_batch with ppo_epochs 2 takes mini-batches × epochs updates, read back once", async () => {
  const old = COMPLETIONS.map((c) => c.map(() => -3));
  const config = configOf("prompts_per_step: 2, mini_batch: 1");
  const twice = { ...config, algorithm: { ...config.algorithm, ppo_epochs: 2 } };
  const { stats, readbacks } = await run([[0, 4, twice]], old);
  if (stats[0].updates !== 4 || readbacks !== 1) {
    throw new Error(
      `2 mini-batches × 2 epochs: ${stats[0].updates} updates, ${readbacks} readbacks; want 4, 1`,
    );
  }
});

Deno.test("ratio: sequence keeps one readback per step; its extra work is one pass per logit chunk", async () => {
  const old = COMPLETIONS.map((c) => c.map(() => -3));
  const counts = [];
  for (const ratio of ["token", "sequence"] as const) {
    const config = configOf("prompts_per_step: 2, mini_batch: 1");
    const c = { ...config, algorithm: { ...config.algorithm, ratio } };
    await run([[0, 4, c]], old); // compiles the pipelines
    const before = gpu.counters();
    const { stats, readbacks } = await run([[0, 4, c]], old);
    const after = gpu.counters();
    if (readbacks !== 1) {
      throw new Error(`${ratio}: ${readbacks} readbacks for ${stats[0].updates} updates; want 1`);
    }
    counts.push({
      ratio,
      dispatches: after.dispatches - before.dispatches,
      submits: after.submits - before.submits,
    });
  }
  const [token, sequence] = counts;
  // Per micro-batch (one sequence, one logit chunk): gather + LM-head matmul + log-ratio, and one sequence-sums
  // dispatch; 4 micro-batches in all. No extra submits.
  if (sequence.dispatches - token.dispatches !== 4 * 4 || sequence.submits !== token.submits) {
    throw new Error(`sequence vs token ratio: ${JSON.stringify(counts)}`);
  }
  console.log(`update phase, 2 mini-batches × 2 micro-batches: ${JSON.stringify(counts)}`);
});

Deno.test("train.mini_batch must divide train.prompts_per_step and be >= 1", () => {
  const issues = (train: string) => {
    try {
      configOf(train);
    } catch (e) {
      if (e instanceof ConfigError) return e.issues.map((i) => `${i.key}: ${i.message}`).join("\n");
      throw e;
    }
    throw new Error(`train: {${train}} should be rejected`);
  };
  const bad = issues("prompts_per_step: 8, mini_batch: 3");
  if (
    !(bad.includes("train.mini_batch") && bad.includes("train.prompts_per_step") &&
      bad.includes("1, 2, 4, 8"))
  ) {
    throw new Error(`the divisibility error should name both keys and the valid divisors: ${bad}`);
  }
  if (!issues("prompts_per_step: 8, mini_batch: 0").includes("train.mini_batch")) {
    throw new Error("mini_batch 0 should be rejected naming train.mini_batch");
  }
  for (const ok of ["prompts_per_step: 512, mini_batch: 128", "prompts_per_step: 8, mini_batch: 8"]) {
    if (configOf(ok).train.mini_batch === null) throw new Error(`${ok}: mini_batch lost`);
  }
  if (configOf("prompts_per_step: 8").train.mini_batch !== null) throw new Error("default should be null");
});

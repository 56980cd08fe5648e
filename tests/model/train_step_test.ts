/**
 * The shared training step (lib/model/train_step.ts): lossBackward with token weights is the forward +
 * headBackward + backward it replaces, bit for bit; optimizerStep clears NaN gradients for real and skips
 * the update of a step whose gradient norm is not finite; a GRPO update whose loss is not finite throws
 * after its one readback with the weights untouched; the GRPO update phase's readbacks and submits.
 */
import { getDevice } from "../../lib/gpu/device.ts";
import { NonFiniteError } from "../../lib/gpu/errors.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import { headBackward } from "../../lib/model/head.ts";
import { loadModel, type Model, modelFromTensors } from "../../lib/model/model.ts";
import {
  createOptimizer,
  lossBackward,
  optimizerStep,
  takesWeightDecay,
} from "../../lib/model/train_step.ts";
import { backward, createGradients, forward, type Gradients } from "../../lib/model/transformer.ts";
import { GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import { updatePolicy } from "../../lib/rl/policy_update.ts";
import type { RolloutBatch } from "../../lib/rl/rollout.ts";
import { randn, rng } from "../support/numeric.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const gpu = await getDevice();
const PROMPTS = [[5, 17, 100], [260, 1], [9]];
const COMPLETIONS = [[8, 9, 10, 11], [77, 78, 79], [1, 2]];

function tinyModel(): Model {
  const tiny = sharpTinyCheckpoint({ seed: 3 });
  return modelFromTensors(gpu, tiny.config, tiny.tensors);
}

async function readAll(model: Model, grads: Gradients): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const n of model.names) out.set(n, await grads.get(n)!.read() as Float32Array);
  return out;
}

function assertSame(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  for (const [n, x] of a) {
    const y = b.get(n)!;
    const i = x.findIndex((v, k) => !Object.is(v, y[k]));
    if (i >= 0) throw new Error(`${what}: ${n}[${i}] is ${x[i]}, expected ${y[i]}`);
  }
}

Deno.test("lossBackward with token weights equals forward + headBackward + backward bit for bit", async () => {
  const model = tinyModel();
  const batch = buildSequenceBatch(PROMPTS, COMPLETIONS, 0);
  const weights = Float32Array.from(randn(rng(4), batch.rows.length));
  const shared = createGradients(model);
  lossBackward(model, batch, { kind: "weights", weights, temperature: 0.7 }, shared);
  const direct = createGradients(model);
  const inputs = uploadBatch(gpu, batch);
  const fwd = forward(model, inputs, { saveForBackward: true });
  const dFinal = headBackward(model, fwd.final, batch.rows, batch.targets, weights, 0.7, direct);
  backward(model, fwd, inputs, batch.ids, dFinal, direct);
  for (const t of [dFinal, fwd, inputs]) t.release();
  assertSame(await readAll(model, shared), await readAll(model, direct), "lossBackward vs the direct path");
  for (const g of [...shared.values(), ...direct.values()]) g.release();
  model.release();
});

Deno.test("optimizerStep: NaN gradients skip the update and are cleared; the next step's gradients are exact", async () => {
  const model = tinyModel();
  const batch = buildSequenceBatch(PROMPTS, COMPLETIONS, 0);
  const loss = {
    kind: "weights" as const,
    weights: new Float32Array(batch.rows.length).fill(-1 / batch.rows.length),
    temperature: 1,
  };
  const fresh = createGradients(model);
  lossBackward(model, batch, loss, fresh);
  const want = await readAll(model, fresh);

  const grads = createGradients(model);
  const list = model.names.map((n) => grads.get(n)!);
  const optimizer = createOptimizer(model, {
    betas: [0.9, 0.98],
    eps: 1e-8,
    weightDecay: 0.1,
    maxGradNorm: 1,
  });
  const before = new Map<string, Float32Array>();
  for (const n of model.names) before.set(n, await model.param(n).read() as Float32Array);
  // A NaN from an earlier step's overflow, say.
  const poisoned = list[1];
  gpu.write(poisoned, new Float32Array(poisoned.size).fill(NaN));
  optimizerStep(optimizer, list, 1e-2);
  const [norm] = await optimizer.gradNorm.read();
  if (Number.isFinite(norm)) throw new Error(`the gradient norm of a NaN gradient is ${norm}`);
  const after = new Map<string, Float32Array>();
  for (const n of model.names) after.set(n, await model.param(n).read() as Float32Array);
  assertSame(after, before, "weights after a step with a non-finite norm");
  for (const [n, g] of await readAll(model, grads)) {
    if (g.some((v) => v !== 0)) throw new Error(`${n}: gradient not cleared after the step`);
  }

  lossBackward(model, batch, loss, grads);
  assertSame(await readAll(model, grads), want, "gradients of the step after the NaN");
  optimizerStep(optimizer, list, 1e-2);
  const [norm2] = await optimizer.gradNorm.read();
  if (!(Number.isFinite(norm2) && norm2 > 0)) throw new Error(`second step's norm ${norm2}`);
  for (const n of model.names) {
    const p = await model.param(n).read();
    if (p.some((v) => !Number.isFinite(v))) throw new Error(`${n}: non-finite weight after the update`);
    if (p.every((v, i) => v === before.get(n)![i])) throw new Error(`${n}: not updated by a finite step`);
  }
  optimizer.release();
  for (const g of [...grads.values(), ...fresh.values()]) g.release();
  model.release();
});

Deno.test("weight decay: matrices and embeddings decay, biases and norm weights do not", () => {
  const names = [
    "model.embed_tokens.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.q_proj.bias",
    "model.layers.0.input_layernorm.weight",
    "model.layers.0.self_attn.q_norm.weight",
    "model.norm.weight",
    "lm_head.weight",
  ];
  const got = names.map(takesWeightDecay).join(",");
  if (got !== "true,true,false,false,false,false,true") throw new Error(`weight-decay grouping ${got}`);
});

/** A RolloutBatch of `sequences` on-policy completions with given old/reference log-probs. */
function rolloutBatch(
  prompts: number[][],
  completions: number[][],
  old: number[][],
  ref: number[][] | null,
): RolloutBatch {
  return {
    completions: prompts.map((p, i) => ({ promptIds: p, completionIds: completions[i] })),
    stats: old.map((tokenLogprobs) => ({ tokenLogprobs })),
    refLogprobs: ref,
  } as unknown as RolloutBatch;
}

Deno.test("updatePolicy: a non-finite loss throws after the step's readback, before any weight changes", async () => {
  const model = tinyModel();
  const config = resolveConfig(
    GRPO_CONFIG,
    `model: {path: unused}
rollout: {n: 3, max_new_tokens: 4}
algorithm: {kl_coef: 0.1, kl_estimator: k3}
train: {micro_batch: 2}`,
    "nan.yaml",
  ).config;
  const old = COMPLETIONS.map((c) => c.map(() => -2));
  // k3 = exp(ref − logp) − … overflows f32 with a reference 200 nats above the policy.
  const ref = COMPLETIONS.map((c) => c.map(() => 198));
  const grads = createGradients(model);
  const optimizer = createOptimizer(model, {
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    maxGradNorm: 1,
  });
  const before = new Map<string, Float32Array>();
  for (const n of model.names) before.set(n, await model.param(n).read() as Float32Array);
  const error = await updatePolicy(
    model,
    optimizer,
    grads,
    model.names,
    rolloutBatch(PROMPTS, COMPLETIONS, old, ref),
    Float64Array.from([1, -1, 0.5]),
    config,
    1e-2,
  ).then(() => null, (e) => e);
  // The trainer turns exactly this error type into "training stopped before applying the update".
  if (!(error instanceof NonFiniteError) || !/the loss is .*not applied/.test(error.message)) {
    throw new Error(`expected a NonFiniteError about the loss, got ${error}`);
  }
  const after = new Map<string, Float32Array>();
  for (const n of model.names) after.set(n, await model.param(n).read() as Float32Array);
  assertSame(after, before, "weights after a non-finite loss");
  optimizer.release();
  for (const g of grads.values()) g.release();
  model.release();
});

Deno.test("updatePolicy on the demo model: 1 readback per optimizer step, submits grow by at most 2 per micro-batch", async () => {
  const policy = await loadModel(new URL("../../scripts/assets/arith-tiny", import.meta.url).pathname, {
    gpu,
    weights: "f32",
  });
  const r = rng(9);
  const prompts = Array.from({ length: 16 }, (_, i) => [49 + (i % 10), 43, 50 + (i % 7), 61]);
  const completions = prompts.map(() => Array.from({ length: 8 }, () => 48 + Math.floor(r() * 10)));
  const old = completions.map((c) => c.map(() => -1 - r()));
  const advantages = Float64Array.from({ length: 16 }, () => r() * 2 - 1);
  const grads = createGradients(policy);
  const optimizer = createOptimizer(policy, {
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    maxGradNorm: 1,
  });
  const counts: string[] = [];
  for (const micro of [4, 8]) {
    const config = resolveConfig(
      GRPO_CONFIG,
      `model: {path: unused}
rollout: {n: 8, max_new_tokens: 8}
algorithm: {kl_coef: 0}
train: {micro_batch: ${16 / micro}}`,
      "counts.yaml",
    ).config;
    const batch = rolloutBatch(prompts, completions, old, null);
    await updatePolicy(policy, optimizer, grads, policy.names, batch, advantages, config, 1e-4); // warm-up
    await gpu.sync();
    const a = gpu.counters();
    await updatePolicy(policy, optimizer, grads, policy.names, batch, advantages, config, 1e-4);
    const b = gpu.counters();
    const readbacks = b.readbacks - a.readbacks, submits = b.submits - a.submits;
    counts.push(`${micro} micro-batches: ${readbacks} readbacks, ${submits} submits`);
    if (readbacks !== 1) throw new Error(`${counts.at(-1)}; want 1 readback`);
    // One submit per micro-batch from lossBackward, one more from the embedding backward's plan upload
    // (gpu.fromArray flushes pending work today), the step's token upload and its readback.
    if (submits > 2 + 2 * micro) throw new Error(`${counts.at(-1)}; want <= ${2 + 2 * micro}`);
  }
  console.log(`update phase: ${counts.join("; ")}`);
  optimizer.release();
  for (const g of grads.values()) g.release();
  policy.release();
});

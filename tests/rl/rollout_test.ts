import { getDevice } from "../../lib/gpu/device.ts";
import { generate } from "../../lib/generate/generate.ts";
import { halfWidthCopy } from "../../lib/model/half_width.ts";
import { modelFromTensors } from "../../lib/model/model.ts";
import { score } from "../../lib/model/score.ts";
import { resolveReward, shapingByName } from "../../lib/rewards/registry.ts";
import { GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import { collectRollouts } from "../../lib/rl/rollout.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

Deno.test("rollouts: the sampling weights generate, the f32 policy scores (old log-probabilities, signals)", async () => {
  const gpu = await getDevice();
  const tiny = sharpTinyCheckpoint({ seed: 13 });
  const policy = modelFromTensors(gpu, tiny.config, tiny.tensors);
  // A sampler that is visibly not the policy: another model's bf16 weights.
  const other = modelFromTensors(gpu, tiny.config, sharpTinyCheckpoint({ seed: 14 }).tensors);
  const sampler = halfWidthCopy(other);
  const config = resolveConfig(
    GRPO_CONFIG,
    "model: {path: m}\nrollout: {n: 2, max_new_tokens: 5, temperature: 0.9}",
    "test.yaml",
  ).config;
  const prompts = { texts: ["a", "b"], ids: [[5, 17, 100], [260, 1]] };
  const examples = prompts.texts.map((t) => ({ fields: { problem: t }, answer: null, origin: t }));
  const seed = 17;
  const batch = await collectRollouts(
    {
      policy,
      sampler,
      reference: null,
      reward: resolveReward("self_certainty"),
      shaping: shapingByName("none"),
      config,
    },
    examples,
    prompts,
    [0, 1],
    seed,
  );
  const gen = { n: 2, temperature: 0.9, topP: 1, topK: 0, maxNewTokens: 5, stop: [], seed };
  const fromSampler = await generate(sampler, prompts.ids, gen);
  const fromPolicy = await generate(policy, prompts.ids, gen);
  const ids = (cs: { completionIds: number[] }[]) => cs.map((c) => c.completionIds.join()).join(" | ");
  if (ids(batch.completions) !== ids(fromSampler)) {
    throw new Error(`rollouts ${ids(batch.completions)} are not the sampler's ${ids(fromSampler)}`);
  }
  if (ids(fromSampler) === ids(fromPolicy)) {
    throw new Error("sampler and policy sample alike; the test sees nothing");
  }
  const scored = await score(policy, batch.completions, { temperature: 0.9 });
  batch.stats.forEach((s, i) => {
    if (s.tokenLogprobs.join() !== scored[i].tokenLogprobs.join()) {
      throw new Error(`completion ${i}: old log-probabilities are not the f32 policy's`);
    }
  });
  for (const m of [policy, other, sampler]) m.release();
});

Deno.test("rollouts: with the KL reference, two readbacks and two submits — generation's results, then both models' scores", async () => {
  const gpu = await getDevice();
  const tiny = sharpTinyCheckpoint({ seed: 15 });
  const policy = modelFromTensors(gpu, tiny.config, tiny.tensors);
  const reference = modelFromTensors(gpu, tiny.config, sharpTinyCheckpoint({ seed: 16 }).tensors);
  const sampler = halfWidthCopy(policy);
  const config = resolveConfig(
    GRPO_CONFIG,
    "model: {path: m}\nrollout: {n: 8, max_new_tokens: 8, temperature: 1}\nalgorithm: {kl_coef: 0.05}",
    "test.yaml",
  ).config;
  const prompts = { texts: ["a", "b"], ids: [[5, 17, 100], [260, 1]] };
  const examples = prompts.texts.map((t) => ({ fields: { problem: t }, answer: null, origin: t }));
  const ctx = {
    policy,
    sampler,
    reference,
    reward: resolveReward("self_certainty"),
    shaping: shapingByName("none"),
    config,
  };
  await collectRollouts(ctx, examples, prompts, [0, 1], 1); // compiles the pipelines
  await gpu.sync();
  const before = gpu.counters();
  const batch = await collectRollouts(ctx, examples, prompts, [0, 1], 2);
  const after = gpu.counters();
  const [readbacks, submits] = [after.readbacks - before.readbacks, after.submits - before.submits];
  if (readbacks !== 2 || submits !== 2) {
    throw new Error(
      `16 rollouts with a reference: ${readbacks} readbacks, ${submits} submits (want 2 and 2)`,
    );
  }
  const refScored = await score(reference, batch.completions, { temperature: 1 });
  if (
    batch.refLogprobs?.map((l) => l.join()).join(" | ") !==
      refScored.map((s) => s.tokenLogprobs.join()).join(" | ")
  ) {
    throw new Error("the reference log-probabilities are not the reference model's");
  }
  for (const m of [policy, reference, sampler]) m.release();
});

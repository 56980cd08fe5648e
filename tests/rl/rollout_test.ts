import { getDevice } from "../../lib/gpu/device.ts";
import { generate } from "../../lib/generate/generate.ts";
import { halfWidthCopy } from "../../lib/model/half_width.ts";
import { modelFromTensors } from "../../lib/model/model.ts";
import { score } from "../../lib/model/score.ts";
import { resolveReward, shapingByName } from "../../lib/rewards/registry.ts";
import { GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import type { Completion } from "../../lib/generate/generate.ts";
import {
  answerTokenSpan,
  collectRollouts,
  klToReference,
  type RolloutBatch,
  rolloutDiagnostics,
} from "../../lib/rl/rollout.ts";
import { groupSeed } from "../../lib/rl/rollout_engine.ts";
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
  // Each prompt group draws from its own seed, derived from the step's seed and its position.
  const seeds = [groupSeed(seed, 0), groupSeed(seed, 1)];
  const gen = { n: 2, temperature: 0.9, topP: 1, topK: 0, maxNewTokens: 5, stop: [], seeds };
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

/** A batch with only what the diagnostics read: 2 prompts × 3 completions. */
function fakeBatch(fields: Partial<RolloutBatch>): RolloutBatch {
  return {
    examples: [0, 1],
    completions: new Array(6).fill({}) as Completion[],
    stats: [],
    refLogprobs: null,
    klToRef: null,
    rawRewards: [0.1, 0.9, 0.5, 0.7, 0.2, 0.7],
    rewards: [0, 0, 0, 0, 0, 0],
    correct: [true, false, true, true, false, false],
    answers: ["4", "5", "4", "\\frac{1}{2}", "0.5", " "],
    pseudoLabels: [null, null],
    ...fields,
  };
}

Deno.test("rollout diagnostics: certainty rewards get eq. 43 label accuracy, votes eq. 39/40, p_maj per group", () => {
  // Certainty reward: prompt 0's top raw reward (0.9) is wrong, prompt 1's (0.7, first of the tie) right.
  const certainty = rolloutDiagnostics(fakeBatch({}));
  if (certainty.label_accuracy !== 0.5 || certainty.reward_accuracy !== null) {
    throw new Error(`certainty reward: ${JSON.stringify(certainty)}`);
  }
  // p_maj: "4" holds 2 of 3; 1/2 and 0.5 are one answer (the voting equivalence) and the blank abstains.
  if (Math.abs(certainty.p_maj! - 2 / 3) > 1e-12) throw new Error(`p_maj ${certainty.p_maj}, want 2/3`);
  const vote = rolloutDiagnostics(fakeBatch({
    pseudoLabels: ["4", "\\frac{1}{2}"],
    rawRewards: [1, 0, 1, 1, 1, 0],
  }));
  // Labels: "4" correct, 1/2 correct → 1; rewards agree with correctness on 5 of 6 rollouts.
  if (vote.label_accuracy !== 1 || Math.abs(vote.reward_accuracy! - 5 / 6) > 1e-12) {
    throw new Error(`vote: ${JSON.stringify(vote)}`);
  }
});

Deno.test("rollouts: log.kl_to_ref scores the reference with kl_coef 0 and logs k3 KL to it", async () => {
  const gpu = await getDevice();
  const tiny = sharpTinyCheckpoint({ seed: 15 });
  const policy = modelFromTensors(gpu, tiny.config, tiny.tensors);
  const reference = modelFromTensors(gpu, tiny.config, sharpTinyCheckpoint({ seed: 16 }).tensors);
  const yaml =
    "model: {path: m}\nrollout: {n: 2, max_new_tokens: 4, temperature: 1}\nalgorithm: {kl_coef: 0}";
  const prompts = { texts: ["a", "b"], ids: [[5, 17, 100], [260, 1]] };
  const examples = prompts.texts.map((t) => ({ fields: { problem: t }, answer: null, origin: t }));
  const run = (extra: string) =>
    collectRollouts(
      {
        policy,
        sampler: policy,
        reference,
        reward: resolveReward("self_certainty"),
        shaping: shapingByName("none"),
        config: resolveConfig(GRPO_CONFIG, yaml + extra, "test.yaml").config,
      },
      examples,
      prompts,
      [0, 1],
      3,
    );
  if ((await run("")).klToRef !== null) throw new Error("KL logged without log.kl_to_ref");
  const batch = await run("\nlog: {kl_to_ref: true}");
  if (batch.refLogprobs !== null) throw new Error("kl_coef 0 must not feed the KL term");
  const refScored = await score(reference, batch.completions, { temperature: 1 });
  const want = klToReference(batch.stats.map((s) => s.tokenLogprobs), refScored.map((s) => s.tokenLogprobs));
  if (batch.klToRef === null || !(want! > 0) || Math.abs(batch.klToRef - want!) > 1e-12) {
    throw new Error(`klToRef ${batch.klToRef}, want ${want} (> 0: the models differ)`);
  }
  for (const m of [policy, reference]) m.release();
});

Deno.test("klToReference: mean k3 over tokens, zero for equal log-probabilities", () => {
  const d = Math.log(0.5) - Math.log(0.25);
  const got = klToReference([[Math.log(0.25), -1]], [[Math.log(0.5), -1]]);
  if (Math.abs(got! - (Math.exp(d) - d - 1) / 2) > 1e-15) throw new Error(`k3 mean ${got}`);
  if (klToReference([[]], [[]]) !== null) throw new Error("no tokens must give null");
});

Deno.test("answerTokenSpan: the tokens that spell the last \\boxed{…}, nested braces included", () => {
  // Multi-character tokens: "ab", " \\bo", "xed{", "\\frac{1}", "{2}", "}", " ok".
  const pieces = ["ab", " \\bo", "xed{", "\\frac{1}", "{2}", "}", " ok"];
  const decode = (ids: number[]) => ids.map((i) => pieces[i]).join("");
  const ids = pieces.map((_, i) => i);
  const text = decode(ids);
  if (JSON.stringify(answerTokenSpan(decode, ids, text)) !== JSON.stringify({ start: 1, end: 6 })) {
    throw new Error(`span ${JSON.stringify(answerTokenSpan(decode, ids, text))}, want tokens 1..5`);
  }
  const twice = ["\\boxed{1}", " then ", "\\boxed{2}"];
  const d2 = (xs: number[]) => xs.map((i) => twice[i]).join("");
  if (
    JSON.stringify(answerTokenSpan(d2, [0, 1, 2], d2([0, 1, 2]))) !== JSON.stringify({ start: 2, end: 3 })
  ) {
    throw new Error("the last box is the answer");
  }
  if (answerTokenSpan(decode, ids, "no box") !== null) throw new Error("no box must give null");
  if (answerTokenSpan(decode, ids, "\\boxed{open") !== null) {
    throw new Error("an unclosed box must give null");
  }
  if (answerTokenSpan(null, ids, text) !== null) throw new Error("no tokenizer must give null");
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPromptTemplate } from "../../lib/data/prompt_template.ts";
import { generate } from "../../lib/generate/generate.ts";
import { getDevice } from "../../lib/gpu/device.ts";
import { halfWidthCopy } from "../../lib/model/half_width.ts";
import { loadModel } from "../../lib/model/model.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { countdownEquation } from "../../lib/rewards/countdown.ts";
import { resolveReward, type RewardSpec, shapingByName } from "../../lib/rewards/registry.ts";
import { parseVerdict } from "../../lib/rewards/self_verify.ts";
import { GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import { collectRollouts, judge } from "../../lib/rl/rollout.ts";

Deno.test("rollouts: self_verify asks the sampling weights with Prompt 2, greedily, and their verdicts are the rewards", async () => {
  const gpu = await getDevice();
  const root = await Deno.makeTempDir({ prefix: "rlif-self-verify-" });
  const [policy, other] = await Promise.all([1, 2].map(async (seed) => {
    const dir = join(root, `m${seed}`);
    // Prompt 2 is ~900 byte-level tokens: the model needs a longer context than the default.
    await writeTinyCheckpoint(dir, { seed, maxPositions: 1536 });
    return await loadModel(dir, { gpu, weights: "f32" });
  }));
  // A sampler that is visibly not the policy, so asking the wrong model is caught.
  const sampler = halfWidthCopy(other);
  try {
    const config = resolveConfig(
      GRPO_CONFIG,
      "model: {path: m}\ndata: {chat_template: false}\nrollout: {n: 2, max_new_tokens: 6}\n" +
        "reward: {name: self_verify, max_new_tokens: 5}",
      "test.yaml",
    ).config;
    const examples = [{ target: 20, nums: [2, 5, 6] }, { target: 7, nums: [3, 4] }].map((f, i) => ({
      fields: f,
      answer: null,
      origin: `#${i}`,
    }));
    const prompts = { texts: ["a", "b"], ids: [[5, 17, 100], [60, 1]] };
    const seed = 9;
    const run = (reward: RewardSpec) =>
      collectRollouts(
        { policy, sampler, reference: null, reward, shaping: shapingByName("none"), config },
        examples,
        prompts,
        [0, 1],
        seed,
      );

    const spec = resolveReward("self_verify", { max_new_tokens: 5 });
    const batch = await run(spec);
    const template = await loadPromptTemplate("configs/templates/self_verify_p2.jinja");
    const asked = batch.completions.map((c, k) =>
      template.render({ expr: countdownEquation(c.text, "tinyzero") ?? "", ...examples[k >> 1].fields })
    );
    const ids = asked.map((t) => sampler.tokenizer!.encode(t, { addSpecialTokens: false }));
    const verdicts = await generate(sampler, ids, { maxNewTokens: 5, temperature: 0, seed });
    assert.deepEqual(batch.rawRewards, verdicts.map((v) => parseVerdict(v.text)));
    assert.deepEqual(
      batch.correct,
      batch.completions.map((c, k) => judge(examples[k >> 1], c.text, { countdownRule: "tinyzero" })),
    );

    // The answers themselves reach the reward: one that scores them by length sees the sampler's.
    const lengths = await run({
      ...spec,
      ask: async (groups, ask) => {
        const answers = await ask.generate(asked, { maxNewTokens: 5, temperature: 0 });
        return groups.map((_, p) => answers.slice(2 * p, 2 * p + 2).map((a) => a.length));
      },
    });
    const fromSampler = verdicts.map((v) => v.text.length);
    const fromPolicy = (await generate(policy, ids, { maxNewTokens: 5, temperature: 0 })).map((v) =>
      v.text.length
    );
    assert.deepEqual(lengths.rawRewards, fromSampler);
    assert.notDeepEqual(fromSampler, fromPolicy, "policy and sampler answer alike; the test sees nothing");
  } finally {
    for (const m of [policy, other, sampler]) m.release();
    await Deno.remove(root, { recursive: true });
  }
});

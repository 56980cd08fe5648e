/**
 * The memory plan: one GRPO step's phases run by rlif's own code on the planning device give exactly the
 * pool's high-water marks that the same code measures on this machine's GPU adapter (tiny shapes, every
 * family layout that changes the step), and exactly the high-water mark a GRPO run logs when its lengths
 * are the plan's; a config's model is read from its config.json, or a recipe's published one; bad model
 * paths are named.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getDevice, Gpu } from "../../lib/gpu/device.ts";
import { planGrpoMemory, planModelConfig } from "../../lib/bench/memory_plan.ts";
import { loadModelConfig } from "../../lib/model/config.ts";
import { QWEN3_4B_BASE } from "../../lib/model/paper_configs.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { trainGrpo } from "../../lib/rl/trainer.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";
import { GRPO_CONFIG, type GrpoConfig, resolveConfig } from "../../lib/rl/config.ts";

function tinyConfig(model: string, extra = ""): GrpoConfig {
  const yaml = `
model: {path: ${model}}
data: {template: configs/templates/problem_only.jinja, chat_template: false}
rollout: {n: 4, max_new_tokens: 6, batch: 8}
reward: {name: self_certainty}
algorithm: {kl_coef: 0.01}
train: {steps: 1, prompts_per_step: 4, micro_batch: 4, lr: 1e-3}
gpu: {prompt_tokens: 9}
${extra}`;
  return resolveConfig(GRPO_CONFIG, yaml, "test.yaml").config;
}

for (
  const [name, options, extra] of [
    ["qwen2, bf16 sampling copy, reference", { arch: "qwen2" as const }, ""],
    [
      "qwen3, recompute, f32 sampling",
      { arch: "qwen3" as const, headDim: 24 },
      "train: {recompute: true}\nrollout: {weights: f32}",
    ],
    ["olmo2, no reference", { arch: "olmo2" as const }, "algorithm: {kl_coef: 0}"],
  ] as const
) {
  Deno.test(`memory plan: the planning device's phases equal the adapter's measured ones (${name})`, async () => {
    const root = await Deno.makeTempDir({ prefix: "rlif-plan-" });
    try {
      const dir = join(root, "model");
      await writeTinyCheckpoint(dir, options);
      let config = tinyConfig(dir);
      if (extra) {
        const patch = resolveConfig(GRPO_CONFIG, `model: {path: ${dir}}\n${extra}`, "extra.yaml").config;
        config = {
          ...config,
          train: { ...config.train, recompute: patch.train.recompute },
          rollout: { ...config.rollout, weights: patch.rollout.weights },
          algorithm: { ...config.algorithm, kl_coef: patch.algorithm.kl_coef },
        };
      }
      const model = await loadModelConfig(dir);
      // A runtime of its own on the shared device: no table cached by an earlier test (the RoPE
      // frequencies are cached per runtime), as a run starts.
      const shared = await getDevice();
      const gpu = new Gpu(shared.device, shared.adapterInfo);
      await gpu.kernels.loadAll();
      const planned = await planGrpoMemory(config, model, { limits: gpu.limits });
      const measured = await planGrpoMemory(config, model, { gpu });
      assert.deepEqual(planned.resident, measured.resident);
      assert.deepEqual(planned.phases, measured.phases);
      assert.equal(planned.peakBytes, measured.peakBytes);
      assert.equal(planned.phases.length, 3);
      assert.ok(planned.phases.every((p) => p.bytes > 0) && planned.resident.length >= 3);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

Deno.test("memory plan: a recipe's absent model folder plans with its published config; an unknown one is named", async () => {
  const { config, source } = await planModelConfig("models/Qwen3-4B-Base");
  assert.deepEqual(config, QWEN3_4B_BASE);
  assert.match(source, /Qwen3-4B-Base's published config\.json/);
  await assert.rejects(
    () => planModelConfig("models/My-Model"),
    /models\/My-Model\/config\.json: not found, and "My-Model" is none of the models/,
  );
});

Deno.test("memory plan: a GRPO run's logged high-water mark (gpu/peak_mib) is the plan's peak", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-plan-run-" });
  try {
    const model = join(root, "model");
    await writeTinyCheckpoint(model, { seed: 4 });
    await writeSafetensors(join(model, "model.safetensors"), sharpTinyCheckpoint({ seed: 4 }).tensors);
    // Four-token prompts ("8+6="): the plan's length; every completion must run to max_new_tokens, as the
    // plan takes them (this model and seed sample no end token in them).
    const config = resolveConfig(
      GRPO_CONFIG,
      `
model: {path: ${model}}
data:
  template: configs/templates/problem_only.jinja
  chat_template: false
  synthetic: {format: compact, min_operand: 1, max_operand: 9, count: 20}
rollout: {n: 4, max_new_tokens: 4, batch: 8}
reward: {name: self_certainty}
algorithm: {kl_coef: 0.01}
train: {steps: 2, prompts_per_step: 2, micro_batch: 4, lr: 1e-3, warmup_ratio: 0}
gpu: {prompt_tokens: 4}
log: {dir: ${join(root, "runs")}, save_every: 10}
`,
      "run.yaml",
    ).config;
    const run = await trainGrpo(config, { progress: false });
    const records = (await Deno.readTextFile(join(run.runDir, "metadata.jsonl"))).trim().split("\n");
    for (const line of records) {
      const r = JSON.parse(line);
      assert.equal(r.prompt.length, 4);
      assert.ok(r.responses.every((x: { length: number }) => x.length === 4), "a completion ended early");
    }
    const plan = await planGrpoMemory(config, await loadModelConfig(model));
    for (const m of run.metrics) assert.equal(m["gpu/peak_mib"], plan.peakBytes / 2 ** 20);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { getDevice } from "../../lib/gpu/device.ts";
import { type MetadataEntry, parseMetadataEntry } from "../../lib/log/metadata.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { makeTinyCheckpoint, TINY_TOKEN_IDS, writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import { trainGrpo } from "../../lib/rl/trainer.ts";

const STEPS = 50;

/**
 * A tiny model whose end-of-sequence logit swings widely with the context (its LM-head row scaled up), so
 * sampled completions end at every length up to the cap instead of almost never.
 */
async function raggedModelDir(root: string): Promise<string> {
  const dir = join(root, "model");
  await writeTinyCheckpoint(dir, { seed: 3 });
  const tiny = makeTinyCheckpoint({ seed: 3 });
  const head = tiny.tensors.get("lm_head.weight")!;
  const hidden = head.shape[1], eos = TINY_TOKEN_IDS.imEnd;
  for (let j = 0; j < hidden; j++) head.data[eos * hidden + j] *= 20;
  await writeSafetensors(join(dir, "model.safetensors"), tiny.tensors);
  return dir;
}

Deno.test("trainer: over 50 steps of varying lengths GPU memory stays flat, and each step's high-water mark is its own", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-memory-" });
  try {
    const gpu = await getDevice();
    // Prompts of 4 to 8 tokens ("7+3=" … "512*347="), completions of 1 to 8, two micro-batches a step. The
    // learning rate is tiny so that the self-certainty reward does not teach the model to stop at once,
    // which would end the variety.
    const yaml = `
model: {path: ${await raggedModelDir(root)}}
data:
  template: configs/templates/problem_only.jinja
  chat_template: false
  synthetic: {format: compact, max_operand: 999, count: 10}
rollout: {n: 2, max_new_tokens: 8}
reward: {name: self_certainty}
algorithm: {kl_coef: 0}
train: {steps: ${STEPS}, prompts_per_step: 2, micro_batch: 2, lr: 1e-6, warmup_ratio: 0}
log: {dir: ${join(root, "runs")}, save_every: 45}
`;
    const config = resolveConfig(GRPO_CONFIG, yaml, "memory.yaml").config;
    // What the pool holds after each step (after its last trim): weights, gradients, moments, sampling copy.
    const resident: number[] = [];
    const run = await trainGrpo(config, {
      progress: false,
      onStep: () => void resident.push(gpu.pool.stats().liveBytes),
    });

    const entries = (await Deno.readTextFile(join(run.runDir, "metadata.jsonl"))).trim().split("\n")
      .map((l) => parseMetadataEntry(JSON.parse(l)) as MetadataEntry);
    const promptLengths = new Set(entries.map((e) => e.prompt.length));
    const completionLengths = new Set(entries.flatMap((e) => e.responses.map((r) => r.length)));
    const stepShapes = new Set(
      Array.from(
        { length: STEPS },
        (_, s) =>
          entries.filter((e) => e.step === s + 1).map((e) =>
            `${e.prompt.length}:${e.responses.map((r) => r.length)}`
          ).join(" "),
      ),
    );
    assert.ok(
      promptLengths.size >= 3 && completionLengths.size >= 5 && stepShapes.size >= 25,
      `the lengths hardly varied: prompts ${[...promptLengths]}, completions ${[...completionLengths]}, ` +
        `${stepShapes.size} step shapes`,
    );

    // Flat: the pool after step 5 (and every other) holds exactly what it held after step 1.
    assert.equal(resident.length, STEPS);
    resident.forEach((bytes, i) =>
      assert.equal(bytes, resident[0], `after step ${i + 1} the pool holds ${bytes - resident[0]} bytes more`)
    );
    const peaks = run.metrics.map((m) => m["gpu/peak_mib"]);
    for (const [i, mib] of peaks.entries()) {
      assert.ok(typeof mib === "number" && mib * 2 ** 20 > resident[0], `step ${i + 1}: gpu/peak_mib ${mib}`);
    }
    // A mark per step, not a running maximum: it falls again after a step with longer sequences.
    assert.ok(peaks.some((mib, i) => i > 0 && mib! < peaks[i - 1]!), `peaks ${peaks.join(", ")}`);

    // A step's high-water mark is what its own lengths need, not what the 45 steps before it left: resumed
    // from step 45's checkpoint in a fresh trainer, steps 46–50 reach the same marks.
    await Deno.remove(join(run.runDir, "checkpoints", `step-0000${STEPS}`), { recursive: true });
    const resumed = await trainGrpo({ ...config, log: { ...config.log, resume: run.runDir } }, {
      progress: false,
    });
    assert.deepEqual(resumed.metrics.map((m) => m.step), [46, 47, 48, 49, 50]);
    assert.deepEqual(resumed.metrics.map((m) => m["gpu/peak_mib"]), peaks.slice(45));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

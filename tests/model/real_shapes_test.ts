/**
 * Real shapes without a GPU: the planning device (lib/gpu/plan_device.ts) records every dispatch of a
 * rollout batch's generation, the scoring pass and a training micro-batch for Qwen2.5-1.5B, Qwen3-4B-Base
 * and Llama-3.1-8B at their recipes' lengths, under an H100's limits. Every binding and grid axis is
 * checked by the runtime as it is recorded (a binding over 2^31 − 1 bytes or an axis over 65,535
 * workgroups throws), and the extremes are asserted and printed.
 */
import assert from "node:assert/strict";
import { dispatchExtremes, H100_LIMITS, planningGpu } from "../../lib/gpu/plan_device.ts";
import { generate } from "../../lib/generate/generate.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import type { ModelConfig } from "../../lib/model/config.ts";
import { recordHeadStats } from "../../lib/model/head.ts";
import { placeholderModel } from "../../lib/model/model.ts";
import { LLAMA31_8B, QWEN25_15B, QWEN3_4B_BASE } from "../../lib/model/paper_configs.ts";
import { sequencesPerPass } from "../../lib/model/pass_plan.ts";
import { lossBackward } from "../../lib/model/train_step.ts";
import { createGradients, forward } from "../../lib/model/transformer.ts";
import { LOGIT_STAT_COUNT } from "../../lib/ops/logit_stats.ts";

/** The recipe lengths: Intuitor §4 (prompt 1,024 + 3,072 new tokens), URLVR Table 7 (4,096 + 4,096). */
const CASES: { name: string; config: ModelConfig; prompt: number; completion: number; micro: number }[] = [
  { name: "Qwen2.5-1.5B", config: QWEN25_15B, prompt: 1024, completion: 3072, micro: 8 },
  { name: "Qwen3-4B-Base", config: QWEN3_4B_BASE, prompt: 4096, completion: 4096, micro: 8 },
  { name: "Llama-3.1-8B", config: LLAMA31_8B, prompt: 4096, completion: 4096, micro: 8 },
];

for (const c of CASES) {
  Deno.test(`real shapes: ${c.name} at ${c.prompt} + ${c.completion} tokens fits an H100's grid and binding limits`, async () => {
    const { gpu, dispatches } = await planningGpu(H100_LIMITS);
    const seqLen = c.prompt + c.completion;
    const tokens = (n: number, len: number) =>
      Array.from({ length: n }, (_, i) => Array.from({ length: len }, (_, j) => 1 + (i * 7 + j) % 1000));

    // Generation: a rollout batch of 64 prompts through the prefill into a bf16 KV cache, then decode steps
    // (reads return zeros: token 0, the end id here, so decoding stops at its first check).
    const sampling = placeholderModel(gpu, c.config, "bf16");
    await generate(sampling, tokens(64, c.prompt), { maxNewTokens: c.completion, eosTokenIds: [0] });
    const generation = dispatches.length;

    // Scoring: the policy's f32 pass over full sequences, as many per pass as the device allows.
    const policy = placeholderModel(gpu, c.config, "f32");
    const perPass = sequencesPerPass(policy, seqLen, 8);
    const scored = buildSequenceBatch(tokens(perPass, c.prompt), tokens(perPass, c.completion), 0);
    const inputs = uploadBatch(gpu, scored);
    const mask = gpu.zeros([scored.ids.length], "f32");
    const fwd = forward(policy, inputs, { poolMask: mask });
    const stats = gpu.empty([scored.rows.length, LOGIT_STAT_COUNT], "f32");
    recordHeadStats(policy, fwd.final, scored.rows, scored.targets, 1, stats, 0);
    fwd.release();
    const scoring = dispatches.length - generation;

    // Training: one pass of the micro-batch's share with recomputed activations.
    const grads = createGradients(policy);
    const weights = new Float32Array(scored.rows.length).fill(-1 / scored.rows.length);
    lossBackward(policy, scored, { kind: "weights", weights, temperature: 1 }, grads, { recompute: true });
    const training = dispatches.length - generation - scoring;

    const { binding, grid } = dispatchExtremes(dispatches);
    console.log(
      `${c.name}: ${generation} generation, ${scoring} scoring and ${training} training dispatches; ` +
        `${perPass} of ${c.micro} sequences of ${seqLen} tokens per pass; largest binding ` +
        `${
          (binding.bytes / 2 ** 20).toFixed(0)
        } MiB (${binding.kernel}), largest grid axis ${grid.workgroups} ` +
        `(${grid.kernel})`,
    );
    assert.ok(binding.bytes <= 2 ** 31 - 1 && grid.workgroups <= 65535);
    assert.ok(generation > 0 && scoring > 0 && training > 0);
  });
}

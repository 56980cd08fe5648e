/**
 * One full optimiser step of the GRPO trainer (forward, the GPU GRPO loss, backward through the whole
 * model, gradient clipping, AdamW) against PyTorch float64 autograd and torch.optim.AdamW on the same
 * checkpoint, for every loss aggregation and KL estimator, and with the sequence ratio. Skips itself when /usr/bin/python3 has no torch.
 */
import { join } from "node:path";
import { getDevice } from "../../lib/gpu/device.ts";
import { loadModel } from "../../lib/model/model.ts";
import { score } from "../../lib/model/score.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { createGradients } from "../../lib/model/transformer.ts";
import { GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import { policyOptimizer, updatePolicy } from "../../lib/rl/policy_update.ts";
import type { RolloutBatch } from "../../lib/rl/rollout.ts";
import { assertClose } from "../support/numeric.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const python = await findPython("torch");
if (python === null) skipNote("update_torch_test", "torch");

const ESTIMATORS = ["k1", "k2", "k3", "low_var_kl", "abs", "k1+", "k3+", "low_var_kl+", "abs+"] as const;
const AGGS = ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"] as const;
// Every KL estimator once and every aggregation at least twice; dual-clip on every other case (c = 1.1 is
// active for the negative-advantage tokens whose ratio exceeds 1.1).
// The sequence ratio (CoE thesis §3.2) twice: with token-mean, and with dual-clip active on a whole sequence.
const CASES = [
  ...ESTIMATORS.map((kl, i) => ({
    kl,
    agg: AGGS[i % AGGS.length],
    dualClip: i % 2 ? 1.1 : null,
    ratio: "token" as const,
  })),
  { kl: "low_var_kl", agg: "token-mean", dualClip: null, ratio: "sequence" as const },
  { kl: "k3", agg: "seq-mean-token-sum", dualClip: 1.1, ratio: "sequence" as const },
];

Deno.test({
  name: "trainer update: one GRPO + AdamW step equals PyTorch float64 autograd + torch.optim.AdamW, " +
    "for every loss aggregation and KL estimator, with and without dual-clip",
  ignore: python === null,
  fn: async () => {
    const gpu = await getDevice();
    const root = await Deno.makeTempDir({ prefix: "rlif-update-" });
    try {
      await writeTinyCheckpoint(root, { seed: 8 });
      await writeSafetensors(join(root, "model.safetensors"), sharpTinyCheckpoint({ seed: 8 }).tensors);
      const prompts = [[5, 17, 100], [5, 17, 100], [260, 1], [260, 1]];
      const completions = [[8, 9, 10, 11], [7, 7], [77, 78, 79], [1, 2, 3, 4, 5]];
      const temperature = 0.9;
      const configFor = (c: (typeof CASES)[number]) =>
        resolveConfig(
          GRPO_CONFIG,
          `model: {path: ${root}}
rollout: {n: 2, temperature: ${temperature}, max_new_tokens: 8}
algorithm: {kl_coef: 0.05, kl_estimator: "${c.kl}", loss_agg: ${c.agg}, clip_low: 0.2, clip_high: 0.28, dual_clip: ${
            c.dualClip ?? "null"
          }, ratio: ${c.ratio}}
train: {micro_batch: 3, lr: 0.01, weight_decay: 0.1, grad_clip: 0.5, eps: 0.001}`,
          "step.yaml",
        ).config;
      const scorer = await loadModel(root, { gpu });
      const stats = await score(
        scorer,
        prompts.map((p, i) => ({ promptIds: p, completionIds: completions[i] })),
        { temperature },
      );
      scorer.release();
      // Old log-probs shifted so ratios land inside and outside the clip range on both sides (e^0.22 ≈ 1.246 sits
      // between 1 + 0.2 and 1 + 0.28 with a positive advantage), and a reference that differs from the policy.
      const old = stats.map((s, i) =>
        s.tokenLogprobs.map((lp, t) => lp + (i % 2 ? 0.3 : -0.22) * ((t % 3) - 1))
      );
      const ref = stats.map((s) => s.tokenLogprobs.map((lp, t) => lp - 0.1 * (t + 1)));
      const advantages = Float64Array.from([1.2, -0.7, 0.4, -1.5]);
      const batch = {
        completions: prompts.map((p, i) => ({ promptIds: p, completionIds: completions[i] })),
        stats: old.map((tokenLogprobs) => ({ tokenLogprobs })),
        refLogprobs: ref,
      } as unknown as RolloutBatch;
      const base = configFor(CASES[0]);
      const wants = await runPythonJson(python!, new URL("../support/torch_grpo_step.py", import.meta.url), {
        model_dir: root,
        prompts,
        completions,
        old,
        ref,
        advantages: [...advantages],
        temperature,
        clip_low: 0.2,
        clip_high: 0.28,
        kl_coef: 0.05,
        norm_length: 8,
        lr: base.train.lr,
        betas: base.train.betas,
        eps: base.train.eps,
        weight_decay: base.train.weight_decay,
        grad_clip: base.train.grad_clip,
        cases: CASES.map((c) => ({
          loss_agg: c.agg,
          kl_estimator: c.kl,
          dual_clip: c.dualClip,
          ratio: c.ratio,
        })),
      }) as { grad_norm: number; loss: number; params: Record<string, number[]> }[];
      for (const [i, c] of CASES.entries()) {
        const what = `${c.agg}, ${c.kl}, dual ${c.dualClip}, ${c.ratio} ratio`;
        const config = configFor(c);
        const policy = await loadModel(root, { gpu, weights: "f32" });
        const keys = policy.names;
        const grads = createGradients(policy);
        const optimizer = policyOptimizer(policy, config.train);
        const update = await updatePolicy(
          policy,
          optimizer,
          grads,
          keys,
          batch,
          advantages,
          config,
          config.train.lr,
        );
        const want = wants[i];
        // Gradient norm (before clipping) and loss: f32 GPU loss and backward vs float64 autograd, ~1e-5 relative.
        assertClose(
          [update.gradNorm],
          [want.grad_norm],
          { atol: 1e-6, rtol: 1e-4 },
          `${what}: gradient norm`,
        );
        assertClose([update.loss], [want.loss], { atol: 1e-6, rtol: 1e-4 }, `${what}: loss`);
        // The sequence cases' ratios (e^−0.22, e^0, e^0.3 per sequence) stay unclipped; dual-clip acts instead.
        if (c.ratio === "token" && !(update.clipFraction > 0)) {
          throw new Error("the test batch should put some ratios outside the clip range");
        }
        for (const k of keys) {
          const got = await policy.params.get(k)!.read();
          // AdamW's first step moves each weight by lr·g/(|g| + eps): with eps = 1e-3 that is smooth in g, so
          // f32 gradient error (~1e-5 relative) shows up as ~1e-4·lr in the update.
          assertClose(
            got,
            want.params[k],
            { atol: 2e-3 * config.train.lr, rtol: 1e-6 },
            `${what}: updated ${k}`,
          );
        }
        optimizer.release();
        for (const g of grads.values()) g.release();
        policy.release();
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

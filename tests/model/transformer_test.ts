import { getDevice } from "../../lib/gpu/device.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import { headBackward, headLogits } from "../../lib/model/head.ts";
import { modelFromTensors } from "../../lib/model/model.ts";
import { backward, createGradients, forward } from "../../lib/model/transformer.ts";
import { LM_HEAD } from "../../lib/model/weights.ts";
import { assertClose, dot, randn, rng } from "../support/numeric.ts";
import { referenceForward, type RefWeights } from "../support/reference_model.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const PROMPTS = [[5, 17, 100, 3], [260, 1], [42, 42, 42, 7, 9, 11, 200]];
const COMPLETIONS = [[8, 9, 10], [77, 78, 79, 80, 81, 82], [1]];

/** Σ_t w_t log p(target_t) over completion tokens, in float64 through the reference model. */
function referenceLoss(
  cfg: Parameters<typeof referenceForward>[0],
  weights: RefWeights,
  lossWeights: Float64Array,
  temperature: number,
): number {
  let loss = 0, at = 0;
  PROMPTS.forEach((p, s) => {
    const seq = [...p, ...COMPLETIONS[s]];
    const { logits } = referenceForward(cfg, weights, seq);
    const v = cfg.vocabSize;
    for (let pos = p.length; pos < seq.length; pos++) {
      const row = logits.subarray((pos - 1) * v, pos * v);
      let m = -Infinity;
      for (const z of row) m = Math.max(m, z / temperature);
      let sum = 0;
      for (const z of row) sum += Math.exp(z / temperature - m);
      loss += lossWeights[at++] * (row[seq[pos]] / temperature - m - Math.log(sum));
    }
  });
  return loss;
}

for (
  const variant of [
    { tied: false, arch: "qwen2" as const },
    { tied: true, arch: "qwen2" as const },
    { tied: false, arch: "llama" as const },
  ]
) {
  const label = `${variant.arch}${variant.tied ? ", tied" : ""}`;

  Deno.test(`transformer (${label}): batched right-padded forward matches the float64 reference`, async () => {
    const gpu = await getDevice();
    const tiny = sharpTinyCheckpoint({ seed: 3, ...variant });
    const model = modelFromTensors(gpu, tiny.config, tiny.tensors);
    const batch = buildSequenceBatch(PROMPTS, COMPLETIONS, 0);
    const inputs = uploadBatch(gpu, batch);
    const mask = gpu.fromArray(batch.completionMask, [batch.completionMask.length]);
    const fwd = forward(model, inputs, { poolMask: mask });
    const allRows = Int32Array.from({ length: batch.batch * batch.seqLen }, (_, i) => i);
    const logits = await headLogits(model, fwd.final, allRows).read();
    const pooled = await Promise.all(fwd.pooled.map((t) => t.read()));
    const v = tiny.config.vocabSize, h = tiny.config.hiddenSize;
    PROMPTS.forEach((p, b) => {
      const seq = [...p, ...COMPLETIONS[b]];
      const ref = referenceForward(tiny.config, tiny.tensors, seq);
      // Logits sum H products after ~2L normalised layers: f32 error ~1e-6 relative to |logit| ~ 10.
      assertClose(
        logits.subarray(b * batch.seqLen * v, (b * batch.seqLen + seq.length) * v),
        ref.logits,
        { atol: 2e-4, rtol: 2e-4 },
        `logits of sequence ${b}`,
      );
      ref.hidden.forEach((hs, l) => {
        const want = new Float64Array(h);
        for (let i = p.length; i < seq.length; i++) {
          for (let c = 0; c < h; c++) want[c] += hs[i * h + c] / (seq.length - p.length);
        }
        assertClose(
          pooled[l].subarray(b * h, (b + 1) * h),
          want,
          { atol: 1e-4, rtol: 1e-4 },
          `pooled h_${l} of sequence ${b}`,
        );
      });
    });
    fwd.release();
    inputs.release();
    model.release();
  });

  Deno.test(`transformer (${label}): every parameter's gradient matches float64 finite differences`, async () => {
    const gpu = await getDevice();
    const tiny = sharpTinyCheckpoint({ seed: 5, ...variant });
    const model = modelFromTensors(gpu, tiny.config, tiny.tensors);
    const batch = buildSequenceBatch(PROMPTS, COMPLETIONS, 0);
    const r = rng(11);
    const lossWeights = randn(r, batch.rows.length);
    const temperature = 0.8;
    const inputs = uploadBatch(gpu, batch);
    const fwd = forward(model, inputs, { saveForBackward: true });
    const grads = createGradients(model);
    const dFinal = headBackward(
      model,
      fwd.final,
      batch.rows,
      batch.targets,
      Float32Array.from(lossWeights),
      temperature,
      grads,
    );
    backward(model, fwd, inputs, batch.ids, dFinal, grads);
    // Directional derivative per tensor: (L(θ + h·d) − L(θ − h·d)) / 2h in float64 against <∇L, d>.
    // Float64 central differences with h = 1e-4 err ~h²·L''' ≈ 1e-8; the GPU gradient is f32 through
    // ~20 ops: relative error ~1e-5 of the gradient's scale, so 2e-3 relative + a small absolute floor.
    const weights: RefWeights = new Map(tiny.tensors);
    for (const [name, t] of tiny.tensors) {
      if (name === LM_HEAD && tiny.config.tieWordEmbeddings) continue;
      const g = await grads.get(name)!.read();
      const d = randn(r, t.data.length);
      const base = Float64Array.from(t.data);
      const at = (sign: number) => {
        weights.set(name, { shape: t.shape, data: base.map((x, i) => x + sign * 1e-4 * d[i]) });
        return referenceLoss(tiny.config, weights, lossWeights, temperature);
      };
      const fd = (at(1) - at(-1)) / 2e-4;
      weights.set(name, t);
      const got = dot(g, d);
      const scale = Math.sqrt(dot(g, g) * d.length);
      if (Math.abs(got - fd) > 2e-3 * Math.abs(fd) + 1e-5 * scale + 1e-6) {
        throw new Error(`${name}: <grad, d> = ${got}, finite differences ${fd}`);
      }
    }
    fwd.release();
    inputs.release();
    model.release();
  });
}

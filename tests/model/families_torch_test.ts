/**
 * Every family against its float64 PyTorch reference (tests/support/torch_reference.py, written from
 * transformers' modeling files), on random tiny checkpoints with odd shapes: head_dim apart from
 * hidden/heads, grouped-query attention, tied and untied heads, f32 and bf16 files, and Llama 3.1's
 * 128,256-token vocabulary. Per variant: logits, every hidden state (mean-pooled as CoE pools them), the
 * scored token log-probs, entropy and self-certainty, the gradient of a weighted log-probability loss for
 * every parameter (q/k norms and OLMo-2's output norms included), finite differences of the norms'
 * gradients, and greedy tokens against the float64 greedy recomputation. Skips itself when /usr/bin/python3
 * has no torch.
 */
import { getDevice } from "../../lib/gpu/device.ts";
import type { ModelArch } from "../../lib/model/config.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import { headBackward, headLogits } from "../../lib/model/head.ts";
import { loadModel, type Model, modelFromTensors } from "../../lib/model/model.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { score } from "../../lib/model/score.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { backward, createGradients, forward } from "../../lib/model/transformer.ts";
import { layerTensorNames } from "../../lib/model/weights.ts";
import { generate } from "../../lib/generate/generate.ts";
import { assertClose, randn, rng } from "../support/numeric.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";
import { referenceRowStats } from "../support/reference_model.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const python = await findPython("torch");
if (python === null) skipNote("families_torch_test", "torch");

const PROMPTS = [[5, 17, 100, 3], [260, 1], [42, 42, 42, 7, 9, 11, 200]];
const COMPLETIONS = [[8, 9, 10], [77, 78, 79, 80, 81, 82], [1]];
const TEMPERATURE = 0.9;

interface TorchAnswer {
  logits: number[][];
  hidden: number[][][];
  loss: number;
  grads: Record<string, number[]>;
}

async function torchReference(request: unknown): Promise<TorchAnswer> {
  return await runPythonJson(
    python!,
    new URL("../support/torch_reference.py", import.meta.url),
    request,
  ) as TorchAnswer;
}

interface Variant {
  arch: ModelArch;
  dtype: "f32" | "bf16";
  tied: boolean;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim?: number;
  vocabSize?: number;
  /** Llama 3 scaling whose three bands all turn within the test's few positions. */
  ropeScaling?: Record<string, unknown>;
}

const VARIANTS: Variant[] = [
  // Qwen3: head_dim 24 over hidden 40 (not hidden/heads), GQA 4/2, untied f32; tied bf16 with one kv head.
  { arch: "qwen3", dtype: "f32", tied: false, hidden: 40, heads: 4, kvHeads: 2, headDim: 24 },
  { arch: "qwen3", dtype: "bf16", tied: true, hidden: 36, heads: 3, kvHeads: 1, headDim: 18 },
  // OLMo-2: norms over whole projections and on both sublayer outputs.
  { arch: "olmo2", dtype: "f32", tied: false, hidden: 40, heads: 4, kvHeads: 2 },
  { arch: "olmo2", dtype: "bf16", tied: true, hidden: 48, heads: 6, kvHeads: 3, headDim: 10 },
  // Llama 3.1's vocabulary and untied head with llama3 RoPE scaling, at a tiny width.
  {
    arch: "llama",
    dtype: "bf16",
    tied: false,
    hidden: 32,
    heads: 4,
    kvHeads: 2,
    vocabSize: 128256,
    ropeScaling: {
      factor: 4,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 32,
      rope_type: "llama3",
    },
  },
];

function label(v: Variant): string {
  const head = v.headDim ? `, head_dim ${v.headDim}` : "";
  const vocab = v.vocabSize ? `, vocab ${v.vocabSize}` : "";
  return `${v.arch} ${v.dtype}${v.tied ? " tied" : ""}, ${v.heads}/${v.kvHeads} heads${head}${vocab}`;
}

/** A model folder with sharpened weights (far from uniform attention and logits) for `v`. */
async function writeVariant(dir: string, v: Variant, seed: number) {
  const options = {
    seed,
    arch: v.arch,
    dtype: v.dtype,
    tied: v.tied,
    hidden: v.hidden,
    heads: v.heads,
    kvHeads: v.kvHeads,
    headDim: v.headDim,
    vocabSize: v.vocabSize,
    intermediate: 56,
  };
  await writeTinyCheckpoint(dir, options);
  if (v.ropeScaling) {
    const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ ...config, rope_scaling: v.ropeScaling }),
    );
  }
  const sharp = sharpTinyCheckpoint(options);
  await writeSafetensors(`${dir}/model.safetensors`, sharp.tensors, {
    dtype: v.dtype === "bf16" ? "BF16" : "F32",
  });
  return sharp;
}

/** The norm weights whose gradients the families add: q/k norms and OLMo-2's output norms. */
function familyNorms(model: Model): string[] {
  const n = layerTensorNames(model.config.numLayers - 1);
  const names = [n.qNorm, n.kNorm, n.postAttentionNorm, n.postFeedforwardNorm, n.inputNorm];
  return names.filter((name) => model.names.includes(name));
}

/** Σ weights · logp of the completion tokens at TEMPERATURE, through score(). */
async function weightedLoss(model: Model, weights: Float64Array[]): Promise<number> {
  const items = PROMPTS.map((p, b) => ({ promptIds: p, completionIds: COMPLETIONS[b] }));
  const stats = await score(model, items, { temperature: TEMPERATURE });
  let loss = 0;
  stats.forEach((s, b) => s.tokenLogprobs.forEach((lp, j) => loss += weights[b][j] * lp));
  return loss;
}

for (const [index, variant] of VARIANTS.entries()) {
  Deno.test({
    name: `families: ${label(variant)} matches PyTorch float64 (logits, hidden states, scores, gradients)`,
    ignore: python === null,
    fn: async () => {
      const gpu = await getDevice();
      const dir = await Deno.makeTempDir({ prefix: "rlif-family-" });
      try {
        const sharp = await writeVariant(dir, variant, 40 + index);
        const model = await loadModel(dir, { weights: "f32" });
        if (model.config.arch !== variant.arch) throw new Error(`loaded as ${model.config.arch}`);
        const batch = buildSequenceBatch(PROMPTS, COMPLETIONS, 0);
        const lossWeights = randn(rng(4), batch.rows.length);
        const inputs = uploadBatch(gpu, batch);
        const s = batch.seqLen;
        const poolMask = gpu.fromArray(
          Float32Array.from({ length: batch.batch * s }, (_, i) => {
            const b = Math.floor(i / s), t = i % s;
            return t >= PROMPTS[b].length && t < PROMPTS[b].length + COMPLETIONS[b].length ? 1 : 0;
          }),
          [batch.batch * s],
        );
        const fwd = forward(model, inputs, { saveForBackward: true, poolMask });
        const allRows = Int32Array.from({ length: batch.batch * s }, (_, i) => i);
        const logits = await headLogits(model, fwd.final, allRows).read();
        const pooled = await Promise.all(fwd.pooled.map((t) => t.read()));
        const grads = createGradients(model);
        const dFinal = headBackward(
          model,
          fwd.final,
          batch.rows,
          batch.targets,
          Float32Array.from(lossWeights),
          TEMPERATURE,
          grads,
        );
        backward(model, fwd, inputs, batch.ids, dFinal, grads);
        const weights = PROMPTS.map((_, b) =>
          lossWeights.subarray(batch.rowOffsets[b], batch.rowOffsets[b + 1])
        );
        const ref = await torchReference({
          model_dir: dir,
          sequences: PROMPTS.map((p, b) => [...p, ...COMPLETIONS[b]]),
          weights: PROMPTS.map((p, b) => [...Array(p.length - 1).fill(0), ...weights[b]]),
          temperature: TEMPERATURE,
        });
        const { vocabSize: v, hiddenSize: h } = model.config;
        const items = PROMPTS.map((p, b) => ({ promptIds: p, completionIds: COMPLETIONS[b] }));
        const scored = await score(model, items, { temperature: TEMPERATURE });
        // The largest deviations, printed for the record (the asserts below bound them).
        const worst = { logit: 0, logprob: 0, grad: 0 };
        const maxDiff = (got: ArrayLike<number>, want: ArrayLike<number>) => {
          let m = 0;
          for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
          return m;
        };
        PROMPTS.forEach((p, b) => {
          const len = p.length + COMPLETIONS[b].length;
          const off = b * s * v;
          worst.logit = Math.max(worst.logit, maxDiff(logits.subarray(off, off + len * v), ref.logits[b]));
          assertClose(
            logits.subarray(off, off + len * v),
            ref.logits[b],
            { atol: 2e-4, rtol: 2e-4 },
            `logits ${b}`,
          );
          // Every hidden state h_0 … h_L, mean-pooled over the completion as the CoE features pool them.
          ref.hidden[b].forEach((state, layer) => {
            const want = new Float64Array(h);
            for (let t = p.length; t < len; t++) {
              for (let c = 0; c < h; c++) want[c] += state[t * h + c] / COMPLETIONS[b].length;
            }
            assertClose(
              pooled[layer].subarray(b * h, (b + 1) * h),
              want,
              { atol: 2e-4, rtol: 2e-4 },
              `h_${layer} ${b}`,
            );
          });
          const rows = COMPLETIONS[b].map((tok, j) => {
            const at = p.length + j - 1;
            return referenceRowStats(ref.logits[b].slice(at * v, (at + 1) * v), tok, TEMPERATURE);
          });
          const tol = { atol: 5e-5, rtol: 5e-5 };
          worst.logprob = Math.max(
            worst.logprob,
            maxDiff(scored[b].tokenLogprobs, rows.map((r) => r.logprob)),
          );
          assertClose(scored[b].tokenLogprobs, rows.map((r) => r.logprob), tol, `logprobs ${b}`);
          assertClose(scored[b].tokenEntropy, rows.map((r) => r.entropy), tol, `entropy ${b}`);
          const sc = rows.reduce((a, r) => a + r.selfCertainty, 0) / rows.length;
          assertClose([scored[b].selfCertainty], [sc], tol, `self-certainty ${b}`);
        });
        // Mesa's llvmpipe ends any shader loop after 65,535 iterations, so on it the LM head's dL/dx (a sum
        // over the whole vocabulary) is cut short past a 65,535-token vocabulary: there only the head's own
        // gradient is compared; GPUs compare every parameter.
        const loopCapped = /llvmpipe/i.test(`${gpu.adapterInfo.device} ${gpu.adapterInfo.description}`) &&
          v > 65535;
        for (const name of loopCapped ? ["lm_head.weight"] : model.names) {
          const g = await grads.get(name)!.read();
          const want = ref.grads[name];
          if (!want) throw new Error(`torch returned no gradient for ${name}`);
          const scale = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
          worst.grad = Math.max(worst.grad, maxDiff(g, want) / (scale || 1));
          assertClose(g, want, { atol: 2e-4 * scale + 1e-7, rtol: 2e-3 }, `gradient of ${name}`);
        }
        console.log(
          `${label(variant)}: max |Δ| logits ${worst.logit.toExponential(1)}, token log-probs ` +
            `${worst.logprob.toExponential(1)}; gradients ${
              worst.grad.toExponential(1)
            } of each tensor's largest` +
            (loopCapped ? " (LM head only: llvmpipe's loop cap)" : ""),
        );
        // Finite differences of the family's norm weights, through the scoring pass (f32 loss, step 1e-2).
        if (variant.dtype === "f32") {
          const eps = 1e-2;
          for (const name of familyNorms(model)) {
            const g = await grads.get(name)!.read();
            const entry = (index * 7 + name.length) % g.length;
            const shifted = async (delta: number) => {
              const tensors = new Map(sharp.tensors);
              const t = sharp.tensors.get(name)!;
              const data = t.data.slice();
              data[entry] += delta;
              tensors.set(name, { shape: t.shape, data });
              const m = modelFromTensors(gpu, model.config, tensors);
              try {
                return await weightedLoss(m, weights);
              } finally {
                m.release();
              }
            };
            const fd = ((await shifted(eps)) - (await shifted(-eps))) / (2 * eps);
            assertClose(
              [g[entry]],
              [fd],
              { atol: 3e-3, rtol: 2e-2 },
              `finite difference of ${name}[${entry}]`,
            );
          }
        }
        fwd.release();
        poolMask.release();
        inputs.release();
        grads.forEach((t) => t.release());
        model.release();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

for (const variant of VARIANTS.filter((v) => v.arch !== "llama")) {
  Deno.test({
    name: `families: ${
      label(variant)
    } greedy tokens equal the float64 greedy recomputation (weights as stored)`,
    ignore: python === null,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "rlif-family-greedy-" });
      try {
        await writeVariant(dir, variant, 60);
        // The weights at their stored width: a bf16 file decodes with bf16 matrices and a bf16 KV cache.
        const model = await loadModel(dir);
        const prompts = [[5, 17, 100, 3], [42, 42, 7]];
        const outs = await generate(model, prompts, { temperature: 0, maxNewTokens: 12, eosTokenIds: [] });
        const sequences = outs.map((o) => [...o.promptIds, ...o.completionIds]);
        const ref = await torchReference({ model_dir: dir, sequences });
        const v = model.config.vocabSize;
        outs.forEach((o, b) => {
          o.completionIds.forEach((tok, j) => {
            const at = o.promptIds.length + j - 1;
            const row = ref.logits[b].slice(at * v, (at + 1) * v);
            const sorted = [...row].sort((x, y) => y - x);
            const best = row.indexOf(sorted[0]);
            // A near tie may go either way at f32/bf16 arithmetic; anything else must be the argmax.
            const margin = variant.dtype === "bf16" ? 5e-2 : 1e-3;
            if (tok !== best && sorted[0] - row[tok] > margin) {
              throw new Error(
                `prompt ${b} step ${j}: generated ${tok}, float64 argmax ${best} (gap ${
                  sorted[0] - row[tok]
                })`,
              );
            }
          });
        });
        model.release();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

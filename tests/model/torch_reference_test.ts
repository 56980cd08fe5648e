/**
 * Side by side with PyTorch (Debian's python3-torch, float64 autograd on the same checkpoint files): logits,
 * hidden states and the gradient of a weighted log-probability loss for every parameter. Skips itself
 * when /usr/bin/python3 has no torch.
 */
import { getDevice } from "../../lib/gpu/device.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import { headBackward, headLogits } from "../../lib/model/head.ts";
import { loadModel } from "../../lib/model/model.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { backward, createGradients, forward } from "../../lib/model/transformer.ts";
import { assertClose, randn, rng } from "../support/numeric.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const python = await findPython("torch");
if (python === null) skipNote("torch_reference_test", "torch");

const PROMPTS = [[5, 17, 100, 3], [260, 1], [42, 42, 42, 7, 9, 11, 200]];
const COMPLETIONS = [[8, 9, 10], [77, 78, 79, 80, 81, 82], [1]];

async function torchReference(request: unknown) {
  return await runPythonJson(python!, new URL("../support/torch_reference.py", import.meta.url), request) as {
    logits: number[][];
    hidden: number[][][];
    loss: number;
    grads: Record<string, number[]>;
  };
}

// Llama 3 RoPE scaling with a context short enough that all three frequency bands turn within the
// test's few positions (Llama-3.2 itself uses factor 32, original context 8192).
const SHORT_LLAMA3 = {
  factor: 4,
  low_freq_factor: 1,
  high_freq_factor: 4,
  original_max_position_embeddings: 32,
  rope_type: "llama3",
};

for (
  const variant of [
    { tied: false, dtype: "f32" as const, ropeScaling: null },
    { tied: true, dtype: "bf16" as const, ropeScaling: null },
    { tied: false, dtype: "f32" as const, ropeScaling: SHORT_LLAMA3 },
  ]
) {
  Deno.test({
    name: `torch: logits and every gradient match PyTorch float64 (${variant.dtype}${
      variant.tied ? ", tied" : ""
    }${variant.ropeScaling ? ", llama3 RoPE scaling" : ""})`,
    ignore: python === null,
    fn: async () => {
      const gpu = await getDevice();
      const dir = await Deno.makeTempDir({ prefix: "rlif-torch-" });
      try {
        // Write the sharpened weights into a real model folder so loading (and bf16 widening) is exercised.
        await writeTinyCheckpoint(dir, { seed: 31, ...variant });
        if (variant.ropeScaling) {
          const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
          await Deno.writeTextFile(
            `${dir}/config.json`,
            JSON.stringify({ ...config, rope_scaling: variant.ropeScaling }),
          );
        }
        const sharp = sharpTinyCheckpoint({ seed: 31, ...variant });
        await writeSafetensors(`${dir}/model.safetensors`, sharp.tensors, {
          dtype: variant.dtype === "bf16" ? "BF16" : "F32",
        });
        // Gradients need the f32 masters: a bf16 checkpoint is widened on request.
        const model = await loadModel(dir, { weights: "f32" });
        if (variant.ropeScaling && !model.config.ropeScaling) throw new Error("rope_scaling was not read");
        const batch = buildSequenceBatch(PROMPTS, COMPLETIONS, 0);
        const lossWeights = randn(rng(4), batch.rows.length);
        const temperature = 0.9;
        const inputs = uploadBatch(gpu, batch);
        const fwd = forward(model, inputs, { saveForBackward: true });
        const allRows = Int32Array.from({ length: batch.batch * batch.seqLen }, (_, i) => i);
        const logits = await headLogits(model, fwd.final, allRows).read();
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
        const weights = PROMPTS.map((_, b) =>
          Array.from(lossWeights.subarray(batch.rowOffsets[b], batch.rowOffsets[b + 1]))
        );
        // torch's loss weighs every position; zero for prompt positions, ours for completion ones.
        const ref = await torchReference({
          model_dir: dir,
          sequences: PROMPTS.map((p, b) => [...p, ...COMPLETIONS[b]]),
          weights: PROMPTS.map((p, b) => [...Array(p.length - 1).fill(0), ...weights[b]]),
          temperature,
        });
        const v = model.config.vocabSize;
        PROMPTS.forEach((p, b) => {
          const len = p.length + COMPLETIONS[b].length;
          const off = b * batch.seqLen * v;
          assertClose(
            logits.subarray(off, off + len * v),
            ref.logits[b],
            { atol: 2e-4, rtol: 2e-4 },
            `logits ${b}`,
          );
        });
        for (const name of model.names) {
          const g = await grads.get(name)!.read();
          const want = ref.grads[name];
          if (!want) throw new Error(`torch returned no gradient for ${name}`);
          let scale = 0;
          for (const x of want) scale = Math.max(scale, Math.abs(x));
          // f32 GPU gradient vs float64 autograd: errors ~1e-5 of the tensor's largest entry.
          assertClose(g, want, { atol: 2e-4 * scale + 1e-7, rtol: 2e-3 }, `gradient of ${name}`);
        }
        fwd.release();
        inputs.release();
        model.release();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

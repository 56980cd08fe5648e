import { getDevice } from "../../lib/gpu/device.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import { headBackward, headLogits } from "../../lib/model/head.ts";
import { modelFromTensors } from "../../lib/model/model.ts";
import { backward, createGradients, forward } from "../../lib/model/transformer.ts";
import { EMBED_TOKENS, LM_HEAD } from "../../lib/model/weights.ts";
import { assertClose } from "../support/numeric.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const PROMPTS = [[5, 17, 100, 3], [260, 1]];
const COMPLETIONS = [[8, 200, 10], [77, 150, 267]];

for (const tied of [false, true]) {
  Deno.test(`vocab shards (${tied ? "tied" : "untied"}): a model split into row blocks computes what the whole one does`, async () => {
    const gpu = await getDevice();
    const tiny = sharpTinyCheckpoint({ seed: 12, tied });
    const whole = modelFromTensors(gpu, tiny.config, tiny.tensors);
    const split = modelFromTensors(gpu, tiny.config, tiny.tensors, { vocabShardRows: 100 });
    const shards = split.vocabShards(EMBED_TOKENS);
    if (
      shards.map((s) => `${s.key}:${s.first}:${s.tensor.shape[0]}`).join() !==
        `${EMBED_TOKENS}@0:0:100,${EMBED_TOKENS}@1:100:100,${EMBED_TOKENS}@2:200:68`
    ) {
      throw new Error(`unexpected blocks ${shards.map((s) => s.key)}`);
    }
    const batch = buildSequenceBatch(PROMPTS, COMPLETIONS, 0);
    const weights = Float32Array.from(batch.rows, (_, i) => (i % 2 ? 1 : -0.5));
    const run = async (model: typeof whole) => {
      const inputs = uploadBatch(gpu, batch);
      const fwd = forward(model, inputs, { saveForBackward: true });
      const logits = await headLogits(model, fwd.final, batch.rows).read();
      const grads = createGradients(model);
      const dFinal = headBackward(model, fwd.final, batch.rows, batch.targets, weights, 1, grads);
      backward(model, fwd, inputs, batch.ids, dFinal, grads);
      const host = new Map<string, Float32Array>();
      for (const [k, t] of grads) host.set(k, (await t.read()) as Float32Array);
      return { logits, host };
    };
    const a = await run(whole), b = await run(split);
    // The blocks compute exactly the same dot products: bitwise equal logits.
    assertClose(b.logits, a.logits, { atol: 0 }, "logits");
    const joined = (base: string) => {
      const parts = [0, 1, 2].map((i) => b.host.get(`${base}@${i}`)!);
      return Float32Array.from(parts.flatMap((p) => [...p]));
    };
    // The head's dx sums the vocabulary block by block instead of in one pass; that f32 rounding difference
    // (~1e-7) grows through the sharp layers to ~1e-4 of a tensor's largest gradient. A wrong block offset
    // or a missed block is off by O(1) of it.
    const same = (got: Float32Array, want: Float32Array, what: string) => {
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(got, want, { atol: 1e-3 * scale }, what);
    };
    same(joined(EMBED_TOKENS), a.host.get(EMBED_TOKENS)!, "embedding gradient");
    if (!tied) same(joined(LM_HEAD), a.host.get(LM_HEAD)!, "LM head gradient");
    for (const [k, g] of a.host) {
      if (k !== EMBED_TOKENS && k !== LM_HEAD) same(b.host.get(k)!, g, k);
    }
    const saved = await split.readWeights();
    const want = tiny.tensors.get(EMBED_TOKENS)!;
    if (saved.get(EMBED_TOKENS)!.shape.join() !== want.shape.join()) throw new Error("joined shape");
    assertClose(saved.get(EMBED_TOKENS)!.data, want.data, { atol: 0 }, "weights read back under the HF name");
    whole.release();
    split.release();
  });
}

import { getDevice } from "../../lib/gpu/device.ts";
import { contextMaxNewTokens, generate, generateSeeded } from "../../lib/generate/generate.ts";
import assert from "node:assert/strict";
import { modelFromTensors } from "../../lib/model/model.ts";
import { score } from "../../lib/model/score.ts";
import { createTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { assertClose, assertThrowsWith } from "../support/numeric.ts";
import { referenceForward } from "../support/reference_model.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const PROMPTS = [[5, 17, 100, 3], [260], [42, 42, 42, 7, 9, 11, 200]];

async function tinyModel(seed: number, withTokenizer = false) {
  const gpu = await getDevice();
  const tiny = sharpTinyCheckpoint({ seed });
  const tokenizer = withTokenizer
    ? createTokenizer({ tokenizerJson: tiny.tokenizerJson, tokenizerConfig: tiny.tokenizerConfig })
    : undefined;
  return { tiny, model: modelFromTensors(gpu, tiny.config, tiny.tensors, { tokenizer }) };
}

/** Greedy decoding by full recomputation through the float64 reference. */
function referenceGreedy(
  tiny: ReturnType<typeof sharpTinyCheckpoint>,
  prompt: number[],
  steps: number,
): number[] {
  const seq = [...prompt];
  const v = tiny.config.vocabSize;
  for (let s = 0; s < steps; s++) {
    const { logits } = referenceForward(tiny.config, tiny.tensors, seq);
    const row = logits.subarray((seq.length - 1) * v, seq.length * v);
    let best = 0;
    for (let j = 1; j < v; j++) if (row[j] > row[best]) best = j;
    seq.push(best);
  }
  return seq.slice(prompt.length);
}

Deno.test("generate: greedy decoding with the KV cache equals float64 greedy decoding by recomputation", async () => {
  const { tiny, model } = await tinyModel(21);
  const outs = await generate(model, PROMPTS, { temperature: 0, maxNewTokens: 10, eosTokenIds: [] });
  outs.forEach((o, i) => {
    const want = referenceGreedy(tiny, PROMPTS[i], 10);
    if (o.completionIds.join() !== want.join()) {
      throw new Error(`prompt ${i}: GPU greedy ${o.completionIds}, reference ${want}`);
    }
    if (o.finishReason !== "length") throw new Error(`prompt ${i}: finish ${o.finishReason}`);
  });
  model.release();
});

Deno.test("generate: same seed same samples, whatever the batch size; another seed differs", async () => {
  const { model } = await tinyModel(22);
  const opts = { n: 3, temperature: 1, maxNewTokens: 12, eosTokenIds: [], seed: 7 };
  const a = await generate(model, PROMPTS, opts);
  const b = await generate(model, PROMPTS, { ...opts, batchSize: 2 });
  const c = await generate(model, PROMPTS, { ...opts, seed: 8 });
  const ids = (outs: typeof a) => outs.map((o) => o.completionIds.join(" ")).join(" | ");
  if (ids(a) !== ids(b)) throw new Error(`batch size changed the samples:\n${ids(a)}\n${ids(b)}`);
  if (ids(a) === ids(c)) throw new Error("a different seed gave identical samples");
  const distinct = new Set(a.map((o) => o.completionIds.join()));
  if (distinct.size < 2) throw new Error("n samples of one prompt are all identical at temperature 1");
  model.release();
});

Deno.test("generate: per-prompt seeds — each prompt samples as it would alone with its seed, in one batch", async () => {
  const { model } = await tinyModel(27);
  const opts = { n: 2, temperature: 1, maxNewTokens: 10, eosTokenIds: [] };
  const seeds = [5, 2 ** 40 + 3, 11];
  const ids = (outs: Awaited<ReturnType<typeof generate>>) => outs.map((o) => o.completionIds.join(" "));
  const mixed = await generate(model, PROMPTS, { ...opts, seeds });
  for (const [i, prompt] of PROMPTS.entries()) {
    // A lone prompt's streams are 0..n−1 either way, so seeds [S] is seed S.
    const alone = ids(await generate(model, [prompt], { ...opts, seed: seeds[i] }));
    const got = ids(mixed).slice(i * 2, i * 2 + 2);
    if (got.join() !== alone.join()) {
      throw new Error(`prompt ${i}: ${got} in the mixed batch, ${alone} alone`);
    }
  }
  // Odd batch sizes split the rows without changing them.
  const odd = await generate(model, PROMPTS, { ...opts, seeds, batchSize: 3 });
  if (ids(odd).join() !== ids(mixed).join()) throw new Error("batch size 3 changed per-seed samples");
  // generateSeeded keys each row by its own (seed, stream): row (S, j) is sample j of seed S.
  const rows = await generateSeeded(model, [
    { ids: PROMPTS[2], seed: seeds[2], stream: 1 },
    { ids: PROMPTS[0], seed: seeds[0], stream: 0 },
  ], opts);
  if (
    rows[0].completionIds.join(" ") !== ids(mixed)[5] || rows[1].completionIds.join(" ") !== ids(mixed)[0]
  ) {
    throw new Error(`generateSeeded rows ${ids(rows)} differ from the seeded samples ${ids(mixed)}`);
  }
  await assertThrowsWith(() => generate(model, PROMPTS, { seeds: [1] }), "seeds", "3 prompts");
  model.release();
});

for (const temperature of [1, 0.6]) {
  Deno.test(`generate: cached decoding's logprobs equal full recomputation by score (T=${temperature}, top-p/k)`, async () => {
    const { model } = await tinyModel(23);
    const outs = await generate(model, PROMPTS, {
      n: 2,
      temperature,
      topP: 0.9,
      topK: 50,
      maxNewTokens: 9,
      eosTokenIds: [],
      seed: 3,
    });
    const scored = await score(model, outs, { temperature });
    outs.forEach((o, i) => {
      // Same f32 model on two code paths (cache vs none, split-K decode vs full attention): ~1e-5.
      assertClose(
        o.logprobs,
        scored[i].tokenLogprobs,
        { atol: 5e-4, rtol: 5e-4 },
        `completion ${i} logprobs`,
      );
    });
    model.release();
  });
}

Deno.test("generate: EOS ends a completion (EOS id kept) and stop strings cut the text", async () => {
  const { model } = await tinyModel(24, true);
  const [free] = await generate(model, [[72, 105]], { temperature: 0, maxNewTokens: 12, eosTokenIds: [] });
  const eosId = free.completionIds[3];
  const firstEos = free.completionIds.indexOf(eosId);
  const [stopped] = await generate(model, [[72, 105]], {
    temperature: 0,
    maxNewTokens: 12,
    eosTokenIds: [eosId],
  });
  if (stopped.finishReason !== "eos") throw new Error(`finish ${stopped.finishReason}`);
  if (stopped.completionIds.join() !== free.completionIds.slice(0, firstEos + 1).join()) {
    throw new Error(`EOS run ${stopped.completionIds} vs free run ${free.completionIds}`);
  }
  const text = free.text;
  const stop = text.slice(4, 6);
  if (stop.length !== 2) {
    throw new Error(`greedy text ${JSON.stringify(text)} is too short for a stop string`);
  }
  {
    const [cut] = await generate(model, [[72, 105]], {
      temperature: 0,
      maxNewTokens: 12,
      eosTokenIds: [],
      stop: [stop],
      checkEvery: 2,
    });
    if (cut.finishReason !== "stop") {
      throw new Error(`finish ${cut.finishReason} for stop ${JSON.stringify(stop)}`);
    }
    if (cut.text !== text.slice(0, text.indexOf(stop))) throw new Error(`text ${JSON.stringify(cut.text)}`);
  }
  model.release();
});

Deno.test("generate: readbacks and submits — results in one readback, a finished-flags check only where it can end the loop early; the same completions whatever the checks", async () => {
  const { model } = await tinyModel(26);
  const { gpu } = model;
  const run = async (maxNewTokens: number, checkEvery?: number) => {
    await gpu.sync();
    const before = gpu.counters();
    const outs = await generate(model, PROMPTS, {
      n: 2,
      temperature: 1,
      maxNewTokens,
      checkEvery,
      eosTokenIds: [7, 42, 99],
      seed: 5,
    });
    const after = gpu.counters();
    const ids = outs.map((o) => `${o.finishReason}:${o.completionIds}:${o.logprobs}`).join(" | ");
    return { ids, readbacks: after.readbacks - before.readbacks, submits: after.submits - before.submits };
  };
  await run(8); // compiles the pipelines
  // [maxNewTokens, checkEvery, readbacks, submits]: 8 or 9 tokens reach no check that could end the loop
  // early (steps 1–8); 20 tokens check at step 8 (awaited at 16, which could skip 17–19) and only submit at
  // 16, whose answer would come after the last step; every 4 steps, it checks at 4, 8 and 12.
  const cases: [number, number | undefined, number, number][] = [];
  cases.push([8, undefined, 1, 1], [9, undefined, 1, 2], [20, undefined, 2, 3], [20, 4, 4, 5]);
  const byLength = new Map<number, string>();
  for (const [maxNew, every, readbacks, submits] of cases) {
    const r = await run(maxNew, every);
    if (r.readbacks !== readbacks || r.submits !== submits) {
      throw new Error(
        `${maxNew} tokens, checkEvery ${every ?? 8}: ${r.readbacks} readbacks and ${r.submits} submits, ` +
          `want ${readbacks} and ${submits}`,
      );
    }
    const seen = byLength.get(maxNew);
    if (seen !== undefined && seen !== r.ids) throw new Error(`checkEvery ${every} changed the completions`);
    byLength.set(maxNew, r.ids);
  }
  const none = await run(20, 1000);
  if (none.ids !== byLength.get(20)) throw new Error("checks changed the completions");
  model.release();
});

Deno.test("generate: a prompt that fills the context is refused naming the limit; new tokens stop at the context", async () => {
  const { model } = await tinyModel(25);
  const limit = model.config.maxPositionEmbeddings;
  await assertThrowsWith(
    () => generate(model, [Array(limit).fill(1)], { maxNewTokens: 20 }),
    `prompt 0 has ${limit} tokens`,
    "max_position_embeddings",
  );
  assert.equal(contextMaxNewTokens(model, [[1, 2], Array(limit - 3).fill(1)], 1000), 3);
  assert.equal(contextMaxNewTokens(model, [[1, 2]], 4), 4);
  const [capped] = await generate(model, [Array(limit - 3).fill(1)], { maxNewTokens: 1000, temperature: 0 });
  assert.ok(capped.completionIds.length <= 3, `${capped.completionIds.length} new tokens`);
  await assertThrowsWith(() => generate(model, [[1]], { n: 0 }), "option n");
  model.release();
});

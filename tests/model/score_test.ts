import { getDevice } from "../../lib/gpu/device.ts";
import { chainOfEmbedding } from "../../lib/model/coe.ts";
import { modelFromTensors } from "../../lib/model/model.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import { headStats, recordHeadStats } from "../../lib/model/head.ts";
import { score, scoreAll } from "../../lib/model/score.ts";
import { forward } from "../../lib/model/transformer.ts";
import { LOGIT_STAT_COUNT } from "../../lib/ops/logit_stats.ts";
import { assertClose, assertThrowsWith } from "../support/numeric.ts";
import { referenceForward, referenceRowStats } from "../support/reference_model.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const ITEMS = [
  { promptIds: [5, 17, 100, 3], completionIds: [8, 9, 10] },
  { promptIds: [260], completionIds: [77, 78, 79, 80, 81, 82, 83, 84] },
  { promptIds: [42, 42, 42, 7, 9, 11, 200, 6, 6], completionIds: [1] },
];

for (const temperature of [1, 0.7]) {
  Deno.test(`score: every field matches the float64 reference (temperature ${temperature}, 2 micro-batches)`, async () => {
    const gpu = await getDevice();
    const tiny = sharpTinyCheckpoint({ seed: 9 });
    const model = modelFromTensors(gpu, tiny.config, tiny.tensors);
    const got = await score(model, ITEMS, { temperature, batchSize: 2 });
    const v = tiny.config.vocabSize, h = tiny.config.hiddenSize;
    ITEMS.forEach((item, i) => {
      const seq = [...item.promptIds, ...item.completionIds];
      const ref = referenceForward(tiny.config, tiny.tensors, seq);
      const rows = item.completionIds.map((t, j) => {
        const p = item.promptIds.length + j;
        return referenceRowStats(ref.logits.subarray((p - 1) * v, p * v), t, temperature);
      });
      const mean = (f: (r: (typeof rows)[0]) => number) => rows.reduce((a, r) => a + f(r), 0) / rows.length;
      const pooled = ref.hidden.map((hs) => {
        const m = new Float64Array(h);
        for (let p = item.promptIds.length; p < seq.length; p++) {
          for (let c = 0; c < h; c++) m[c] += hs[p * h + c] / item.completionIds.length;
        }
        return m;
      });
      const coe = chainOfEmbedding(pooled);
      const s = got[i];
      // Statistics of |logits| ~ 10 computed in f32 over V terms: ~1e-5 absolute.
      const tol = { atol: 5e-5, rtol: 5e-5 };
      assertClose(s.tokenLogprobs, rows.map((r) => r.logprob), tol, `item ${i} tokenLogprobs`);
      assertClose(s.tokenEntropy, rows.map((r) => r.entropy), tol, `item ${i} tokenEntropy`);
      assertClose([s.selfCertainty], [mean((r) => r.selfCertainty)], tol, `item ${i} selfCertainty`);
      assertClose([s.meanTokenEntropy], [mean((r) => r.entropy)], tol, `item ${i} meanTokenEntropy`);
      assertClose(
        [s.trajectoryLogprob],
        [rows.reduce((a, r) => a + r.logprob, 0)],
        tol,
        `item ${i} trajectoryLogprob`,
      );
      assertClose([s.meanLogprob], [mean((r) => r.logprob)], tol, `item ${i} meanLogprob`);
      assertClose([s.topGap], [mean((r) => r.topGap)], tol, `item ${i} topGap`);
      assertClose(s.tokenTopGap!, rows.map((r) => r.topGap), tol, `item ${i} tokenTopGap`);
      // CoE ratios of pooled f32 states: relative ~1e-5.
      for (const k of ["d1", "d2", "mag", "ang", "r", "c"] as const) {
        assertClose([s.coe[k]], [coe[k]], { atol: 1e-4, rtol: 1e-4 }, `item ${i} coe.${k}`);
      }
    });
    model.release();
  });
}

Deno.test("score: bad input is refused with the reason", async () => {
  const gpu = await getDevice();
  const tiny = sharpTinyCheckpoint({ seed: 1, maxPositions: 8 });
  const model = modelFromTensors(gpu, tiny.config, tiny.tensors);
  await assertThrowsWith(() => score(model, [{ promptIds: [], completionIds: [1] }]), "prompt is empty");
  await assertThrowsWith(() => score(model, [{ promptIds: [1], completionIds: [] }]), "completion is empty");
  await assertThrowsWith(
    () => score(model, [{ promptIds: [1, 2, 3, 4, 5], completionIds: [1, 2, 3, 4] }]),
    "9 tokens",
    "context of 8",
    "max_position_embeddings",
  );
  await assertThrowsWith(() => score(model, ITEMS, { temperature: 0 }), "temperature");
  model.release();
});

Deno.test("score: one readback and one submit per call, whatever the batches; scoreAll reads two models' results with one", async () => {
  const gpu = await getDevice();
  const a = sharpTinyCheckpoint({ seed: 9 }), b = sharpTinyCheckpoint({ seed: 10 });
  const policy = modelFromTensors(gpu, a.config, a.tensors);
  const reference = modelFromTensors(gpu, b.config, b.tensors);
  await score(policy, ITEMS); // compiles the pipelines
  const counted = async <T>(fn: () => Promise<T>) => {
    await gpu.sync();
    const before = gpu.counters();
    const out = await fn();
    const after = gpu.counters();
    return { out, readbacks: after.readbacks - before.readbacks, submits: after.submits - before.submits };
  };
  const alone = await counted(() => score(policy, ITEMS, { temperature: 0.7, batchSize: 1 }));
  const ref = await score(reference, ITEMS, { batchSize: 2 });
  const both = await counted(() =>
    scoreAll([
      { model: policy, items: ITEMS, options: { temperature: 0.7, batchSize: 1 } },
      { model: reference, items: ITEMS, options: { batchSize: 2 } },
    ])
  );
  for (const [what, c] of [["score over 3 batches", alone], ["scoreAll over 5 batches", both]] as const) {
    if (c.readbacks !== 1 || c.submits !== 1) {
      throw new Error(`${what}: ${c.readbacks} readbacks and ${c.submits} submits (want 1 and 1)`);
    }
  }
  // The same work on the same buffers' contents: bitwise equal.
  const json = (x: unknown) => JSON.stringify(x);
  if (json(both.out[0]) !== json(alone.out)) throw new Error("scoreAll's policy results differ from score's");
  if (json(both.out[1]) !== json(ref)) throw new Error("scoreAll's reference results differ from score's");
  if (json(both.out[0]) === json(both.out[1])) throw new Error("two different models scored alike");
  if ((await scoreAll([])).length !== 0 || (await score(policy, [])).length !== 0) throw new Error("empty");
  policy.release();
  reference.release();
});

Deno.test("recordHeadStats: the statistics headStats reads, into rows [at, at + R) of a larger tensor", async () => {
  const gpu = await getDevice();
  const tiny = sharpTinyCheckpoint({ seed: 4 });
  const model = modelFromTensors(gpu, tiny.config, tiny.tensors);
  const batch = buildSequenceBatch(ITEMS.map((i) => i.promptIds), ITEMS.map((i) => i.completionIds), 0);
  const inputs = uploadBatch(gpu, batch);
  const fwd = forward(model, inputs);
  const want = await headStats(model, fwd.final, batch.rows, batch.targets, 0.8);
  const rows = batch.rows.length, at = 3;
  const out = gpu.fromArray(new Float32Array((rows + 5) * LOGIT_STAT_COUNT).fill(-1), [
    rows + 5,
    LOGIT_STAT_COUNT,
  ]);
  recordHeadStats(model, fwd.final, batch.rows, batch.targets, 0.8, out, at);
  const got = (await out.read()) as Float32Array;
  assertClose(
    got.subarray(at * LOGIT_STAT_COUNT, (at + rows) * LOGIT_STAT_COUNT),
    want,
    { atol: 0 },
    "stats",
  );
  const untouched = [
    ...got.subarray(0, at * LOGIT_STAT_COUNT),
    ...got.subarray((at + rows) * LOGIT_STAT_COUNT),
  ];
  if (untouched.some((v) => v !== -1)) throw new Error("rows outside [at, at + R) were written");
  await assertThrowsWith(
    () => recordHeadStats(model, fwd.final, batch.rows, batch.targets, 1, out, 6),
    "recordHeadStats",
    "outside",
  );
  for (const t of [out, fwd, inputs]) t.release();
  model.release();
});

import {
  aggregateLoss,
  aggregationWeights,
  LOSS_AGGS,
  type LossAgg,
  lossNormalizer,
  sequenceLengths,
} from "../../lib/rl/grpo.ts";
import type { KlEstimator } from "../../lib/rl/kl.ts";
import { type GrpoLossConfig, grpoTokenLoss } from "./grpo_host.ts";
import { assertClose, assertThrowsWith, finiteDiff, rng } from "../support/numeric.ts";
import { type RefBatch, type RefConfig, refLoss } from "./grpo_reference.ts";

const ESTIMATORS: KlEstimator[] = ["k1", "k2", "k3", "low_var_kl", "abs", "k3+", "low_var_kl+"];
// log(ratio) per token, cycling: far below, below, just below 1 − 0.2, inside, inside, above 1 + 0.28, far above.
const LOG_RATIOS = [-0.6, -0.3, -0.12, 0.05, 0.15, 0.35, 0.7];
// logp_ref − logp_new per token: includes values where low_var_kl clamps (3.0 → 16.1 > 10; −12 → 11 > 10).
const REF_OFFSETS = [-3.2, -0.4, 0.3, 1.0, 3.0, -12, 0.05];

/** A padded 4 × 6 batch with lengths 6, 3, 0, 4 and every clip regime for both advantage signs. */
function makeBatch(seed: number): { batch: RefBatch; logpNew: Float64Array } {
  const rand = rng(seed);
  const rows = 4, width = 6, lengths = [6, 3, 0, 4];
  const n = rows * width;
  const logpNew = new Float64Array(n), logpOld = new Float64Array(n), logpRef = new Float64Array(n);
  const mask = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    logpNew[t] = -0.1 - 3 * rand();
    logpOld[t] = logpNew[t] - LOG_RATIOS[(t + seed) % LOG_RATIOS.length];
    logpRef[t] = logpNew[t] + REF_OFFSETS[(t * 3 + seed) % REF_OFFSETS.length];
    mask[t] = t % width < lengths[Math.floor(t / width)] ? 1 : 0;
  }
  const advantages = Float64Array.from([1.3, -0.8, 0.5, -1.7]);
  return { batch: { rows, width, logpOld, logpRef, mask, advantages }, logpNew };
}

function libConfig(agg: LossAgg, est: KlEstimator, dualClip: number | null): GrpoLossConfig {
  return { clipLow: 0.2, clipHigh: 0.28, klCoef: 0.7, klEstimator: est, lossAgg: agg, dualClip };
}

Deno.test("grpoTokenLoss matches the float64 reference and its finite differences (every mode × KL × clip regime)", () => {
  for (const agg of LOSS_AGGS) {
    for (const est of ESTIMATORS) {
      for (const dualClip of [null, 1.5]) {
        for (const seed of [1, 2]) {
          const { batch, logpNew } = makeBatch(seed);
          const cfg = libConfig(agg, est, dualClip);
          const what = `${agg} / ${est} / dual ${dualClip} / seed ${seed}`;
          const r = grpoTokenLoss(
            {
              logpNew,
              logpOld: batch.logpOld,
              logpRef: batch.logpRef,
              advantages: batch.advantages,
              mask: batch.mask,
            },
            cfg,
          );
          // Both clipped regimes (and dual-clip when on) must occur, or the test would not cover them.
          if (!(r.stats.clipFractionHigh > 0 && r.stats.clipFractionLow > 0)) {
            throw new Error(`${what}: no clipping`);
          }
          if (dualClip !== null && !(r.stats.dualClipFraction > 0)) throw new Error(`${what}: no dual-clip`);
          const refCfg: RefConfig = { ...cfg };
          assertClose(
            [r.loss],
            [refLoss(logpNew, batch, refCfg)],
            { atol: 1e-13, rtol: 1e-12 },
            `${what}: loss`,
          );
          // Straight-through names take k2's gradient for the KL term.
          const gradCfg = est.endsWith("+") ? { ...refCfg, klEstimator: "k2" } : refCfg;
          const fd = finiteDiff((x) => refLoss(x, batch, gradCfg), Float64Array.from(logpNew), 1e-6);
          assertClose(r.dLogp, fd, { atol: 2e-8, rtol: 1e-6 }, `${what}: dLogp vs finite differences`);
          for (let t = 0; t < logpNew.length; t++) {
            if (batch.mask[t] === 0 && r.dLogp[t] !== 0) {
              throw new Error(`${what}: masked token ${t} has a gradient`);
            }
          }
        }
      }
    }
  }
});

Deno.test("grpoTokenLoss on hand-computed tokens: clipping, its zero gradient, dual-clip, stats", () => {
  const cfg: GrpoLossConfig = {
    clipLow: 0.2,
    clipHigh: 0.2,
    klCoef: 0,
    klEstimator: "k3",
    lossAgg: "token-mean",
  };
  const logpOld = [0, 0];
  const logpNew = [Math.log(1.5), Math.log(0.9)];
  // A = +1: ratio 1.5 is clipped to 1.2 (no gradient), ratio 0.9 is inside.
  let r = grpoTokenLoss({ logpNew, logpOld, advantages: [1], lengths: [2] }, cfg);
  assertClose([r.loss], [(-1.2 - 0.9) / 2], { atol: 1e-15 }, "A=+1 loss");
  assertClose(r.dLogp, [0, -0.9 / 2], { atol: 1e-15 }, "A=+1 dLogp");
  assertClose(
    [r.stats.clipFraction, r.stats.clipFractionHigh, r.stats.clipFractionLow, r.stats.ratioMean],
    [0.5, 0.5, 0, 1.2],
    { atol: 1e-15 },
    "A=+1 stats",
  );
  assertClose([r.stats.ppoKl], [-(Math.log(1.5) + Math.log(0.9)) / 2], { atol: 1e-15 }, "ppo_kl");
  // A = −1: ratio 1.5 stays unclipped (pessimistic branch), gradient −A·ratio.
  r = grpoTokenLoss({ logpNew, logpOld, advantages: [-1], lengths: [2] }, cfg);
  assertClose([r.loss], [(1.5 + 0.9) / 2], { atol: 1e-15 }, "A=-1 loss");
  assertClose(r.dLogp, [1.5 / 2, 0.9 / 2], { atol: 1e-15 }, "A=-1 dLogp");
  // Dual-clip c = 1.4 caps the 1.5 token's loss at 1.4 and removes its gradient.
  r = grpoTokenLoss({ logpNew, logpOld, advantages: [-1], lengths: [2] }, { ...cfg, dualClip: 1.4 });
  assertClose([r.loss, r.stats.dualClipFraction], [(1.4 + 0.9) / 2, 0.5], { atol: 1e-15 }, "dual-clip");
  assertClose(r.dLogp, [0, 0.9 / 2], { atol: 1e-15 }, "dual-clip dLogp");
  // A = −1 and ratio 0.7 < 0.8: clipped low.
  r = grpoTokenLoss({ logpNew: [Math.log(0.7)], logpOld: [0], advantages: [-1], lengths: [1] }, cfg);
  assertClose([r.loss, r.dLogp[0], r.stats.clipFractionLow], [0.8, 0, 1], { atol: 1e-15 }, "clipped low");
});

Deno.test("grpoTokenLoss on-policy (no logpOld) is −A per token and adds β·KL", () => {
  const cfg: GrpoLossConfig = {
    clipLow: 0.2,
    clipHigh: 0.28,
    klCoef: 0.1,
    klEstimator: "k3",
    lossAgg: "seq-mean-token-sum",
  };
  // k3 at logp_new = ln 0.5, logp_ref = ln 0.25: value 0.5 + ln 2 − 1, gradient 0.5.
  const x = Math.log(0.5), ref = Math.log(0.25);
  const r = grpoTokenLoss(
    { logpNew: [x, x, x], logpRef: [ref, ref, ref], advantages: [2, -1], lengths: [2, 1] },
    cfg,
  );
  const k3 = 0.5 + Math.LN2 - 1;
  assertClose([r.loss], [((-2 + 0.1 * k3) * 2 + (1 + 0.1 * k3)) / 2], { atol: 1e-15 }, "loss");
  assertClose(r.dLogp, [(-2 + 0.05) / 2, (-2 + 0.05) / 2, (1 + 0.05) / 2], { atol: 1e-15 }, "dLogp");
  assertClose([r.stats.kl!, r.stats.klLoss!], [k3, 1.5 * k3], { atol: 1e-15 }, "kl stats");
});

Deno.test("inside the clip range, ties follow torch.maximum: the full −A·ratio gradient flows", () => {
  // clipLow = clipHigh = 0 and ratio 1: clamp's bounds are inclusive, both branches are equal.
  const r = grpoTokenLoss(
    { logpNew: [-1], logpOld: [-1], advantages: [0.7], lengths: [1] },
    { clipLow: 0, clipHigh: 0, klCoef: 0, klEstimator: "k1", lossAgg: "token-mean" },
  );
  assertClose([r.loss, r.dLogp[0], r.stats.clipFraction], [-0.7, -0.7, 0], { atol: 1e-15 }, "tie");
});

Deno.test("packed and padded layouts give the same loss and gradient", () => {
  const { batch, logpNew } = makeBatch(3);
  const pick = (a: Float64Array) => a.filter((_, t) => batch.mask[t] === 1);
  for (const agg of ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"] as const) {
    const cfg = libConfig(agg, "low_var_kl", null);
    const padded = grpoTokenLoss(
      {
        logpNew,
        logpOld: batch.logpOld,
        logpRef: batch.logpRef,
        advantages: batch.advantages,
        mask: batch.mask,
      },
      cfg,
    );
    const packed = grpoTokenLoss({
      logpNew: pick(logpNew),
      logpOld: pick(batch.logpOld),
      logpRef: pick(batch.logpRef),
      advantages: batch.advantages,
      lengths: [6, 3, 0, 4],
    }, cfg);
    assertClose([packed.loss], [padded.loss], { atol: 1e-15 }, `${agg} loss`);
    assertClose(packed.dLogp, pick(padded.dLogp), { atol: 1e-15 }, `${agg} dLogp`);
  }
});

Deno.test("micro-batches with the mini-batch normaliser sum to the full-batch loss and gradient", () => {
  const { batch, logpNew } = makeBatch(4);
  const w = batch.width;
  const rows = (a: Float64Array, from: number, to: number) => a.slice(from * w, to * w);
  const lengths = sequenceLengths(logpNew.length, { sequences: batch.rows, mask: batch.mask });
  for (const agg of LOSS_AGGS) {
    const cfg = libConfig(agg, "k3", 2);
    const norm = lossNormalizer(lengths, w);
    const full = grpoTokenLoss(
      {
        logpNew,
        logpOld: batch.logpOld,
        logpRef: batch.logpRef,
        advantages: batch.advantages,
        mask: batch.mask,
      },
      cfg,
      norm,
    );
    let loss = 0;
    const grads: number[] = [];
    for (const [a, b] of [[0, 1], [1, 4]]) {
      const part = grpoTokenLoss(
        {
          logpNew: rows(logpNew, a, b),
          logpOld: rows(batch.logpOld, a, b),
          logpRef: rows(batch.logpRef, a, b),
          advantages: batch.advantages.slice(a, b),
          mask: rows(batch.mask, a, b),
        },
        cfg,
        norm,
      );
      loss += part.loss;
      grads.push(...part.dLogp);
    }
    assertClose([loss], [full.loss], { atol: 1e-14 }, `${agg}: summed micro-batch loss`);
    assertClose(grads, full.dLogp, { atol: 1e-15 }, `${agg}: concatenated micro-batch gradient`);
    // And it is the reference's full-batch value.
    assertClose(
      [full.loss],
      [refLoss(logpNew, batch, { ...cfg, normLength: w })],
      { atol: 1e-13 },
      `${agg}: ref`,
    );
  }
});

Deno.test("aggregation weights and aggregateLoss follow verl's agg_loss on hand values", () => {
  const layout = { sequences: 3, lengths: [1, 3, 0] };
  assertClose(
    aggregationWeights(4, layout, "token-mean"),
    [0.25, 0.25, 0.25, 0.25],
    { atol: 0 },
    "token-mean",
  );
  assertClose(
    aggregationWeights(4, layout, "seq-mean-token-mean"),
    [1 / 2, 1 / 6, 1 / 6, 1 / 6],
    { atol: 1e-17 },
    "seq-mean-token-mean (empty sequence not counted)",
  );
  assertClose(
    aggregationWeights(4, layout, "seq-mean-token-sum"),
    [0.5, 0.5, 0.5, 0.5],
    { atol: 0 },
    "token-sum",
  );
  assertClose(
    aggregationWeights(4, layout, "seq-mean-token-sum-norm", { tokens: 4, sequences: 2, normLength: 8 }),
    [1 / 16, 1 / 16, 1 / 16, 1 / 16],
    { atol: 0 },
    "token-sum-norm",
  );
  assertClose(
    [aggregateLoss([1, 2, 3, 4], layout, "seq-mean-token-mean")],
    [(1 + 3) / 2],
    { atol: 1e-15 },
    "agg",
  );
  assertClose(
    [aggregateLoss([1, 2, 3, 4], layout, "seq-mean-token-sum")],
    [(1 + 9) / 2],
    { atol: 1e-15 },
    "agg",
  );
});

Deno.test("grpoTokenLoss rejects bad input with messages that say what is wrong", async () => {
  const cfg: GrpoLossConfig = {
    clipLow: 0.2,
    clipHigh: 0.2,
    klCoef: 0.1,
    klEstimator: "k3",
    lossAgg: "token-mean",
  };
  await assertThrowsWith(
    () => grpoTokenLoss({ logpNew: [-1], advantages: [1], lengths: [1] }, cfg),
    "klCoef is 0.1",
    "no logpRef",
  );
  const noKl = { ...cfg, klCoef: 0 };
  await assertThrowsWith(
    () => grpoTokenLoss({ logpNew: [-1, NaN], advantages: [1], lengths: [2] }, noKl),
    "token 1 (sequence 0)",
    "NaN",
  );
  await assertThrowsWith(
    () => grpoTokenLoss({ logpNew: [-1], advantages: [1] }, noKl),
    'exactly one of "mask"',
  );
  await assertThrowsWith(
    () => grpoTokenLoss({ logpNew: [-1, -1, -1], advantages: [1, 1], mask: [1, 1, 1] }, noKl),
    "do not split into 2 padded rows",
  );
  await assertThrowsWith(
    () => grpoTokenLoss({ logpNew: [-1, -1], advantages: [1], mask: [1, 0.5] }, noKl),
    "mask[1]",
    "0 or 1",
  );
  await assertThrowsWith(
    () => grpoTokenLoss({ logpNew: [-1], advantages: [1], lengths: [2] }, noKl),
    "sum to 2",
  );
  await assertThrowsWith(
    () =>
      grpoTokenLoss({ logpNew: [-1, -1], advantages: [1], lengths: [2] }, noKl, { tokens: 1, sequences: 1 }),
    "normalizer.tokens is 1",
    "whole mini-batch",
  );
  await assertThrowsWith(
    () =>
      grpoTokenLoss({ logpNew: [-1], advantages: [1], lengths: [1] }, {
        ...noKl,
        lossAgg: "seq-mean-token-sum-norm",
      }),
    "normLength",
  );
  await assertThrowsWith(
    () => grpoTokenLoss({ logpNew: [-1], advantages: [1], lengths: [1] }, { ...noKl, clipLow: 1 }),
    "clipLow is 1",
  );
  await assertThrowsWith(
    () => grpoTokenLoss({ logpNew: [-1], advantages: [1], lengths: [1] }, { ...noKl, dualClip: 0.5 }),
    "dual-clip needs c > 1",
  );
  await assertThrowsWith(
    () =>
      grpoTokenLoss({ logpNew: [-1], advantages: [1], lengths: [1] }, {
        ...noKl,
        lossAgg: "mean" as LossAgg,
      }),
    '"mean" is not one of token-mean',
  );
});

Deno.test("an empty batch has loss 0 and no gradient", () => {
  const r = grpoTokenLoss(
    { logpNew: [-1, -2], advantages: [1], mask: [0, 0] },
    { clipLow: 0.2, clipHigh: 0.2, klCoef: 0, klEstimator: "k1", lossAgg: "seq-mean-token-mean" },
  );
  assertClose([r.loss, ...r.dLogp, r.stats.tokens], [0, 0, 0, 0], { atol: 0 }, "empty");
});

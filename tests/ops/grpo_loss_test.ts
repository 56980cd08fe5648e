import { getDevice } from "../../lib/gpu/device.ts";
import {
  GRPO_REPORT_NORM,
  GRPO_STAT,
  GRPO_STAT_COUNT,
  GRPO_TOKEN_INPUT_COUNT,
  type GrpoKernelConfig,
  grpoLogRatio,
  grpoLossBackward,
  grpoLossReduce,
  grpoSequenceSums,
} from "../../lib/ops/grpo_loss.ts";
import { aggregationWeights, LOSS_AGGS, type LossAgg, lossNormalizer } from "../../lib/rl/grpo.ts";
import { KL_ESTIMATORS } from "../../lib/rl/kl.ts";
import { assertClose, assertThrowsWith, f32, finiteDiff, randn, rng } from "../support/numeric.ts";
import { grpoTokenLoss } from "../rl/grpo_host.ts";

const gpu = await getDevice();

interface Case {
  vocab: number;
  temperature: number;
  lengths: number[];
  logits: Float64Array; // f32-representable
  targets: Int32Array;
  logpOld: Float64Array;
  logpRef: Float64Array;
  advantages: number[];
  weights: Float64Array;
  normalizer: ReturnType<typeof lossNormalizer>;
}

function logSoftmaxRow(c: Case, t: number): Float64Array {
  const T = Math.fround(c.temperature);
  const z = Array.from(c.logits.subarray(t * c.vocab, (t + 1) * c.vocab), (v) => v / T);
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return Float64Array.from(z, (v) => v - lse);
}

function logpNew(c: Case): Float64Array {
  return Float64Array.from(c.targets, (tgt, t) => logSoftmaxRow(c, t)[tgt]);
}

function makeCase(seed: number, vocab: number, lengths: number[], lossAgg: LossAgg, spread = 0.6): Case {
  const r = rng(seed);
  const n = lengths.reduce((a, b) => a + b, 0);
  const c = {
    vocab,
    temperature: 0.9,
    lengths,
    logits: f32(randn(r, n * vocab, 2)),
    targets: Int32Array.from({ length: n }, () => Math.floor(r() * vocab)),
    advantages: lengths.map((_, i) => (i % 2 ? -1 : 1) * (0.2 + r())),
  } as Case;
  const x = logpNew(c);
  // Ratios between e^−spread and e^spread (both sides of both clip bounds) and a reference far enough
  // away that low_var_kl's ±10 clamp is hit.
  c.logpOld = f32(x.map((v) => v - (r() * 2 - 1) * spread));
  c.logpRef = f32(x.map((v) => v + (r() * 6 - 3)));
  c.normalizer = lossNormalizer(lengths, 8);
  c.weights = f32(aggregationWeights(n, { sequences: lengths.length, lengths }, lossAgg, c.normalizer));
  return c;
}

function tokenInputs(c: Case): Float32Array {
  const n = c.targets.length;
  const out = new Float32Array(n * GRPO_TOKEN_INPUT_COUNT);
  let t = 0;
  c.lengths.forEach((len, i) => {
    for (let k = 0; k < len; k++, t++) {
      out.set([c.logpOld[t], c.logpRef[t], c.advantages[i], c.weights[t]], t * GRPO_TOKEN_INPUT_COUNT);
    }
  });
  return out;
}

/** Runs the kernel chunk by chunk (`cuts` are chunk starts after 0) and the reduction. */
async function runKernel(c: Case, cfg: GrpoKernelConfig, cuts: number[]) {
  const n = c.targets.length;
  const tokens = gpu.fromArray(tokenInputs(c), [n, GRPO_TOKEN_INPUT_COUNT]);
  const stats = gpu.empty([n, GRPO_STAT_COUNT]);
  const bounds = [0, ...cuts, n];
  const grads: Float32Array[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const [a, b] = [bounds[k], bounds[k + 1]];
    const logits = gpu.fromArray(c.logits.subarray(a * c.vocab, b * c.vocab), [b - a, c.vocab]);
    const targets = gpu.fromArray(c.targets.subarray(a, b), [b - a], "i32");
    grpoLossBackward(gpu, logits, targets, tokens, stats, a, c.temperature, cfg);
    grads.push(await logits.read() as Float32Array);
    logits.release();
    targets.release();
  }
  const norm = gpu.fromArray([2.5], [1]), clip = gpu.fromArray([0.7], [1]);
  const report = gpu.empty([GRPO_STAT_COUNT + 1]);
  grpoLossReduce(gpu, stats, cfg.hasRef ? cfg.klCoef : 0, norm, clip, report);
  const out = {
    grad: Float64Array.from(grads.flatMap((g) => [...g])),
    stats: await stats.read(),
    report: await report.read(),
    clip: (await clip.read())[0],
  };
  for (const t of [tokens, stats, norm, clip, report]) t.release();
  return out;
}

/** The float64 reference: host loss, dL/dlogp, and dL/dlogits = dL/dlogp · (onehot − softmax) / T. */
function reference(c: Case, cfg: GrpoKernelConfig) {
  const x = logpNew(c);
  const res = grpoTokenLoss(
    {
      logpNew: x,
      logpOld: c.logpOld,
      logpRef: cfg.hasRef ? c.logpRef : undefined,
      advantages: c.advantages,
      lengths: c.lengths,
    },
    { ...cfg, lossAgg: "token-mean" },
    { tokens: 0, sequences: 0 },
    c.weights,
  );
  const T = Math.fround(c.temperature);
  const grad = new Float64Array(c.logits.length);
  let entropy = 0;
  for (let t = 0; t < x.length; t++) {
    const lp = logSoftmaxRow(c, t);
    for (let i = 0; i < c.vocab; i++) {
      const p = Math.exp(lp[i]);
      grad[t * c.vocab + i] = res.dLogp[t] * ((i === c.targets[t] ? 1 : 0) - p) / T;
      entropy -= p * lp[i];
    }
  }
  return { x, res, grad, entropy };
}

Deno.test("grpo loss kernel equals the float64 reference: every aggregation × KL estimator × dual-clip, odd chunks", async () => {
  const vocabs = [37, 5, 263]; // 263 > 256 threads: strided rows
  const lengths = [3, 1, 4, 2, 3];
  let seed = 100;
  for (const lossAgg of LOSS_AGGS) {
    for (const klEstimator of KL_ESTIMATORS) {
      for (const dualClip of [null, 1.6]) {
        const vocab = vocabs[seed % 3];
        const c = makeCase(seed++, vocab, lengths, lossAgg);
        const hasRef = klEstimator !== "k2" || dualClip === null; // and once without a reference
        const cfg: GrpoKernelConfig = {
          clipLow: 0.2,
          clipHigh: 0.28,
          klCoef: hasRef ? 0.3 : 0,
          klEstimator,
          dualClip,
          hasRef,
        };
        const what = `${lossAgg}, ${klEstimator}, dual ${dualClip}, V ${vocab}${hasRef ? "" : ", no ref"}`;
        const got = await runKernel(c, cfg, [5, 6]);
        const want = reference(c, cfg);
        const n = c.targets.length;
        const col = (k: number) =>
          Float64Array.from({ length: n }, (_, t) => got.stats[t * GRPO_STAT_COUNT + k]);
        assertClose(col(GRPO_STAT.logp), want.x, { atol: 2e-6, rtol: 1e-5 }, `${what}: logp_new`);
        assertClose(col(GRPO_STAT.dLogp), want.res.dLogp, { atol: 1e-6, rtol: 1e-4 }, `${what}: dL/dlogp`);
        assertClose(got.grad, want.grad, { atol: 1e-6, rtol: 1e-4 }, `${what}: dL/dlogits`);
        const s = want.res.stats;
        const r = got.report;
        assertClose([r[GRPO_STAT.pgLoss]], [s.pgLoss], { atol: 1e-6, rtol: 1e-4 }, `${what}: pg loss`);
        assertClose(
          [r[GRPO_STAT.pgLoss] + cfg.klCoef * r[GRPO_STAT.klLoss]],
          [want.res.loss],
          { atol: 1e-6, rtol: 1e-4 },
          `${what}: loss`,
        );
        assertClose(
          [r[GRPO_STAT.kl] / n, r[GRPO_STAT.clipped] / n, r[GRPO_STAT.ratio] / n, r[GRPO_STAT.entropy] / n],
          [s.kl ?? 0, s.clipFraction, s.ratioMean, want.entropy / n],
          { atol: 1e-6, rtol: 1e-4 },
          `${what}: kl, clip fraction, ratio, entropy means`,
        );
        assertClose(
          [r[GRPO_REPORT_NORM], got.clip],
          [2.5, Math.fround(0.7)],
          { atol: 0 },
          `${what}: norm, clip untouched`,
        );
        if (!(s.clipFraction > 0 && s.clipFraction < 1)) {
          throw new Error(`${what}: no clipped tokens to test`);
        }
      }
    }
  }
});

Deno.test("grpo loss kernel: the gradient to the logits equals finite differences of the float64 loss", async () => {
  for (
    const [klEstimator, lossAgg] of [["k3", "seq-mean-token-mean"], ["low_var_kl", "token-mean"]] as const
  ) {
    // Ratios within e^±0.1 stay away from the clip bounds, where the loss has kinks.
    const c = makeCase(7, 7, [3, 2], lossAgg, 0.1);
    c.logpRef = f32(logpNew(c).map((v, t) => v + (t % 2 ? 0.7 : -0.5)));
    const cfg: GrpoKernelConfig = {
      clipLow: 0.2,
      clipHigh: 0.2,
      klCoef: 0.5,
      klEstimator,
      dualClip: 3,
      hasRef: true,
    };
    const got = await runKernel(c, cfg, [1]);
    const loss = (logits: Float64Array) => {
      const x = logpNew({ ...c, logits });
      return grpoTokenLoss(
        { logpNew: x, logpOld: c.logpOld, logpRef: c.logpRef, advantages: c.advantages, lengths: c.lengths },
        { ...cfg, lossAgg: "token-mean" },
        { tokens: 0, sequences: 0 },
        c.weights,
      ).loss;
    };
    const fd = finiteDiff(loss, Float64Array.from(c.logits), 1e-5);
    assertClose(
      got.grad,
      fd,
      { atol: 2e-6, rtol: 1e-4 },
      `${klEstimator}, ${lossAgg}: dL/dlogits vs finite differences`,
    );
  }
});

Deno.test("grpo loss reduction: a non-finite loss sets the clip factor to −1 (AdamW's skip flag)", async () => {
  const c = makeCase(3, 11, [2, 2], "token-mean");
  c.logpRef = f32(logpNew(c).map((v) => v + 120)); // k3 = exp(120) overflows f32
  const got = await runKernel(c, {
    clipLow: 0.2,
    clipHigh: 0.2,
    klCoef: 0.1,
    klEstimator: "k3",
    hasRef: true,
  }, []);
  if (Number.isFinite(got.report[GRPO_STAT.klLoss])) {
    throw new Error(`KL sum ${got.report[GRPO_STAT.klLoss]}`);
  }
  assertClose([got.clip], [-1], { atol: 0 }, "clip flag");
});

Deno.test("grpo loss kernel rejects bad arguments by name", async () => {
  const logits = gpu.zeros([2, 5]), targets = gpu.zeros([2], "i32");
  const tokens = gpu.zeros([2, GRPO_TOKEN_INPUT_COUNT]), stats = gpu.zeros([2, GRPO_STAT_COUNT]);
  const cfg: GrpoKernelConfig = { clipLow: 0.2, clipHigh: 0.2, klCoef: 0, klEstimator: "k1", hasRef: false };
  await assertThrowsWith(
    () => grpoLossBackward(gpu, logits, targets, tokens, stats, 0, 1, { ...cfg, klCoef: 0.1 }),
    '"klCoef"',
    "no reference log-probs",
  );
  await assertThrowsWith(
    () => grpoLossBackward(gpu, logits, targets, tokens, stats, 1, 1, cfg),
    '"first"',
  );
  await assertThrowsWith(
    () => grpoLossBackward(gpu, logits, targets, tokens, stats, 0, 1, { ...cfg, dualClip: 0.5 }),
    '"dualClip"',
    "> 1",
  );
  for (const t of [logits, targets, tokens, stats]) t.release();
});

/** The sequence ratio's three passes (log-ratio per chunk, per-sequence sums, loss per chunk) and the reduction. */
async function runSequenceKernel(c: Case, cfg: GrpoKernelConfig, cuts: number[]) {
  const n = c.targets.length;
  const tokens = gpu.fromArray(tokenInputs(c), [n, GRPO_TOKEN_INPUT_COUNT]);
  const stats = gpu.empty([n, GRPO_STAT_COUNT]);
  const bounds = [0, ...cuts, n];
  const chunks = bounds.slice(0, -1).map((a, k) => {
    const b = bounds[k + 1];
    return {
      a,
      logits: gpu.fromArray(c.logits.subarray(a * c.vocab, b * c.vocab), [b - a, c.vocab]),
      targets: gpu.fromArray(c.targets.subarray(a, b), [b - a], "i32"),
    };
  });
  for (const k of chunks) grpoLogRatio(gpu, k.logits, k.targets, tokens, stats, k.a, c.temperature);
  const offsets = Int32Array.from([
    0,
    ...c.lengths.map((_, i) => c.lengths.slice(0, i + 1).reduce((s, x) => s + x)),
  ]);
  const offsetsGpu = gpu.fromArray(offsets, [offsets.length], "i32");
  grpoSequenceSums(gpu, stats, offsetsGpu, 0);
  const grads: Float32Array[] = [];
  for (const k of chunks) {
    grpoLossBackward(gpu, k.logits, k.targets, tokens, stats, k.a, c.temperature, {
      ...cfg,
      ratio: "sequence",
    });
    grads.push(await k.logits.read() as Float32Array);
    k.logits.release();
    k.targets.release();
  }
  const norm = gpu.fromArray([2.5], [1]), clip = gpu.fromArray([0.7], [1]);
  const report = gpu.empty([GRPO_STAT_COUNT + 1]);
  grpoLossReduce(gpu, stats, cfg.hasRef ? cfg.klCoef : 0, norm, clip, report);
  const out = {
    grad: Float64Array.from(grads.flatMap((g) => [...g])),
    stats: await stats.read(),
    report: await report.read(),
  };
  for (const t of [tokens, stats, norm, clip, report, offsetsGpu]) t.release();
  return out;
}

/**
 * The float64 sequence-ratio loss (CoE thesis §3.2) at logits `logits`: ρ_i = exp Σ_t (x_t − x_old,t) over
 * sequence i, L = Σ_i W_i · pg(ρ_i, A_i) + β Σ_t w_t · kl_t (W_i = Σ_t∈i w_t, pg the clipped / dual-clipped
 * surrogate with torch's tie rule); dL/dx_t = W_i · dpg_i/dlog ρ_i + β w_t · dkl_t/dx_t.
 */
function sequenceReference(c: Case, cfg: GrpoKernelConfig, logits = c.logits) {
  const x = logpNew({ ...c, logits });
  // The KL part is the token loss with zero advantages.
  const kl = grpoTokenLoss(
    {
      logpNew: x,
      logpOld: c.logpOld,
      logpRef: cfg.hasRef ? c.logpRef : undefined,
      advantages: c.lengths.map(() => 0),
      lengths: c.lengths,
    },
    { ...cfg, lossAgg: "token-mean" },
    { tokens: 0, sequences: 0 },
    c.weights,
  );
  const lo = Math.fround(1 - cfg.clipLow), hi = Math.fround(1 + cfg.clipHigh);
  const dLogp = Float64Array.from(kl.dLogp);
  const ratio = new Float64Array(x.length), clipped = new Float64Array(x.length);
  let pgLoss = 0;
  for (let i = 0, t0 = 0; i < c.lengths.length; t0 += c.lengths[i++]) {
    const ts = Array.from({ length: c.lengths[i] }, (_, k) => t0 + k);
    const s = ts.reduce((acc, t) => acc + x[t] - c.logpOld[t], 0);
    const w = ts.reduce((acc, t) => acc + c.weights[t], 0);
    const a = c.advantages[i];
    const r = Math.exp(Math.min(20, Math.max(-20, s)));
    const dr = s >= -20 && s <= 20 ? r : 0;
    const pg1 = -a * r, dpg1 = -a * dr;
    const pg2 = -a * Math.min(hi, Math.max(lo, r)), dpg2 = r >= lo && r <= hi ? -a * dr : 0;
    let [pg, dpg, cl] = pg1 > pg2
      ? [pg1, dpg1, 0]
      : pg2 > pg1
      ? [pg2, dpg2, 1]
      : [pg1, 0.5 * (dpg1 + dpg2), 0];
    if (cfg.dualClip != null && a < 0) {
      const pg3 = -a * cfg.dualClip;
      if (pg3 < pg) [pg, dpg] = [pg3, 0];
      else if (pg3 === pg) dpg *= 0.5;
    }
    pgLoss += w * pg;
    for (const t of ts) {
      dLogp[t] += w * dpg;
      ratio[t] = r;
      clipped[t] = cl;
    }
  }
  const T = Math.fround(c.temperature);
  const grad = new Float64Array(logits.length);
  for (let t = 0; t < x.length; t++) {
    const lp = logSoftmaxRow({ ...c, logits }, t);
    for (let i = 0; i < c.vocab; i++) {
      grad[t * c.vocab + i] = dLogp[t] * ((i === c.targets[t] ? 1 : 0) - Math.exp(lp[i])) / T;
    }
  }
  return { loss: pgLoss + kl.loss, pgLoss, dLogp, grad, ratio, clipped };
}

Deno.test("grpo loss kernel, sequence ratio: equals the float64 reference (clip, dual-clip, KL, odd chunks)", async () => {
  let seed = 300, clippedTokens = 0, allTokens = 0;
  for (const lossAgg of ["token-mean", "seq-mean-token-sum"] as const) {
    for (const [klEstimator, dualClip] of [["low_var_kl", null], ["k3", 1.6], ["k1", null]] as const) {
      const vocab = [37, 263, 5][seed % 3];
      // Sequences of 1-4 tokens whose log-ratios sum past both clip bounds; chunk cuts inside sequences.
      const c = makeCase(seed++, vocab, [3, 1, 4, 2, 3, 4], lossAgg, 0.3);
      const hasRef = klEstimator !== "k1";
      const cfg: GrpoKernelConfig = {
        clipLow: 0.2,
        clipHigh: 0.28,
        klCoef: hasRef ? 0.3 : 0,
        klEstimator,
        dualClip,
        hasRef,
      };
      const what = `sequence ratio, ${lossAgg}, ${klEstimator}, dual ${dualClip}, V ${vocab}`;
      const got = await runSequenceKernel(c, cfg, [2, 7]);
      const want = sequenceReference(c, cfg);
      const n = c.targets.length;
      const col = (k: number) =>
        Float64Array.from({ length: n }, (_, t) => got.stats[t * GRPO_STAT_COUNT + k]);
      assertClose(col(GRPO_STAT.ratio), want.ratio, { atol: 1e-6, rtol: 1e-5 }, `${what}: per-token ratio`);
      assertClose(col(GRPO_STAT.clipped), want.clipped, { atol: 0 }, `${what}: clipped`);
      assertClose(col(GRPO_STAT.dLogp), want.dLogp, { atol: 1e-6, rtol: 1e-4 }, `${what}: dL/dlogp`);
      assertClose(got.grad, want.grad, { atol: 1e-6, rtol: 1e-4 }, `${what}: dL/dlogits`);
      const r = got.report;
      assertClose([r[GRPO_STAT.pgLoss]], [want.pgLoss], { atol: 1e-6, rtol: 1e-4 }, `${what}: pg loss`);
      assertClose(
        [r[GRPO_STAT.pgLoss] + cfg.klCoef * r[GRPO_STAT.klLoss]],
        [want.loss],
        { atol: 1e-6, rtol: 1e-4 },
        `${what}: loss`,
      );
      clippedTokens += r[GRPO_STAT.clipped];
      allTokens += n;
      // The token ratio would give a different gradient: the test tells the two apart.
      const token = await runKernel(c, cfg, [2, 7]);
      if (token.grad.every((g, i) => Math.abs(g - want.grad[i]) < 1e-4)) {
        throw new Error(`${what}: the token-ratio gradient matches the sequence reference`);
      }
    }
  }
  if (!(clippedTokens > 0 && clippedTokens < allTokens)) {
    throw new Error(`${clippedTokens} of ${allTokens} tokens clipped: the cases should clip some sequences`);
  }
});

Deno.test("grpo loss kernel, sequence ratio: the gradient to the logits equals finite differences of the float64 loss", async () => {
  for (
    const [klEstimator, lossAgg] of [["k3", "seq-mean-token-mean"], ["low_var_kl", "token-mean"]] as const
  ) {
    // Summed log-ratios within ±0.1 stay away from the clip bounds, where the loss has kinks.
    const c = makeCase(17, 7, [3, 2, 1], lossAgg, 0.03);
    c.logpRef = f32(logpNew(c).map((v, t) => v + (t % 2 ? 0.7 : -0.5)));
    const cfg: GrpoKernelConfig = {
      clipLow: 0.2,
      clipHigh: 0.2,
      klCoef: 0.5,
      klEstimator,
      dualClip: 3,
      hasRef: true,
    };
    const got = await runSequenceKernel(c, cfg, [4]);
    const fd = finiteDiff(
      (logits) => sequenceReference(c, cfg, logits).loss,
      Float64Array.from(c.logits),
      1e-5,
    );
    assertClose(
      got.grad,
      fd,
      { atol: 2e-6, rtol: 1e-4 },
      `${klEstimator}, ${lossAgg}: dL/dlogits vs finite differences`,
    );
  }
});

Deno.test("grpo sequence sums reject bad arguments by name", async () => {
  const stats = gpu.zeros([3, GRPO_STAT_COUNT]), offsets = gpu.zeros([2], "f32");
  await assertThrowsWith(() => grpoSequenceSums(gpu, stats, offsets, 0), '"offsets"');
  const logits = gpu.zeros([2, 5]), targets = gpu.zeros([2], "i32");
  const tokens = gpu.zeros([2, GRPO_TOKEN_INPUT_COUNT]), s2 = gpu.zeros([2, GRPO_STAT_COUNT]);
  const cfg: GrpoKernelConfig = { clipLow: 0.2, clipHigh: 0.2, klCoef: 0, klEstimator: "k1", hasRef: false };
  await assertThrowsWith(
    () => grpoLossBackward(gpu, logits, targets, tokens, s2, 0, 1, { ...cfg, ratio: "seq" as "sequence" }),
    '"ratio"',
    "token or sequence",
  );
  await assertThrowsWith(() => grpoLogRatio(gpu, logits, targets, tokens, s2, 1, 1), '"first"');
  for (const t of [stats, offsets, logits, targets, tokens, s2]) t.release();
});

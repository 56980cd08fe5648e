import { getDevice } from "../../lib/gpu/device.ts";
import { LOGIT_STAT, LOGIT_STAT_COUNT, logitStats, logitStatsBackward } from "../../lib/ops/logit_stats.ts";
import { assertClose, assertThrowsWith, f32, finiteDiff, randn, rng } from "../support/numeric.ts";

const EPS = 2 ** -24; // f32 unit roundoff

interface Case {
  x: Float64Array;
  rows: number;
  vocab: number;
  targets: Int32Array;
}

/** Logits with the hard parts planted: ±80 extremes, a tied maximum, an ignored target. */
function makeCase(seed: number, rows: number, vocab: number, extreme: boolean): Case {
  const r = rng(seed);
  const x = randn(r, rows * vocab, 3);
  for (let row = 0; row < rows; row++) {
    const at = row * vocab;
    if (extreme) {
      for (let i = 0; i < vocab; i++) if (r() < 0.3) x[at + i] = r() < 0.5 ? 80 : -80;
    }
    if (row % 2 === 1 && vocab > 1) {
      // Tie the maximum at two positions: the argmax must be the lower one, the top-2 gap zero.
      let best = 0;
      for (let i = 1; i < vocab; i++) if (x[at + i] > x[at + best]) best = i;
      const other = (best + 1 + Math.floor(r() * (vocab - 1))) % vocab;
      x[at + other] = x[at + best];
    }
  }
  const targets = Int32Array.from({ length: rows }, () => Math.floor(r() * vocab));
  if (rows > 2) targets[2] = -100;
  return { x: f32(x), rows, vocab, targets };
}

/** Float64 statistics in the kernel's column order. */
function refStats(c: Case, temperature: number): Float64Array {
  const t = Math.fround(temperature);
  const out = new Float64Array(c.rows * LOGIT_STAT_COUNT);
  for (let r = 0; r < c.rows; r++) {
    const z = Array.from(c.x.subarray(r * c.vocab, (r + 1) * c.vocab), (v) => v / t);
    let m = -Infinity, arg = 0;
    z.forEach((v, i) => {
      if (v > m) [m, arg] = [v, i];
    });
    let s = 0, mean = 0, pz = 0;
    for (const v of z) {
      s += Math.exp(v - m);
      mean += v;
    }
    for (const v of z) pz += (Math.exp(v - m) / s) * (v - m);
    let second = -Infinity; // the runner-up counts multiplicity: a tied maximum is its own runner-up
    z.forEach((v, i) => {
      if (i !== arg) second = Math.max(second, v);
    });
    const p2 = z.length > 1 ? Math.exp(second - m) / s : 0;
    const tgt = c.targets[r];
    const o = r * LOGIT_STAT_COUNT;
    out[o + LOGIT_STAT.logsumexp] = m + Math.log(s);
    out[o + LOGIT_STAT.meanLogit] = mean / z.length;
    out[o + LOGIT_STAT.entropy] = Math.log(s) - pz;
    out[o + LOGIT_STAT.top2Gap] = 1 / s - p2;
    out[o + LOGIT_STAT.targetLogprob] = tgt >= 0 && tgt < c.vocab ? z[tgt] - m - Math.log(s) : 0;
    out[o + LOGIT_STAT.argmax] = arg;
  }
  return out;
}

/** L = Σ_r w_r log p_r(target_r) in float64. */
function refLoss(x: Float64Array, c: Case, w: Float64Array, temperature: number): number {
  const t = Math.fround(temperature);
  let loss = 0;
  for (let r = 0; r < c.rows; r++) {
    const tgt = c.targets[r];
    if (tgt < 0 || tgt >= c.vocab) continue;
    let m = -Infinity, s = 0;
    for (let i = r * c.vocab; i < (r + 1) * c.vocab; i++) m = Math.max(m, x[i] / t);
    for (let i = r * c.vocab; i < (r + 1) * c.vocab; i++) s += Math.exp(x[i] / t - m);
    loss += w[r] * (x[r * c.vocab + tgt] / t - m - Math.log(s));
  }
  return loss;
}

/** dL/dx = w (onehot − softmax(x / T)) / T in float64. */
function refGrad(c: Case, w: Float64Array, temperature: number): Float64Array {
  const t = Math.fround(temperature);
  const g = new Float64Array(c.x.length);
  for (let r = 0; r < c.rows; r++) {
    const tgt = c.targets[r];
    if (w[r] === 0 || tgt < 0 || tgt >= c.vocab) continue;
    const z = Array.from(c.x.subarray(r * c.vocab, (r + 1) * c.vocab), (v) => v / t);
    const m = z.reduce((a, b) => Math.max(a, b), -Infinity);
    let s = 0;
    for (const v of z) s += Math.exp(v - m);
    z.forEach((v, i) => {
      g[r * c.vocab + i] = (w[r] / t) * ((i === tgt ? 1 : 0) - Math.exp(v - m) / s);
    });
  }
  return g;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function column(stats: ArrayLike<number>, col: number): Float64Array {
  return Float64Array.from(
    { length: stats.length / LOGIT_STAT_COUNT },
    (_, r) => stats[r * LOGIT_STAT_COUNT + col],
  );
}

/**
 * Error budget of a row: each thread accumulates ceil(V / 256) terms in order, then an 8-level tree,
 * so a sum of positive terms carries a relative error of at most n·ε with n = ceil(V/256) + 8, plus a
 * few ulps per exp and one rounding of z = x / T (relative ε, i.e. ε·max|z| absolute in lse).
 */
function budget(vocab: number, zmax: number) {
  const n = Math.ceil(vocab / 256) + 8;
  return { n, sum: (n + 8) * EPS, zmax };
}

for (const vocab of [1, 2, 7, 130, 50_000]) {
  Deno.test(`logit_stats: forward matches float64 for V=${vocab}, R in {1, 7, 33}, T in {1, 0.7, 1.3}`, async () => {
    const gpu = await getDevice();
    for (const rows of [1, 7, 33]) {
      for (const [k, temperature] of [1, 0.7, 1.3].entries()) {
        for (const extreme of [false, true]) {
          const c = makeCase(vocab * 1000 + rows * 10 + k + (extreme ? 5 : 0), rows, vocab, extreme);
          const tx = gpu.fromArray(c.x, [rows, vocab]);
          const tt = gpu.fromArray(c.targets, [rows], "i32");
          const ts = logitStats(gpu, tx, tt, temperature);
          const got = await ts.read();
          const want = refStats(c, temperature);
          const zmax = maxAbs(c.x) / Math.fround(temperature);
          const b = budget(vocab, zmax);
          const what = `V=${vocab} R=${rows} T=${temperature}${extreme ? " ±80" : ""}`;
          // lse = m + log s: one rounding of z (ε·|z|) plus the relative error of s.
          const lseTol = { atol: 2 * EPS * zmax + b.sum, rtol: 2 * EPS };
          assertClose(
            column(got, LOGIT_STAT.logsumexp),
            column(want, LOGIT_STAT.logsumexp),
            lseTol,
            `${what} lse`,
          );
          // Mean: a sum of n-chains of signed terms, error ≤ n·ε·mean|z| ≤ n·ε·max|z|.
          assertClose(
            column(got, LOGIT_STAT.meanLogit),
            column(want, LOGIT_STAT.meanLogit),
            { atol: (b.n + 2) * EPS * zmax, rtol: 0 },
            `${what} mean`,
          );
          // Entropy = log s − t/s with t = Σ e·(z − m): relative errors of s and t times |z − m| ≤ 2 max|z|.
          assertClose(
            column(got, LOGIT_STAT.entropy),
            column(want, LOGIT_STAT.entropy),
            { atol: b.sum * (1 + 2 * zmax) + 4 * EPS * zmax, rtol: 0 },
            `${what} entropy`,
          );
          // Gap = (1 − exp(z2 − m)) / s: relative error of s plus one exp of an argument carrying ε·|z|.
          assertClose(
            column(got, LOGIT_STAT.top2Gap),
            column(want, LOGIT_STAT.top2Gap),
            { atol: 4 * EPS * zmax + b.sum, rtol: b.sum },
            `${what} top-2 gap`,
          );
          // log p = (z_t − m) − log s: two roundings of z plus the relative error of s.
          assertClose(
            column(got, LOGIT_STAT.targetLogprob),
            column(want, LOGIT_STAT.targetLogprob),
            { atol: 4 * EPS * zmax + b.sum, rtol: 0 },
            `${what} target logprob`,
          );
          // The argmax is an index: exact, lowest among ties.
          assertClose(
            column(got, LOGIT_STAT.argmax),
            column(want, LOGIT_STAT.argmax),
            { atol: 0 },
            `${what} argmax`,
          );
          for (const t of [tx, tt, ts]) t.release();
        }
      }
    }
  });
}

Deno.test("logit_stats: tied maxima give a zero top-2 gap and the lowest index; self-certainty of uniform is 0", async () => {
  const gpu = await getDevice();
  const vocab = 300;
  const x = new Float32Array(3 * vocab);
  x[5] = 2;
  x[260] = 2; // tie across threads 5 and 4 (V = 300 runs 64 threads)
  x[vocab + 257] = 1;
  x[vocab + 200] = 1; // tie where the higher index belongs to a lower thread (1 vs 8)
  const tx = gpu.fromArray(x, [3, vocab]);
  const tt = gpu.fromArray([0, 0, 0], [3], "i32");
  const got = await logitStats(gpu, tx, tt).read();
  const at = (r: number, c: number) => got[r * LOGIT_STAT_COUNT + c];
  if (at(0, LOGIT_STAT.argmax) !== 5 || at(1, LOGIT_STAT.argmax) !== 200 || at(2, LOGIT_STAT.argmax) !== 0) {
    throw new Error(`argmax ${at(0, 5)}, ${at(1, 5)}, ${at(2, 5)}; expected 5, 200, 0`);
  }
  for (const r of [0, 1, 2]) {
    if (at(r, LOGIT_STAT.top2Gap) !== 0) {
      throw new Error(`row ${r}: gap ${at(r, LOGIT_STAT.top2Gap)} for a tie`);
    }
  }
  // KL(U‖p) = lse − mean − log V is 0 for uniform logits; f32 rounding of log V and of the sums.
  const kl = at(2, LOGIT_STAT.logsumexp) - at(2, LOGIT_STAT.meanLogit) - Math.log(vocab);
  if (Math.abs(kl) > 1e-6) throw new Error(`self-certainty of a uniform row is ${kl}`);
  for (const t of [tx, tt]) t.release();
});

for (const [rows, vocab] of [[1, 1], [7, 7], [33, 130], [7, 50_000]] as const) {
  Deno.test(`logit_stats: backward matches float64 and finite differences, R=${rows} V=${vocab}`, async () => {
    const gpu = await getDevice();
    for (const [k, temperature] of [1, 0.7, 1.3].entries()) {
      const c = makeCase(77 + rows * 3 + vocab + k, rows, vocab, k === 1);
      const r = rng(rows + vocab + k);
      const w = f32(randn(r, rows));
      if (rows > 1) w[1] = 0;
      const tx = gpu.fromArray(c.x, [rows, vocab]);
      const tt = gpu.fromArray(c.targets, [rows], "i32");
      const tw = gpu.fromArray(w, [rows]);
      const want = refGrad(c, w, temperature);
      const tf = Math.fround(temperature);
      const zmax = maxAbs(c.x) / tf;
      const b = budget(vocab, zmax);
      // |g| = |w|/T·|onehot − p|: p carries the relative error of s plus ε·|z| through exp; the onehot
      // term subtracts without cancellation beyond one rounding.
      const wmax = maxAbs(w);
      const tol = { atol: (wmax / tf) * (b.sum + 4 * EPS * zmax + 2 * EPS), rtol: 0 };
      const out = gpu.empty([rows, vocab]);
      logitStatsBackward(gpu, tx, tt, tw, temperature, out);
      const gOut = await out.read();
      assertClose(gOut, want, tol, `out-of-place T=${temperature}`);
      const gIn = await logitStatsBackward(gpu, tx, tt, tw, temperature).read();
      // Both entries run the same arithmetic: bitwise equal.
      assertClose(gIn, gOut, { atol: 0 }, `in place vs out-of-place T=${temperature}`);
      for (let row = 0; row < rows; row++) {
        if (w[row] !== 0 && c.targets[row] >= 0) continue;
        for (let i = 0; i < vocab; i++) {
          if (!Object.is(gIn[row * vocab + i], 0)) {
            throw new Error(`ignored row ${row} has ${gIn[row * vocab + i]}`);
          }
        }
      }
      // The reference is the derivative of the reference loss (central differences, h = 1e-6).
      const coords = Array.from({ length: Math.min(12, c.x.length) }, () => Math.floor(r() * c.x.length));
      for (let row = 0; row < rows; row++) if (c.targets[row] >= 0) coords.push(row * vocab + c.targets[row]);
      const fd = finiteDiff((x) => refLoss(x, c, w, temperature), Float64Array.from(c.x), 1e-4, coords);
      // Central differences at h = 1e-4 in float64: truncation h²/6·|f'''| ≲ 1e-8·|w|/T³, rounding of the
      // float64 loss (V terms, ~V·1e-16 relative) over 2h ≲ 1e-8.
      assertClose(
        coords.map((i) => fd[i]),
        coords.map((i) => want[i]),
        { atol: 1e-7, rtol: 1e-6 },
        "ref vs FD",
      );
      for (const t of [tx, tt, tw, out]) t.release();
    }
  });
}

Deno.test("logit_stats: GPU backward matches finite differences of the GPU log-probabilities", async () => {
  const gpu = await getDevice();
  const [rows, vocab, temperature] = [5, 130, 0.7];
  const c = makeCase(4242, rows, vocab, false);
  const r = rng(9);
  const w = f32(randn(r, rows));
  const tt = gpu.fromArray(c.targets, [rows], "i32");
  const tw = gpu.fromArray(w, [rows]);
  const gpuLoss = async (x: Float32Array) => {
    const tx = gpu.fromArray(x, [rows, vocab]);
    const s = await logitStats(gpu, tx, tt, temperature).read();
    tx.release();
    let loss = 0;
    for (let row = 0; row < rows; row++) {
      loss += w[row] * s[row * LOGIT_STAT_COUNT + LOGIT_STAT.targetLogprob];
    }
    return loss;
  };
  const tx = gpu.fromArray(c.x, [rows, vocab]);
  const g = await logitStatsBackward(gpu, tx, tt, tw, temperature).read();
  const coords = [c.targets[0], vocab + c.targets[1], 3 * vocab + 17, 4 * vocab + 129, 2 * vocab + 5];
  for (const i of coords) {
    const x = Float32Array.from(c.x);
    const keep = x[i];
    x[i] = keep + 0.01;
    const up = x[i];
    const lUp = await gpuLoss(x);
    x[i] = keep - 0.01;
    const down = x[i];
    const lDown = await gpuLoss(x);
    const fd = (lUp - lDown) / (up - down);
    // h = 0.01: truncation h²/6·|f'''| ≤ 1e-4·Σ|w|/T³; rounding of the f32 losses (~1e-6 each) over
    // 2h gives ~1e-4; 2e-3 leaves margin yet fails a missing 1/T (a 30% error here).
    if (Math.abs(fd - g[i]) > 2e-3) throw new Error(`coordinate ${i}: GPU grad ${g[i]}, GPU FD ${fd}`);
  }
  for (const t of [tx, tt, tw]) t.release();
});

Deno.test("logit_stats: repeated runs are bitwise identical", async () => {
  const gpu = await getDevice();
  const c = makeCase(5, 7, 50_000, true);
  const tx = gpu.fromArray(c.x, [7, 50_000]);
  const tt = gpu.fromArray(c.targets, [7], "i32");
  const a = await logitStats(gpu, tx, tt, 0.7).read();
  const b = await logitStats(gpu, tx, tt, 0.7).read();
  assertClose(a, b, { atol: 0 }, "run to run");
  for (const t of [tx, tt]) t.release();
});

Deno.test("logit_stats: bad arguments name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const x = gpu.zeros([3, 5]);
  const t = gpu.zeros([3], "i32");
  const tf = gpu.zeros([3]);
  const w = gpu.zeros([3]);
  await assertThrowsWith(() => logitStats(gpu, x, tf), "logit_stats.forward", `"targets"`, "i32");
  await assertThrowsWith(
    () => logitStats(gpu, x, gpu.zeros([4], "i32")),
    "logit_stats.forward",
    `"targets"`,
    "[3]",
  );
  await assertThrowsWith(() => logitStats(gpu, x.reshape([15]), t), "logit_stats.forward", `"logits"`);
  await assertThrowsWith(() => logitStats(gpu, x, t, 0), "logit_stats.forward", `"temperature"`);
  await assertThrowsWith(() => logitStats(gpu, x, t, 1, gpu.zeros([3, 5])), "logit_stats.forward", `"out"`);
  await assertThrowsWith(() => logitStats(gpu, gpu.zeros([3, 0]), t), "logit_stats.forward", "vocabulary");
  await assertThrowsWith(() => logitStatsBackward(gpu, x, t, t), "logit_stats.backward", `"weights"`, "f32");
  await assertThrowsWith(
    () => logitStatsBackward(gpu, x, t, w, NaN),
    "logit_stats.backward",
    `"temperature"`,
  );
  await assertThrowsWith(
    () => logitStatsBackward(gpu, x, t, w, 1, x.reshape([3, 5])),
    "logit_stats.backward",
    `"out"`,
  );
  for (const u of [x, t, tf, w]) u.release();
});

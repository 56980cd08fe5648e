import { getDevice, type Gpu } from "../../lib/gpu/device.ts";
import type { Tensor } from "../../lib/gpu/tensor.ts";
import { attentionBackward, attentionForward, type AttentionOptions } from "../../lib/ops/attention.ts";
import { assertClose, assertThrowsWith, dot, f32, finiteDiff, randn, rng } from "../support/numeric.ts";
import { gpuCentralDiff } from "../support/kernel_checks.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";

// ---------------------------------------------------------------------------------------------------
// Float64 reference of masked causal GQA attention and its backward.

interface Case {
  batch: number;
  sq: number;
  nh: number;
  nkv: number;
  hd: number;
  /** Key rows per sequence in the k/v buffers. */
  cap: number;
  past: number[];
  kvLen: number[];
  scale: number;
}

function opts(c: Case, extra: Partial<AttentionOptions> = {}): AttentionOptions {
  return {
    batch: c.batch,
    queryLen: c.sq,
    numHeads: c.nh,
    numKvHeads: c.nkv,
    headDim: c.hd,
    kvBatchStride: c.cap * c.nkv * c.hd,
    scale: c.scale,
    ...extra,
  };
}

/** Flat index of q/o element (b, i, h, d) and of k/v element (b, j, kvh, d). */
const qAt = (c: Case, b: number, i: number, h: number) => ((b * c.sq + i) * c.nh + h) * c.hd;
const kAt = (c: Case, b: number, j: number, g: number) => ((b * c.cap + j) * c.nkv + g) * c.hd;

/** Valid keys of (b, i): [0, end), or null for a padding row. */
function keyEnd(c: Case, b: number, i: number): number | null {
  const kvl = Math.min(Math.max(c.kvLen[b], 0), c.cap);
  const pos = c.past[b] + i;
  return pos >= 0 && pos < kvl ? pos + 1 : null;
}

function refForward(c: Case, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>) {
  const o = new Float64Array(c.batch * c.sq * c.nh * c.hd);
  const lse = new Float64Array(c.batch * c.sq * c.nh);
  const s = new Float64Array(c.cap);
  for (let b = 0; b < c.batch; b++) {
    for (let i = 0; i < c.sq; i++) {
      const end = keyEnd(c, b, i);
      if (end === null) continue;
      for (let h = 0; h < c.nh; h++) {
        const g = Math.floor(h / (c.nh / c.nkv));
        const qa = qAt(c, b, i, h);
        let mx = -Infinity;
        for (let j = 0; j < end; j++) {
          let acc = 0;
          const ka = kAt(c, b, j, g);
          for (let d = 0; d < c.hd; d++) acc += q[qa + d] * k[ka + d];
          s[j] = acc * c.scale;
          mx = Math.max(mx, s[j]);
        }
        let sum = 0;
        for (let j = 0; j < end; j++) sum += Math.exp(s[j] - mx);
        lse[(b * c.sq + i) * c.nh + h] = mx + Math.log(sum);
        for (let j = 0; j < end; j++) {
          const pj = Math.exp(s[j] - mx) / sum;
          const va = kAt(c, b, j, g);
          for (let d = 0; d < c.hd; d++) o[qa + d] += pj * v[va + d];
        }
      }
    }
  }
  return { o, lse };
}

function refBackward(
  c: Case,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dO: ArrayLike<number>,
) {
  const { o, lse } = refForward(c, q, k, v);
  const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
  for (let b = 0; b < c.batch; b++) {
    for (let i = 0; i < c.sq; i++) {
      const end = keyEnd(c, b, i);
      if (end === null) continue;
      for (let h = 0; h < c.nh; h++) {
        const g = Math.floor(h / (c.nh / c.nkv));
        const qa = qAt(c, b, i, h);
        let delta = 0;
        for (let d = 0; d < c.hd; d++) delta += dO[qa + d] * o[qa + d];
        for (let j = 0; j < end; j++) {
          const ka = kAt(c, b, j, g);
          let s = 0, dp = 0;
          for (let d = 0; d < c.hd; d++) {
            s += q[qa + d] * k[ka + d];
            dp += dO[qa + d] * v[ka + d];
          }
          const pj = Math.exp(s * c.scale - lse[(b * c.sq + i) * c.nh + h]);
          const ds = pj * (dp - delta) * c.scale;
          for (let d = 0; d < c.hd; d++) {
            dq[qa + d] += ds * k[ka + d];
            dk[ka + d] += ds * q[qa + d];
            dv[ka + d] += pj * dO[qa + d];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

// ---------------------------------------------------------------------------------------------------
// Inputs and GPU calls.

interface Inputs {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  dO: Float64Array;
}

function inputs(c: Case, seed: number): Inputs {
  const r = rng(seed);
  const nq = c.batch * c.sq * c.nh * c.hd, nk = c.batch * c.cap * c.nkv * c.hd;
  return { q: f32(randn(r, nq)), k: f32(randn(r, nk)), v: f32(randn(r, nk)), dO: f32(randn(r, nq)) };
}

/** A training-batch case: keys are this batch's rows (cap = S, pastLen 0). */
function trainCase(
  batch: number,
  s: number,
  nh: number,
  nkv: number,
  hd: number,
  kvLen?: number[],
): Case {
  return {
    batch,
    sq: s,
    nh,
    nkv,
    hd,
    cap: s,
    past: new Array(batch).fill(0),
    kvLen: kvLen ?? new Array(batch).fill(s),
    scale: 1 / Math.sqrt(hd),
  };
}

function upload(gpu: Gpu, c: Case, x: Inputs) {
  return {
    q: gpu.fromArray(x.q, [c.batch * c.sq, c.nh * c.hd]),
    k: gpu.fromArray(x.k, [c.batch * c.cap, c.nkv * c.hd]),
    v: gpu.fromArray(x.v, [c.batch * c.cap, c.nkv * c.hd]),
    dO: gpu.fromArray(x.dO, [c.batch * c.sq, c.nh * c.hd]),
    past: gpu.fromArray(c.past, [c.batch], "i32"),
    kvLen: gpu.fromArray(c.kvLen, [c.batch], "i32"),
  };
}

function releaseAll(...ts: (Tensor | Record<string, Tensor>)[]): void {
  for (const t of ts) {
    if ("release" in t && typeof t.release === "function") (t as Tensor).release();
    else for (const u of Object.values(t)) u.release();
  }
}

async function gpuForward(gpu: Gpu, c: Case, x: Inputs, extra: Partial<AttentionOptions> = {}) {
  const t = upload(gpu, c, x);
  const { o, lse } = attentionForward(gpu, t.q, t.k, t.v, t.past, t.kvLen, opts(c, extra));
  const out = { o: await o.read(), lse: await lse.read() };
  releaseAll(t, { o, lse });
  return out;
}

async function gpuBackward(gpu: Gpu, c: Case, x: Inputs, extra: Partial<AttentionOptions> = {}) {
  const t = upload(gpu, c, x);
  const fw = attentionForward(gpu, t.q, t.k, t.v, t.past, t.kvLen, opts(c, extra));
  const g = attentionBackward(gpu, t.dO, t.q, t.k, t.v, fw.o, fw.lse, t.past, t.kvLen, opts(c, extra));
  const out = { dq: await g.dq.read(), dk: await g.dk.read(), dv: await g.dv.read() };
  releaseAll(t, { o: fw.o, lse: fw.lse }, { dq: g.dq, dk: g.dk, dv: g.dv });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Tolerances. An output row is a convex combination of value rows (|v| <~ 4); its error comes from the
// scores s = scale·q·k, summed in f32 over D terms (|error| <~ D·ε·scale·Σ|q_d k_d|/D ~ 5ε for D = 64,
// randn inputs), which perturbs the softmax weights by that much relatively, plus ~ε per running-sum
// update: ~1e-6 absolute. Measured worst: 9e-7. An off-by-one in the causal mask or a wrong kv head
// moves outputs by ~1e-1.
const FWD_TOL = { atol: 4e-6, rtol: 4e-6 };
// lse is max score + log Σ exp: the same score error, absolute (measured worst 8e-7).
const LSE_TOL = { atol: 4e-6, rtol: 0 };
// Gradients sum up to S·G terms (|dO|·|v| and |q|·|k| of size ~D·scale) with the same relative score
// error: ~1e-6 of a term times sqrt(#terms); measured worst 1e-5 on |grad| ~ 10.
const BWD_TOL = { atol: 3e-5, rtol: 3e-5 };

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

// ---------------------------------------------------------------------------------------------------
// Forward against the float64 reference.

const FORWARD_CASES: [string, Case][] = [
  ["B1 S1 heads 1/1 D6", trainCase(1, 1, 1, 1, 6)],
  ["B1 S7 heads 4/2 D33", trainCase(1, 7, 4, 2, 33)],
  ["B3 S33 heads 6/3 D64, padding", trainCase(3, 33, 6, 3, 64, [33, 20, 1])],
  ["B3 S7 heads 14/2 D6, padding", trainCase(3, 7, 14, 2, 6, [7, 0, 4])],
  ["B1 S130 heads 14/2 D64, padding", trainCase(1, 130, 14, 2, 64, [97])],
  ["B3 S130 heads 4/2 D33, padding", trainCase(3, 130, 4, 2, 33, [130, 65, 129])],
  ["B3 S33 heads 1/1 D33", trainCase(3, 33, 1, 1, 33, [33, 32, 2])],
  ["B1 S130 heads 6/3 D6", trainCase(1, 130, 6, 3, 6)],
  ["B1 S33 heads 12/2 D128, padding", trainCase(1, 33, 12, 2, 128, [30])],
];

for (const [name, c] of FORWARD_CASES) {
  Deno.test(`attention: forward ${name} matches float64`, async () => {
    const gpu = await getDevice();
    const x = inputs(c, c.batch * 1000 + c.sq * 10 + c.hd);
    const want = refForward(c, x.q, x.k, x.v);
    const got = await gpuForward(gpu, c, x);
    assertClose(got.o, want.o, FWD_TOL, "o");
    assertClose(got.lse, want.lse, LSE_TOL, "lse");
  });
}

// ---------------------------------------------------------------------------------------------------
// Backward.

const BACKWARD_CASES: [string, Case][] = [
  ["B1 S1 heads 1/1 D6", trainCase(1, 1, 1, 1, 6)],
  ["B1 S7 heads 4/2 D33", trainCase(1, 7, 4, 2, 33)],
  ["B3 S33 heads 6/3 D64, padding", trainCase(3, 33, 6, 3, 64, [33, 20, 1])],
  ["B3 S7 heads 14/2 D6, padding", trainCase(3, 7, 14, 2, 6, [7, 0, 4])],
  ["B1 S130 heads 14/2 D64, padding", trainCase(1, 130, 14, 2, 64, [97])],
  ["B3 S130 heads 4/2 D33, padding", trainCase(3, 130, 4, 2, 33, [130, 65, 129])],
  ["B1 S33 heads 12/2 D128, padding", trainCase(1, 33, 12, 2, 128, [30])],
];

for (const [name, c] of BACKWARD_CASES) {
  Deno.test(`attention: backward ${name} matches float64`, async () => {
    const gpu = await getDevice();
    const x = inputs(c, c.batch * 2000 + c.sq * 10 + c.hd);
    const want = refBackward(c, x.q, x.k, x.v, x.dO);
    const got = await gpuBackward(gpu, c, x);
    assertClose(got.dq, want.dq, BWD_TOL, "dq");
    assertClose(got.dk, want.dk, BWD_TOL, "dk");
    assertClose(got.dv, want.dv, BWD_TOL, "dv");
  });
}

Deno.test("attention: float64 reference backward equals central differences of the reference forward", () => {
  // Two sequences, one padded (kvLen 3 of 5), GQA 4/2, odd D: every coordinate of q, k and v.
  const c = trainCase(2, 5, 4, 2, 3, [5, 3]);
  const x = inputs(c, 77);
  const g = refBackward(c, x.q, x.k, x.v, x.dO);
  const loss = (q: Float64Array, k: Float64Array, v: Float64Array) => dot(x.dO, refForward(c, q, k, v).o);
  const fq = finiteDiff((q) => loss(q, x.k, x.v), x.q.slice());
  const fk = finiteDiff((k) => loss(x.q, k, x.v), x.k.slice());
  const fv = finiteDiff((v) => loss(x.q, x.k, v), x.v.slice());
  // Central differences with h = 1e-6 in float64: truncation ~h² and cancellation ~1e-16/h ~ 1e-10.
  const tol = { atol: 1e-7, rtol: 1e-7 };
  assertClose(g.dq, fq, tol, "dq vs finite differences");
  assertClose(g.dk, fk, tol, "dk vs finite differences");
  assertClose(g.dv, fv, tol, "dv vs finite differences");
  // Padding: the padded row's dq and the keys past kvLen get nothing; the check above covers that too.
  if (maxAbs(g.dk.subarray(kAt(c, 1, 3, 0))) !== 0) throw new Error("padded keys got a gradient");
});

Deno.test("attention: GPU backward equals finite differences of the GPU forward", async () => {
  const gpu = await getDevice();
  const c = trainCase(2, 9, 4, 2, 6, [9, 6]);
  const x = inputs(c, 5);
  const grads = await gpuBackward(gpu, c, x);
  const t = upload(gpu, c, x);
  const loss = async (): Promise<number> => {
    const { o, lse } = attentionForward(gpu, t.q, t.k, t.v, t.past, t.kvLen, opts(c));
    const out = await o.read();
    releaseAll({ o, lse });
    return dot(x.dO, out);
  };
  // Coordinates: valid rows / keys, the first and last key of a sequence, a padding row of q (row 7 of
  // sequence 1) and a padded key (key 8 of sequence 1), which must get exactly zero.
  const picks: [keyof Inputs & ("q" | "k" | "v"), number][] = [
    ["q", qAt(c, 0, 0, 0) + 1],
    ["q", qAt(c, 0, 8, 3) + 5],
    ["q", qAt(c, 1, 5, 2) + 2],
    ["q", qAt(c, 1, 7, 1) + 0],
    ["k", kAt(c, 0, 0, 1) + 3],
    ["k", kAt(c, 0, 8, 0) + 4],
    ["k", kAt(c, 1, 2, 1) + 0],
    ["k", kAt(c, 1, 8, 1) + 2],
    ["v", kAt(c, 0, 4, 1) + 5],
    ["v", kAt(c, 1, 0, 0) + 1],
    ["v", kAt(c, 1, 7, 0) + 1],
  ];
  for (const [name, i] of picks) {
    const host = x[name], tensor = t[name];
    // f32 inputs: the step actually taken is the difference of the two rounded points.
    const fd = await gpuCentralDiff(loss, host, tensor, i, 1e-2);
    const analytic = grads[`d${name}`][i];
    // Outputs that do not depend on the coordinate are bitwise identical in both evaluations, so the
    // difference carries only the f32 noise of the affected rows (~1e-6 of |L| terms / 2e-2 step ~ 1e-4)
    // and the O(h²) truncation (~1e-4 · third derivative).
    if (!(Math.abs(fd - analytic) <= 2e-3 + 1e-2 * Math.abs(analytic))) {
      throw new Error(`d${name}[${i}]: backward ${analytic}, finite differences ${fd}`);
    }
    if ((name === "q" && i === qAt(c, 1, 7, 1)) || (name === "k" && i === kAt(c, 1, 8, 1) + 2)) {
      if (analytic !== 0 || fd !== 0) throw new Error(`d${name}[${i}] on padding: ${analytic}, fd ${fd}`);
    }
  }
  releaseAll(t);
});

// ---------------------------------------------------------------------------------------------------
// Padding never leaks, tiles and splits agree, results are deterministic.

Deno.test("attention: padded keys, values, queries and dO never reach valid outputs or gradients", async () => {
  const gpu = await getDevice();
  const c = trainCase(3, 33, 6, 3, 33, [33, 17, 4]);
  const x = inputs(c, 11);
  const base = await gpuForward(gpu, c, x);
  const baseG = await gpuBackward(gpu, c, x);
  const poisoned: Inputs = { q: x.q.slice(), k: x.k.slice(), v: x.v.slice(), dO: x.dO.slice() };
  for (let b = 0; b < c.batch; b++) {
    for (let j = c.kvLen[b]; j < c.cap; j++) {
      for (let e = 0; e < c.nkv * c.hd; e++) {
        poisoned.k[kAt(c, b, j, 0) + e] = j % 2 ? NaN : 1e30;
        poisoned.v[kAt(c, b, j, 0) + e] = j % 2 ? 1e30 : NaN;
      }
      for (let e = 0; e < c.nh * c.hd; e++) {
        poisoned.q[qAt(c, b, j, 0) + e] = NaN;
        poisoned.dO[qAt(c, b, j, 0) + e] = Infinity;
      }
    }
  }
  const got = await gpuForward(gpu, c, poisoned);
  const gotG = await gpuBackward(gpu, c, poisoned);
  const same = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) =>
    assertClose(a, b, { atol: 0 }, `${what} (padding poisoned vs clean)`);
  same(got.o, base.o, "o");
  same(got.lse, base.lse, "lse");
  same(gotG.dq, baseG.dq, "dq");
  same(gotG.dk, baseG.dk, "dk");
  same(gotG.dv, baseG.dv, "dv");
  // And the padded parts themselves are exactly zero.
  for (let b = 0; b < c.batch; b++) {
    for (let j = c.kvLen[b]; j < c.cap; j++) {
      const rowO = got.o.subarray(qAt(c, b, j, 0), qAt(c, b, j + 1, 0));
      const rowDq = gotG.dq.subarray(qAt(c, b, j, 0), qAt(c, b, j + 1, 0));
      const rowDk = gotG.dk.subarray(kAt(c, b, j, 0), kAt(c, b, j + 1, 0));
      const rowDv = gotG.dv.subarray(kAt(c, b, j, 0), kAt(c, b, j + 1, 0));
      if (maxAbs(rowO) + maxAbs(rowDq) + maxAbs(rowDk) + maxAbs(rowDv) !== 0 || Number.isNaN(rowO[0])) {
        throw new Error(`padding row ${j} of sequence ${b} is not zero`);
      }
    }
  }
});

Deno.test("attention: every tile size and split count gives the float64 result", async () => {
  const gpu = await getDevice();
  const c = trainCase(3, 33, 6, 3, 33, [33, 20, 1]);
  const x = inputs(c, 21);
  const want = refForward(c, x.q, x.k, x.v);
  const wantG = refBackward(c, x.q, x.k, x.v, x.dO);
  for (const tileRows of [8, 16, 32]) {
    for (const splits of tileRows === 8 ? [1, 2, 5] : [1, 2]) {
      const got = await gpuForward(gpu, c, x, { tileRows, splits });
      assertClose(got.o, want.o, FWD_TOL, `o, tile ${tileRows}, splits ${splits}`);
      assertClose(got.lse, want.lse, LSE_TOL, `lse, tile ${tileRows}, splits ${splits}`);
    }
    const g = await gpuBackward(gpu, c, x, { tileRows });
    assertClose(g.dq, wantG.dq, BWD_TOL, `dq, tile ${tileRows}`);
    assertClose(g.dk, wantG.dk, BWD_TOL, `dk, tile ${tileRows}`);
    assertClose(g.dv, wantG.dv, BWD_TOL, `dv, tile ${tileRows}`);
  }
});

Deno.test("attention: the same inputs give bitwise the same outputs and gradients", async () => {
  const gpu = await getDevice();
  const c = trainCase(3, 70, 14, 2, 33, [70, 41, 3]);
  const x = inputs(c, 3);
  const a = await gpuForward(gpu, c, x, { splits: 3 });
  const b = await gpuForward(gpu, c, x, { splits: 3 });
  const ga = await gpuBackward(gpu, c, x);
  const gb = await gpuBackward(gpu, c, x);
  for (
    const [what, u, w] of [["o", a.o, b.o], ["lse", a.lse, b.lse], ["dq", ga.dq, gb.dq], ["dk", ga.dk, gb.dk]]
  ) {
    assertClose(u as ArrayLike<number>, w as ArrayLike<number>, { atol: 0 }, `${what} run to run`);
  }
  assertClose(ga.dv, gb.dv, { atol: 0 }, "dv run to run");
});

// ---------------------------------------------------------------------------------------------------
// Decode: prefill, a chunk of several rows, then single-row steps against a KV cache [B, Smax, nKv·D].

// The long cache spreads one sequence's keys over many splits (chunks of 32 keys at 19 splits).
const DECODE_CASES = [
  { smax: 40, hd: 64, prompt: [5, 9, 1], splitChoices: [undefined, 1, 3] },
  { smax: 600, hd: 33, prompt: [5, 150, 70], splitChoices: [undefined, 1, 19] },
];
for (const { smax, hd, prompt, splitChoices } of DECODE_CASES) {
  Deno.test(`attention: prefill + decode on a ${smax}-row KV cache equals full recomputation`, async () => {
    const gpu = await getDevice();
    const batch = 3, nh = 14, nkv = 2, width = nkv * hd;
    const steps: number[] = [3, 1, 1, 1, 1]; // query rows per call after the prefill
    const total = prompt.map((p) => p + steps.reduce((s, n) => s + n, 0));
    const full = Math.max(...total);
    // Whole sequences, drawn once; the reference sees each sequence at full length.
    const fullCase: Case = {
      batch,
      sq: full,
      nh,
      nkv,
      hd,
      cap: full,
      past: [0, 0, 0],
      kvLen: total,
      scale: 1 / Math.sqrt(hd),
    };
    const x = inputs(fullCase, 99 + smax);
    const want = refForward(fullCase, x.q, x.k, x.v);
    // The cache starts as garbage (NaN) and is filled as positions are consumed.
    const cacheK = new Float64Array(batch * smax * width).fill(NaN);
    const cacheV = new Float64Array(batch * smax * width).fill(NaN);
    const tk = gpu.empty([batch, smax, width]), tv = gpu.empty([batch, smax, width]);
    const calls = [Math.max(...prompt), ...steps];
    const past = [0, 0, 0];
    for (const [n, rows] of calls.entries()) {
      const valid = prompt.map((len) => (n === 0 ? len : rows));
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < valid[b]; i++) {
          const src = kAt(fullCase, b, past[b] + i, 0);
          cacheK.set(x.k.subarray(src, src + width), (b * smax + past[b] + i) * width);
          cacheV.set(x.v.subarray(src, src + width), (b * smax + past[b] + i) * width);
        }
      }
      tk.write(cacheK);
      tv.write(cacheV);
      const q = new Float64Array(batch * rows * nh * hd).fill(NaN);
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < valid[b]; i++) {
          const src = qAt(fullCase, b, past[b] + i, 0);
          q.set(x.q.subarray(src, src + nh * hd), (b * rows + i) * nh * hd);
        }
      }
      const kvLen = past.map((p, b) => p + valid[b]);
      const tq = gpu.fromArray(q, [batch * rows, nh * hd]);
      const tPast = gpu.fromArray(past, [batch], "i32"), tLen = gpu.fromArray(kvLen, [batch], "i32");
      for (const splits of splitChoices) {
        const o = attentionForward(gpu, tq, tk, tv, tPast, tLen, {
          batch,
          queryLen: rows,
          numHeads: nh,
          numKvHeads: nkv,
          headDim: hd,
          kvBatchStride: smax * width,
          splits,
        });
        const got = await o.o.read(), lse = await o.lse.read();
        for (let b = 0; b < batch; b++) {
          for (let i = 0; i < rows; i++) {
            const at = (b * rows + i) * nh * hd, lat = (b * rows + i) * nh;
            const what = `call ${n} (${rows} rows, splits ${splits ?? "auto"}), sequence ${b}, row ${i}`;
            if (i < valid[b]) {
              const ref = qAt(fullCase, b, past[b] + i, 0), lref = (b * full + past[b] + i) * nh;
              assertClose(got.subarray(at, at + nh * hd), want.o.subarray(ref, ref + nh * hd), FWD_TOL, what);
              assertClose(lse.subarray(lat, lat + nh), want.lse.subarray(lref, lref + nh), LSE_TOL, what);
            } else if (maxAbs(got.subarray(at, at + nh * hd)) !== 0 || Number.isNaN(got[at])) {
              throw new Error(`${what}: a padding row is not zero`);
            }
          }
        }
        releaseAll({ o: o.o, lse: o.lse });
      }
      releaseAll({ tq, tPast, tLen });
      for (let b = 0; b < batch; b++) past[b] += valid[b];
    }
    releaseAll({ tk, tv });
  });
}

// ---------------------------------------------------------------------------------------------------
// Bad input.

Deno.test("attention: bad arguments name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const c = trainCase(2, 5, 4, 2, 6);
  const t = upload(gpu, c, inputs(c, 1));
  const o = opts(c);
  const f = (over: Partial<Record<"q" | "k" | "v" | "past" | "kvLen", Tensor>>, op = o) =>
    attentionForward(
      gpu,
      over.q ?? t.q,
      over.k ?? t.k,
      over.v ?? t.v,
      over.past ?? t.past,
      over.kvLen ?? t.kvLen,
      op,
    );
  const bad = {
    qI32: gpu.zeros([10, 24], "i32"),
    qShape: gpu.zeros([10, 25]),
    kSmall: gpu.zeros([9, 12]),
    kWidth: gpu.zeros([10, 13]),
    vShape: gpu.zeros([5, 24]),
    pastF32: gpu.zeros([2]),
    lenShape: gpu.zeros([3], "i32"),
    lse: gpu.zeros([10, 3]),
  };
  await assertThrowsWith(() => f({ q: bad.qI32 }), "attention.forward", `"q"`, "f32", "i32");
  await assertThrowsWith(() => f({ q: bad.qShape }), "attention.forward", `"q"`, "[10, 24]", "[10, 25]");
  await assertThrowsWith(() => f({ k: bad.kSmall, v: bad.kSmall }), "attention.forward", `"k"`, "120");
  await assertThrowsWith(() => f({ k: bad.kWidth, v: bad.kWidth }), "attention.forward", `"k"`, "12");
  await assertThrowsWith(() => f({ v: bad.vShape }), "attention.forward", `"v"`, "[10, 12]");
  await assertThrowsWith(() => f({ past: bad.pastF32 }), "attention.forward", `"pastLen"`, "i32");
  await assertThrowsWith(() => f({ kvLen: bad.lenShape }), "attention.forward", `"kvLen"`, "[2]", "[3]");
  await assertThrowsWith(() => f({}, { ...o, numKvHeads: 3 }), "attention.forward", `"numKvHeads"`, "divide");
  await assertThrowsWith(() => f({}, { ...o, headDim: 129 }), "attention.forward", `"headDim"`, "128");
  await assertThrowsWith(() => f({}, { ...o, queryLen: 0 }), "attention.forward", `"queryLen"`);
  await assertThrowsWith(
    () => f({}, { ...o, kvBatchStride: 70 }),
    "attention.forward",
    `"kvBatchStride"`,
    "12",
  );
  await assertThrowsWith(() => f({}, { ...o, scale: NaN }), "attention.forward", `"scale"`);
  await assertThrowsWith(() => f({}, { ...o, splits: 0 }), "attention.forward", `"splits"`);
  await assertThrowsWith(
    () => f({}, { ...o, tileRows: 12 }),
    "attention.forward",
    `"tileRows"`,
    "8, 16 or 32",
  );
  const fw = f({});
  const b = (over: Partial<Record<"dO" | "k" | "v" | "o" | "lse", Tensor>>, op = o) =>
    attentionBackward(
      gpu,
      over.dO ?? t.dO,
      t.q,
      over.k ?? t.k,
      over.v ?? t.v,
      over.o ?? fw.o,
      over.lse ?? fw.lse,
      t.past,
      t.kvLen,
      op,
    );
  await assertThrowsWith(() => b({ dO: bad.qShape }), "attention.backward", `"dO"`, "[10, 24]");
  await assertThrowsWith(() => b({ lse: bad.lse }), "attention.backward", `"lse"`, "[10, 4]", "[10, 3]");
  await assertThrowsWith(() => b({ o: bad.qI32 }), "attention.backward", `"o"`, "f32");
  // Backward writes dk/dv of k's shape, so k must hold exactly batch·kvBatchStride elements.
  const big = gpu.zeros([12, 12]);
  await assertThrowsWith(() => b({ k: big, v: big }), "attention.backward", `"k"`, "exactly", "120");
  releaseAll(t, bad, { big, o: fw.o, lse: fw.lse });
});

// ---------------------------------------------------------------------------------------------------
// Cross-check against the same math written in PyTorch (float64, autograd for the backward).

const python = await findPython("torch");
if (python === null) skipNote("attention torch cross-check", "torch");

// Hugging Face-style eager GQA attention (repeat_kv, additive causal + padding mask, softmax), with
// padding rows set to zero as the contract says.
const TORCH_ATTENTION = `
import sys, json, torch
d = json.load(sys.stdin)
B, S, nh, nkv, D = d["B"], d["S"], d["nh"], d["nkv"], d["D"]
G = nh // nkv
t = lambda name, shape: torch.tensor(d[name], dtype=torch.float64).reshape(shape)
q = t("q", (B, S, nh, D)).requires_grad_(True)
k = t("k", (B, S, nkv, D)).requires_grad_(True)
v = t("v", (B, S, nkv, D)).requires_grad_(True)
kv_len = torch.tensor(d["kvLen"]).reshape(B, 1, 1)
i = torch.arange(S).reshape(1, S, 1)
j = torch.arange(S).reshape(1, 1, S)
allowed = ((j <= i) & (j < kv_len) & (i < kv_len)).unsqueeze(1)
row_ok = allowed.any(-1, keepdim=True)
qh = q.transpose(1, 2)
kh = k.transpose(1, 2).repeat_interleave(G, dim=1)
vh = v.transpose(1, 2).repeat_interleave(G, dim=1)
scores = (qh @ kh.transpose(-1, -2)) * d["scale"]
scores = scores.masked_fill(~allowed, float("-inf")).masked_fill(~row_ok, 0.0)
probs = torch.softmax(scores, dim=-1) * row_ok
o = (probs @ vh).transpose(1, 2)
lse = (torch.logsumexp(scores, dim=-1) * row_ok.squeeze(-1)).transpose(1, 2)
(o * t("dO", (B, S, nh, D))).sum().backward()
flat = lambda x: x.detach().flatten().tolist()
print(json.dumps({"o": flat(o), "lse": flat(lse), "dq": flat(q.grad), "dk": flat(k.grad), "dv": flat(v.grad)}))
`;

Deno.test({
  name: "attention: matches eager GQA attention written in PyTorch float64",
  ignore: python === null,
  fn: async () => {
    const gpu = await getDevice();
    const c = trainCase(3, 33, 14, 2, 33, [33, 20, 5]);
    const x = inputs(c, 123);
    const request = {
      B: c.batch,
      S: c.sq,
      nh: c.nh,
      nkv: c.nkv,
      D: c.hd,
      scale: c.scale,
      kvLen: c.kvLen,
      q: [...x.q],
      k: [...x.k],
      v: [...x.v],
      dO: [...x.dO],
    };
    const pt = await runPythonJson(python!, TORCH_ATTENTION, request) as Record<
      "o" | "lse" | "dq" | "dk" | "dv",
      number[]
    >;
    const fw = await gpuForward(gpu, c, x);
    const g = await gpuBackward(gpu, c, x);
    // torch computes in float64, so the float64 tolerances apply unchanged.
    assertClose(fw.o, pt.o, FWD_TOL, "o vs torch");
    assertClose(fw.lse, pt.lse, LSE_TOL, "lse vs torch");
    assertClose(g.dq, pt.dq, BWD_TOL, "dq vs torch");
    assertClose(g.dk, pt.dk, BWD_TOL, "dk vs torch");
    assertClose(g.dv, pt.dv, BWD_TOL, "dv vs torch");
  },
});

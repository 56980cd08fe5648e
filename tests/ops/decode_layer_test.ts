import { getDevice } from "../../lib/gpu/device.ts";
import { bf16BitsToF32, f32ToBf16Bits, type WeightDType } from "../../lib/gpu/dtype.ts";
import {
  decodeAttention,
  decodeAttentionScratch,
  decodeGateUp,
  decodeProjResidual,
  decodeQkv,
  decodeRopeKv,
  kvWrite,
} from "../../lib/ops/decode_layer.ts";
import { ropeInvFreq } from "../../lib/ops/rope.ts";
import { assertClose, assertThrowsWith, f32, randn, rng } from "../support/numeric.ts";

// Every kernel accumulates in f32 over at most a few hundred terms of O(1): 1e-5 relative plus 2e-5
// absolute covers the f32 rounding; a wrong index or a missed term is off by O(0.1). Half-width caches
// add one rounding of the stored value (2^-8 relative for bf16, 2^-11 for f16).
const TOL = { atol: 2e-5, rtol: 1e-5 };
const DTYPES: WeightDType[] = ["f32", "bf16", "f16"];

/** The values a weight of `dtype` holds (the float64 reference computes on these). */
function rounded(values: ArrayLike<number>, dtype: WeightDType): Float64Array {
  if (dtype === "bf16") return Float64Array.from(bf16BitsToF32(f32ToBf16Bits(values)));
  if (dtype === "f16") return Float64Array.from(Float16Array.from(values));
  return f32(values);
}

function rmsnormRows(x: Float64Array, g: Float64Array, rows: number, k: number, eps: number): Float64Array {
  const h = new Float64Array(rows * k);
  for (let m = 0; m < rows; m++) {
    let ss = 0;
    for (let i = 0; i < k; i++) ss += x[m * k + i] ** 2;
    const rstd = 1 / Math.sqrt(ss / k + eps);
    for (let i = 0; i < k; i++) h[m * k + i] = x[m * k + i] * rstd * g[i];
  }
  return h;
}

/** out[m, n] = Σ_k a[m, k] · w[n, k]. */
function matvec(a: Float64Array, w: Float64Array, rows: number, k: number, n: number): Float64Array {
  const out = new Float64Array(rows * n);
  for (let m = 0; m < rows; m++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += a[m * k + i] * w[j * k + i];
      out[m * n + j] = s;
    }
  }
  return out;
}

// Shapes: batch 1 and > MT (8) rows; hidden sizes off the vec4 path (37, 30) and on it; column counts
// that are no multiple of the workgroup tile.
const MATVEC_CASES = [
  { rows: 1, hidden: 64, heads: 4, kvHeads: 2, d: 8, inter: 96, bias: true },
  { rows: 3, hidden: 37, heads: 3, kvHeads: 1, d: 6, inter: 45, bias: false },
  { rows: 11, hidden: 52, heads: 14, kvHeads: 2, d: 10, inter: 71, bias: true },
  { rows: 16, hidden: 30, heads: 2, kvHeads: 2, d: 4, inter: 9, bias: false },
];

for (const dtype of DTYPES) {
  for (const c of MATVEC_CASES) {
    const label = `M${c.rows} H${c.hidden} heads ${c.heads}/${c.kvHeads} D${c.d} I${c.inter} ${dtype}`;
    Deno.test(`decode: qkv (norm folded, biases ${c.bias}) matches float64, ${label}`, async () => {
      const gpu = await getDevice();
      const r = rng(1);
      const nq = c.heads * c.d, nkv = c.kvHeads * c.d, eps = 1e-6;
      const x = f32(randn(r, c.rows * c.hidden));
      const g = f32(randn(r, c.hidden, 0.5).map((v) => 1 + v));
      const raw = [
        randn(r, nq * c.hidden, 0.2),
        randn(r, nkv * c.hidden, 0.2),
        randn(r, nkv * c.hidden, 0.2),
      ];
      const w = raw.map((v) => rounded(v, dtype));
      const b = [f32(randn(r, nq)), f32(randn(r, nkv)), f32(randn(r, nkv))];
      const out = gpu.empty([c.rows, nq + 2 * nkv]);
      const up = (v: ArrayLike<number>, shape: number[]) => gpu.fromArray(v, shape, dtype);
      decodeQkv(
        gpu,
        gpu.fromArray(x, [c.rows, c.hidden]),
        gpu.fromArray(g, [c.hidden]),
        eps,
        { q: up(raw[0], [nq, c.hidden]), k: up(raw[1], [nkv, c.hidden]), v: up(raw[2], [nkv, c.hidden]) },
        c.bias
          ? { q: gpu.fromArray(b[0], [nq]), k: gpu.fromArray(b[1], [nkv]), v: gpu.fromArray(b[2], [nkv]) }
          : null,
        out,
      );
      const h = rmsnormRows(x, g, c.rows, c.hidden, eps);
      const parts = [nq, nkv, nkv].map((n, i) => matvec(h, w[i], c.rows, c.hidden, n));
      const want = new Float64Array(c.rows * (nq + 2 * nkv));
      for (let m = 0; m < c.rows; m++) {
        let at = m * (nq + 2 * nkv);
        parts.forEach((part, i) => {
          const n = [nq, nkv, nkv][i];
          for (let j = 0; j < n; j++) want[at++] = part[m * n + j] + (c.bias ? b[i][j] : 0);
        });
      }
      assertClose(await out.read(), want, TOL, "qkv");
    });

    Deno.test(`decode: gate_up (norm folded, SwiGLU) matches float64, ${label}`, async () => {
      const gpu = await getDevice();
      const r = rng(2);
      const eps = 1e-5;
      const x = f32(randn(r, c.rows * c.hidden));
      const g = f32(randn(r, c.hidden, 0.5).map((v) => 1 + v));
      const rawG = randn(r, c.inter * c.hidden, 0.3), rawU = randn(r, c.inter * c.hidden, 0.3);
      const act = gpu.empty([c.rows, c.inter]);
      decodeGateUp(
        gpu,
        gpu.fromArray(x, [c.rows, c.hidden]),
        gpu.fromArray(g, [c.hidden]),
        eps,
        gpu.fromArray(rawG, [c.inter, c.hidden], dtype),
        gpu.fromArray(rawU, [c.inter, c.hidden], dtype),
        act,
      );
      const h = rmsnormRows(x, g, c.rows, c.hidden, eps);
      const gate = matvec(h, rounded(rawG, dtype), c.rows, c.hidden, c.inter);
      const upv = matvec(h, rounded(rawU, dtype), c.rows, c.hidden, c.inter);
      const want = gate.map((v, i) => (v / (1 + Math.exp(-v))) * upv[i]);
      assertClose(await act.read(), want, TOL, "act");
    });

    Deno.test(`decode: projection with the residual folded in matches float64, ${label}`, async () => {
      const gpu = await getDevice();
      const r = rng(3);
      const [k, n] = [c.inter, c.hidden];
      const input = f32(randn(r, c.rows * k));
      const rawW = randn(r, n * k, 0.2);
      const bias = f32(randn(r, n));
      const x0 = f32(randn(r, c.rows * n));
      const x = gpu.fromArray(x0, [c.rows, n]);
      decodeProjResidual(
        gpu,
        gpu.fromArray(input, [c.rows, k]),
        gpu.fromArray(rawW, [n, k], dtype),
        c.bias ? gpu.fromArray(bias, [n]) : null,
        x,
      );
      const prod = matvec(input, rounded(rawW, dtype), c.rows, k, n);
      const want = prod.map((v, i) => x0[i] + v + (c.bias ? bias[i % n] : 0));
      assertClose(await x.read(), want, TOL, "x");
    });
  }
}

/** Rotate-half RoPE of one head-major row of `heads` heads, in float64 from f32 angles. */
function ropeRow(row: Float64Array, heads: number, d: number, pos: number, inv: Float32Array): Float64Array {
  const out = new Float64Array(row.length);
  const half = d / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround(pos * inv[i]);
      const [s, co] = [Math.sin(a), Math.cos(a)];
      const x0 = row[h * d + i], x1 = row[h * d + i + half];
      out[h * d + i] = x0 * co - x1 * s;
      out[h * d + i + half] = x1 * co + x0 * s;
    }
  }
  return out;
}

const HALF_TOL: Record<WeightDType, { atol: number; rtol: number }> = {
  f32: TOL,
  bf16: { atol: 1e-5, rtol: 2 ** -8 },
  f16: { atol: 1e-5, rtol: 2 ** -11 },
};

for (const dtype of DTYPES) {
  for (const c of [{ rows: 1, heads: 2, kvHeads: 1, d: 8 }, { rows: 5, heads: 14, kvHeads: 2, d: 6 }]) {
    Deno.test(`decode: rope_kv rotates q in place and writes k, v at each position (${dtype}, M${c.rows} D${c.d})`, async () => {
      const gpu = await getDevice();
      const r = rng(4);
      const maxLen = 9;
      const nq = c.heads * c.d, nkv = c.kvHeads * c.d, n = nq + 2 * nkv;
      const qkv0 = f32(randn(r, c.rows * n));
      const pos = Array.from({ length: c.rows }, (_, m) => (m * 5 + 3) % (maxLen + 1)); // one past the end
      const inv = ropeInvFreq(c.d, 10000);
      const qkv = gpu.fromArray(qkv0, [c.rows, n]);
      const kc = gpu.zeros([c.rows, maxLen, nkv], dtype);
      const vc = gpu.zeros([c.rows, maxLen, nkv], dtype);
      decodeRopeKv(gpu, qkv, gpu.fromArray(pos, [c.rows], "i32"), gpu.fromArray(inv, [c.d / 2]), kc, vc, {
        heads: c.heads,
        kvHeads: c.kvHeads,
        headDim: c.d,
      });
      const wantQkv = Float64Array.from(qkv0);
      const wantK = new Float64Array(c.rows * maxLen * nkv), wantV = new Float64Array(wantK.length);
      for (let m = 0; m < c.rows; m++) {
        const row = qkv0.subarray(m * n, (m + 1) * n);
        wantQkv.set(ropeRow(row.subarray(0, nq), c.heads, c.d, pos[m], inv), m * n);
        if (pos[m] >= maxLen) continue;
        const at = (m * maxLen + pos[m]) * nkv;
        wantK.set(ropeRow(row.subarray(nq, nq + nkv), c.kvHeads, c.d, pos[m], inv), at);
        wantV.set(row.subarray(nq + nkv), at);
      }
      assertClose(await qkv.read(), wantQkv, { atol: 1e-6, rtol: 1e-6 }, "q rotated in place");
      assertClose(await kc.read(), wantK, HALF_TOL[dtype], "k cache");
      assertClose(await vc.read(), dtype === "f32" ? wantV : rounded(wantV, dtype), { atol: 0 }, "v cache");
    });
  }
}

// Cache lengths around the split size (256) and not multiples of the workgroup; GQA groups of 1, 4, 7 and
// 10 heads (more than one workgroup's 8); D on and off vec4, up to the largest (128).
const ATTN_CASES = [
  { rows: 1, heads: 2, kvHeads: 2, d: 8, maxLen: 5, lens: [5] },
  { rows: 3, heads: 14, kvHeads: 2, d: 6, maxLen: 300, lens: [300, 1, 257] },
  { rows: 2, heads: 4, kvHeads: 1, d: 64, maxLen: 600, lens: [513, 77] },
  { rows: 2, heads: 20, kvHeads: 2, d: 128, maxLen: 70, lens: [70, 33] }, // 10 heads per group: 8 + 2
];

for (const dtype of DTYPES) {
  for (const c of ATTN_CASES) {
    Deno.test(`decode: split-K attention over the cache matches float64 (${dtype}, M${c.rows} heads ${c.heads}/${c.kvHeads} D${c.d} lens ${c.lens})`, async () => {
      const gpu = await getDevice();
      const r = rng(5);
      const nq = c.heads * c.d, nkv = c.kvHeads * c.d, n = nq + 2 * nkv;
      const qkv0 = f32(randn(r, c.rows * n));
      const kRaw = randn(r, c.rows * c.maxLen * nkv), vRaw = randn(r, c.rows * c.maxLen * nkv);
      const [kv, vv] = [rounded(kRaw, dtype), rounded(vRaw, dtype)];
      const shape = [c.rows, c.maxLen, nkv];
      const heads = { heads: c.heads, kvHeads: c.kvHeads, headDim: c.d };
      const scratch = decodeAttentionScratch(gpu, c.rows, c.maxLen, heads);
      const o = gpu.empty([c.rows, nq]);
      decodeAttention(
        gpu,
        gpu.fromArray(qkv0, [c.rows, n]),
        gpu.fromArray(c.lens, [c.rows], "i32"),
        gpu.fromArray(kRaw, shape, dtype),
        gpu.fromArray(vRaw, shape, dtype),
        scratch,
        o,
        heads,
      );
      const want = new Float64Array(c.rows * nq);
      const scale = 1 / Math.sqrt(c.d);
      for (let m = 0; m < c.rows; m++) {
        for (let h = 0; h < c.heads; h++) {
          const kvh = Math.floor(h / (c.heads / c.kvHeads));
          const s = Array.from({ length: c.lens[m] }, (_, j) => {
            let dot = 0;
            for (let d = 0; d < c.d; d++) {
              dot += qkv0[m * n + h * c.d + d] * kv[(m * c.maxLen + j) * nkv + kvh * c.d + d];
            }
            return dot * scale;
          });
          const mx = Math.max(...s);
          const e = s.map((v) => Math.exp(v - mx));
          const sum = e.reduce((a, b) => a + b, 0);
          for (let d = 0; d < c.d; d++) {
            let acc = 0;
            e.forEach((p, j) => acc += p * vv[(m * c.maxLen + j) * nkv + kvh * c.d + d]);
            want[m * nq + h * c.d + d] = acc / sum;
          }
        }
      }
      assertClose(await o.read(), want, TOL, "attention output");
    });
  }
}

for (const dtype of DTYPES) {
  Deno.test(`decode: kvWrite converts a prefill's rows into a ${dtype} cache at each past length`, async () => {
    const gpu = await getDevice();
    const [batch, maxLen, width, rows] = [3, 5, 6, 2];
    const src = f32(randn(rng(6), batch * rows * width));
    const past = [0, 2, 4]; // the last sequence has room for one of its two rows
    const cache = gpu.zeros([batch, maxLen, width], dtype);
    kvWrite(gpu, gpu.fromArray(src, [batch * rows, width]), gpu.fromArray(past, [batch], "i32"), cache, rows);
    const want = new Float64Array(batch * maxLen * width);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < rows; i++) {
        if (past[b] + i >= maxLen) continue;
        want.set(
          src.subarray((b * rows + i) * width, (b * rows + i + 1) * width),
          (b * maxLen + past[b] + i) * width,
        );
      }
    }
    assertClose(await cache.read(), rounded(want, dtype), { atol: 0 }, "cache");
  });
}

Deno.test("decode: fused kernels refuse mismatched arguments by name", async () => {
  const gpu = await getDevice();
  const x = gpu.zeros([2, 8]);
  const w = gpu.zeros([4, 8]);
  await assertThrowsWith(
    () => decodeProjResidual(gpu, x, w, null, gpu.zeros([2, 5])),
    "decode.projResidual",
    `"x"`,
  );
  await assertThrowsWith(
    () =>
      decodeQkv(
        gpu,
        x,
        gpu.zeros([8]),
        1e-6,
        { q: w, k: w, v: gpu.zeros([4, 8], "bf16") },
        null,
        gpu.zeros([2, 12]),
      ),
    "decode.qkv",
    `"wv"`,
  );
  await assertThrowsWith(
    () => kvWrite(gpu, gpu.zeros([2, 5]), gpu.zeros([2], "i32"), gpu.zeros([2, 3, 5]), 1),
    "kvWrite",
    "even",
  );
});

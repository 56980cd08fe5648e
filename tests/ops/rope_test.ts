import { getDevice } from "../../lib/gpu/device.ts";
import { llama3InvFreq, ropeBackward, ropeForward, ropeInvFreq } from "../../lib/ops/rope.ts";
import { assertThrowsWith, dot, f32, finiteDiff, randn, rng } from "../support/numeric.ts";
import { assertWithin, gpuCentralDiff, sameBits } from "../support/kernel_checks.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";

/** Unit roundoff of f32. */
const U = 2 ** -24;
const f = Math.fround;

type Angles = (pos: number, i: number) => number;

/** HF's angles: inv_freq rounded to f32, then one f32 product with f32(pos). */
function f32Angles(d: number, theta: number): Angles {
  const inv = Array.from({ length: d / 2 }, (_, i) => f(1 / f(theta ** f((2 * i) / d))));
  return (pos, i) => f(f(pos) * inv[i]);
}

/** Exact-arithmetic angles, for stating how far f32 angles drift from them. */
function f64Angles(d: number, theta: number): Angles {
  return (pos, i) => pos * theta ** (-(2 * i) / d);
}

/** Rotates every head of x [t, width] by sign·angle; float64 except for the given angles. */
function refRotate(x: Float64Array, pos: Int32Array, d: number, angle: Angles, sign: number): Float64Array {
  const t = pos.length, width = x.length / t, half = d / 2;
  const out = new Float64Array(x.length);
  for (let tok = 0; tok < t; tok++) {
    for (let base = tok * width; base < (tok + 1) * width; base += d) {
      for (let i = 0; i < half; i++) {
        const a = angle(pos[tok], i);
        const c = Math.cos(a), s = sign * Math.sin(a);
        const x1 = x[base + i], x2 = x[base + i + half];
        out[base + i] = x1 * c - x2 * s;
        out[base + i + half] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}

/** Per element: |x_i| + |x_partner| of its rotation pair (errors scale with it). */
function pairMagnitude(x: Float64Array, width: number, d: number): Float64Array {
  const m = new Float64Array(x.length), half = d / 2;
  for (let k = 0; k < x.length; k++) {
    const inHead = (k % width) % d;
    const partner = inHead < half ? k + half : k - half;
    m[k] = Math.abs(x[k]) + Math.abs(x[partner]);
  }
  return m;
}

/** Positions in [0, max), with 0 and max - 1 present so both extremes are exercised. */
function drawPositions(r: () => number, t: number, max: number): Int32Array {
  const p = Int32Array.from({ length: t }, () => Math.floor(r() * max));
  p[0] = t > 1 ? 0 : max - 1;
  if (t > 1) p[t - 1] = max - 1;
  return p;
}

/**
 * GPU sin/cos are within 1.2e-7 of float64 for the f32 angle (9.2e-8 measured in an f32 emulation, with
 * slack), and out = x1·c − x2·s takes three f32 roundings: |err| <= (|x1| + |x2|)·(1.2e-7 + 3u).
 */
const ROT_ERR = 1.2e-7 + 3 * U;

const CASES = [
  { t: 1, heads: 1, kv: 1, d: 2, theta: 10_000 },
  { t: 7, heads: 3, kv: 1, d: 6, theta: 10_000 },
  { t: 33, heads: 2, kv: 2, d: 64, theta: 1_000_000 },
  { t: 130, heads: 4, kv: 2, d: 130, theta: 500_000 },
];

for (const { t, heads, kv, d, theta } of CASES) {
  Deno.test(`rope: T=${t} heads=${heads}/${kv} D=${d} theta=${theta} forward and backward match float64`, async () => {
    const gpu = await getDevice();
    const r = rng(t * 1000 + d);
    const q = f32(randn(r, t * heads * d)), k = f32(randn(r, t * kv * d));
    const pos = drawPositions(r, t, 4096);
    const tq = gpu.fromArray(q, [t, heads * d]), tk = gpu.fromArray(k, [t, kv * d]);
    const tpos = gpu.fromArray(pos, [t], "i32");
    const opts = { headDim: d, theta };
    const out = ropeForward(gpu, tq, tk, tpos, opts);
    const ang = f32Angles(d, theta);
    const gq = await out.q.read(), gk = await out.k!.read();
    const bq = pairMagnitude(q, heads * d, d).map((m) => m * ROT_ERR + 1e-30);
    const bk = pairMagnitude(k, kv * d, d).map((m) => m * ROT_ERR + 1e-30);
    assertWithin(gq, refRotate(q, pos, d, ang, 1), bq, "q");
    assertWithin(gk, refRotate(k, pos, d, ang, 1), bk, "k");

    // In place gives the same bits as out of place.
    const tq2 = gpu.fromArray(q, [t, heads * d]), tk2 = gpu.fromArray(k, [t, kv * d]);
    ropeForward(gpu, tq2, tk2, tpos, { ...opts, inPlace: true });
    sameBits(await tq2.read() as Float32Array, gq as Float32Array, "q in place");
    sameBits(await tk2.read() as Float32Array, gk as Float32Array, "k in place");

    // Backward: rotation by the negative angle, same bound.
    const dq = f32(randn(r, t * heads * d)), dk = f32(randn(r, t * kv * d));
    const tdq = gpu.fromArray(dq, [t, heads * d]), tdk = gpu.fromArray(dk, [t, kv * d]);
    const g = ropeBackward(gpu, tdq, tdk, tpos, opts);
    const gdq = await g.q.read();
    assertWithin(
      gdq,
      refRotate(dq, pos, d, ang, -1),
      pairMagnitude(dq, heads * d, d).map((m) => m * ROT_ERR),
      "dq",
    );
    assertWithin(
      await g.k!.read(),
      refRotate(dk, pos, d, ang, -1),
      pairMagnitude(dk, kv * d, d).map((m) => m * ROT_ERR),
      "dk",
    );

    // Determinism and the round trip backward(forward(x)) = x (the rotation is orthogonal).
    const again = ropeBackward(gpu, tdq, null, tpos, opts);
    sameBits(await again.q.read() as Float32Array, gdq as Float32Array, "dq twice");
    const back = await ropeBackward(gpu, out.q, null, tpos, opts).q.read();
    assertWithin(back, q, pairMagnitude(q, heads * d, d).map((m) => 3 * m * ROT_ERR + 1e-30), "round trip");
    for (const x of [tq, tk, tpos, out.q, out.k!, tq2, tk2, tdq, tdk, g.q, g.k!, again.q]) x.release();
  });
}

Deno.test("rope: long contexts (positions up to 131071) keep the same accuracy against f32 angles", async () => {
  const gpu = await getDevice();
  const t = 64, d = 8, theta = 10_000;
  const r = rng(3);
  const q = f32(randn(r, t * d));
  const pos = drawPositions(r, t, 131_072);
  const tq = gpu.fromArray(q, [t, d]), tpos = gpu.fromArray(pos, [t], "i32");
  const out = ropeForward(gpu, tq, null, tpos, { headDim: d, theta });
  const bound = pairMagnitude(q, d, d).map((m) => m * ROT_ERR + 1e-30);
  assertWithin(await out.q.read(), refRotate(q, pos, d, f32Angles(d, theta), 1), bound, "q");
  for (const x of [tq, tpos, out.q]) x.release();
});

Deno.test("rope: f32 angles differ from exact angles by up to ~3u·|angle| (why the reference mimics f32)", async () => {
  const gpu = await getDevice();
  const t = 130, d = 64, theta = 10_000;
  const r = rng(4);
  const q = f32(randn(r, t * d));
  const pos = drawPositions(r, t, 4096);
  const tq = gpu.fromArray(q, [t, d]), tpos = gpu.fromArray(pos, [t], "i32");
  const got = await ropeForward(gpu, tq, null, tpos, { headDim: d, theta }).q.read();
  const exact = refRotate(q, pos, d, f64Angles(d, theta), 1);
  // inv_freq rounding (u relative) and the f32 product (u relative) move the angle by <= 2u·|angle|;
  // a rotation by δ moves the pair by <= δ·(|x1| + |x2|).
  const mag = pairMagnitude(q, d, d);
  const bound = new Float64Array(q.length);
  let drift = 0;
  for (let k = 0; k < q.length; k++) {
    const tok = Math.floor(k / d), i = (k % d) % (d / 2);
    bound[k] = mag[k] * (ROT_ERR + 2 * U * Math.abs(f64Angles(d, theta)(pos[tok], i)) + 1e-12);
    drift = Math.max(drift, Math.abs(got[k] - exact[k]) / (mag[k] * ROT_ERR));
  }
  assertWithin(got, exact, bound, "q vs exact angles");
  // With positions up to 4095 the angle error dominates the kernel's own error by a wide margin.
  if (!(drift > 10)) throw new Error(`expected f32 angle drift well above kernel error, ratio ${drift}`);
  tq.release();
  tpos.release();
});

Deno.test("rope: reference backward is the derivative of the reference forward", () => {
  const r = rng(6);
  const t = 3, d = 6, width = 12;
  const x = f32(randn(r, t * width)), dy = f32(randn(r, t * width));
  const pos = Int32Array.from([0, 5, 4000]);
  const ang = f32Angles(d, 10_000);
  const fd = finiteDiff((v) => dot(dy, refRotate(v, pos, d, ang, 1)), x);
  const g = refRotate(dy, pos, d, ang, -1);
  // L is linear in x: central differences are exact up to float64 rounding of L / h (~1e-10).
  assertWithin(fd, g, g.map(() => 1e-8), "reference backward vs FD");
});

Deno.test("rope: GPU backward matches finite differences of the GPU forward", async () => {
  const gpu = await getDevice();
  const r = rng(7);
  const t = 5, d = 6, width = 12;
  const x = Float32Array.from(randn(r, t * width)), dy = f32(randn(r, t * width));
  const pos = Int32Array.from([3, 0, 77, 4095, 1000]);
  const tx = gpu.fromArray(x, [t, width]),
    tpos = gpu.fromArray(pos, [t], "i32"),
    tdy = gpu.fromArray(dy, [t, width]);
  const opts = { headDim: d, theta: 10_000 };
  const grad = await ropeBackward(gpu, tdy, null, tpos, opts).q.read();
  const loss = async () => {
    const o = ropeForward(gpu, tx, null, tpos, opts).q;
    const l = dot(dy, await o.read());
    o.release();
    return l;
  };
  for (const i of [0, 4, 13, 27, t * width - 1]) {
    // L is linear in x, so the step can be large: only the two outputs of the perturbed pair change,
    // each by f32 rounding ~ROT_ERR·(|x1| + |x2| + 0.5), / (2·0.5): a 1e-5 tolerance is loose.
    assertWithin([grad[i]], [await gpuCentralDiff(loss, x, tx, i, 0.5)], [1e-5], `coordinate ${i}`);
  }
  tx.release();
  tpos.release();
  tdy.release();
});

const python = await findPython("torch");
if (python === null) skipNote("rope torch cross-check", "torch");

// Qwen2RotaryEmbedding + apply_rotary_pos_emb, written out, with autograd for the backward.
const TORCH_ROPE = `
import sys, json, torch
d = json.load(sys.stdin)
t, heads, dim, theta = d["t"], d["heads"], d["dim"], d["theta"]
inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
position_ids = torch.tensor(d["pos"], dtype=torch.int64)[None, :]
inv_freq_expanded = inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
position_ids_expanded = position_ids[:, None, :].float()
freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
emb = torch.cat((freqs, freqs), dim=-1)
cos, sin = emb.cos(), emb.sin()
def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)
q = torch.tensor(d["q"], dtype=torch.float32).reshape(1, t, heads, dim).transpose(1, 2).requires_grad_(True)
q_embed = (q * cos.unsqueeze(1)) + (rotate_half(q) * sin.unsqueeze(1))
dy = torch.tensor(d["dy"], dtype=torch.float32).reshape(1, t, heads, dim).transpose(1, 2)
q_embed.backward(dy)
flat = lambda v: v.transpose(1, 2).reshape(-1).tolist()
print(json.dumps({"inv_freq": inv_freq.tolist(), "q": flat(q_embed.detach()), "dq": flat(q.grad)}))
`;

Deno.test({
  name: "rope: matches Hugging Face-style PyTorch code (inv_freq bit for bit)",
  ignore: python === null,
  fn: async () => {
    const gpu = await getDevice();
    const t = 33, heads = 2, d = 64, theta = 1_000_000;
    const r = rng(8);
    const q = Float32Array.from(randn(r, t * heads * d)), dy = Float32Array.from(randn(r, t * heads * d));
    const pos = drawPositions(r, t, 4096);
    const request = { t, heads, dim: d, theta, pos: [...pos], q: [...q], dy: [...dy] };
    const pt = await runPythonJson(python!, TORCH_ROPE, request) as {
      inv_freq: number[];
      q: number[];
      dq: number[];
    };
    sameBits(ropeInvFreq(d, theta), Float32Array.from(pt.inv_freq), "inv_freq vs torch");
    const tq = gpu.fromArray(q, [t, heads * d]), tpos = gpu.fromArray(pos, [t], "i32");
    const tdy = gpu.fromArray(dy, [t, heads * d]);
    const opts = { headDim: d, theta };
    const y = ropeForward(gpu, tq, null, tpos, opts).q;
    const dq = ropeBackward(gpu, tdy, null, tpos, opts).q;
    // torch's cos/sin are within ~1 ulp of exact on the same f32 angles: our bound plus 2u more.
    const mq = pairMagnitude(Float64Array.from(q), heads * d, d).map((m) => m * (ROT_ERR + 2 * U));
    const mdy = pairMagnitude(Float64Array.from(dy), heads * d, d).map((m) => m * (ROT_ERR + 2 * U));
    assertWithin(await y.read(), pt.q, mq, "q vs torch");
    assertWithin(await dq.read(), pt.dq, mdy, "dq vs torch");
    for (const x of [tq, tpos, tdy, y, dq]) x.release();
  },
});

Deno.test("rope: bad arguments name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const q = gpu.zeros([3, 12]), k = gpu.zeros([3, 6]), pos = gpu.zeros([3], "i32");
  const posF = gpu.zeros([3]), pos4 = gpu.zeros([4], "i32"), qI = gpu.zeros([3, 12], "i32");
  const opts = { headDim: 6, theta: 10_000 };
  await assertThrowsWith(
    () => ropeForward(gpu, q, k, pos, { headDim: 5, theta: 1e4 }),
    "rope.forward",
    `"headDim"`,
  );
  await assertThrowsWith(() => ropeForward(gpu, q, k, posF, opts), "rope.forward", `"positions"`, "i32");
  await assertThrowsWith(() => ropeForward(gpu, q, k, pos4, opts), "rope.forward", `"q"`, "[4, *]");
  await assertThrowsWith(() => ropeForward(gpu, qI, k, pos, opts), "rope.forward", `"q"`, "i32");
  await assertThrowsWith(
    () => ropeForward(gpu, q, k, pos, { headDim: 4, theta: 1e4 }),
    "rope.forward",
    `"k"`,
    "4",
  );
  await assertThrowsWith(() => ropeForward(gpu, q, k, pos, { headDim: 6 }), "rope.forward", `"theta"`);
  await assertThrowsWith(
    () => ropeForward(gpu, q, k, pos, { ...opts, invFreq: pos4 }),
    "rope.forward",
    `"invFreq"`,
  );
  await assertThrowsWith(() => ropeForward(gpu, q, k, pos, { ...opts, qOut: q }), "rope.forward", `"qOut"`);
  await assertThrowsWith(() => ropeBackward(gpu, q, posF, pos, opts), "rope.backward", `"dk"`);
  for (const x of [q, k, pos, posF, pos4, qI]) x.release();
});

// Llama-3.2-1B's rope_scaling: factor 32, low 1, high 4, original context 8192, theta 5e5, D 64.
const LLAMA32 = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };

/** Llama 3 scaling in float64, from the formula's definition (wavelength bands, linear interpolation). */
function llama3Reference(inv: number, s: typeof LLAMA32): number {
  const wavelen = (2 * Math.PI) / inv;
  if (wavelen < s.originalMaxPositionEmbeddings / s.highFreqFactor) return inv;
  if (wavelen > s.originalMaxPositionEmbeddings / s.lowFreqFactor) return inv / s.factor;
  const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) /
    (s.highFreqFactor - s.lowFreqFactor);
  return (1 - smooth) * inv / s.factor + smooth * inv;
}

Deno.test("rope: llama3 scaling keeps high frequencies, divides low ones, interpolates between", () => {
  const base = ropeInvFreq(64, 5e5), scaled = llama3InvFreq(base, LLAMA32);
  let kept = 0, divided = 0, blended = 0;
  for (let i = 0; i < base.length; i++) {
    const want = llama3Reference(base[i], LLAMA32);
    // Six f32 roundings at most on the interpolated band.
    const tol = 6 * U * Math.abs(want);
    if (Math.abs(scaled[i] - want) > tol) throw new Error(`inv_freq[${i}]: ${scaled[i]} vs ${want}`);
    if (scaled[i] === base[i]) kept++;
    else if (scaled[i] === f(base[i] / 32)) divided++;
    else blended++;
  }
  // With these parameters every band is populated, so the test exercises all three branches.
  if (kept === 0 || divided === 0 || blended === 0) throw new Error(`bands ${kept}/${blended}/${divided}`);
});

Deno.test("rope: with llama3 scaling, forward and backward match float64 at the scaled frequencies", async () => {
  const gpu = await getDevice();
  const t = 7, heads = 3, d = 64, theta = 5e5;
  const r = rng(21);
  const q = f32(randn(r, t * heads * d)), dy = f32(randn(r, t * heads * d));
  const pos = drawPositions(r, t, 60000);
  const inv = llama3InvFreq(ropeInvFreq(d, theta), LLAMA32);
  const ang: Angles = (p, i) => f(f(p) * inv[i]);
  const tq = gpu.fromArray(q, [t, heads * d]), tdy = gpu.fromArray(dy, [t, heads * d]);
  const tpos = gpu.fromArray(pos, [t], "i32");
  const opts = { headDim: d, theta, scaling: LLAMA32 };
  const y = await ropeForward(gpu, tq, null, tpos, opts).q.read();
  const dq = await ropeBackward(gpu, tdy, null, tpos, opts).q.read();
  assertWithin(y, refRotate(q, pos, d, ang, 1), pairMagnitude(q, heads * d, d).map((m) => m * ROT_ERR), "q");
  assertWithin(
    dq,
    refRotate(dy, pos, d, ang, -1),
    pairMagnitude(dy, heads * d, d).map((m) => m * ROT_ERR),
    "dq",
  );
  // The scaling matters at these positions: plain RoPE lands far outside the bound.
  const plain = await ropeForward(gpu, tq, null, tpos, { headDim: d, theta }).q.read();
  const moved = plain.some((v, i) => Math.abs(v - y[i]) > 1e-3);
  if (!moved) throw new Error("scaling changed nothing");
  for (const x of [tq, tdy, tpos]) x.release();
});

// transformers' _compute_llama3_parameters, written out on HF's default inv_freq, for a list of cases.
const TORCH_LLAMA3 = `
import sys, json, math, torch
def llama3(dim, base, factor, low_freq_factor, high_freq_factor, old_context_len):
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return [inv_freq.tolist(), torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama).tolist()]
print(json.dumps([llama3(*c) for c in json.load(sys.stdin)]))
`;

Deno.test({
  name: "rope: llama3 inv_freq matches transformers' computation in torch bit for bit",
  ignore: python === null,
  fn: async () => {
    const cases: [number, number, number, number, number, number][] = [];
    for (const dim of [64, 128, 256]) {
      for (const theta of [1e4, 5e5]) {
        for (const factor of [8, 32]) cases.push([dim, theta, factor, 1, 4, 8192]);
      }
    }
    cases.push([128, 5e5, 16, 2, 3, 4096]);
    const pt = await runPythonJson(python!, TORCH_LLAMA3, cases) as [number[], number[]][];
    let blended = 0;
    cases.forEach(([dim, theta, factor, low, high, context], c) => {
      const s = { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositionEmbeddings: context };
      // The scaling is checked on torch's own base frequencies: torch's vectorised f32 pow is not
      // correctly rounded, so ropeInvFreq (which is) can differ from it by one ulp for some D and theta.
      const torchBase = Float32Array.from(pt[c][0]), ours = llama3InvFreq(torchBase, s);
      sameBits(ours, Float32Array.from(pt[c][1]), `llama3 inv_freq, case ${JSON.stringify(cases[c])}`);
      const base = ropeInvFreq(dim, theta);
      base.forEach((x, i) => {
        if (Math.abs(x - torchBase[i]) > 2 * U * x) throw new Error(`base inv_freq[${i}] of D=${dim}: ${x}`);
      });
      blended += ours.filter((x, i) => x !== torchBase[i] && x !== f(torchBase[i] / factor)).length;
    });
    // The interpolated band is where rounding order matters; make sure the cases reach into it.
    if (blended < 20) throw new Error(`only ${blended} interpolated frequencies across the cases`);
  },
});

import { getDevice } from "../../lib/gpu/device.ts";
import { rmsnormBackward, rmsnormForward } from "../../lib/ops/rmsnorm.ts";
import { assertClose, assertThrowsWith, dot, f32, finiteDiff, randn, rng } from "../support/numeric.ts";
import { assertWithin, gpuCentralDiff, sameBits } from "../support/kernel_checks.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";

/** Unit roundoff of f32. */
const U = 2 ** -24;
const EPS = 1e-6;

interface Ref {
  y: Float64Array;
  rstd: Float64Array;
}

function refForward(x: Float64Array, w: Float64Array, t: number, h: number, eps = EPS): Ref {
  const y = new Float64Array(t * h), rstd = new Float64Array(t);
  for (let i = 0; i < t; i++) {
    let ss = 0;
    for (let j = 0; j < h; j++) ss += x[i * h + j] ** 2;
    const r = 1 / Math.sqrt(ss / h + eps);
    rstd[i] = r;
    for (let j = 0; j < h; j++) y[i * h + j] = w[j] * x[i * h + j] * r;
  }
  return { y, rstd };
}

function refBackward(dy: Float64Array, x: Float64Array, w: Float64Array, t: number, h: number, eps = EPS) {
  const { rstd } = refForward(x, w, t, h, eps);
  const dx = new Float64Array(t * h), dw = new Float64Array(h);
  for (let i = 0; i < t; i++) {
    const r = rstd[i];
    let m = 0;
    for (let j = 0; j < h; j++) m += dy[i * h + j] * w[j] * x[i * h + j] * r;
    m /= h;
    for (let j = 0; j < h; j++) {
      const k = i * h + j;
      dx[k] = r * (dy[k] * w[j] - x[k] * r * m);
      dw[j] += dy[k] * x[k] * r;
    }
  }
  return { dx, dw, rstd };
}

/**
 * Error bounds from the kernel's evaluation order. The sum of squares is a per-invocation sequential sum
 * of ceil(H/256) terms then an 8-level tree, so its relative error is <= depth·u with depth =
 * ceil(H/256) + 8 (positive terms); /H, +eps and inverseSqrt (2 ulp in WGSL) add ~6u, and the square root
 * halves the rest: rel(rstd) <= (depth/2 + 6)·u.
 */
function bounds(h: number) {
  const depth = Math.ceil(h / 256) + 8;
  const rstdRel = (depth / 2 + 6) * U;
  return { depth, rstdRel };
}

// A large eps in one case proves eps is used (1e-6 against x² ~ 4 would hide it).
const CASES: [number, number, number][] = [[1, 7, EPS], [7, 33, EPS], [33, 130, 0.5], [130, 300, EPS], [
  5,
  1,
  EPS,
]];

for (const [t, h, eps] of CASES) {
  Deno.test(`rmsnorm: forward and backward on [${t}, ${h}], eps ${eps}, match float64`, async () => {
    const gpu = await getDevice();
    const r = rng(31 * t + h);
    const x = f32(randn(r, t * h, 2));
    const w = f32(randn(r, h).map((v) => 1 + 0.3 * v));
    const dy = f32(randn(r, t * h));
    const tx = gpu.fromArray(x, [t, h]), tw = gpu.fromArray(w, [h]), tdy = gpu.fromArray(dy, [t, h]);
    const { y, rstd } = rmsnormForward(gpu, tx, tw, eps);
    const ref = refForward(x, w, t, h, eps);
    const { depth, rstdRel } = bounds(h);
    assertClose(await rstd.read(), ref.rstd, { atol: 0, rtol: 2 * rstdRel }, "rstd");
    // y = w * (x * rstd): two more roundings on top of rstd's error.
    assertClose(await y.read(), ref.y, { atol: 1e-30, rtol: 2 * (rstdRel + 2 * U) }, "y");

    const d0 = f32(randn(r, h));
    const tdw = gpu.fromArray(d0, [h]);
    const dx = rmsnormBackward(gpu, tdy, tx, tw, rstd, tdw);
    const b = refBackward(dy, x, w, t, h, eps);
    // dx_k = r·(g_k − x̂_k·m): g, x̂ carry ~2u; m is a dot of H terms with error <= (depth + 3)·u·S/H,
    // S = Σ|g·x̂|; rstd's relative error scales the whole result. Factor 2 of slack.
    const dxBound = new Float64Array(t * h);
    for (let i = 0; i < t; i++) {
      let s = 0;
      for (let j = 0; j < h; j++) s += Math.abs(dy[i * h + j] * w[j] * x[i * h + j] * b.rstd[i]);
      for (let j = 0; j < h; j++) {
        const k = i * h + j;
        const g = Math.abs(dy[k] * w[j]), xh = Math.abs(x[k] * b.rstd[i]);
        dxBound[k] = 2 *
            (b.rstd[i] * (3 * U * g + xh * (depth + 3) * U * s / h) + (rstdRel + 2 * U) * Math.abs(b.dx[k])) +
          1e-30;
      }
    }
    assertWithin(await dx.read(), b.dx, dxBound, "dx");
    // dw: sequential sums over blocks of 64 rows, then over the blocks, then the add into dw; each term
    // dy·(x·r) carries rstd's error plus 2u. Factor 2 of slack.
    const blocks = Math.ceil(t / 64);
    const dwBound = new Float64Array(h);
    for (let j = 0; j < h; j++) {
      let s = Math.abs(d0[j]);
      for (let i = 0; i < t; i++) s += Math.abs(dy[i * h + j] * x[i * h + j] * b.rstd[i]);
      dwBound[j] = 2 * ((Math.min(t, 64) + blocks + 3) * U + rstdRel) * s + 1e-30;
    }
    assertWithin(await tdw.read(), d0.map((v, j) => v + b.dw[j]), dwBound, "dw accumulated");

    // accumulate: false overwrites, even over NaN garbage.
    const dwOver = gpu.fromArray(new Float32Array(h).fill(NaN), [h]);
    const dx2 = rmsnormBackward(gpu, tdy, tx, tw, rstd, dwOver, { accumulate: false });
    assertWithin(await dwOver.read(), b.dw, dwBound, "dw stored");

    // Determinism: a second identical forward + backward gives the same bits.
    const again = rmsnormForward(gpu, tx, tw, eps);
    const dwA = gpu.zeros([h]), dwB = gpu.zeros([h]);
    const dxA = rmsnormBackward(gpu, tdy, tx, tw, again.rstd, dwA);
    const dxB = rmsnormBackward(gpu, tdy, tx, tw, rstd, dwB);
    sameBits(await again.y.read() as Float32Array, await y.read() as Float32Array, "y twice");
    sameBits(await dxA.read() as Float32Array, await dxB.read() as Float32Array, "dx twice");
    sameBits(await dwA.read() as Float32Array, await dwB.read() as Float32Array, "dw twice");
    sameBits(await dx2.read() as Float32Array, await dx.read() as Float32Array, "dx with accumulate false");
    for (const v of [tx, tw, tdy, y, rstd, tdw, dx, dwOver, dx2, again.y, again.rstd, dwA, dwB, dxA, dxB]) {
      v.release();
    }
  });
}

Deno.test("rmsnorm: f16 weight", async () => {
  const gpu = await getDevice();
  if (!gpu.features.f16) {
    console.log("skipped: adapter has no shader-f16");
    return;
  }
  const t = 7, h = 33;
  const r = rng(5);
  const x = f32(randn(r, t * h));
  const w = Float64Array.from(Float16Array.from(randn(r, h)));
  const dy = f32(randn(r, t * h));
  const tx = gpu.fromArray(x, [t, h]), tw = gpu.fromArray(w, [h], "f16"), tdy = gpu.fromArray(dy, [t, h]);
  const { y, rstd } = rmsnormForward(gpu, tx, tw, EPS);
  const { rstdRel } = bounds(h);
  assertClose(await y.read(), refForward(x, w, t, h).y, { atol: 1e-30, rtol: 2 * (rstdRel + 2 * U) }, "y");
  const dw = gpu.zeros([h]);
  const dx = rmsnormBackward(gpu, tdy, tx, tw, rstd, dw);
  const b = refBackward(dy, x, w, t, h);
  // Same bounds as the f32 test, simplified to a scale-relative absolute tolerance for this small shape.
  assertClose(await dx.read(), b.dx, { atol: 2e-6, rtol: 2e-6 }, "dx");
  assertClose(await dw.read(), b.dw, { atol: 2e-6, rtol: 2e-6 }, "dw");
  for (const v of [tx, tw, tdy, y, rstd, dw, dx]) v.release();
});

Deno.test("rmsnorm: reference backward is the derivative of the reference forward", () => {
  const t = 3, h = 5;
  const r = rng(9);
  const x = f32(randn(r, t * h)), w = f32(randn(r, h)), dy = f32(randn(r, t * h));
  const b = refBackward(dy, x, w, t, h);
  const fdx = finiteDiff((v) => dot(dy, refForward(v, w, t, h).y), x);
  const fdw = finiteDiff((v) => dot(dy, refForward(x, v, t, h).y), w);
  // Central differences with h = 1e-6: truncation ~h²·|L'''| ~ 1e-12, rounding ~1e-16·|L|/h ~ 1e-10.
  assertClose(fdx, b.dx, { atol: 1e-8, rtol: 1e-7 }, "dx vs FD");
  assertClose(fdw, b.dw, { atol: 1e-8, rtol: 1e-7 }, "dw vs FD");
});

Deno.test("rmsnorm: GPU backward matches finite differences of the GPU forward", async () => {
  const gpu = await getDevice();
  const t = 3, h = 33;
  const r = rng(10);
  const x = Float32Array.from(randn(r, t * h)), w = Float32Array.from(randn(r, h)), dy = f32(randn(r, t * h));
  const tx = gpu.fromArray(x, [t, h]), tw = gpu.fromArray(w, [h]), tdy = gpu.fromArray(dy, [t, h]);
  const { y, rstd } = rmsnormForward(gpu, tx, tw, EPS);
  const dw = gpu.zeros([h]);
  const dx = await rmsnormBackward(gpu, tdy, tx, tw, rstd, dw).read();
  const dwv = await dw.read();
  const loss = async () => {
    const o = rmsnormForward(gpu, tx, tw, EPS);
    const l = dot(dy, await o.y.read());
    o.y.release();
    o.rstd.release();
    return l;
  };
  // x: step 2^-6. Only the perturbed row's outputs change; their f32 rounding noise is about
  // 30u·Σ_row|dy·y| ≈ 5e-5 in L, / 2·step ≈ 2e-3, and the truncation error step²/6·|L'''| is ~1e-4.
  for (const i of [0, 17, h + 5, 2 * h + h - 1]) {
    assertClose(
      [dx[i]],
      [await gpuCentralDiff(loss, x, tx, i, 2 ** -6)],
      { atol: 3e-3, rtol: 3e-3 },
      `dx[${i}]`,
    );
  }
  // w: L is linear in w, so a large step 0.25 is exact up to rounding noise 30u·Σ|dy·y| / 0.5 ≈ 1e-5.
  for (const j of [0, 12, h - 1]) {
    assertClose(
      [dwv[j]],
      [await gpuCentralDiff(loss, w, tw, j, 0.25)],
      { atol: 5e-5, rtol: 1e-5 },
      `dw[${j}]`,
    );
  }
  for (const v of [tx, tw, tdy, y, rstd, dw]) v.release();
});

const python = await findPython("torch");
if (python === null) skipNote("rmsnorm torch cross-check", "torch");

// Qwen2RMSNorm / LlamaRMSNorm forward, written out, with autograd for the backward.
const TORCH_RMSNORM = `
import sys, json, torch
d = json.load(sys.stdin)
t, h = d["t"], d["h"]
x = torch.tensor(d["x"], dtype=torch.float32).reshape(t, h).requires_grad_(True)
w = torch.tensor(d["w"], dtype=torch.float32).requires_grad_(True)
hs = x.to(torch.float32)
variance = hs.pow(2).mean(-1, keepdim=True)
hs = hs * torch.rsqrt(variance + d["eps"])
y = w * hs.to(x.dtype)
y.backward(torch.tensor(d["dy"], dtype=torch.float32).reshape(t, h))
print(json.dumps({"y": y.flatten().tolist(), "dx": x.grad.flatten().tolist(), "dw": w.grad.tolist()}))
`;

Deno.test({
  name: "rmsnorm: matches Hugging Face-style PyTorch code in f32",
  ignore: python === null,
  fn: async () => {
    const gpu = await getDevice();
    const t = 33, h = 130;
    const r = rng(44);
    const x = Float32Array.from(randn(r, t * h, 3)), w = Float32Array.from(randn(r, h));
    const dy = Float32Array.from(randn(r, t * h));
    const request = { t, h, eps: EPS, x: [...x], w: [...w], dy: [...dy] };
    const pt = await runPythonJson(python!, TORCH_RMSNORM, request) as {
      y: number[];
      dx: number[];
      dw: number[];
    };
    const tx = gpu.fromArray(x, [t, h]), tw = gpu.fromArray(w, [h]), tdy = gpu.fromArray(dy, [t, h]);
    const { y, rstd } = rmsnormForward(gpu, tx, tw, EPS);
    const dw = gpu.zeros([h]);
    const dx = rmsnormBackward(gpu, tdy, tx, tw, rstd, dw);
    // Both sides are f32 with different summation orders: the float64 bounds above, doubled.
    assertClose(await y.read(), pt.y, { atol: 1e-30, rtol: 4e-6 }, "y vs torch");
    assertClose(await dx.read(), pt.dx, { atol: 1e-5, rtol: 1e-5 }, "dx vs torch");
    assertClose(await dw.read(), pt.dw, { atol: 1e-5, rtol: 1e-5 }, "dw vs torch");
    for (const v of [tx, tw, tdy, y, rstd, dw, dx]) v.release();
  },
});

Deno.test("rmsnorm: bad arguments name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const x = gpu.zeros([4, 6]), w = gpu.zeros([6]), rstd = gpu.zeros([4]), dw = gpu.zeros([6]);
  const bad = [
    gpu.zeros([4, 6], "i32"),
    gpu.zeros([5]),
    gpu.zeros([3]),
    gpu.zeros([4, 5]),
    gpu.zeros([6], "f16"),
  ];
  await assertThrowsWith(() => rmsnormForward(gpu, bad[0], w, EPS), "rmsnorm.forward", `"x"`, "i32");
  await assertThrowsWith(() => rmsnormForward(gpu, x, bad[1], EPS), "rmsnorm.forward", `"w"`, "[6]", "[5]");
  await assertThrowsWith(() => rmsnormForward(gpu, x, w, -1), "rmsnorm.forward", `"eps"`);
  await assertThrowsWith(() => rmsnormForward(gpu, x, w, EPS, { rstd: bad[2] }), "rmsnorm.forward", `"rstd"`);
  await assertThrowsWith(() => rmsnormBackward(gpu, bad[3], x, w, rstd, dw), "rmsnorm.backward", `"dy"`);
  await assertThrowsWith(() => rmsnormForward(gpu, x, w, EPS, { y: x }), "rmsnorm.forward", `"y"`, "share");
  await assertThrowsWith(
    () => rmsnormBackward(gpu, x, x, w, rstd, dw, { dx: x }),
    "rmsnorm.backward",
    `"dx"`,
  );
  await assertThrowsWith(() => rmsnormBackward(gpu, x, x, w, bad[2], dw), "rmsnorm.backward", `"rstd"`);
  await assertThrowsWith(
    () => rmsnormBackward(gpu, x, x, w, rstd, bad[4]),
    "rmsnorm.backward",
    `"dw"`,
    "f16",
  );
  for (const v of [x, w, rstd, dw, ...bad]) v.release();
});

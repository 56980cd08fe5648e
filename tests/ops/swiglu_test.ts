import { getDevice } from "../../lib/gpu/device.ts";
import {
  swigluBackward,
  swigluBackwardFused,
  swigluForward,
  swigluForwardFused,
} from "../../lib/ops/swiglu.ts";
import { assertThrowsWith, dot, f32, finiteDiff, randn, rng } from "../support/numeric.ts";
import { assertWithin, gpuCentralDiff, sameBits } from "../support/kernel_checks.ts";

/** Unit roundoff of f32. */
const U = 2 ** -24;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function refForward(g: Float64Array, u: Float64Array): Float64Array {
  return g.map((x, i) => x * sigmoid(x) * u[i]);
}

function refBackward(dy: Float64Array, g: Float64Array, u: Float64Array) {
  const dgate = g.map((x, i) => {
    const s = sigmoid(x);
    return dy[i] * u[i] * s * (1 + x * (1 - s));
  });
  const dup = g.map((x, i) => dy[i] * x * sigmoid(x));
  return { dgate, dup };
}

/**
 * Relative error budget of the kernel at gate value g, in units of u. WGSL only promises exp to within
 * 3 + 2|x| ulp (2u each); sigmoid through exp(−|g|) then adds, divides and multiplies (~3u), and the
 * products with g, up and dy a few more. Denormal results may flush to zero: an absolute floor of 1e-35.
 */
const budget = (g: number) => 2 * (3 + 2 * Math.abs(g)) + 10;

/** Gate values: N(0, 3²) plus the extremes where a naive exp(−x) overflows or 1 − s cancels. */
function drawGate(r: () => number, n: number): Float64Array {
  const g = f32(randn(r, n, 3));
  const extremes = [0, -1.278, 20, -20, 90, -90, 200, -200, 1e4, -1e4];
  for (let i = 0; i < Math.min(n, extremes.length); i++) g[Math.floor(r() * n)] = extremes[i];
  return f32(g);
}

for (const [t, cols] of [[1, 7], [7, 33], [33, 130], [130, 300]]) {
  Deno.test(`swiglu: [${t}, ${cols}] forward and backward, separate and fused, match float64`, async () => {
    const gpu = await getDevice();
    const r = rng(t * 100 + cols);
    const n = t * cols;
    const g = drawGate(r, n), u = f32(randn(r, n)), dy = f32(randn(r, n));
    const tg = gpu.fromArray(g, [t, cols]),
      tu = gpu.fromArray(u, [t, cols]),
      tdy = gpu.fromArray(dy, [t, cols]);
    const y = swigluForward(gpu, tg, tu);
    const yRef = refForward(g, u);
    const gy = await y.read();
    assertWithin(gy, yRef, yRef.map((v, i) => Math.abs(v) * budget(g[i]) * U + 1e-35), "y");
    for (const v of gy) if (!Number.isFinite(v)) throw new Error("non-finite output for extreme gates");

    const { dgate, dup } = swigluBackward(gpu, tdy, tg, tu);
    const b = refBackward(dy, g, u);
    // silu'(g) = s·(1 + g·(1 − s)) passes through 0 near g = −1.278, so its error is relative to the
    // magnitude of the terms, s·(1 + |g|·(1 − s)), not to the result.
    const dgBound = g.map((x, i) => {
      const s = sigmoid(x);
      return Math.abs(dy[i] * u[i]) * s * (1 + Math.abs(x) * (1 - s)) * budget(x) * U + 1e-35;
    });
    const gdg = await dgate.read(), gdu = await dup.read();
    assertWithin(gdg, b.dgate, dgBound, "dgate");
    assertWithin(gdu, b.dup, b.dup.map((v, i) => Math.abs(v) * budget(g[i]) * U + 1e-35), "dup");

    // Fused [gate | up] rows give the same bits as the separate form.
    const gu = new Float64Array(2 * n);
    for (let i = 0; i < t; i++) {
      gu.set(g.subarray(i * cols, (i + 1) * cols), 2 * i * cols);
      gu.set(u.subarray(i * cols, (i + 1) * cols), (2 * i + 1) * cols);
    }
    const tgu = gpu.fromArray(gu, [t, 2 * cols]);
    const yf = swigluForwardFused(gpu, tgu);
    sameBits(await yf.read() as Float32Array, gy as Float32Array, "fused forward");
    const dgu = await swigluBackwardFused(gpu, tdy, tgu).read();
    for (let i = 0; i < t; i++) {
      sameBits(
        dgu.subarray(2 * i * cols, (2 * i + 1) * cols) as Float32Array,
        gdg.subarray(i * cols, (i + 1) * cols) as Float32Array,
        `fused dgate row ${i}`,
      );
      sameBits(
        dgu.subarray((2 * i + 1) * cols, (2 * i + 2) * cols) as Float32Array,
        gdu.subarray(i * cols, (i + 1) * cols) as Float32Array,
        `fused dup row ${i}`,
      );
    }

    // Determinism.
    const again = swigluBackward(gpu, tdy, tg, tu);
    sameBits(await again.dgate.read() as Float32Array, gdg as Float32Array, "dgate twice");
    for (const x of [tg, tu, tdy, y, dgate, dup, tgu, yf, again.dgate, again.dup]) x.release();
  });
}

Deno.test("swiglu: reference backward is the derivative of the reference forward", () => {
  const r = rng(2);
  const n = 12;
  const g = f32(randn(r, n, 3)), u = f32(randn(r, n)), dy = f32(randn(r, n));
  const b = refBackward(dy, g, u);
  const fdg = finiteDiff((v) => dot(dy, refForward(v, u)), g);
  const fdu = finiteDiff((v) => dot(dy, refForward(g, v)), u);
  // Central differences with h = 1e-6: truncation ~h²·|L'''| ~ 1e-12, rounding ~1e-16·|L|/h ~ 1e-9.
  assertWithin(fdg, b.dgate, b.dgate.map((v) => 1e-8 + 1e-7 * Math.abs(v)), "dgate vs FD");
  assertWithin(fdu, b.dup, b.dup.map((v) => 1e-8 + 1e-7 * Math.abs(v)), "dup vs FD");
});

Deno.test("swiglu: GPU backward matches finite differences of the GPU forward", async () => {
  const gpu = await getDevice();
  const r = rng(3);
  const t = 3, cols = 5, n = t * cols;
  const g = Float32Array.from(randn(r, n, 2)), u = Float32Array.from(randn(r, n)), dy = f32(randn(r, n));
  const tg = gpu.fromArray(g, [t, cols]),
    tu = gpu.fromArray(u, [t, cols]),
    tdy = gpu.fromArray(dy, [t, cols]);
  const grads = swigluBackward(gpu, tdy, tg, tu);
  const dg = await grads.dgate.read(), du = await grads.dup.read();
  const loss = async () => {
    const y = swigluForward(gpu, tg, tu);
    const l = dot(dy, await y.read());
    y.release();
    return l;
  };
  // gate: step 2^-6; one output changes, its f32 error ~20u·|dy·y| ≈ 1e-5 / 2^-5 ≈ 4e-4, and the
  // truncation error step²/6·|dy·up·silu'''| is ~1e-4.
  for (const i of [0, 6, n - 1]) {
    assertWithin(
      [dg[i]],
      [await gpuCentralDiff(loss, g, tg, i, 2 ** -6)],
      [1e-3 * (1 + Math.abs(dg[i]))],
      `dgate[${i}]`,
    );
  }
  // up: L is linear in up, so step 0.5 leaves only rounding noise ~20u·|dy·y| / 1.
  for (const i of [1, 9]) {
    assertWithin(
      [du[i]],
      [await gpuCentralDiff(loss, u, tu, i, 0.5)],
      [1e-5 * (1 + Math.abs(du[i]))],
      `dup[${i}]`,
    );
  }
  for (const x of [tg, tu, tdy, grads.dgate, grads.dup]) x.release();
});

Deno.test("swiglu: bad arguments name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const a = gpu.zeros([3, 4]), b = gpu.zeros([3, 4]);
  const wrong = gpu.zeros([4, 3]), ints = gpu.zeros([3, 4], "i32"), odd = gpu.zeros([3, 5]);
  await assertThrowsWith(() => swigluForward(gpu, ints, b), "swiglu.forward", `"gate"`, "i32");
  await assertThrowsWith(() => swigluForward(gpu, a, wrong), "swiglu.forward", `"up"`, "[3, 4]", "[4, 3]");
  await assertThrowsWith(() => swigluForward(gpu, a, b, a), "swiglu.forward", `"y"`, "share");
  await assertThrowsWith(() => swigluForwardFused(gpu, odd), "swiglu.forward", `"gateUp"`, "even");
  await assertThrowsWith(() => swigluBackward(gpu, wrong, a, b), "swiglu.backward", `"dy"`);
  await assertThrowsWith(() => swigluBackward(gpu, a, a, b, { dup: wrong }), "swiglu.backward", `"dup"`);
  await assertThrowsWith(() => swigluBackwardFused(gpu, a, odd), "swiglu.backward_fused", `"gateUp"`);
  await assertThrowsWith(
    () => swigluBackwardFused(gpu, wrong, gpu.zeros([3, 8])),
    "swiglu.backward_fused",
    `"dy"`,
  );
  for (const x of [a, b, wrong, ints, odd]) x.release();
});

/**
 * The LoRA linear layer (lib/ops/lora.ts) against float64: y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ forward, dx, dA, dB
 * backward (the float64 backward checked against finite differences of the float64 forward, the GPU's
 * against finite differences of the GPU forward), and W + s·B·A merged into f32, bf16 and f16 tensors, on
 * odd shapes, ranks 1 to 8, f32 and bf16 base weights.
 */
import { getDevice } from "../../lib/gpu/device.ts";
import { bf16BitsToF32, f32ToBf16Bits } from "../../lib/gpu/dtype.ts";
import { linear, linearBackward } from "../../lib/ops/matmul.ts";
import { loraBackward, type LoraFactors, loraForward, loraMerge } from "../../lib/ops/lora.ts";
import { assertClose, assertThrowsWith, dot, f32, finiteDiff, randn, rng } from "../support/numeric.ts";

/** [T, in, out, r]: odd widths, a single row, rank 1, a rank above a vec4 and one row shorter than r. */
const SHAPES: [number, number, number, number][] = [
  [5, 13, 7, 3],
  [1, 4, 9, 1],
  [33, 20, 17, 8],
  [3, 9, 6, 5],
];

interface Problem {
  t: number;
  inF: number;
  outF: number;
  r: number;
  s: number;
  x: Float64Array;
  w: Float64Array;
  bias: Float64Array;
  a: Float64Array;
  b: Float64Array;
}

function problem([t, inF, outF, r]: number[], seed: number, bf16 = false): Problem {
  const g = rng(seed);
  const w = f32(randn(g, outF * inF, 0.5));
  return {
    t,
    inF,
    outF,
    r,
    s: 16 / r,
    x: f32(randn(g, t * inF)),
    // The reference sees exactly the weights the GPU reads.
    w: bf16 ? Float64Array.from(bf16BitsToF32(f32ToBf16Bits(w))) : w,
    bias: f32(randn(g, outF)),
    a: f32(randn(g, r * inF, 0.3)),
    b: f32(randn(g, outF * r, 0.3)),
  };
}

/** float64 y = x·Wᵀ + bias + s·(x·Aᵀ)·Bᵀ, computed through the merged weight W + s·B·A. */
function forwardRef(p: Problem, x = p.x, a = p.a, b = p.b): Float64Array {
  const merged = mergeRef(p, a, b);
  const y = new Float64Array(p.t * p.outF);
  for (let i = 0; i < p.t; i++) {
    for (let o = 0; o < p.outF; o++) {
      let acc = p.bias[o];
      for (let k = 0; k < p.inF; k++) acc += x[i * p.inF + k] * merged[o * p.inF + k];
      y[i * p.outF + o] = acc;
    }
  }
  return y;
}

function mergeRef(p: Problem, a = p.a, b = p.b): Float64Array {
  const out = Float64Array.from(p.w);
  for (let o = 0; o < p.outF; o++) {
    for (let k = 0; k < p.inF; k++) {
      let d = 0;
      for (let j = 0; j < p.r; j++) d += b[o * p.r + j] * a[j * p.inF + k];
      out[o * p.inF + k] += p.s * d;
    }
  }
  return out;
}

/** float64 backward: u = x·Aᵀ; dB = s·dyᵀ·u; du = s·dy·B; dA = duᵀ·x; dx = dy·W + du·A. */
function backwardRef(p: Problem, dy: Float64Array) {
  const { t, inF, outF, r, s } = p;
  const u = new Float64Array(t * r), du = new Float64Array(t * r);
  for (let i = 0; i < t; i++) {
    for (let j = 0; j < r; j++) {
      for (let k = 0; k < inF; k++) u[i * r + j] += p.x[i * inF + k] * p.a[j * inF + k];
      for (let o = 0; o < outF; o++) du[i * r + j] += s * dy[i * outF + o] * p.b[o * r + j];
    }
  }
  const dx = new Float64Array(t * inF), da = new Float64Array(r * inF), db = new Float64Array(outF * r);
  for (let i = 0; i < t; i++) {
    for (let k = 0; k < inF; k++) {
      for (let o = 0; o < outF; o++) dx[i * inF + k] += dy[i * outF + o] * p.w[o * inF + k];
      for (let j = 0; j < r; j++) {
        dx[i * inF + k] += du[i * r + j] * p.a[j * inF + k];
        da[j * inF + k] += du[i * r + j] * p.x[i * inF + k];
      }
    }
    for (let o = 0; o < outF; o++) {
      for (let j = 0; j < r; j++) db[o * r + j] += s * dy[i * outF + o] * u[i * r + j];
    }
  }
  return { dx, da, db };
}

Deno.test("lora: the float64 backward is the derivative of the float64 forward", () => {
  const p = problem([4, 7, 5, 3], 1);
  const dy = randn(rng(2), p.t * p.outF);
  const g = backwardRef(p, dy);
  // L = <dy, y> is linear in x and in each factor separately: central differences are exact but for
  // float64 rounding.
  const tol = { atol: 1e-7, rtol: 1e-7 };
  assertClose(finiteDiff((v) => dot(dy, forwardRef(p, v)), Float64Array.from(p.x), 1e-3), g.dx, tol, "dx");
  assertClose(
    finiteDiff((v) => dot(dy, forwardRef(p, p.x, v)), Float64Array.from(p.a), 1e-3),
    g.da,
    tol,
    "dA",
  );
  assertClose(
    finiteDiff((v) => dot(dy, forwardRef(p, p.x, p.a, v)), Float64Array.from(p.b), 1e-3),
    g.db,
    tol,
    "dB",
  );
});

/** The factors and inputs of `p` on the GPU. */
function upload(gpu: Awaited<ReturnType<typeof getDevice>>, p: Problem, wDtype: "f32" | "bf16" = "f32") {
  const f: LoraFactors = {
    a: gpu.fromArray(Float32Array.from(p.a), [p.r, p.inF]),
    b: gpu.fromArray(Float32Array.from(p.b), [p.outF, p.r]),
    scale: p.s,
  };
  return {
    f,
    x: gpu.fromArray(Float32Array.from(p.x), [p.t, p.inF]),
    w: gpu.fromArray(Float32Array.from(p.w), [p.outF, p.inF], wDtype),
    bias: gpu.fromArray(Float32Array.from(p.bias), [p.outF]),
    release() {
      for (const t of [f.a, f.b, this.x, this.w, this.bias]) t.release();
    },
  };
}

/** f32 sums of `terms` terms of size `scale`: a bound on their rounding well above what the kernels reach. */
const sumTol = (terms: number, scale: number) => ({ atol: 4 * (terms + 4) * 1.2e-7 * scale, rtol: 1e-6 });

for (const [i, shape] of SHAPES.entries()) {
  for (const wDtype of ["f32", "bf16"] as const) {
    Deno.test(`lora: (T, in, out, r) = (${shape}) with ${wDtype} W: forward and backward match float64`, async () => {
      const gpu = await getDevice();
      const p = problem(shape, 10 + i, wDtype === "bf16");
      const dev = upload(gpu, p, wDtype);
      const y = linear(gpu, dev.x, dev.w, dev.bias);
      loraForward(gpu, dev.x, dev.f, y);
      const scale = 6 * (1 + p.s);
      assertClose(await y.read(), forwardRef(p), sumTol(p.inF + p.r, scale), "y");
      const dy = f32(randn(rng(20 + i), p.t * p.outF));
      const tdy = gpu.fromArray(Float32Array.from(dy), [p.t, p.outF]);
      const dx = linearBackward(gpu, tdy, dev.x, dev.w, { dw: false }).dx!;
      const da = gpu.zeros([p.r, p.inF]), db = gpu.zeros([p.outF, p.r]);
      loraBackward(gpu, tdy, dev.x, dev.f, { dx, da, db });
      const ref = backwardRef(p, dy);
      assertClose(await dx.read(), ref.dx, sumTol(p.outF + p.r, scale), "dx");
      assertClose(await da.read(), ref.da, sumTol(p.t * p.outF, scale), "dA");
      assertClose(await db.read(), ref.db, sumTol(p.t * p.inF, scale), "dB");
      // The gradients add to what the buffers hold (micro-batch accumulation).
      loraBackward(gpu, tdy, dev.x, dev.f, { dx, da, db });
      assertClose(await da.read(), ref.da.map((v) => 2 * v), sumTol(p.t * p.outF, 2 * scale), "dA twice");
      assertClose(await db.read(), ref.db.map((v) => 2 * v), sumTol(p.t * p.inF, 2 * scale), "dB twice");
      for (const t of [y, tdy, dx, da, db]) t.release();
      dev.release();
    });
  }
}

Deno.test("lora: GPU gradients of A, B and x match finite differences of the GPU forward", async () => {
  const gpu = await getDevice();
  const p = problem([6, 11, 9, 4], 30);
  const dev = upload(gpu, p);
  const dy = f32(randn(rng(31), p.t * p.outF));
  const tdy = gpu.fromArray(Float32Array.from(dy), [p.t, p.outF]);
  const dx = linearBackward(gpu, tdy, dev.x, dev.w, { dw: false }).dx!;
  const da = gpu.zeros([p.r, p.inF]), db = gpu.zeros([p.outF, p.r]);
  loraBackward(gpu, tdy, dev.x, dev.f, { dx, da, db });
  const grads = { a: await da.read(), b: await db.read(), x: await dx.read() };
  const loss = async () => {
    const y = linear(gpu, dev.x, dev.w, dev.bias);
    loraForward(gpu, dev.x, dev.f, y);
    const v = dot(dy, await y.read());
    y.release();
    return v;
  };
  // L is linear in each factor, so a step of 0.25 has no truncation error: what is left is the f32
  // rounding of the two forwards, a few units of 1e-6 of |L| over the step.
  for (const [name, host, tensor] of [["a", p.a, dev.f.a], ["b", p.b, dev.f.b], ["x", p.x, dev.x]] as const) {
    const g = rng(name.charCodeAt(0));
    for (let trial = 0; trial < 5; trial++) {
      const at = Math.floor(g() * host.length);
      const probe = Float32Array.from(host);
      const up = Math.fround(host[at] + 0.25), down = Math.fround(host[at] - 0.25);
      probe[at] = up;
      tensor.write(probe);
      const lUp = await loss();
      probe[at] = down;
      tensor.write(probe);
      const lDown = await loss();
      tensor.write(Float32Array.from(host));
      const fd = (lUp - lDown) / (up - down);
      const tol = 2e-5 * (Math.abs(lUp) + Math.abs(lDown)) / (up - down) + 1e-5;
      if (!(Math.abs(fd - grads[name][at]) <= tol)) {
        throw new Error(`d${name}[${at}]: GPU ${grads[name][at]}, finite difference ${fd} (tol ${tol})`);
      }
    }
  }
  for (const t of [tdy, dx, da, db]) t.release();
  dev.release();
});

Deno.test("lora: loraMerge writes W + s·B·A into f32, bf16 and f16 (rounded once from the f32 sum)", async () => {
  const gpu = await getDevice();
  for (const [i, shape] of SHAPES.entries()) {
    for (const wDtype of ["f32", "bf16"] as const) {
      const p = problem(shape, 40 + i, wDtype === "bf16");
      const dev = upload(gpu, p, wDtype);
      const want = mergeRef(p);
      const merged = loraMerge(gpu, dev.w, dev.f);
      const got = await merged.read() as Float32Array;
      assertClose(
        got,
        want,
        { atol: 4 * (p.r + 2) * 1.2e-7 * (1 + p.s), rtol: 1e-6 },
        `f32 merge of ${shape}`,
      );
      const outs = [["bf16", gpu.emptyExact([p.outF, p.inF], "bf16")]] as [
        string,
        ReturnType<typeof gpu.empty>,
      ][];
      if (gpu.features.f16) outs.push(["f16", gpu.emptyExact([p.outF, p.inF], "f16")]);
      for (const [dtype, out] of outs) {
        loraMerge(gpu, dev.w, dev.f, out);
        const rounded = dtype === "bf16"
          ? bf16BitsToF32(f32ToBf16Bits(got))
          : Float32Array.from(new Float16Array(got));
        assertClose(await out.read(), rounded, { atol: 0 }, `${dtype} merge of ${shape}`);
        out.release();
      }
      merged.release();
      dev.release();
    }
  }
});

Deno.test("lora: mismatched factors, inputs and outputs name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const p = problem([2, 5, 4, 2], 50);
  const dev = upload(gpu, p);
  const y = gpu.zeros([2, 4]);
  const wrongA = { ...dev.f, a: gpu.zeros([2, 6]) };
  await assertThrowsWith(() => loraForward(gpu, dev.x, wrongA, y), "loraForward", `"a"`, "[*, 5]", "[2, 6]");
  const wrongB = { ...dev.f, b: gpu.zeros([4, 3]) };
  await assertThrowsWith(() => loraForward(gpu, dev.x, wrongB, y), "loraForward", `"b"`, "[*, 2]", "[4, 3]");
  await assertThrowsWith(() => loraForward(gpu, dev.x, { ...dev.f, scale: NaN }, y), "loraForward", "scale");
  const grads = { dx: gpu.zeros([2, 5]), da: gpu.zeros([2, 5]), db: gpu.zeros([4, 3]) };
  await assertThrowsWith(() => loraBackward(gpu, y, dev.x, dev.f, grads), "loraBackward", `"db"`, "[4, 2]");
  await assertThrowsWith(() => loraMerge(gpu, dev.w, dev.f, dev.w), "loraMerge", `"out"`, "separate");
  for (const t of [y, wrongA.a, wrongB.b, grads.dx, grads.da, grads.db]) t.release();
  dev.release();
});

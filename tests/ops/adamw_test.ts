import { getDevice, type Gpu } from "../../lib/gpu/device.ts";
import type { Tensor } from "../../lib/gpu/tensor.ts";
import { AdamW, adamwUpdate, gradNorm } from "../../lib/ops/adamw.ts";
import { assertClose, assertThrowsWith, f32, randn, rng } from "../support/numeric.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";

const EPS = 2 ** -24; // f32 unit roundoff

/** Float64 reference of clip_grad_norm_ + torch.optim.AdamW over a list of flat tensors. */
class RefAdamW {
  m: Float64Array[];
  v: Float64Array[];
  t = 0;
  constructor(
    public p: Float64Array[],
    readonly o: { beta1: number; beta2: number; eps: number; wd: number[]; maxNorm: number },
  ) {
    this.m = p.map((x) => new Float64Array(x.length));
    this.v = p.map((x) => new Float64Array(x.length));
  }

  /** Returns the norm before clipping. */
  step(grads: Float64Array[], lr: number): number {
    const norm = Math.sqrt(grads.reduce((a, g) => a + g.reduce((b, x) => b + x * x, 0), 0));
    const clip = this.o.maxNorm > 0 && Number.isFinite(this.o.maxNorm)
      ? Math.min(1, this.o.maxNorm / (norm + 1e-6))
      : 1;
    this.t++;
    const { beta1, beta2, eps } = this.o;
    const bc1 = 1 - beta1 ** this.t, bc2 = 1 - beta2 ** this.t;
    this.p.forEach((p, k) => {
      for (let i = 0; i < p.length; i++) {
        const g = grads[k][i] * clip;
        p[i] *= 1 - lr * this.o.wd[k];
        this.m[k][i] = beta1 * this.m[k][i] + (1 - beta1) * g;
        this.v[k][i] = beta2 * this.v[k][i] + (1 - beta2) * g * g;
        p[i] -= (lr / bc1) * this.m[k][i] / (Math.sqrt(this.v[k][i] / bc2) + eps);
      }
    });
    return norm;
  }
}

function upload(gpu: Gpu, arrays: Float64Array[], shapes: number[][]): Tensor[] {
  return arrays.map((a, i) => gpu.fromArray(a, shapes[i]));
}

const SHAPES = [[1], [7], [33], [130], [33, 7], [9000]];

Deno.test("adamw: gradient norm and clip factor match float64 (several partial chunks, many tensors)", async () => {
  const gpu = await getDevice();
  const r = rng(1);
  const shapes = [...SHAPES, [70_001], ...Array.from({ length: 40 }, () => [1 + Math.floor(r() * 300)])];
  const grads = shapes.map((s) => f32(randn(r, s.reduce((a, b) => a * b, 1), 0.3)));
  const tg = upload(gpu, grads, shapes);
  const want = Math.sqrt(grads.reduce((a, g) => a + g.reduce((b, x) => b + x * x, 0), 0));
  const n = shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  // Sum of squares: 16 sequential terms per thread + 8 tree levels per chunk, then ceil(P/256) + 8 over
  // the P partials: a relative error ≤ (16 + 8 + ceil(P/256) + 8 + 2)·ε, halved by sqrt, plus sqrt's ε.
  const partialCount = shapes.reduce((a, s) => a + Math.ceil(s.reduce((x, y) => x * y, 1) / 4096), 0);
  const rtol = ((34 + Math.ceil(partialCount / 256)) / 2 + 1) * EPS;
  for (const maxNorm of [0, Infinity, want * 2, want / 3]) {
    const { norm, clip } = gradNorm(gpu, tg, maxNorm);
    const [gotNorm] = await norm.read();
    const [gotClip] = await clip.read();
    assertClose([gotNorm], [want], { atol: 0, rtol }, `norm of ${n} elements`);
    const wantClip = maxNorm > 0 && Number.isFinite(maxNorm) ? Math.min(1, maxNorm / (want + 1e-6)) : 1;
    // The clip factor is one division of f32 values: the norm's error plus 2 roundings.
    assertClose([gotClip], [wantClip], { atol: 0, rtol: rtol + 3 * EPS }, `clip for maxNorm ${maxNorm}`);
    if (wantClip === 1 && gotClip !== 1) throw new Error(`clip ${gotClip} where none is due`);
    norm.release();
    clip.release();
  }
  // Fixed-order reduction: a second run is bitwise equal.
  const a = gradNorm(gpu, tg, 1), b = gradNorm(gpu, tg, 1);
  assertClose(await a.norm.read(), await b.norm.read(), { atol: 0 }, "run to run");
  for (const t of [...tg, a.norm, a.clip, b.norm, b.clip]) t.release();
});

function randomProblem(seed: number, shapes: number[][], steps: number) {
  const r = rng(seed);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const params = shapes.map((s) => f32(randn(r, size(s))));
  const grads = Array.from({ length: steps }, () => shapes.map((s) => f32(randn(r, size(s), 0.5))));
  return { params, grads };
}

Deno.test("adamw: five steps match the float64 AdamW formula, with clipping, per-tensor decay and an lr schedule", async () => {
  const gpu = await getDevice();
  const r = rng(2);
  const shapes = [...SHAPES, ...Array.from({ length: 30 }, () => [1 + Math.floor(r() * 200)])];
  const steps = 5;
  const { params, grads } = randomProblem(3, shapes, steps);
  const wd = shapes.map((_, i) => (i % 3 === 0 ? 0 : 0.1));
  const lrs = [1e-2, 3e-2, 2e-2, 1e-2, 5e-3];
  const maxNorm = 20; // the grads' norm is ~25-30: clipping is active
  const ref = new RefAdamW(params.map((p) => p.slice()), { beta1: 0.9, beta2: 0.95, eps: 1e-8, wd, maxNorm });
  const tp = upload(gpu, params, shapes);
  const opt = new AdamW(gpu, tp, {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: wd,
    maxGradNorm: maxNorm,
  });
  let clipped = 0;
  for (let s = 0; s < steps; s++) {
    const tg = upload(gpu, grads[s], shapes);
    opt.step(tg, lrs[s]);
    const wantNorm = ref.step(grads[s], lrs[s]);
    if (wantNorm > maxNorm) clipped++;
    // Norm of ~10^4 squares: ≤ 40ε relative (see the norm test).
    assertClose(await opt.gradNorm.read(), [wantNorm], { atol: 0, rtol: 40 * EPS }, `step ${s + 1} norm`);
    for (const t of tg) t.release();
  }
  if (clipped < 3) throw new Error(`clipping was active in only ${clipped} steps`);
  if (opt.stepCount !== steps) throw new Error(`stepCount ${opt.stepCount}`);
  for (let k = 0; k < shapes.length; k++) {
    // Per step each element sees ~10 f32 roundings of O(1) quantities; the update is lr·O(1) and the
    // ratio m/sqrt(v) has condition ~1, so |Δp| ≲ steps·(lr·20ε + 2ε·|p|). Moments: a few ε per step.
    const got = await tp[k].read();
    assertClose(got, ref.p[k], { atol: steps * 0.03 * 20 * EPS, rtol: steps * 2 * EPS }, `param ${k}`);
    assertClose(await opt.m[k].read(), ref.m[k], { atol: 1e-7, rtol: steps * 8 * EPS }, `m ${k}`);
    assertClose(await opt.v[k].read(), ref.v[k], { atol: 1e-9, rtol: steps * 8 * EPS }, `v ${k}`);
  }
  opt.release();
  for (const t of tp) t.release();
});

Deno.test("adamw: tensors over the storage binding limit are updated in pieces", async () => {
  const gpu = await getDevice();
  // The same device with a 16 KiB binding limit: a 10,000-element tensor must go in 3 views of ≤ 4096.
  const small = Object.create(gpu, {
    limits: { value: { ...gpu.limits, maxStorageBufferBindingSize: 16384 } },
  }) as Gpu;
  const shapes = [[10_000], [7]];
  const { params, grads } = randomProblem(5, shapes, 2);
  const ref = new RefAdamW(params.map((p) => p.slice()), {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    wd: [0.1, 0.1],
    maxNorm: 1,
  });
  const tp = upload(gpu, params, shapes);
  const opt = new AdamW(small, tp, { weightDecay: 0.1, maxGradNorm: 1 });
  for (const [s, lr] of [1e-2, 2e-2].entries()) {
    const tg = upload(gpu, grads[s], shapes);
    opt.step(tg, lr);
    const wantNorm = ref.step(grads[s], lr);
    assertClose(await opt.gradNorm.read(), [wantNorm], { atol: 0, rtol: 40 * EPS }, `step ${s + 1} norm`);
    for (const t of tg) t.release();
  }
  // As in the five-step test: ~20ε of lr per step plus 2ε of |p| per step.
  for (const k of [0, 1]) {
    assertClose(await tp[k].read(), ref.p[k], { atol: 2 * 0.02 * 20 * EPS, rtol: 4 * EPS }, `param ${k}`);
  }
  opt.release();
  for (const t of tp) t.release();
});

const python = await findPython("torch");
if (python === null) skipNote("adamw: torch cross-check", "torch");

const TORCH_SCRIPT = `
import json, sys, torch
d = json.load(sys.stdin)
ps = [torch.nn.Parameter(torch.tensor(p, dtype=torch.float32)) for p in d["params"]]
groups = [{"params": [p], "weight_decay": w} for p, w in zip(ps, d["wd"])]
opt = torch.optim.AdamW(groups, lr=1.0, betas=(d["beta1"], d["beta2"]), eps=d["eps"])
norms = []
for grads, lr in zip(d["grads"], d["lrs"]):
    for p, g in zip(ps, grads):
        p.grad = torch.tensor(g, dtype=torch.float32)
    norms.append(float(torch.nn.utils.clip_grad_norm_(ps, d["max_norm"])))
    for g in opt.param_groups:
        g["lr"] = lr
    opt.step()
json.dump({"params": [p.detach().tolist() for p in ps], "norms": norms}, sys.stdout)
`;

Deno.test({
  name: "adamw: matches torch.optim.AdamW with clip_grad_norm_ (skipped without torch)",
  ignore: python === null,
  fn: async () => {
    const gpu = await getDevice();
    const shapes = SHAPES;
    const steps = 4;
    const { params, grads } = randomProblem(4, shapes, steps);
    const wd = shapes.map((_, i) => (i % 2 === 0 ? 0.05 : 0));
    const lrs = [1e-2, 2e-2, 1e-2, 5e-3];
    const maxNorm = 15;
    const input = {
      params: params.map((p) => Array.from(p)),
      grads: grads.map((gs) => gs.map((g) => Array.from(g))),
      wd,
      lrs,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      max_norm: maxNorm,
    };
    const torch = await runPythonJson(python!, TORCH_SCRIPT, input) as {
      params: number[][];
      norms: number[];
    };
    const tp = upload(gpu, params, shapes);
    const opt = new AdamW(gpu, tp, {
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: wd,
      maxGradNorm: maxNorm,
    });
    for (let s = 0; s < steps; s++) {
      const tg = upload(gpu, grads[s], shapes);
      opt.step(tg, lrs[s]);
      // Both sum ~10^4 squares in f32 in different orders: ≤ 40ε relative each.
      assertClose(
        await opt.gradNorm.read(),
        [torch.norms[s]],
        { atol: 0, rtol: 80 * EPS },
        `step ${s + 1} norm`,
      );
      for (const t of tg) t.release();
    }
    for (let k = 0; k < shapes.length; k++) {
      // Same f32 formula, different op order and clip factors an ulp apart: a few ulps of lr per step.
      const flat = torch.params[k].flat(Infinity as 1) as number[];
      assertClose(
        await tp[k].read(),
        flat,
        { atol: steps * 0.02 * 20 * EPS, rtol: steps * 2 * EPS },
        `param ${k}`,
      );
    }
    opt.release();
    for (const t of tp) t.release();
  },
});

Deno.test("adamw: bad arguments name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const p = gpu.zeros([3, 4]);
  const q = gpu.zeros([5]);
  const i = gpu.zeros([12], "i32");
  const clip = gpu.fromArray([1], [1]);
  const h = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 };
  await assertThrowsWith(() => gradNorm(gpu, [p, i], 1), "adamw.grad_norm", `"grads[1]"`, "f32");
  await assertThrowsWith(() => gradNorm(gpu, [p], NaN), "adamw.grad_norm", `"maxNorm"`);
  await assertThrowsWith(() => gradNorm(gpu, [p], 1, { norm: q }), "adamw.grad_norm", `"norm"`, "[1]");
  await assertThrowsWith(() => adamwUpdate(gpu, p, q, p, p, clip, h), "adamw.update", `"grad"`, "12");
  await assertThrowsWith(() => adamwUpdate(gpu, p, p, p, i, clip, h), "adamw.update", `"v"`, "f32");
  await assertThrowsWith(() => adamwUpdate(gpu, p, p, p, p, q, h), "adamw.update", `"clip"`);
  await assertThrowsWith(
    () => adamwUpdate(gpu, p, p, p, p, clip, { ...h, step: 0 }),
    "adamw.update",
    `"step"`,
  );
  await assertThrowsWith(
    () => adamwUpdate(gpu, p, p, p, p, clip, { ...h, beta2: 1 }),
    "adamw.update",
    `"beta2"`,
  );
  await assertThrowsWith(() => adamwUpdate(gpu, p, p, p, p, clip, { ...h, lr: -1 }), "adamw.update", `"lr"`);
  await assertThrowsWith(() => new AdamW(gpu, [p, q], { weightDecay: [0] }), "adamw.update", `"weightDecay"`);
  const opt = new AdamW(gpu, [p]);
  await assertThrowsWith(() => opt.step([p, p]), "adamw.update", `"grads"`);
  opt.release();
  for (const t of [p, q, i, clip]) t.release();
});

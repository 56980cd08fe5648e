import { getDevice } from "../../lib/gpu/device.ts";
import { linear, linearBackward, matmul, matmulNaive, type MatmulOptions } from "../../lib/ops/matmul.ts";
import { assertClose, assertThrowsWith, dot, f32, finiteDiff, randn, rng } from "../support/numeric.ts";
import {
  assertWithin,
  EPS,
  f16,
  type Problem,
  reference,
  shapeA,
  shapeB,
  shapeC,
  upload,
} from "../support/matmul_reference.ts";

// The shared shapes plus multiples of 4 that are not multiples of the 64-wide tile, so every pairing of
// vec4 and scalar loads runs: (7,33,130) scalar/scalar, (68,132,36) vec4/vec4, (33,36,132) with transA
// scalar/vec4, (36,33,132) without transB vec4/scalar. (65,67,129) and (68,132,36) span several tiles
// in every dimension; K = 129 and 130 take 9 steps of BK = 16 with a ragged last one.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 33, 130],
  [130, 7, 33],
  [33, 130, 7],
  [65, 67, 129],
  [68, 132, 36],
  [33, 36, 132],
  [36, 33, 132],
];
const TRANSPOSES = [[false, false], [false, true], [true, false], [true, true]] as const;

for (const [m, n, k] of SHAPES) {
  Deno.test(`matmul: (M,N,K)=(${m},${n},${k}), all transposes, tiled and naive match float64`, async () => {
    const gpu = await getDevice();
    const r = rng(m * 10007 + n * 101 + k);
    for (const [transA, transB] of TRANSPOSES) {
      const p: Problem = { m, n, k, batchA: 0, batchB: 0, transA, transB };
      const a = f32(randn(r, m * k)), b = f32(randn(r, k * n));
      const ta = upload(gpu, a, shapeA(p)), tb = upload(gpu, b, shapeB(p));
      const ref = reference(p, a, b);
      const what = `transA=${transA} transB=${transB}`;
      const tiled = matmul(gpu, ta, tb, { transA, transB });
      const naive = matmulNaive(gpu, ta, tb, { transA, transB });
      assertWithin(await tiled.read(), ref, `tiled ${what}`);
      assertWithin(await naive.read(), ref, `naive ${what}`);
      for (const t of [ta, tb, tiled, naive]) t.release();
    }
  });
}

Deno.test("matmul: alpha, bias and beta accumulation into out; beta = 0 never reads out", async () => {
  const gpu = await getDevice();
  const r = rng(7);
  for (const [m, n, k] of [[65, 67, 129], [68, 132, 36], [1, 1, 1]]) {
    for (const [transA, transB] of TRANSPOSES) {
      const p: Problem = { m, n, k, batchA: 0, batchB: 0, transA, transB };
      const a = f32(randn(r, m * k)), b = f32(randn(r, k * n));
      const bias = f32(randn(r, n)), c0 = f32(randn(r, m * n));
      const ta = upload(gpu, a, shapeA(p)), tb = upload(gpu, b, shapeB(p)), tbias = upload(gpu, bias, [n]);
      const out = upload(gpu, c0, [m, n]);
      const opts: MatmulOptions = { transA, transB, alpha: -0.75, beta: 0.5, bias: tbias, out };
      const ref = reference(p, a, b, { alpha: -0.75, beta: 0.5, bias, c0 });
      if (matmul(gpu, ta, tb, opts) !== out) throw new Error("matmul did not return the given out");
      assertWithin(await out.read(), ref, `tiled (${m},${n},${k}) transA=${transA} transB=${transB}`);
      out.write(c0);
      matmulNaive(gpu, ta, tb, opts);
      assertWithin(await out.read(), ref, `naive (${m},${n},${k}) transA=${transA} transB=${transB}`);
      // NaN in out would survive 0 * NaN if beta = 0 still read it.
      out.write(new Float32Array(m * n).fill(NaN));
      matmul(gpu, ta, tb, { transA, transB, alpha: 2, bias: tbias, out });
      assertWithin(await out.read(), reference(p, a, b, { alpha: 2, bias }), "beta = 0 over NaN");
      for (const t of [ta, tb, tbias, out]) t.release();
    }
  }
});

Deno.test("matmul: batched, and a rank-2 operand broadcast across the batch (attention shapes)", async () => {
  const gpu = await getDevice();
  const r = rng(11);
  const cases: Problem[] = [
    // scores = Q Kᵀ per head, P V per head, a shared weight, a shared left operand
    { m: 33, n: 33, k: 8, batchA: 3, batchB: 3, transA: false, transB: true },
    { m: 33, n: 8, k: 33, batchA: 3, batchB: 3, transA: false, transB: false },
    { m: 7, n: 130, k: 36, batchA: 2, batchB: 0, transA: false, transB: true },
    { m: 65, n: 12, k: 7, batchA: 0, batchB: 4, transA: true, transB: false },
    { m: 68, n: 67, k: 20, batchA: 2, batchB: 2, transA: true, transB: true },
  ];
  for (const p of cases) {
    const a = f32(randn(r, Math.max(p.batchA, 1) * p.m * p.k));
    const b = f32(randn(r, Math.max(p.batchB, 1) * p.k * p.n));
    const ta = upload(gpu, a, shapeA(p)), tb = upload(gpu, b, shapeB(p));
    const alpha = 1 / Math.sqrt(p.k);
    const ref = reference(p, a, b, { alpha });
    const what = JSON.stringify(p);
    const tiled = matmul(gpu, ta, tb, { transA: p.transA, transB: p.transB, alpha });
    const naive = matmulNaive(gpu, ta, tb, { transA: p.transA, transB: p.transB, alpha });
    if (tiled.shape.join() !== shapeC(p).join()) throw new Error(`${what}: out shape [${tiled.shape}]`);
    assertWithin(await tiled.read(), ref, `tiled ${what}`);
    assertWithin(await naive.read(), ref, `naive ${what}`);
    for (const t of [ta, tb, tiled, naive]) t.release();
  }
});

Deno.test("matmul: custom tiles (override constants) give the same result as the defaults", async () => {
  const gpu = await getDevice();
  const r = rng(13);
  const p: Problem = { m: 65, n: 67, k: 129, batchA: 0, batchB: 0, transA: false, transB: true };
  const a = f32(randn(r, p.m * p.k)), b = f32(randn(r, p.k * p.n));
  const ta = upload(gpu, a, shapeA(p)), tb = upload(gpu, b, shapeB(p));
  const ref = reference(p, a, b);
  for (const tiles of [{ wgX: 8, wgY: 8, bk: 8 }, { wgX: 4, wgY: 16, bk: 4 }, { wgX: 32, wgY: 8, bk: 32 }]) {
    const out = matmul(gpu, ta, tb, { transB: true, tiles });
    assertWithin(await out.read(), ref, `tiles ${JSON.stringify(tiles)}`);
    out.release();
  }
  ta.release();
  tb.release();
});

Deno.test("matmul: short products (decode rows) on 8-, 16- and 32-row tiles match float64", async () => {
  const gpu = await getDevice();
  const r = rng(19);
  for (const m of [5, 16, 17, 32]) {
    for (const [transA, transB] of [[false, true], [true, false]]) {
      const p: Problem = { m, n: 67, k: 129, batchA: 0, batchB: 0, transA, transB };
      const a = f32(randn(r, p.m * p.k)), b = f32(randn(r, p.k * p.n));
      const ta = upload(gpu, a, shapeA(p)), tb = upload(gpu, b, shapeB(p));
      const out = matmul(gpu, ta, tb, { transA, transB });
      assertWithin(await out.read(), reference(p, a, b), `M=${m} transA=${transA} transB=${transB}`);
      for (const t of [ta, tb, out]) t.release();
    }
  }
});

Deno.test("matmul: same inputs give bitwise the same outputs", async () => {
  const gpu = await getDevice();
  const r = rng(17);
  const a = gpu.fromArray(f32(randn(r, 65 * 129)), [65, 129]);
  const b = gpu.fromArray(f32(randn(r, 67 * 129)), [67, 129]);
  const first = await matmul(gpu, a, b, { transB: true }).read();
  const again = await matmul(gpu, a, b, { transB: true }).read();
  if (first.some((v, i) => !Object.is(v, again[i]))) throw new Error("two runs differ");
  a.release();
  b.release();
});

const LINEAR_SHAPES: [number, number, number][] = [[1, 1, 1], [7, 33, 130], [130, 7, 33], [33, 130, 7], [
  65,
  67,
  129,
]];

/** float64 y = x wᵀ + b for x [M,K], w [N,K]. */
function linearRef(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  m: number,
  n: number,
  k: number,
) {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = b ? b[j] : 0;
      for (let q = 0; q < k; q++) s += x[i * k + q] * w[j * k + q];
      y[i * n + j] = s;
    }
  }
  return y;
}

/** float64 backward of y = x wᵀ + b: dx = dy w, dw = dyᵀ x, db = column sums of dy. */
function linearBackwardRef(
  dy: Float64Array,
  x: Float64Array,
  w: Float64Array,
  m: number,
  n: number,
  k: number,
) {
  const dx = new Float64Array(m * k), dw = new Float64Array(n * k), db = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const g = dy[i * n + j];
      db[j] += g;
      for (let q = 0; q < k; q++) {
        dx[i * k + q] += g * w[j * k + q];
        dw[j * k + q] += g * x[i * k + q];
      }
    }
  }
  return { dx, dw, db };
}

for (const [m, n, k] of LINEAR_SHAPES) {
  Deno.test(`linear: (M,N,K)=(${m},${n},${k}) forward with and without bias matches float64`, async () => {
    const gpu = await getDevice();
    const r = rng(m * 31 + n * 7 + k);
    const x = f32(randn(r, m * k)), w = f32(randn(r, n * k)), b = f32(randn(r, n));
    const tx = upload(gpu, x, [m, k]), tw = upload(gpu, w, [n, k]), tb = upload(gpu, b, [n]);
    const p: Problem = { m, n, k, batchA: 0, batchB: 0, transA: false, transB: true };
    assertWithin(await linear(gpu, tx, tw, tb).read(), reference(p, x, w, { bias: b }), "with bias");
    assertWithin(await linear(gpu, tx, tw).read(), reference(p, x, w), "without bias");
    for (const t of [tx, tw, tb]) t.release();
  });
}

Deno.test({
  name:
    "linear and matmul: f16 weights accumulate in f32 (only error: the f32 sums over f16-rounded weights)",
  ignore: !(await getDevice()).features.f16,
  fn: async () => {
    const gpu = await getDevice();
    const r = rng(23);
    for (const [m, n, k] of [[7, 33, 130], [65, 67, 129], [68, 132, 36], [1, 1, 1]]) {
      const x = f32(randn(r, m * k)), w = f16(randn(r, n * k)), b = f32(randn(r, n));
      const tx = upload(gpu, x, [m, k]), tw = upload(gpu, w, [n, k], "f16"), tb = upload(gpu, b, [n]);
      // The reference sees exactly the f16-rounded weights, so the f32 accumulation bound still applies.
      const p: Problem = { m, n, k, batchA: 0, batchB: 0, transA: false, transB: true };
      assertWithin(
        await linear(gpu, tx, tw, tb).read(),
        reference(p, x, w, { bias: b }),
        `linear (${m},${n},${k})`,
      );
      // dX = dY W with f16 W, through the non-transposed B path.
      const dy = f32(randn(r, m * n));
      const tdy = upload(gpu, dy, [m, n]);
      const g = linearBackward(gpu, tdy, tx, tw, { dw: false });
      const pdx: Problem = { m, n: k, k: n, batchA: 0, batchB: 0, transA: false, transB: false };
      assertWithin(await g.dx!.read(), reference(pdx, dy, w), `dx with f16 w (${m},${n},${k})`);
      for (const t of [tx, tw, tb, tdy, g.dx!]) t.release();
    }
  },
});

for (const [m, n, k] of LINEAR_SHAPES) {
  Deno.test(`linearBackward: (M,N,K)=(${m},${n},${k}) matches the float64 reference backward`, async () => {
    const gpu = await getDevice();
    const r = rng(m + 1000 * n + 7 * k);
    const x = f32(randn(r, m * k)), w = f32(randn(r, n * k)), dy = f32(randn(r, m * n));
    const tx = upload(gpu, x, [m, k]), tw = upload(gpu, w, [n, k]), tdy = upload(gpu, dy, [m, n]);
    const g = linearBackward(gpu, tdy, tx, tw, { db: true });
    // dx = dy w and dw = dyᵀ x are matmuls, so the same gamma bound applies; db is a sum of M terms.
    const pdx: Problem = { m, n: k, k: n, batchA: 0, batchB: 0, transA: false, transB: false };
    const pdw: Problem = { m: n, n: k, k: m, batchA: 0, batchB: 0, transA: true, transB: false };
    assertWithin(await g.dx!.read(), reference(pdx, dy, w), "dx");
    assertWithin(await g.dw!.read(), reference(pdw, dy, x), "dw");
    const ones = new Float64Array(m).fill(1);
    const pdb: Problem = { m: 1, n, k: m, batchA: 0, batchB: 0, transA: false, transB: false };
    assertWithin(await g.db!.read(), reference(pdb, ones, dy), "db");
    for (const t of [tx, tw, tdy, g.dx!, g.dw!, g.db!]) t.release();
  });
}

Deno.test("linearBackward: the float64 reference is the derivative of the float64 forward", () => {
  const [m, n, k] = [7, 5, 9];
  const r = rng(29);
  const x = randn(r, m * k), w = randn(r, n * k), b = randn(r, n), dy = randn(r, m * n);
  const g = linearBackwardRef(dy, x, w, m, n, k);
  // L = <dy, x wᵀ + b> is linear in each argument, so central differences carry only float64 rounding
  // of O(|L| 1e-16 / h): 1e-7 absolute is far above it and far below any wrong-index error (O(1)).
  const tol = { atol: 1e-7, rtol: 1e-7 };
  assertClose(finiteDiff((v) => dot(dy, linearRef(v, w, b, m, n, k)), x, 1e-3), g.dx, tol, "dx vs FD");
  assertClose(finiteDiff((v) => dot(dy, linearRef(x, v, b, m, n, k)), w, 1e-3), g.dw, tol, "dw vs FD");
  assertClose(finiteDiff((v) => dot(dy, linearRef(x, w, v, m, n, k)), b, 1e-3), g.db, tol, "db vs FD");
});

Deno.test("linearBackward: GPU gradients match finite differences of the GPU forward", async () => {
  const gpu = await getDevice();
  const [m, n, k] = [33, 36, 130];
  const r = rng(31);
  const x = f32(randn(r, m * k)), w = f32(randn(r, n * k)), b = f32(randn(r, n)), dy = f32(randn(r, m * n));
  const tx = upload(gpu, x, [m, k]), tw = upload(gpu, w, [n, k]), tb = upload(gpu, b, [n]);
  const tdy = upload(gpu, dy, [m, n]);
  const g = linearBackward(gpu, tdy, tx, tw, { db: true });
  const grads = { x: await g.dx!.read(), w: await g.dw!.read(), b: await g.db!.read() };
  // L = <dy, y> is linear in every input, so a step of 0.5 adds no truncation error; what remains is the
  // forward's rounding on the y elements the probe changes (a row of y for x, a column for w and b; the
  // others are bitwise equal in both runs and cancel), each within the gamma bound (K + 3) eps S_ij.
  const forwardNoise = (
    xh: ArrayLike<number>,
    wh: ArrayLike<number>,
    bh: ArrayLike<number>,
    cells: number[][],
  ) => {
    let s = 0;
    for (const [i, j] of cells) {
      let abs = Math.abs(bh[j]);
      for (let q = 0; q < k; q++) abs += Math.abs(xh[i * k + q] * wh[j * k + q]);
      s += Math.abs(dy[i * n + j]) * (k + 3) * EPS * abs;
    }
    return s;
  };
  const row = (i: number) => Array.from({ length: n }, (_, j) => [i, j]);
  const col = (j: number) => Array.from({ length: m }, (_, i) => [i, j]);
  // The GPU gradient's own gamma bound: (terms + 5) eps sum |terms| of the dot product it came from.
  const gradBound = (name: "x" | "w" | "b", at: number) => {
    let abs = 0;
    if (name === "x") {
      for (let j = 0; j < n; j++) abs += Math.abs(dy[Math.floor(at / k) * n + j] * w[j * k + at % k]);
    }
    if (name === "w") {
      for (let i = 0; i < m; i++) abs += Math.abs(dy[i * n + Math.floor(at / k)] * x[i * k + at % k]);
    }
    if (name === "b") { for (let i = 0; i < m; i++) abs += Math.abs(dy[i * n + at]); }
    return ((name === "x" ? n : m) + 5) * EPS * abs;
  };
  const loss = async () => dot(dy, await linear(gpu, tx, tw, tb).read());
  for (const [name, host, tensor] of [["x", x, tx], ["w", w, tw], ["b", b, tb]] as const) {
    const r2 = rng(name.charCodeAt(0));
    for (let trial = 0; trial < 4; trial++) {
      const at = Math.floor(r2() * host.length);
      const keep = host[at];
      const cells = name === "x" ? row(Math.floor(at / k)) : col(name === "w" ? Math.floor(at / k) : at);
      let noise = 0;
      const probe = Float64Array.from(host);
      const evalAt = async (v: number) => {
        probe[at] = v;
        tensor.write(probe);
        const args = { x, w, b, [name]: probe };
        noise += forwardNoise(args.x, args.w, args.b, cells);
        return await loss();
      };
      const up = Math.fround(keep + 0.5), down = Math.fround(keep - 0.5);
      const fd = ((await evalAt(up)) - (await evalAt(down))) / (up - down);
      probe[at] = keep;
      tensor.write(probe);
      const tol = noise / (up - down) + gradBound(name, at) + 1e-9;
      if (!(Math.abs(fd - grads[name][at]) <= tol)) {
        throw new Error(`d${name}[${at}]: GPU ${grads[name][at]}, finite difference ${fd} (tol ${tol})`);
      }
    }
  }
  for (const t of [tx, tw, tb, tdy, g.dx!, g.dw!, g.db!]) t.release();
});

Deno.test("linearBackward: accumulate adds into dw and db, accumulateDx into dx, skipped grads are null", async () => {
  const gpu = await getDevice();
  const [m, n, k] = [65, 67, 129];
  const r = rng(37);
  const x = f32(randn(r, m * k)), w = f32(randn(r, n * k)), dy = f32(randn(r, m * n));
  const dx0 = f32(randn(r, m * k)), dw0 = f32(randn(r, n * k)), db0 = f32(randn(r, n));
  const tx = upload(gpu, x, [m, k]), tw = upload(gpu, w, [n, k]), tdy = upload(gpu, dy, [m, n]);
  const tdx = upload(gpu, dx0, [m, k]), tdw = upload(gpu, dw0, [n, k]), tdb = upload(gpu, db0, [n]);
  const g = linearBackward(gpu, tdy, tx, tw, {
    dx: tdx,
    accumulateDx: true,
    dw: tdw,
    db: tdb,
    accumulate: true,
  });
  if (g.dx !== tdx || g.dw !== tdw || g.db !== tdb) throw new Error("destinations were not returned");
  const pdx: Problem = { m, n: k, k: n, batchA: 0, batchB: 0, transA: false, transB: false };
  const pdw: Problem = { m: n, n: k, k: m, batchA: 0, batchB: 0, transA: true, transB: false };
  const pdb: Problem = { m: 1, n, k: m, batchA: 0, batchB: 0, transA: false, transB: false };
  assertWithin(await tdx.read(), reference(pdx, dy, w, { beta: 1, c0: dx0 }), "dx += dy w");
  assertWithin(await tdw.read(), reference(pdw, dy, x, { beta: 1, c0: dw0 }), "dw += dyᵀ x");
  const ones = new Float64Array(m).fill(1);
  assertWithin(await tdb.read(), reference(pdb, ones, dy, { beta: 1, c0: db0 }), "db += colsum dy");
  const only = linearBackward(gpu, tdy, tx, tw, { dx: false, dw: false, db: true });
  if (only.dx !== null || only.dw !== null || only.db === null) throw new Error("skipped grads not null");
  assertWithin(await only.db.read(), reference(pdb, ones, dy), "db alone");
  for (const t of [tx, tw, tdy, tdx, tdw, tdb, only.db]) t.release();
});

Deno.test("matmul, linear, linearBackward: bad inputs name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const a = gpu.zeros([3, 4]), b = gpu.zeros([4, 5]), i = gpu.zeros([3, 4], "i32");
  const v = gpu.zeros([4]), a3 = gpu.zeros([2, 3, 4]), b3 = gpu.zeros([3, 4, 5]), sq = gpu.zeros([4, 4]);
  await assertThrowsWith(() => matmul(gpu, i, b), "matmul", `"a"`, "f32", "i32");
  await assertThrowsWith(() => matmul(gpu, a, a), "matmul", `"b"`, "[4, *]", "[3, 4]");
  await assertThrowsWith(() => matmul(gpu, a, b, { transB: true }), "matmul", `"b"`, "[*, 4]");
  await assertThrowsWith(() => matmul(gpu, v, b), "matmul", `"a"`, "rank 2 or 3");
  await assertThrowsWith(() => matmul(gpu, a, b, { bias: v }), "matmul", `"bias"`, "[5]", "[4]");
  await assertThrowsWith(() => matmul(gpu, a, b, { out: gpu.zeros([5, 3]) }), "matmul", `"out"`, "[3, 5]");
  await assertThrowsWith(() => matmul(gpu, a, b, { beta: 1 }), "matmul", `"beta"`, "out");
  await assertThrowsWith(() => matmul(gpu, a, b, { alpha: NaN }), "matmul", `"alpha"`);
  await assertThrowsWith(() => matmul(gpu, a3, b3), "matmul", `"b"`, "[2, 4, *]", "[3, 4, 5]");
  await assertThrowsWith(
    () => matmul(gpu, a, b, { tiles: { wgX: 16, wgY: 16, bk: 6 } }),
    "matmul",
    `"tiles"`,
  );
  await assertThrowsWith(() => matmul(gpu, sq, sq, { out: sq }), "matmul", `"out"`, "shares", `"a"`);
  await assertThrowsWith(() => matmulNaive(gpu, a, a), "matmulNaive", `"b"`);
  await assertThrowsWith(() => linear(gpu, a, b), "linear", `"w"`, "[*, 4]", "[4, 5]");
  await assertThrowsWith(() => linear(gpu, a, gpu.zeros([5, 4]), v), "linear", `"bias"`, "[5]");
  await assertThrowsWith(() => linear(gpu, i, b), "linear", `"x"`, "i32");
  const dy = gpu.zeros([3, 5]), w = gpu.zeros([5, 4]);
  await assertThrowsWith(
    () => linearBackward(gpu, dy, gpu.zeros([2, 4]), w),
    "linearBackward",
    `"x"`,
    "[3, *]",
  );
  await assertThrowsWith(() => linearBackward(gpu, dy, a, b), "linearBackward", `"w"`, "[5, 4]");
  await assertThrowsWith(() => linearBackward(gpu, dy, a, w, { accumulate: true }), "linearBackward", `"dw"`);
  await assertThrowsWith(
    () => linearBackward(gpu, dy, a, w, { dw: gpu.zeros([4, 5]) }),
    "linearBackward",
    `"dw"`,
    "[5, 4]",
  );
  await assertThrowsWith(() => linearBackward(gpu, dy, a, w, { db: v }), "linearBackward", `"db"`, "[5]");
  await assertThrowsWith(() => linearBackward(gpu, dy, a, w, { dx: a }), "linearBackward", `"dx"`, "shares");
  for (const t of [a, b, i, v, a3, b3, sq, dy, w]) t.release();
});

import { join } from "node:path";
import { getDevice } from "../../lib/gpu/device.ts";
import type { GpuLimits } from "../../lib/gpu/device.ts";
import { bf16BitsToF32, f32ToBf16Bits } from "../../lib/gpu/dtype.ts";
import { linear, linearBackward, matmul, type MatmulOptions } from "../../lib/ops/matmul.ts";
import {
  adapterKey,
  chooseMatmulTiles,
  DEFAULT_MATMUL_TILES,
  defaultMatmulTiles,
  LARGE_MATMUL_TILES,
  matmulCandidates,
  type MatmulShape,
  matmulShapeClass,
  type MatmulTiles,
  matmulTiles,
  matmulTuning,
  readMatmulTuning,
  setMatmulTuning,
  tilesName,
  tuningFor,
  writeMatmulTuning,
} from "../../lib/ops/matmul_tiles.ts";
import { assertThrowsWith, f32, randn, rng } from "../support/numeric.ts";
import { runScript } from "../support/scripts.ts";
import {
  assertWithin,
  f16,
  type Problem,
  reference,
  shapeA,
  shapeB,
  shapeC,
  upload,
} from "../support/matmul_reference.ts";

/** The large-tile configurations of the candidate set (every block shape, both K steps). */
const LARGE: MatmulTiles[] = [
  LARGE_MATMUL_TILES,
  { ...LARGE_MATMUL_TILES, bk: 16 },
  { ...LARGE_MATMUL_TILES, tn: 4 },
  { ...LARGE_MATMUL_TILES, tm: 4 },
  { wgX: 8, wgY: 4, bk: 4, tm: 8, tn: 8 },
];
const TRANSPOSES = [[false, false], [false, true], [true, false], [true, true]] as const;

/** Whether two outputs are bitwise equal; names the first difference. */
function assertBitwise(a: Float32Array, b: Float32Array, what: string) {
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) throw new Error(`${what}: index ${i}: ${a[i]} vs 4x4 kernel ${b[i]}`);
  }
}

const bf16 = (v: ArrayLike<number>) => Float64Array.from(bf16BitsToF32(f32ToBf16Bits(v)));

// Odd sizes (not multiples of 128, 8 or 4) take the scalar loads and ragged tiles in every direction;
// (132, 260, 36) is all multiples of 4, so it takes the vec4 loads, and spans 2-3 large tiles with
// K = 36 a ragged last step of both BK = 8 and 16; (129, 131, 37) spans two tiles each way.
const SHAPES: [number, number, number][] = [[1, 1, 1], [7, 33, 130], [130, 7, 33], [129, 131, 37], [
  132,
  260,
  36,
]];

for (const tiles of LARGE) {
  Deno.test(`large-tile matmul ${tilesName(tiles)}: odd shapes, all transposes, float64 and bitwise vs 4x4`, async () => {
    const gpu = await getDevice();
    const r = rng(tiles.bk * 7 + (tiles.tm ?? 4) + 3 * (tiles.tn ?? 4));
    for (const [m, n, k] of SHAPES) {
      for (const [transA, transB] of TRANSPOSES) {
        const p: Problem = { m, n, k, batchA: 0, batchB: 0, transA, transB };
        const a = f32(randn(r, m * k)), b = f32(randn(r, k * n));
        const ta = upload(gpu, a, shapeA(p)), tb = upload(gpu, b, shapeB(p));
        const what = `${tilesName(tiles)} (${m},${n},${k}) transA=${transA} transB=${transB}`;
        const big = await matmul(gpu, ta, tb, { transA, transB, tiles }).read() as Float32Array;
        const small = await matmul(gpu, ta, tb, { transA, transB, tiles: DEFAULT_MATMUL_TILES })
          .read() as Float32Array;
        assertWithin(big, reference(p, a, b), what);
        assertBitwise(big, small, what);
        ta.release();
        tb.release();
      }
    }
  });
}

Deno.test("large-tile matmul: batched with broadcast, bias, alpha and beta match float64 and the 4x4 kernel", async () => {
  const gpu = await getDevice();
  const r = rng(41);
  const cases: Problem[] = [
    { m: 133, n: 129, k: 9, batchA: 3, batchB: 3, transA: false, transB: true },
    { m: 131, n: 12, k: 133, batchA: 2, batchB: 2, transA: false, transB: false },
    { m: 7, n: 130, k: 36, batchA: 2, batchB: 0, transA: false, transB: true },
    { m: 140, n: 20, k: 7, batchA: 0, batchB: 4, transA: true, transB: false },
    { m: 68, n: 136, k: 20, batchA: 2, batchB: 2, transA: true, transB: true },
  ];
  for (const p of cases) {
    const batch = Math.max(p.batchA, p.batchB, 1);
    const a = f32(randn(r, Math.max(p.batchA, 1) * p.m * p.k));
    const b = f32(randn(r, Math.max(p.batchB, 1) * p.k * p.n));
    const bias = f32(randn(r, p.n)), c0 = f32(randn(r, batch * p.m * p.n));
    const ta = upload(gpu, a, shapeA(p)), tb = upload(gpu, b, shapeB(p)), tbias = upload(gpu, bias, [p.n]);
    const ref = reference(p, a, b, { alpha: -0.75, beta: 0.5, bias, c0 });
    const results: Float32Array[] = [];
    for (const tiles of [...LARGE, DEFAULT_MATMUL_TILES]) {
      const out = upload(gpu, c0, shapeC(p));
      const opts: MatmulOptions = { ...p, alpha: -0.75, beta: 0.5, bias: tbias, out, tiles };
      matmul(gpu, ta, tb, opts);
      const got = await out.read() as Float32Array;
      assertWithin(got, ref, `${tilesName(tiles)} ${JSON.stringify(p)}`);
      results.push(got);
      out.release();
    }
    for (let i = 0; i < LARGE.length; i++) {
      assertBitwise(results[i], results[LARGE.length], `${tilesName(LARGE[i])} ${JSON.stringify(p)}`);
    }
    for (const t of [ta, tb, tbias]) t.release();
  }
});

Deno.test("large-tile matmul: bf16 (and f16) B accumulate in f32 over the rounded weights, bitwise as the 4x4 kernel", async () => {
  const gpu = await getDevice();
  const r = rng(43);
  const dtypes = gpu.features.f16 ? (["bf16", "f16"] as const) : (["bf16"] as const);
  for (const dtype of dtypes) {
    const round = dtype === "bf16" ? bf16 : f16;
    for (const [m, n, k] of [[129, 131, 37], [132, 260, 36], [7, 33, 130]]) {
      for (const transB of [true, false]) {
        const p: Problem = { m, n, k, batchA: 0, batchB: 0, transA: false, transB };
        const a = f32(randn(r, m * k)), b = round(randn(r, k * n));
        const ta = upload(gpu, a, shapeA(p)), tb = upload(gpu, b, shapeB(p), dtype);
        const ref = reference(p, a, b);
        const small = await matmul(gpu, ta, tb, { transB, tiles: DEFAULT_MATMUL_TILES })
          .read() as Float32Array;
        // Two block shapes keep the pipeline count (compile time on llvmpipe) down; the loaders are shared.
        for (const tiles of [LARGE_MATMUL_TILES, { ...LARGE_MATMUL_TILES, tn: 4 as const }]) {
          const what = `${dtype} ${tilesName(tiles)} (${m},${n},${k}) transB=${transB}`;
          const big = await matmul(gpu, ta, tb, { transB, tiles }).read() as Float32Array;
          assertWithin(big, ref, what);
          assertBitwise(big, small, what);
        }
        ta.release();
        tb.release();
      }
    }
  }
});

const LIMITS = { maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256 } as const;
/** Device limits with the given workgroup memory and invocations (the rest as WebGPU's minimums). */
function limits(storage: number, invocations = 256): GpuLimits {
  return {
    ...LIMITS,
    maxComputeWorkgroupStorageSize: storage,
    maxComputeInvocationsPerWorkgroup: invocations,
  } as unknown as GpuLimits;
}

const shape = (m: number, n: number, k: number, extra: Partial<MatmulShape> = {}): MatmulShape => ({
  m,
  n,
  k,
  batch: 1,
  transA: false,
  transB: true,
  weights: "f32",
  ...extra,
});

Deno.test("matmul tiles: fixed rule, candidates within the device limits, shape classes", () => {
  const roomy = limits(32768);
  // Short products keep the cut 4x4 tiles; big ones take the 128x128 tile; a grid of fewer than 16
  // large tiles stays on 64x64.
  for (const m of [1, 8, 9, 17, 33]) {
    const got = defaultMatmulTiles(shape(m, 4864, 896), roomy);
    if (tilesName(got) !== tilesName(matmulTiles(m))) throw new Error(`M=${m}: ${tilesName(got)}`);
  }
  if (defaultMatmulTiles(shape(2048, 896, 896), roomy) !== LARGE_MATMUL_TILES) throw new Error("2048x896");
  if (tilesName(defaultMatmulTiles(shape(256, 256, 896), roomy)) !== "4x4 64x64 bk16") {
    throw new Error("4 tiles");
  }
  if (defaultMatmulTiles(shape(256, 256, 64, { batch: 14 }), roomy) !== LARGE_MATMUL_TILES) {
    throw new Error("14 x 4 tiles");
  }
  // 16 KiB fits the 8x8 bk8 tiles (2 x 8 x 256 x 4 bytes) but not bk16; 8 KiB fits none of the large ones.
  const names = (l: GpuLimits) => matmulCandidates(64, l).map((c) => c.name).join(", ");
  const expect = (l: GpuLimits, want: string) => {
    if (names(l) !== want) throw new Error(`candidates ${names(l)}, expected ${want}`);
  };
  expect(roomy, "4x4 64x64 bk16, 8x8 128x128 bk8, 8x8 128x128 bk16, 8x4 128x64 bk8, 4x8 64x128 bk8");
  expect(limits(16384), "4x4 64x64 bk16, 8x8 128x128 bk8, 8x4 128x64 bk8, 4x8 64x128 bk8");
  expect(limits(8192), "4x4 64x64 bk16");
  expect(limits(32768, 128), "");
  if (tilesName(defaultMatmulTiles(shape(2048, 896, 896), limits(8192))) !== "4x4 64x64 bk16") {
    throw new Error("the fixed rule must fall back to 4x4 when the large tile does not fit");
  }
  const cls = matmulShapeClass(shape(2000, 896, 897, { weights: "bf16" }));
  if (cls !== "NT bf16 b1 m2048 n1024 k1024") throw new Error(`class ${cls}`);
  if (
    matmulShapeClass(shape(1025, 1, 1, { batch: 3, transA: true, transB: false })) !== "TN f32 b4 m2048 n1 k1"
  ) {
    throw new Error("class of a batched transA product");
  }
});

Deno.test("matmul tuning file: write, reload, the tuned tiles are chosen; other adapters and classes kept", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "sub", "matmul-tiles.json");
  const s = shape(2048, 896, 896);
  const picked: MatmulTiles = { ...LARGE_MATMUL_TILES, tm: 4 };
  const entry = (tiles: MatmulTiles) => ({
    tiles,
    shape: "2048x896x896 Bᵀ",
    ms: { [tilesName(tiles)]: 1.5 },
  });
  await writeMatmulTuning(path, "other | gpu", { [matmulShapeClass(s)]: entry(DEFAULT_MATMUL_TILES) });
  await writeMatmulTuning(path, "this | gpu", { [matmulShapeClass(s)]: entry(picked) });
  await writeMatmulTuning(path, "this | gpu", {
    [matmulShapeClass(shape(8, 896, 896))]: entry(matmulTiles(8)),
  });
  const file = readMatmulTuning(path);
  const mine = tuningFor(file, "this | gpu"), other = tuningFor(file, "other | gpu");
  if (mine.size !== 2 || other.size !== 1) throw new Error(`merge lost entries: ${JSON.stringify(file)}`);
  const roomy = limits(32768);
  const got = chooseMatmulTiles(s, mine, roomy);
  if (!got.tuned || tilesName(got.tiles) !== tilesName(picked)) {
    throw new Error(`chose ${JSON.stringify(got)}`);
  }
  // Same class (sizes round up to the same powers of two): same entry. Another class: the fixed rule.
  if (tilesName(chooseMatmulTiles(shape(1500, 1000, 700), mine, roomy).tiles) !== tilesName(picked)) {
    throw new Error("a shape of the same class must use the entry");
  }
  const untuned = chooseMatmulTiles(shape(2048, 896, 896, { transB: false }), mine, roomy);
  if (untuned.tuned || untuned.tiles !== LARGE_MATMUL_TILES) throw new Error("untuned class");
  // An entry that does not fit this device is ignored rather than dispatched.
  const tooBig = tuningFor(file, "this | gpu");
  const small = chooseMatmulTiles(
    s,
    new Map([...tooBig, [matmulShapeClass(s), { ...picked, bk: 64 }]]),
    roomy,
  );
  if (small.tuned) throw new Error("an entry over the workgroup memory limit was used");
  if (readMatmulTuning(join(dir, "missing.json")) !== null) {
    throw new Error("a missing file must read as null");
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("matmul tuning file: loaded once per device from RLIF_MATMUL_TILES; a corrupt file is refused by name", async () => {
  const gpu = await getDevice();
  const dir = await Deno.makeTempDir();
  const path = join(dir, "matmul-tiles.json");
  const before = Deno.env.get("RLIF_MATMUL_TILES");
  try {
    Deno.env.set("RLIF_MATMUL_TILES", path);
    const s = shape(300, 200, 100);
    const tiles: MatmulTiles = { ...LARGE_MATMUL_TILES, tn: 4 };
    await writeMatmulTuning(path, adapterKey(gpu.adapterInfo), {
      [matmulShapeClass(s)]: { tiles, shape: "300x200x100 Bᵀ", ms: {} },
    });
    setMatmulTuning(gpu, null);
    const got = chooseMatmulTiles(s, matmulTuning(gpu), gpu.limits);
    if (!got.tuned || tilesName(got.tiles) !== tilesName(tiles)) {
      throw new Error(`loaded ${JSON.stringify(got)}`);
    }

    for (
      const [text, fragment] of [
        ["{ not json", "not valid JSON"],
        [`{"version": 2, "adapters": {}}`, `"version": 1`],
        [
          `{"version": 1, "adapters": {"a": {"entries": {"c": {"tiles": {"wgX": 16, "wgY": 16, "bk": 6}}}}}}`,
          "tiles",
        ],
        [
          `{"version": 1, "adapters": {"a": {"entries": {"c": {"tiles": {"wgX": 16, "wgY": 16, "bk": 8}}}}}}`,
          "shape",
        ],
      ]
    ) {
      await Deno.writeTextFile(path, text);
      setMatmulTuning(gpu, null);
      await assertThrowsWith(() => matmulTuning(gpu), path, fragment, "--tune");
      const x = gpu.zeros([3, 4]), w = gpu.zeros([5, 4]);
      await assertThrowsWith(() => linear(gpu, x, w), path, fragment);
      await assertThrowsWith(() => writeMatmulTuning(path, "a", {}), path, fragment);
      x.release();
      w.release();
    }
    await Deno.remove(path);
    setMatmulTuning(gpu, null);
    if (matmulTuning(gpu).size !== 0) throw new Error("a missing file must give an empty table");
  } finally {
    if (before === undefined) Deno.env.delete("RLIF_MATMUL_TILES");
    else Deno.env.set("RLIF_MATMUL_TILES", before);
    setMatmulTuning(gpu, null);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("linear, matmul, linearBackward: no submit or readback inside, even when the tuning file is first loaded", async () => {
  const gpu = await getDevice();
  const dir = await Deno.makeTempDir();
  const path = join(dir, "matmul-tiles.json");
  const before = Deno.env.get("RLIF_MATMUL_TILES");
  const r = rng(47);
  const [m, n, k] = [160, 140, 36];
  const x = gpu.fromArray(f32(randn(r, m * k)), [m, k]), w = gpu.fromArray(f32(randn(r, n * k)), [n, k]);
  const dy = gpu.fromArray(f32(randn(r, m * n)), [m, n]);
  try {
    Deno.env.set("RLIF_MATMUL_TILES", path);
    await writeMatmulTuning(path, adapterKey(gpu.adapterInfo), {
      [matmulShapeClass(shape(m, n, k))]: { tiles: LARGE_MATMUL_TILES, shape: "", ms: {} },
    });
    setMatmulTuning(gpu, null);
    await gpu.sync();
    const c0 = gpu.counters();
    const y = linear(gpu, x, w);
    const z = matmul(gpu, x, w, { transB: true });
    const g = linearBackward(gpu, dy, x, w, { db: true });
    const c1 = gpu.counters();
    if (c1.submits !== c0.submits || c1.readbacks !== c0.readbacks || c1.dispatches - c0.dispatches !== 5) {
      throw new Error(`counters before ${JSON.stringify(c0)}, after ${JSON.stringify(c1)}`);
    }
    for (const t of [y, z, g.dx!, g.dw!, g.db!]) t.release();
  } finally {
    if (before === undefined) Deno.env.delete("RLIF_MATMUL_TILES");
    else Deno.env.set("RLIF_MATMUL_TILES", before);
    setMatmulTuning(gpu, null);
    for (const t of [x, w, dy]) t.release();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench:kernels: --help lists the flags; --tune times every candidate and writes the chosen one", async () => {
  const help = await runScript("bench_kernels.ts", ["--help"]);
  for (
    const flag of ["--tune", "--tiles", "--filter", "--large", "--reps", "--min-ms", "--cpu-gflop", "--help"]
  ) {
    if (help.code !== 0 || !help.stdout.includes(flag)) {
      throw new Error(`--help (exit ${help.code}) lacks ${flag}`);
    }
  }
  const bad = await runScript("bench_kernels.ts", ["--tiles", "16x16"]);
  if (bad.code !== 2 || !bad.stderr.includes("--tiles")) {
    throw new Error(`bad --tiles: ${bad.code} ${bad.stderr}`);
  }
  const dir = await Deno.makeTempDir();
  const path = join(dir, "matmul-tiles.json");
  const before = Deno.env.get("RLIF_MATMUL_TILES");
  try {
    Deno.env.set("RLIF_MATMUL_TILES", path);
    const run = await runScript("bench_kernels.ts", [
      "--tune",
      "--filter",
      "P·V",
      "--min-ms",
      "0",
      "--reps",
      "1",
    ]);
    if (run.code !== 0) throw new Error(`--tune failed: ${run.stderr}`);
    const gpu = await getDevice();
    const product = shape(64, 64, 64, { batch: 14, transB: false });
    const entry = readMatmulTuning(path)?.adapters[adapterKey(gpu.adapterInfo)]
      ?.entries[matmulShapeClass(product)];
    if (!entry) {
      throw new Error(`no entry for ${matmulShapeClass(product)} in ${await Deno.readTextFile(path)}`);
    }
    const candidates = matmulCandidates(64, gpu.limits).map((c) => c.name);
    const fastest = Object.entries(entry.ms).reduce((x, y) => (y[1] < x[1] ? y : x))[0];
    if (Object.keys(entry.ms).join() !== candidates.join() || tilesName(entry.tiles) !== fastest) {
      throw new Error(`entry ${JSON.stringify(entry)}; candidates ${candidates}`);
    }
    const rows = run.stdout.split("\n").filter((l) => l.includes("P·V"));
    const marked = rows.filter((l) => l.includes("* chosen"));
    if (marked.length !== 1 || !marked[0].includes(fastest)) throw new Error(`output:\n${run.stdout}`);
    for (const c of candidates) {
      if (!rows.some((l) => l.includes(c))) throw new Error(`candidate ${c} missing from:\n${run.stdout}`);
    }
  } finally {
    if (before === undefined) Deno.env.delete("RLIF_MATMUL_TILES");
    else Deno.env.set("RLIF_MATMUL_TILES", before);
    await Deno.remove(dir, { recursive: true });
  }
});

import { getDevice } from "../../lib/gpu/device.ts";
import { embeddingBackward, embeddingForward, embeddingGradPlan } from "../../lib/ops/embedding.ts";
import { assertClose, assertThrowsWith, dot, f32, finiteDiff, randn, rng } from "../support/numeric.ts";
import { sameBits } from "../support/kernel_checks.ts";

/** Unit roundoff of f32. */
const U = 2 ** -24;

function refForward(table: Float64Array, h: number, ids: Int32Array): Float64Array {
  const out = new Float64Array(ids.length * h);
  ids.forEach((id, t) => out.set(table.subarray(id * h, (id + 1) * h), t * h));
  return out;
}

function refBackward(dy: Float64Array, ids: Int32Array, v: number, h: number): Float64Array {
  const d = new Float64Array(v * h);
  ids.forEach((id, t) => {
    for (let j = 0; j < h; j++) d[id * h + j] += dy[t * h + j];
  });
  return d;
}

/** `t` ids drawn from `distinct` ids spread over [0, v): few distinct ids force repeats. */
function drawIds(r: () => number, t: number, v: number, distinct: number): Int32Array {
  const pool = Array.from({ length: distinct }, () => Math.floor(r() * v));
  return Int32Array.from({ length: t }, () => pool[Math.floor(r() * distinct)]);
}

const CASES = [
  { t: 1, v: 5, h: 7, distinct: 1, what: "one token" },
  { t: 7, v: 11, h: 33, distinct: 3, what: "repeated ids" },
  { t: 33, v: 50, h: 130, distinct: 33, what: "mostly distinct ids" },
  { t: 130, v: 40, h: 300, distinct: 9, what: "many repeats, rows wider than a workgroup" },
  { t: 7, v: 60_000, h: 16, distinct: 7, what: "large vocabulary, few ids" },
];

Deno.test("embedding: grad plan groups token positions by id in ascending, stable order", () => {
  const plan = embeddingGradPlan(Int32Array.from([5, 3, 5, 0, 3, 5]));
  const got = [plan.uniqueIds, plan.offsets, plan.order].map((a) => Array.from(a).join(","));
  const want = ["0,3,5", "0,1,3,6", "3,1,4,0,2,5"];
  if (got.join(" | ") !== want.join(" | ")) {
    throw new Error(`plan ${got.join(" | ")}, want ${want.join(" | ")}`);
  }
  const empty = embeddingGradPlan(new Int32Array(0));
  if (empty.uniqueIds.length !== 0 || empty.offsets.join() !== "0") throw new Error("empty plan");
});

for (const { t, v, h, distinct, what } of CASES) {
  Deno.test(`embedding: forward and backward, T=${t} V=${v} H=${h} (${what})`, async () => {
    const gpu = await getDevice();
    const r = rng(1000 + t * 7 + h);
    const table = f32(randn(r, v * h));
    const ids = drawIds(r, t, v, distinct);
    const tTable = gpu.fromArray(table, [v, h]);

    // A gather copies bits: exact.
    const y = embeddingForward(gpu, tTable, ids);
    assertClose(await y.read(), refForward(table, h, ids), { atol: 0 }, "forward");
    const tIds = gpu.fromArray(ids, [t], "i32");
    const y2 = embeddingForward(gpu, tTable, tIds);
    assertClose(await y2.read(), refForward(table, h, ids), { atol: 0 }, "forward from an i32 tensor");

    // Accumulates into existing values; rows of absent ids keep their exact bits.
    const dy = f32(randn(r, t * h));
    const d0 = f32(randn(r, v * h));
    const tDy = gpu.fromArray(dy, [t, h]);
    const tD = gpu.fromArray(d0, [v, h]);
    embeddingBackward(gpu, tDy, ids, tD);
    const got = await tD.read() as Float32Array;
    const contrib = refBackward(dy, ids, v, h);
    const want = d0.map((x, i) => x + contrib[i]);
    // Sequential f32 sum of c rows plus the add into dTable: |err| <= (c + 1)·u·(|d0| + Σ|dy|).
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const maxCount = Math.max(...counts.values());
    const absSum = refBackward(dy.map(Math.abs), ids, v, h);
    let scale = 0;
    for (let i = 0; i < absSum.length; i++) scale = Math.max(scale, absSum[i] + Math.abs(d0[i]));
    assertClose(got, want, { atol: (maxCount + 1) * U * scale }, "backward");
    for (let id = 0; id < v; id++) {
      if (counts.has(id)) continue;
      for (let j = 0; j < h; j++) {
        if (!Object.is(got[id * h + j], d0[id * h + j])) {
          throw new Error(`row ${id} of an absent id was touched`);
        }
      }
    }

    // Determinism: same inputs, same bits (with and without a prebuilt plan).
    const a = gpu.zeros([v, h]), b = gpu.zeros([v, h]);
    embeddingBackward(gpu, tDy, ids, a);
    embeddingBackward(gpu, tDy, ids, b, embeddingGradPlan(ids, v));
    sameBits(await a.read() as Float32Array, await b.read() as Float32Array, "two backward runs");
    for (const x of [tTable, y, y2, tIds, tDy, tD, a, b]) x.release();
  });
}

Deno.test("embedding: f16 table gathers into f32 exactly", async () => {
  const gpu = await getDevice();
  if (!gpu.features.f16) {
    console.log("skipped: adapter has no shader-f16");
    return;
  }
  const r = rng(77);
  const v = 13, h = 33, t = 9;
  const table = Float64Array.from(Float16Array.from(randn(r, v * h)));
  const ids = drawIds(r, t, v, 4);
  const tTable = gpu.fromArray(table, [v, h], "f16");
  const y = embeddingForward(gpu, tTable, ids);
  assertClose(await y.read(), refForward(table, h, ids), { atol: 0 }, "f16 forward");
  tTable.release();
  y.release();
});

Deno.test("embedding: ids only on the GPU are clamped into the table, never read out of bounds", async () => {
  const gpu = await getDevice();
  const v = 4, h = 5;
  const table = f32(randn(rng(5), v * h));
  const tTable = gpu.fromArray(table, [v, h]);
  const tIds = gpu.fromArray([-3, 2, 4, 1_000_000], [4], "i32");
  const y = await embeddingForward(gpu, tTable, tIds).read();
  assertClose(y, refForward(table, h, Int32Array.from([0, 2, 3, 3])), { atol: 0 }, "clamped rows");
  tTable.release();
  tIds.release();
});

Deno.test("embedding: reference backward is the derivative of the reference forward", () => {
  const r = rng(11);
  const v = 6, h = 5, t = 8;
  const table = f32(randn(r, v * h));
  const ids = drawIds(r, t, v, 3);
  const dy = f32(randn(r, t * h));
  const coords = [0, 7, 13, 22, 29, ids[0] * h + 2];
  const fd = finiteDiff((x) => dot(dy, refForward(x, h, ids)), table, 1e-6, coords);
  const g = refBackward(dy, ids, v, h);
  // L is linear in the table, so central differences are exact up to float64 rounding of L / h.
  assertClose(coords.map((i) => fd[i]), coords.map((i) => g[i]), { atol: 1e-8 }, "reference vs FD");
});

Deno.test("embedding: GPU backward matches finite differences of the GPU forward", async () => {
  const gpu = await getDevice();
  const r = rng(12);
  const v = 9, h = 7, t = 12;
  const table = Float32Array.from(randn(r, v * h));
  const ids = drawIds(r, t, v, 4);
  const dy = f32(randn(r, t * h));
  const tDy = gpu.fromArray(dy, [t, h]);
  const tD = gpu.zeros([v, h]);
  embeddingBackward(gpu, tDy, ids, tD);
  const grad = await tD.read();
  const tTable = gpu.fromArray(table, [v, h]);
  const loss = async () => {
    const y = embeddingForward(gpu, tTable, ids);
    const l = dot(dy, await y.read());
    y.release();
    return l;
  };
  for (const i of [ids[0] * h, ids[3] * h + 4, ids[t - 1] * h + h - 1, ((ids[0] + 1) % v) * h + 1]) {
    const keep = table[i];
    const up = Math.fround(keep + 0.25), down = Math.fround(keep - 0.25);
    tTable.write(table.map((x, j) => j === i ? up : x));
    const lUp = await loss();
    tTable.write(table.map((x, j) => j === i ? down : x));
    const lDown = await loss();
    const fd = (lUp - lDown) / (up - down);
    // The forward copies bits, so fd is exact up to float64 rounding; the GPU gradient is an f32 sum of
    // at most t terms: |err| <= t·u·Σ|dy| <= 1e-5 here.
    assertClose([grad[i]], [fd], { atol: 1e-5 }, `coordinate ${i}`);
  }
  for (const x of [tDy, tD, tTable]) x.release();
});

Deno.test("embedding: bad arguments name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const table = gpu.zeros([5, 3]);
  const ids = gpu.fromArray([0, 1], [2], "i32");
  const dy = gpu.zeros([2, 3]);
  const tableI = gpu.zeros([5, 3], "i32");
  const idsF = gpu.zeros([2]);
  const ids2d = gpu.zeros([1, 2], "i32");
  const host = Int32Array.from([0, 1]);
  await assertThrowsWith(() => embeddingForward(gpu, tableI, ids), "embedding.forward", `"table"`, "i32");
  await assertThrowsWith(
    () => embeddingForward(gpu, table, idsF),
    "embedding.forward",
    `"ids"`,
    "i32",
    "f32",
  );
  await assertThrowsWith(() => embeddingForward(gpu, table, ids2d), "embedding.forward", `"ids"`, "[1, 2]");
  await assertThrowsWith(
    () => embeddingForward(gpu, table, Int32Array.from([0, 5])),
    "embedding.forward",
    `"ids"`,
    "[0, 4]",
    "got 5 at token 1",
  );
  await assertThrowsWith(
    () => embeddingForward(gpu, table, ids, gpu.zeros([2, 4])),
    "embedding.forward",
    `"out"`,
  );
  await assertThrowsWith(
    () => embeddingBackward(gpu, dy, Int32Array.from([0, -1]), table),
    "embedding.backward",
    `"ids"`,
    "got -1",
  );
  await assertThrowsWith(
    () => embeddingBackward(gpu, gpu.zeros([3, 3]), host, table),
    "embedding.backward",
    `"dy"`,
  );
  await assertThrowsWith(
    () => embeddingBackward(gpu, dy, host, gpu.zeros([5, 3], "f16")),
    "embedding.backward",
    `"dTable"`,
  );
  await assertThrowsWith(
    () => embeddingBackward(gpu, dy, host, table, embeddingGradPlan(Int32Array.from([1, 1]))),
    "embedding.backward",
    `"plan"`,
  );
  await assertThrowsWith(() => embeddingGradPlan(Int32Array.from([3, -2])), "embeddingGradPlan", `"ids"`);
  for (const x of [table, ids, dy, tableI, idsF, ids2d]) x.release();
});

Deno.test("embedding: row shards of a table reproduce the whole table's forward and backward exactly", async () => {
  const gpu = await getDevice();
  const [vocab, cols, split] = [37, 9, 20];
  const r = rng(404);
  const table = f32(randn(r, vocab * cols));
  const ids = Int32Array.from([0, 19, 20, 36, 5, 20, 19, 33]);
  const dy = f32(randn(r, ids.length * cols));
  const whole = gpu.fromArray(table, [vocab, cols]);
  const shards = [
    { t: gpu.fromArray(table.subarray(0, split * cols), [split, cols]), first: 0 },
    { t: gpu.fromArray(table.subarray(split * cols), [vocab - split, cols]), first: split },
  ];
  const want = await embeddingForward(gpu, whole, ids).read();
  const out = gpu.zeros([ids.length, cols]);
  for (const s of shards) embeddingForward(gpu, s.t, ids, out, { first: s.first, total: vocab });
  assertClose(await out.read(), want, { atol: 0 }, "sharded forward");

  const dWhole = gpu.zeros([vocab, cols]);
  const dyT = gpu.fromArray(dy, [ids.length, cols]);
  embeddingBackward(gpu, dyT, ids, dWhole);
  const wantGrad = await dWhole.read();
  const parts: number[] = [];
  for (const s of shards) {
    const d = gpu.zeros(s.t.shape);
    embeddingBackward(gpu, dyT, ids, d, undefined, { first: s.first, total: vocab });
    parts.push(...await d.read());
  }
  // Same tokens summed in the same order per row: bitwise equal.
  assertClose(parts, wantGrad, { atol: 0 }, "sharded backward");
  await assertThrowsWith(
    () => embeddingForward(gpu, shards[1].t, ids, out, { first: 30, total: vocab }),
    "embedding.forward",
    "shard.first",
  );
});

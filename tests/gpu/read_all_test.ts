import { getDevice } from "../../lib/gpu/device.ts";
import { bf16BitsToF32, f32ToBf16Bits } from "../../lib/gpu/dtype.ts";
import type { Tensor } from "../../lib/gpu/tensor.ts";
import { add } from "../../lib/ops/elementwise.ts";
import { assertThrowsWith } from "../support/numeric.ts";

function same(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const g = Array.from(got), w = Array.from(want);
  if (g.length !== w.length || g.some((v, i) => !Object.is(v, w[i]))) {
    throw new Error(`${what}: got [${g}], want [${w}]`);
  }
}

Deno.test("readAll: mixed dtypes and odd sizes come back as individual reads return them, in one readback", async () => {
  const gpu = await getDevice();
  const f32 = [1.5, -2.25, 0.10000000149011612, 3e38, -0];
  const bf16 = [1.5, -3.140625, 65280];
  const f16 = [0.0999755859375, -2, 65504, 1, 3];
  const big = Float32Array.from({ length: 200 }, (_, i) => i * 0.5 - 7);
  const whole = gpu.fromArray(big, [200], "f32");
  const cases: { t: Tensor; want: ArrayLike<number> }[] = [
    { t: gpu.fromArray(f32, [5], "f32"), want: Float32Array.from(f32) },
    { t: gpu.fromArray([-7, 0, 2147483647], [3], "i32"), want: [-7, 0, 2147483647] },
    {
      t: gpu.fromArray([0, 4294967295, 12, 1, 2, 3, 99], [7], "u32"),
      want: [0, 4294967295, 12, 1, 2, 3, 99],
    },
    // 3 bf16 values are 6 bytes: the staging offset of what follows stays a multiple of 4.
    { t: gpu.fromArray(bf16, [3], "bf16"), want: bf16BitsToF32(f32ToBf16Bits(bf16)) },
    { t: gpu.fromArray(f16, [5], "f16"), want: Float32Array.from(new Float16Array(f16)) },
    { t: gpu.fromArray([2.5], [1], "bf16"), want: [2.5] },
    { t: gpu.fromArray([], [0], "i32"), want: [] },
    // A view at a 256-byte offset of another buffer.
    { t: whole.view([3], 64), want: big.subarray(64, 67) },
    // The result of recorded work: readAll submits it first.
    { t: add(gpu, whole, whole), want: big.map((v) => 2 * v) },
  ];
  const before = gpu.counters();
  const all = await gpu.readAll(cases.map((c) => c.t));
  const after = gpu.counters();
  if (after.readbacks - before.readbacks !== 1 || after.submits - before.submits !== 1) {
    throw new Error(
      `readAll of ${cases.length} tensors: ${after.readbacks - before.readbacks} readbacks, ` +
        `${after.submits - before.submits} submits (want 1 and 1)`,
    );
  }
  for (const [i, { t, want }] of cases.entries()) {
    const what = `tensor ${i} (${t.dtype}[${t.shape}])`;
    same(all[i], want, what);
    same(all[i], await t.read(), `${what} against read()`);
    if (all[i].constructor !== (await t.read()).constructor) throw new Error(`${what}: another array type`);
  }
  for (const { t } of cases) t.release();
  whole.release();
  if ((await gpu.readAll([])).length !== 0) throw new Error("readAll([]) returned values");
});

Deno.test("readAll: the tensors may be released at once; work recorded afterwards does not change what comes back", async () => {
  const gpu = await getDevice();
  const a = gpu.fromArray([1, 2, 3], [3]);
  const b = add(gpu, a, a);
  const pending = gpu.readAll([a, b]);
  a.release();
  b.release();
  // New tensors of the same bucket take the released buffers and are overwritten by new work.
  const c = gpu.fromArray([100, 200, 300], [3]);
  const d = add(gpu, c, c);
  const e = add(gpu, d, d);
  const [av, bv] = await pending;
  same(av, [1, 2, 3], "a");
  same(bv, [2, 4, 6], "b");
  same(await e.read(), [400, 800, 1200], "e");
  for (const t of [c, d, e]) t.release();
});

Deno.test("readAll: a released tensor is refused with its index", async () => {
  const gpu = await getDevice();
  const a = gpu.fromArray([1], [1]), b = gpu.fromArray([2], [1]);
  b.release();
  await assertThrowsWith(() => gpu.readAll([a, b]), "tensor 1", "released");
  a.release();
});

Deno.test("copy: into elements of a larger tensor at an offset; misaligned or oversized copies are refused", async () => {
  const gpu = await getDevice();
  const dst = gpu.zeros([10], "f32");
  const src = gpu.fromArray([7, 8, 9], [3]);
  gpu.copy(src, dst, 5);
  same(await dst.read(), [0, 0, 0, 0, 0, 7, 8, 9, 0, 0], "f32 at 5");
  const h = gpu.zeros([7], "bf16");
  const odd = gpu.fromArray([1, 2, 3], [3], "bf16");
  gpu.copy(odd, h, 4); // ends at the end of h: its padding half-word is h's padding
  same(await h.read(), [0, 0, 0, 0, 1, 2, 3], "bf16 at 4");
  await assertThrowsWith(() => gpu.copy(odd, h, 2), "copy", "4-byte");
  await assertThrowsWith(() => gpu.copy(odd, h, 1), "copy", "4-byte");
  await assertThrowsWith(() => gpu.copy(src, dst, 8), "copy", "fit");
  await assertThrowsWith(() => gpu.copy(src, h, 0), "copy", "dtypes");
  for (const t of [dst, src, h, odd]) t.release();
});

import { getDevice } from "../../lib/gpu/device.ts";
import { add, axpy, scale } from "../../lib/ops/elementwise.ts";
import { assertClose, assertThrowsWith, f32, randn, rng } from "../support/numeric.ts";

// Single f32 roundings of exact float64 inputs: half an ulp relative error at most.
const TOL = { atol: 0, rtol: 1.2e-7 };

for (const n of [1, 7, 33, 130, 70_001]) {
  Deno.test(`elementwise: add, axpy, scale on ${n} elements match float64`, async () => {
    const gpu = await getDevice();
    const r = rng(n);
    const a = f32(randn(r, n)), b = f32(randn(r, n));
    const ta = gpu.fromArray(a, [n]), tb = gpu.fromArray(b, [n]);
    const sum = add(gpu, ta, tb);
    assertClose(await sum.read(), a.map((v, i) => v + b[i]), TOL, "add");
    axpy(gpu, 0.5, ta, tb);
    const bNew = f32(b.map((v, i) => v + 0.5 * a[i]));
    assertClose(await tb.read(), bNew, { atol: 1e-7, rtol: 3e-7 }, "axpy");
    scale(gpu, ta, -3);
    assertClose(await ta.read(), a.map((v) => -3 * v), TOL, "scale");
    for (const t of [ta, tb, sum]) t.release();
  });
}

Deno.test("elementwise: a 1-D grid past 65535 workgroups is flattened and still covers every element", async () => {
  const gpu = await getDevice();
  const n = 65_536 * 256 + 300; // 65538 workgroups of 256
  const ones = gpu.fromArray(new Float32Array(n).fill(1), [n]);
  const twos = add(gpu, ones, ones);
  const out = await twos.read();
  let wrong = 0;
  for (let i = 0; i < n; i++) if (out[i] !== 2) wrong++;
  if (wrong !== 0) throw new Error(`${wrong} of ${n} elements not written`);
  ones.release();
  twos.release();
});

Deno.test("elementwise: wrong dtype or shape names the kernel, the argument and what was expected", async () => {
  const gpu = await getDevice();
  const a = gpu.zeros([3, 4]);
  const b = gpu.zeros([4, 3]);
  const i = gpu.zeros([3, 4], "i32");
  await assertThrowsWith(() => add(gpu, a, b), "add", `"b"`, "[3, 4]", "[4, 3]");
  await assertThrowsWith(() => add(gpu, a, i), "add", `"b"`, "f32", "i32");
  for (const t of [a, b, i]) t.release();
});

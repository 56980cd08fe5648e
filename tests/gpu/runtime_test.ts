import { getDevice } from "../../lib/gpu/device.ts";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { KERNEL_FILES, PRELUDE_FILE } from "../../lib/gpu/kernel_registry.ts";
import { add } from "../../lib/ops/elementwise.ts";
import { matmul } from "../../lib/ops/matmul.ts";
import { assertThrowsWith } from "../support/numeric.ts";

Deno.test("runtime: every kernels/*.wgsl file is registered (or is the prelude), and only those", async () => {
  const onDisk: string[] = [];
  for await (const e of Deno.readDir(new URL("../../kernels/", import.meta.url))) {
    if (e.name.endsWith(".wgsl")) onDisk.push(e.name);
  }
  const want = [...KERNEL_FILES, PRELUDE_FILE].sort().join(", ");
  if (onDisk.sort().join(", ") !== want) throw new Error(`kernels/ holds ${onDisk}, registry lists ${want}`);
});

Deno.test("runtime: round trips of every dtype, including odd-length f16", async () => {
  const gpu = await getDevice();
  const cases = [
    { dtype: "f32", data: [1.5, -2.25, 0.10000000149011612] },
    { dtype: "f16", data: [1.5, -2.25, 0.0999755859375] },
    { dtype: "i32", data: [-7, 0, 2147483647] },
    { dtype: "u32", data: [0, 4294967295, 12] },
  ] as const;
  for (const { dtype, data } of cases) {
    const t = gpu.fromArray(data, [3], dtype);
    const back = Array.from(await t.read());
    if (back.join() !== data.join()) throw new Error(`${dtype}: wrote ${data}, read ${back}`);
    t.release();
  }
});

Deno.test("runtime: many dispatches go into one submit, and released buffers are reused", async () => {
  const gpu = await getDevice();
  gpu.flush();
  const before = gpu.recorder.submitCount;
  const x = gpu.fromArray([1, 2, 3], [3]);
  let acc = x;
  for (let i = 0; i < 50; i++) acc = add(gpu, acc, x);
  const out = await acc.read();
  if (out[2] !== 153) throw new Error(`expected 51 * 3 = 153, got ${out[2]}`);
  const submits = gpu.recorder.submitCount - before;
  if (submits > 3) throw new Error(`50 dispatches took ${submits} submits`);
  const y = gpu.empty([3]);
  const z = gpu.empty([3]);
  const buffer = y.buffer;
  y.release();
  gpu.flush();
  const reused = gpu.empty([3]);
  if (reused.buffer !== buffer) throw new Error("a released buffer of the same bucket was not reused");
  for (const t of [x, z, reused]) t.release();
});

Deno.test("runtime: pool buckets waste at most a quarter", () => {
  for (const n of [1, 255, 257, 1000, 4097, 123_457, 10_000_001]) {
    const b = BufferPool.bucket(n);
    if (b < n || (n > 256 && b > n * 1.25 + 256)) throw new Error(`bucket(${n}) = ${b}`);
  }
});

Deno.test("runtime: a tensor over the adapter's limits is refused with the limit named", async () => {
  const gpu = await getDevice();
  await assertThrowsWith(
    () => gpu.empty([gpu.limits.maxBufferSize], "f32", "huge"),
    "huge",
    "maxBufferSize",
    String(gpu.limits.maxBufferSize),
  );
  const maxBinding = gpu.limits.maxStorageBufferBindingSize;
  if (maxBinding < gpu.limits.maxBufferSize) {
    const n = maxBinding / 4 + 64;
    const big = gpu.empty([n]);
    await assertThrowsWith(() => add(gpu, big, big), "add", `"a"`, "maxStorageBufferBindingSize");
    big.release();
  }
});

Deno.test("runtime: a driver validation error surfaces as a thrown error naming the kernel", async () => {
  const gpu = await getDevice();
  const spec = { name: "broken.kernel", file: "elementwise.wgsl", entry: "no_such_entry", bindings: [] };
  await assertThrowsWith(async () => {
    gpu.dispatch(spec, { bindings: [], workgroups: 1 });
    await gpu.sync();
  }, "broken.kernel");
});

Deno.test("runtime: a one-element tensor binds after a vec4 kernel in the same compute pass", async () => {
  const gpu = await getDevice();
  const t = (rows: number, cols: number) =>
    gpu.fromArray(new Float32Array(rows * cols).fill(1), [rows, cols]);
  const [a4, b4, one, b9] = [t(1, 4), t(4, 4), t(1, 1), t(9, 1)];
  // The first product takes matmul's vec4 loads; the second binds a 4-byte A to the scalar entry point.
  const first = matmul(gpu, a4, b4, { transB: true });
  const second = matmul(gpu, one, b9, { transB: true });
  const [x, y] = await gpu.readAll([first, second]);
  if (x.join() !== "4,4,4,4" || y.join() !== "1,1,1,1,1,1,1,1,1") throw new Error(`got ${x} and ${y}`);
  for (const u of [a4, b4, one, b9, first, second]) u.release();
});

import { getDevice } from "../../lib/gpu/device.ts";
import { type KernelSpec, storageAccess } from "../../lib/gpu/kernel_registry.ts";
import { Recorder } from "../../lib/gpu/recorder.ts";
import { add, scale } from "../../lib/ops/elementwise.ts";
import { assertThrowsWith } from "../support/numeric.ts";

Deno.test("bind groups: the same pipeline and buffers reuse one bind group whatever the params", async () => {
  const gpu = await getDevice();
  const v = gpu.fromArray([1, 2, 3, 4, 5, 6, 7, 8], [8]);
  const before = gpu.counters();
  for (let i = 0; i < 10; i++) scale(gpu, v, 2 + i); // params differ per dispatch (dynamic offsets)
  const mid = gpu.counters();
  const out = await v.read();
  if (out[0] !== [...Array(10).keys()].reduce((p, i) => p * (2 + i), 1)) throw new Error(`scaled to ${out}`);
  if (mid.bindGroups - before.bindGroups !== 1) {
    throw new Error(
      `10 dispatches over one buffer created ${mid.bindGroups - before.bindGroups} bind groups`,
    );
  }
  // Another buffer, or another range of it, is another bind group (a range binds 16 bytes at least).
  const w = gpu.fromArray([1, 2, 3], [3]);
  scale(gpu, w, 2);
  scale(gpu, v.view([1], 0), 2);
  if (gpu.counters().bindGroups - mid.bindGroups !== 2) {
    throw new Error("new bindings did not get new bind groups");
  }
  v.release();
  w.release();
});

Deno.test("bind groups: the cache is an LRU of bounded size", async () => {
  const gpu = await getDevice();
  const recorder = new Recorder(gpu.device, gpu.pool, gpu.limits.minUniformBufferOffsetAlignment, 1 << 16, 3);
  const spec: KernelSpec = {
    name: "scale",
    file: "elementwise.wgsl",
    entry: "scale",
    bindings: ["v"],
  };
  const pipeline = gpu.kernels.pipeline(spec);
  const ts = Array.from({ length: 4 }, () => gpu.fromArray([1], [1]));
  const created = () => recorder.counters.bindGroups;
  const run = (i: number) =>
    recorder.dispatch(spec, pipeline, [ts[i].binding()], { n: 1, alpha: 2 }, [1, 1, 1]);
  [0, 1, 2, 0].forEach(run); // 0 hits and becomes the most recent
  if (created() !== 3) throw new Error(`${created()} created, want 3`);
  run(3); // evicts 1, the least recently used
  run(0);
  run(2);
  if (created() !== 4) throw new Error(`${created()} created, want 4`);
  run(1);
  if (created() !== 5) throw new Error("an evicted entry was not created anew");
  recorder.flush();
  const got = await Promise.all(ts.map((t) => t.read()));
  if (got.map((g) => g[0]).join() !== "8,4,4,2") throw new Error(`results ${got.map((g) => g[0])}`);
  ts.forEach((t) => t.release());
});

Deno.test("bind groups: layouts follow the access mode each entry point uses", async () => {
  const gpu = await getDevice();
  const src = gpu.kernels.source("elementwise.wgsl");
  // Binding 2 is `b` (read) for add and `y` (read_write) for axpy.
  const got = [storageAccess(src, "add", 3, "add"), storageAccess(src, "axpy", 2, "axpy")];
  if (
    JSON.stringify(got) !==
      JSON.stringify([["read-only-storage", "read-only-storage", "storage"], [
        "read-only-storage",
        "storage",
      ]])
  ) {
    throw new Error(`access modes ${JSON.stringify(got)}`);
  }
  const ambiguous = `
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
fn both() { let x = a[0]; b[0] = x; }`;
  await assertThrowsWith(() => storageAccess(ambiguous, "both", 1, "k.both"), "k.both", "@binding(1)");
  const x = gpu.fromArray([1, 2], [2]);
  const y = add(gpu, x, x); // the read-only storage bindings take the same buffer twice
  if ((await y.read()).join() !== "2,4") throw new Error("add");
  x.release();
  y.release();
});

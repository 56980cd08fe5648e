/**
 * Run by limits_env_test.ts under RLIF_DEVICE_LIMITS: prints the limits the runtime uses, adds two vectors
 * whose 1-D grid is past the lowered per-dimension limit (so it folds), and tries a binding past the lowered
 * binding size. One JSON line on stdout.
 */
import { getDevice } from "../../lib/gpu/device.ts";
import { add } from "../../lib/ops/elementwise.ts";

const gpu = await getDevice();
const n = 200_000; // 800 KB: under the lowered binding size, over 256 workgroups of 256
const a = gpu.fromArray(Float32Array.from({ length: n }, (_, i) => i % 1000), [n]);
const b = gpu.fromArray(Float32Array.from({ length: n }, (_, i) => 2 * (i % 7)), [n]);
const sum = await add(gpu, a, b).read();
let wrong = 0;
for (let i = 0; i < n; i++) if (sum[i] !== (i % 1000) + 2 * (i % 7)) wrong++;
let refused = "";
try {
  const big = gpu.zeros([(gpu.limits.maxStorageBufferBindingSize + 4) / 4], "f32");
  add(gpu, big, big);
} catch (e) {
  refused = (e as Error).message;
}
console.log(JSON.stringify({
  maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
  maxComputeWorkgroupsPerDimension: gpu.limits.maxComputeWorkgroupsPerDimension,
  wrong,
  refused,
}));

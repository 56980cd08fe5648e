/**
 * Smoke run: prints the WebGPU adapter rlif gets and runs one kernel, checking its result.
 * Usage: deno task smoke
 */
import { getDevice } from "../lib/gpu/device.ts";
import { add } from "../lib/ops/elementwise.ts";
import { runMain, ScriptCli } from "./_cli.ts";

new ScriptCli({
  task: "smoke",
  summary: "Prints the WebGPU adapter rlif gets (features, limits) and runs one kernel, checking its " +
    "result; exits 1 when the result is wrong.",
  flags: {},
  examples: ["deno task smoke"],
}).parse();

await runMain(async () => {
  const gpu = await getDevice();
  const info = gpu.adapterInfo;
  console.log(
    `adapter: ${info.description || info.device} (vendor ${info.vendor}, ${info.architecture || "?"})`,
  );
  console.log(`features: shader-f16=${gpu.features.f16} timestamp-query=${gpu.features.timestampQuery}`);
  console.log(
    `limits: maxBufferSize=${gpu.limits.maxBufferSize} maxStorageBufferBindingSize=${gpu.limits.maxStorageBufferBindingSize}`,
  );
  const n = 1000;
  const a = gpu.fromArray(Array.from({ length: n }, (_, i) => i), [n]);
  const sum = await add(gpu, a, a).read();
  const ok = sum.every((v, i) => v === 2 * i);
  console.log(`kernel add on ${n} elements: ${ok ? "ok" : "WRONG"}`);
  if (!ok) Deno.exit(1);
});

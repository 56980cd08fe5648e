import assert from "node:assert/strict";
import { parseDeviceLimits } from "../../lib/gpu/limits_env.ts";
import { runDenoFile } from "../support/scripts.ts";

const SCRIPT = new URL("./lowered_limits.ts", import.meta.url).pathname;
const DEVICE = { maxStorageBufferBindingSize: 134217728, maxComputeWorkgroupsPerDimension: 65535 };

function run(limits: string | null) {
  return runDenoFile(SCRIPT, [], limits === null ? {} : { RLIF_DEVICE_LIMITS: limits });
}

Deno.test("RLIF_DEVICE_LIMITS: parsed pairs, refused with the variable, the pair and the valid names", () => {
  assert.deepEqual(parseDeviceLimits(" maxComputeWorkgroupsPerDimension=256 , ", DEVICE), {
    maxComputeWorkgroupsPerDimension: 256,
  });
  const refused = (text: string, fragment: string) =>
    assert.throws(() => parseDeviceLimits(text, DEVICE), (e: Error) => {
      assert.ok(e.message.startsWith(`RLIF_DEVICE_LIMITS=${text}: `), e.message);
      assert.ok(e.message.includes(fragment), `"${e.message}" lacks "${fragment}"`);
      return true;
    });
  refused("maxStorageBufferBindingSize", "is not name=value");
  refused(
    "maxStorageBuferBindingSize=1024",
    "valid names: maxComputeWorkgroupsPerDimension, maxStorageBufferBindingSize",
  );
  refused("maxComputeWorkgroupsPerDimension=0", "positive integer");
  refused("maxComputeWorkgroupsPerDimension=1e3", "positive integer");
  refused("maxComputeWorkgroupsPerDimension=70000", "above the device's 65535");
});

Deno.test("RLIF_DEVICE_LIMITS: the runtime obeys lowered limits (grids fold, larger bindings are refused)", async () => {
  const lowered = await run("maxStorageBufferBindingSize=1048576,maxComputeWorkgroupsPerDimension=256");
  assert.equal(lowered.code, 0, lowered.stderr);
  const r = JSON.parse(lowered.stdout);
  assert.equal(r.maxStorageBufferBindingSize, 1048576);
  assert.equal(r.maxComputeWorkgroupsPerDimension, 256);
  // 200,000 elements need more than 256 workgroups on one axis: folded, every element still right.
  assert.equal(r.wrong, 0);
  assert.match(r.refused, /over the adapter's maxStorageBufferBindingSize 1048576/);
  const unset = JSON.parse((await run(null)).stdout);
  assert.ok(unset.maxStorageBufferBindingSize > 1048576);
  const bad = await run("maxFoo=1");
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /RLIF_DEVICE_LIMITS=maxFoo=1: "maxFoo" is not a WebGPU limit/);
});

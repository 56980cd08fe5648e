/**
 * `RLIF_DEVICE_LIMITS`: smaller device limits for tests of the planners. A comma-separated list of
 * `name=value` pairs of WebGPU limit names (`maxStorageBufferBindingSize=1048576,
 * maxComputeWorkgroupsPerDimension=256`) lowers what rlif's runtime allows below what the adapter grants, so
 * that chunking, folding and tiling meet the limits of a large GPU at real shapes on a tiny model. Every
 * dispatch is checked against the lowered limits, so a planner that ignores them fails loudly.
 *
 * @module
 */
import { GpuError } from "./errors.ts";

/** The environment variable that lowers the device limits. */
export const DEVICE_LIMITS_VARIABLE = "RLIF_DEVICE_LIMITS";

/**
 * Parses a `RLIF_DEVICE_LIMITS` value against the limits the device has: each name must be one of them and
 * each value a positive integer no larger than the device's. Throws a {@link GpuError} naming the variable,
 * the pair and what would be valid.
 *
 * @example
 * ```ts
 * parseDeviceLimits("maxComputeWorkgroupsPerDimension=256", { maxComputeWorkgroupsPerDimension: 65535 });
 * // { maxComputeWorkgroupsPerDimension: 256 }
 * ```
 */
export function parseDeviceLimits(
  text: string,
  device: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  const fail = (why: string): never => {
    throw new GpuError(`${DEVICE_LIMITS_VARIABLE}=${text}: ${why}`, { code: "gpu.device_limits" });
  };
  for (const pair of text.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const eq = pair.indexOf("=");
    if (eq < 0) fail(`"${pair}" is not name=value`);
    const name = pair.slice(0, eq).trim(), raw = pair.slice(eq + 1).trim();
    if (!(name in device)) {
      fail(
        `"${name}" is not a WebGPU limit of this device; valid names: ${
          Object.keys(device).sort().join(", ")
        }`,
      );
    }
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1) {
      fail(`${name}=${raw}: the value must be a positive integer`);
    }
    if (value > device[name]) {
      fail(`${name}=${value} is above the device's ${device[name]}; it can only lower limits`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * The lowered limits `RLIF_DEVICE_LIMITS` asks for: empty when it is unset or the process may not read it
 * (no `--allow-env`: the variable is not asked for, so no permission prompt appears).
 */
export function deviceLimitsFromEnv(device: Readonly<Record<string, number>>): Record<string, number> {
  let text: string | undefined;
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: DEVICE_LIMITS_VARIABLE }).state;
    if (state !== "granted") return {};
    text = Deno.env.get(DEVICE_LIMITS_VARIABLE);
  } catch {
    return {};
  }
  return text ? parseDeviceLimits(text, device) : {};
}

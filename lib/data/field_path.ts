/**
 * Field paths into nested rows: `problem`, `reward_model.ground_truth`, `prompt[0].content`.
 *
 * @module
 */

import { DataError } from "./errors.ts";

/** One step of a path: an object key or a list index. */
export type PathStep = { key: string } | { index: number };

/**
 * Parses a path: keys separated by dots, each optionally followed by `[n]` list indices.
 *
 * @example
 * ```ts
 * import { parseFieldPath } from "./mod.ts";
 * parseFieldPath("prompt[0].content"); // [{ key: "prompt" }, { index: 0 }, { key: "content" }]
 * ```
 */
export function parseFieldPath(path: string): PathStep[] {
  const steps: PathStep[] = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      throw new DataError(
        `field path "${path}": cannot parse "${part}"; write keys separated by dots with optional [n] ` +
          `indices, e.g. "prompt[0].content"`,
      );
    }
    steps.push({ key: m[1] });
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) steps.push({ index: Number(idx[1]) });
  }
  return steps;
}

/** The result of following a path: the value, or a description of where it broke. */
export type PathLookup = { found: true; value: unknown } | { found: false; reason: string };

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Follows `steps` into `value`. A missing key, an index past the end, or stepping into something that is
 * not an object or list ends the lookup with a reason naming the partial path.
 */
export function lookupPath(value: unknown, steps: readonly PathStep[]): PathLookup {
  let cur = value;
  let at = "";
  for (const step of steps) {
    if ("key" in step) {
      if (typeof cur !== "object" || cur === null || Array.isArray(cur)) {
        return {
          found: false,
          reason: `${at || "the row"} is ${describe(cur)}, not an object with "${step.key}"`,
        };
      }
      if (!Object.hasOwn(cur, step.key) || (cur as Record<string, unknown>)[step.key] === undefined) {
        const keys = Object.keys(cur);
        return {
          found: false,
          reason: at
            ? `${at} has no "${step.key}" (it has: ${keys.join(", ") || "no keys"})`
            : `no "${step.key}"`,
        };
      }
      cur = (cur as Record<string, unknown>)[step.key];
      at = at ? `${at}.${step.key}` : step.key;
    } else {
      if (!Array.isArray(cur)) return { found: false, reason: `${at} is ${describe(cur)}, not a list` };
      if (step.index >= cur.length) {
        return { found: false, reason: `${at} has ${cur.length} item(s), no [${step.index}]` };
      }
      cur = cur[step.index];
      at = `${at}[${step.index}]`;
    }
  }
  return { found: true, value: cur };
}

/**
 * Plain-English wording of schema problems, shared by configs, reward options, model config fields and
 * script flags (all validated with zod): "expected an integer >= 1", "is not one of a, b", "unknown key
 * powr; did you mean power?".
 *
 * @module
 */
import type { z } from "zod";

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = keep;
    }
  }
  return prev[b.length];
}

/**
 * The closest known key to a misspelt one (same leaf in another section counts as close), or null.
 *
 * @example
 * ```ts
 * closestKey("train.learning_rat", ["train.lr", "train.learning_rate"]); // "train.learning_rate"
 * ```
 */
export function closestKey(unknown: string, known: readonly string[]): string | null {
  const leaf = unknown.split(".").pop()!;
  const sameLeaf = known.filter((k) => k.split(".").pop() === leaf);
  if (sameLeaf.length === 1) return sameLeaf[0];
  let best: string | null = null, bestD = Infinity;
  for (const k of known) {
    const d = Math.min(
      levenshtein(unknown, k),
      levenshtein(leaf, k.split(".").pop()!) + (k.includes(".") ? 1 : 0),
    );
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(unknown.length / 4)) ? best : null;
}

/** A zod issue path as written in YAML: `components[1].options.power`. */
export function pathText(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join(
    "",
  );
}

const TYPE_WORDS: Record<string, string> = {
  number: "a number",
  int: "an integer",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
  null: "null",
};

function bound(n: unknown): string {
  return typeof n === "bigint" ? String(n) : String(n);
}

/**
 * What is wrong, in words, for one zod issue (without its path). `keysAt` lists the keys known at the
 * issue's mapping, for the "did you mean" of an unknown key.
 */
export function issueText(issue: z.core.$ZodIssue, keysAt: readonly string[] = []): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    case "too_small":
      if (issue.origin === "array") return `expected at least ${bound(issue.minimum)} elements`;
      if (issue.origin === "string") return `expected at least ${bound(issue.minimum)} characters`;
      return `must be ${issue.inclusive ? ">=" : ">"} ${bound(issue.minimum)}`;
    case "too_big":
      if (issue.origin === "array") return `expected at most ${bound(issue.maximum)} elements`;
      return `must be ${issue.inclusive ? "<=" : "<"} ${bound(issue.maximum)}`;
    case "not_multiple_of":
      return `must be a multiple of ${bound(issue.divisor)}`;
    case "invalid_value":
      return `must be one of ${issue.values.map(String).join(", ")}`;
    case "unrecognized_keys":
      return issue.keys.map((k) => {
        const near = closestKey(k, keysAt);
        return `unknown key ${k}${near ? `; did you mean ${near}?` : ""}` +
          (keysAt.length ? ` (known: ${keysAt.join(", ")})` : "");
      }).join("; ");
    case "invalid_union":
      return "matches none of the allowed forms";
    default:
      return issue.message;
  }
}

// deno-lint-ignore no-explicit-any
type AnyDef = any;

/** The object schema that describes `value` inside `schema` (through defaults, pipes and unions), if any. */
function objectFor(schema: z.ZodType, value: unknown): AnyDef | null {
  const def: AnyDef = (schema as AnyDef)._zod.def;
  switch (def.type) {
    case "default":
    case "prefault":
    case "optional":
    case "nullable":
      return objectFor(def.innerType, value);
    case "pipe":
      return objectFor(def.in, value) ?? objectFor(def.out, value);
    case "object":
      return def;
    case "union":
      for (const option of def.options) {
        const o = objectFor(option, value);
        const name = o?.shape?.name?._zod?.def;
        const v = value as Record<string, unknown> | null;
        if (o && (!name || name.type !== "literal" || name.values.includes(v?.name))) return o;
      }
      return null;
    default:
      return null;
  }
}

/** The known keys of the mapping at `path` of `value`, as `schema` describes it. */
function keysAtPath(schema: z.ZodType, value: unknown, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema, v = value;
  for (const p of path) {
    if (!s) return [];
    const o = objectFor(s, v);
    if (o) s = o.shape[p as string];
    else {
      const def: AnyDef = (s as AnyDef)._zod.def;
      let inner = def;
      while (["default", "prefault", "optional", "nullable"].includes(inner.type)) {
        inner = inner.innerType._zod.def;
      }
      s = inner.type === "array" ? inner.element : undefined;
    }
    v = (v as Record<PropertyKey, unknown> | undefined)?.[p];
  }
  const o = s ? objectFor(s, v) : null;
  return o ? Object.keys(o.shape) : [];
}

/** One problem found by {@link schemaProblems}: where in the value, and what is wrong. */
export interface SchemaProblem {
  /** Path inside the validated value (for locating it in a file). */
  path: PropertyKey[];
  /** `prefix.path: what is wrong` (or `unknown key prefix.path.key; did you mean …?`). */
  message: string;
}

/**
 * Validates `value` with `schema`: the parsed value, or every problem worded with its full key path
 * (`prefix` first, e.g. `reward.components[1].options.power: must be >= 0`) and, for an unknown key, the
 * closest known one.
 *
 * @example
 * ```ts
 * const r = schemaProblems(z.strictObject({ power: z.number() }), { powr: 1 }, "options");
 * r.problems?.[0].message; // "unknown key options.powr; did you mean power? (known: power)"
 * ```
 */
export function schemaProblems<T>(
  schema: z.ZodType<T>,
  value: unknown,
  prefix: string,
): { value: T; problems?: undefined } | { value?: undefined; problems: SchemaProblem[] } {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { value: parsed.data };
  const at = (path: readonly PropertyKey[]) => {
    const p = pathText(path);
    return prefix && p && !p.startsWith("[") ? `${prefix}.${p}` : `${prefix}${p}`;
  };
  const problems: SchemaProblem[] = [];
  for (const issue of parsed.error.issues) {
    const got = issue.path.reduce<unknown>(
      (o, k) => (o as Record<PropertyKey, unknown> | undefined)?.[k],
      value,
    );
    if (issue.code === "unrecognized_keys") {
      const known = keysAtPath(schema, value, issue.path);
      for (const k of issue.keys) {
        const near = closestKey(k, known);
        problems.push({
          path: [...issue.path, k],
          message: `unknown key ${at([...issue.path, k])}${near ? `; did you mean ${near}?` : ""}` +
            (known.length ? ` (known: ${known.join(", ")})` : " (it takes none)"),
        });
      }
      continue;
    }
    const discriminator = issue as { note?: string; options?: unknown[] };
    if (got === undefined && (issue.code === "invalid_type" || discriminator.options)) {
      const what = discriminator.options
        ? `one of ${discriminator.options.map(String).join(", ")}`
        : issueText(issue).replace(/^expected /, "");
      problems.push({ path: [...issue.path], message: `${at(issue.path)} is required (${what})` });
      continue;
    }
    const text = issue.code === "invalid_union" && discriminator.options
      ? `${JSON.stringify(got)} is not one of ${discriminator.options.map(String).join(", ")}`
      : issue.code === "invalid_value"
      ? `${JSON.stringify(got)} is not one of ${issue.values.map(String).join(", ")}`
      : `${issueText(issue)}${got === undefined ? "" : `, got ${JSON.stringify(got)}`}`;
    problems.push({ path: [...issue.path], message: `${at(issue.path)}: ${text}` });
  }
  return { problems };
}

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

/**
 * MATH's answer check, reproduced: hendrycks/math, modeling/math_equivalence.py (`is_equiv` and its
 * `_strip_string` pipeline), with the evaluation's extraction from modeling/dataset/util.py
 * (`last_boxed_only_string`) and modeling/eval_math_gpt.py (`remove_boxed`).
 *
 * The normalisation is a string rewrite, not mathematics: `0.5` equals `\frac12`, `1/2` equals
 * `\frac{1}{2}`, but `0.50`, `2/4` or `1,000` stay different. Where a Python step raises (an
 * `\sqrt` or `\frac` at the end of the string, two `\text{ ` units), `is_equiv` falls back to plain
 * string equality, and so does this file.
 *
 * @module
 */

/** Thrown where the Python pipeline raises, so `hendrycksIsEquiv` can fall back as `is_equiv` does. */
class StripError extends Error {}

function replaceAll(s: string, from: string, to: string): string {
  return s.split(from).join(to);
}

/** `_fix_fracs`: `\frac12` -> `\frac{1}{2}`, `\frac1{72}` -> `\frac{1}{72}`. */
export function hendrycksFixFracs(string: string): string {
  const substrs = string.split("\\frac");
  let out = substrs[0];
  for (const substr of substrs.slice(1)) {
    out += "\\frac";
    if (substr.length === 0) throw new StripError("\\frac at the end"); // Python: substr[0] IndexError
    if (substr[0] === "{") {
      out += substr;
      continue;
    }
    if (substr.length < 2) return string;
    const a = substr[0];
    const b = substr[1];
    out += b !== "{" ? `{${a}}{${b}}${substr.slice(2)}` : `{${a}}${b}${substr.slice(2)}`;
  }
  return out;
}

// Python's int() round trip `"{}/{}".format(int(a), int(b)) == string` holds only for canonical integers.
const CANONICAL_INT = /^(?:-?[1-9][0-9]*|0)$/;

/** `_fix_a_slash_b`: `3/4` -> `\frac{3}{4}` when both sides are canonical integers. */
export function hendrycksFixASlashB(string: string): string {
  const parts = string.split("/");
  if (parts.length !== 2) return string;
  if (!CANONICAL_INT.test(parts[0]) || !CANONICAL_INT.test(parts[1])) return string;
  return `\\frac{${parts[0]}}{${parts[1]}}`;
}

/** `_remove_right_units`: drops everything from `\text{ ` (a unit, in MATH's answers). */
export function hendrycksRemoveRightUnits(string: string): string {
  if (!string.includes("\\text{ ")) return string;
  const splits = string.split("\\text{ ");
  if (splits.length !== 2) throw new StripError("more than one \\text{ unit"); // Python: assert
  return splits[0];
}

/** `_fix_sqrt`: `\sqrt3` -> `\sqrt{3}`. */
export function hendrycksFixSqrt(string: string): string {
  if (!string.includes("\\sqrt")) return string;
  const splits = string.split("\\sqrt");
  let out = splits[0];
  for (const split of splits.slice(1)) {
    if (split.length === 0) throw new StripError("\\sqrt at the end"); // Python: split[0] IndexError
    out += split[0] !== "{" ? `\\sqrt{${split[0]}}${split.slice(1)}` : `\\sqrt${split}`;
  }
  return out;
}

/**
 * `_strip_string`: MATH's answer normalisation. Throws where the Python function raises; callers
 * that follow a reference catching it (`is_equiv`, MathRuler's `normalize_answer`) catch it too.
 */
export function hendrycksStripString(input: string): string {
  let s = input.replaceAll("\n", "");
  s = replaceAll(s, "\\!", "");
  s = replaceAll(s, "\\\\", "\\");
  s = replaceAll(s, "tfrac", "frac");
  s = replaceAll(s, "dfrac", "frac");
  s = replaceAll(s, "\\left", "");
  s = replaceAll(s, "\\right", "");
  s = replaceAll(s, "^{\\circ}", "");
  s = replaceAll(s, "^\\circ", "");
  s = replaceAll(s, "\\$", "");
  s = hendrycksRemoveRightUnits(s);
  s = replaceAll(s, "\\%", "");
  s = replaceAll(s, "%", "");
  s = replaceAll(s, " .", " 0.");
  s = replaceAll(s, "{.", "{0.");
  if (s.length === 0) return s;
  if (s[0] === ".") s = "0" + s;
  const sides = s.split("=");
  if (sides.length === 2 && sides[0].length <= 2) s = sides[1];
  s = hendrycksFixSqrt(s);
  s = replaceAll(s, " ", "");
  s = hendrycksFixFracs(s);
  if (s === "0.5") s = "\\frac{1}{2}";
  return hendrycksFixASlashB(s);
}

/**
 * `is_equiv(str1, str2)`: equal after `_strip_string`; `null` stands for Python's `None` (both
 * `None` is equal, one `None` is not); where stripping raises, plain string equality.
 *
 * @example
 * ```ts
 * hendrycksIsEquiv("\\dfrac12", "0.5"); // true
 * hendrycksIsEquiv("0.50", "\\frac{1}{2}"); // false
 * ```
 */
export function hendrycksIsEquiv(str1: string | null, str2: string | null): boolean {
  if (str1 === null && str2 === null) return true;
  if (str1 === null || str2 === null) return false;
  try {
    return hendrycksStripString(str1) === hendrycksStripString(str2);
  } catch (e) {
    if (!(e instanceof StripError)) throw e;
    return str1 === str2;
  }
}

/**
 * `last_boxed_only_string` (modeling/dataset/util.py): the last `\boxed` (else `\fbox`) through its
 * balancing brace, or `null` when there is none or the braces never balance.
 */
export function hendrycksLastBoxedOnlyString(string: string): string | null {
  let idx = string.lastIndexOf("\\boxed");
  if (idx < 0) {
    idx = string.lastIndexOf("\\fbox");
    if (idx < 0) return null;
  }
  let open = 0;
  for (let i = idx; i < string.length; i++) {
    const c = string[i];
    if (c === "{") open++;
    else if (c === "}") {
      open--;
      if (open === 0) return string.slice(idx, i + 1);
    }
  }
  return null;
}

/** `remove_boxed` (modeling/eval_math_gpt.py): the inside of `\boxed{…}`, else `null`. */
export function hendrycksRemoveBoxed(s: string | null): string | null {
  const left = "\\boxed{";
  if (s === null || !s.startsWith(left) || !s.endsWith("}")) return null;
  return s.slice(left.length, -1);
}

/**
 * The verdict of MATH's evaluation (modeling/eval_math_gpt.py) on a full response:
 * `is_equiv(remove_boxed(last_boxed_only_string(response)), gold)`, `gold` being the reference's
 * final answer (already taken out of its solution's box).
 */
export function hendrycksGrade(response: string, gold: string): boolean {
  return hendrycksIsEquiv(hendrycksRemoveBoxed(hendrycksLastBoxedOnlyString(response)), gold);
}

/**
 * The `math_verify` grader: Hugging Face Math-Verify's `verify(parse(gold), parse(pred))` with
 * `parse`'s default extraction (LatexExtractionConfig + ExprExtractionConfig, boxed priority 50)
 * and `verify`'s defaults (float_rounding=6, strict=True). Follows Math-Verify, src/math_verify/
 * parser.py (`parse`, `extract_target_from_pred`, the lazy_*_regex patterns) and grader.py
 * (`verify`, `sympy_expr_eq`), with latex2sympy2_extended's math_normalization.py
 * (`normalize_latex`). Approximations: sympy is replaced by the small parser of
 * math_verify/parse_latex.ts, and `simplify(a - b) == 0` by seeded random-point evaluation
 * (exact rationals where the expression is rational); to keep every call bounded, inputs over 50k
 * characters are cut to their last 50k and the plain-expression pattern's repetitions are capped
 * at 200 characters (the reference's are unbounded).
 *
 * @module
 */

import { normalizeLatex } from "./math_verify/normalize.ts";
import { parseLatex } from "./math_verify/parse_latex.ts";
import { type MvNode, rat, ratFromDecimal } from "./math_verify/value.ts";
import { exprEq } from "./math_verify/verify.ts";

export { normalizeLatex } from "./math_verify/normalize.ts";
export type { MvNode } from "./math_verify/value.ts";

/** One item of `parse`'s result: a parsed value, or the fallback string of the first match. */
export type MathVerifyItem = { kind: "value"; value: MvNode } | { kind: "string"; text: string };

const MAX_INPUT = 50_000;
const MAX_EXPR = 200;

function latexEnv(prefix: string, fraction: boolean): string {
  const pct = `(?<${prefix}percent>(?:\\\\?%|[Pp]ercent|[Pp]ercentage|[Pp]ct))`;
  const patterns = [
    String.raw`(?<!\\)\$\$(?<${prefix}latexDisplayDollar>(?:[^$]|\$(?!\$))+?)(?<!\\)\$\$`,
    String.raw`(?<!\\)\\\[(?<${prefix}latexDisplayBracket>(?:[^\\]|\\(?!\]))+?)(?<!\\)\\\]`,
    String.raw`(?<!\\|\d)\$(?<${prefix}latexInlineDollar>(?:\\[$]|[^\n$])+?)(?<!\\)\$`,
    String.raw`(?<!\\)\\\((?<${prefix}latexInlineParenthesis>(?:[^\\\n]|\\(?!\)))+?)(?<!\\)\\\)`,
    String.raw`\s\[(?<${prefix}latexInlineBracket>[^\n\]\[]+?)\]\s`,
  ];
  if (fraction) {
    patterns.push(String.raw`(?<${prefix}latexFraction>-?\\frac\{-?\d+(?:[.,]\d+)?\}\{-?\d+(?:[.,]\d+)?\})`);
  }
  return `(?:(?:${patterns.join("|")})\\s*${pct}?)`;
}

/** A match as `extract_match` sees it: where it lies and its named groups. */
type Found = { index: number; end: number; groups: Record<string, string | undefined> };
type Pattern = { find: (text: string) => Found[]; priority: number; kind: "latex" | "expr" };

function regexPattern(source: string, flags: string, priority: number, kind: "latex" | "expr"): Pattern {
  const re = new RegExp(source, flags);
  return {
    priority,
    kind,
    find: (text) =>
      [...text.matchAll(re)].map((m) => ({
        index: m.index!,
        end: m.index! + m[0].length,
        groups: m.groups ?? {},
      })),
  };
}

const HAS_BOXED = /\\boxed\{[\s\S]+?\}/;

/**
 * The reference's "environment containing \boxed" pattern (five optional "and"-joined followers).
 * An environment's content cannot contain its closing delimiter, so the reference's nested lazy
 * `c*?\boxed{c+?}c*?` matches exactly the plain environment whose content holds a `\boxed{..}`:
 * this finds plain environments and filters them, which is linear where the nested pattern
 * backtracks cubically on an unclosed environment.
 */
function boxedEnvPattern(priority: number): Pattern {
  const source = latexEnv("e_", false);
  const scan = new RegExp(source, "gs");
  const sticky = new RegExp(source, "ys");
  const separator = /\s*(?:,?and|,?or|,)\s*/y;
  const spaces = /\s*/y;
  const envAt = (m: RegExpExecArray | null) => {
    if (!m) return null;
    const entry = Object.entries(m.groups ?? {}).find(([k, v]) => k.startsWith("e_latex") && v !== undefined);
    return entry && HAS_BOXED.test(entry[1]!) ? { m, name: entry[0].slice(2), content: entry[1]! } : null;
  };
  return {
    priority,
    kind: "latex",
    find: (text) => {
      const out: Found[] = [];
      let pos = 0;
      while (pos <= text.length) {
        scan.lastIndex = pos;
        const m = scan.exec(text);
        if (!m) break;
        const env = envAt(m);
        if (!env) {
          pos = m.index + 1;
          continue;
        }
        const groups: Record<string, string | undefined> = {
          [`first_${env.name}`]: env.content,
          first_percent: m.groups?.e_percent,
        };
        let end = m.index + m[0].length;
        for (let i = 1; i <= 5; i++) {
          spaces.lastIndex = end;
          spaces.exec(text);
          end = spaces.lastIndex;
          separator.lastIndex = end;
          if (!separator.exec(text)) continue;
          sticky.lastIndex = separator.lastIndex;
          const next = envAt(sticky.exec(text));
          if (!next) continue;
          groups[`next${i}_${next.name}`] = next.content;
          groups[`next${i}_percent`] = next.m.groups?.e_percent;
          end = next.m.index + next.m[0].length;
        }
        out.push({ index: m.index, end, groups });
        pos = end > m.index ? end : m.index + 1;
      }
      return out;
    },
  };
}

function latexPatterns(): Pattern[] {
  const next = [1, 2, 3, 4, 5].map((i) => `(?:\\s*(?:,?and|,?or|,)\\s*${latexEnv(`next${i}_`, true)})?`).join(
    "",
  );
  const envs = `(?:${latexEnv("first_", true)}${next})`;
  const list: [string, number][] = [
    [`(?i:final answer is):?\\s*${envs}\\.?\\s?I hope`, 0],
    [`(?i:final answer.{0,100}?)\\s+is:?\\s*${envs}`, 50],
    [`(?i:answer):.{0,50}?${envs}`, 100],
    [`(?i:answer).{0,50}?${envs}`, 200],
    [envs, 300],
    [String.raw`(?<first_latexBoxed>\\boxed\{.+\})`, 50],
  ];
  return [...list.map(([p, priority]) => regexPattern(p, "gs", priority, "latex")), boxedEnvPattern(50)];
}

function exprPatterns(): Pattern[] {
  const number = String.raw`(?<!\d)(?:(?<integer1>-?[1-9]\d{0,2}(?:[ ,]\d{3})+)(?<decimal1>\.\d+)?|` +
    String.raw`(?<integer2>-?\d+)(?<decimal2>[.,]\d+)|(?<decimal3>\.\d+)|(?<integer3>-?\d+))` +
    String.raw`(?<percent>\s*(?:%|[Pp]ercent|\s*[Pp]ercentage|\s*[Pp]ct))?`;
  const ops = String.raw`\+\-\*×\/\^\(\)÷`;
  // Bounded repetitions (the reference's are unbounded) keep the scan linear on long digit runs.
  const chars = String.raw`[\d\.\s${ops}]`;
  const expr = String.raw`(?<expr>-?\(?-?\d${chars}{0,${MAX_EXPR}}[${ops}]${chars}{1,${MAX_EXPR}}\)?)`;
  const prefix = String.raw`(?:^|\s|=)(?:\*\*)?`;
  const suffix = String.raw`(?:\*\*)?(?:\.|,|:|\s|\)|\$|$)`;
  const currency = "[$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₴₵₶₷₸₹₺₻₼₽₾₿]";
  const withExpr = `(?:${prefix}${expr}${suffix})`;
  const withNumber = `(?:${prefix}${currency}?${number})`;
  const either = `(?:${withExpr}|${withNumber})`;
  const list: [string, number][] = [
    [`(?i:final answer is):?\\s*${either}\\.?\\s?I hope`, 0],
    [`(?i:final answer.{0,100}?)\\s+is:?${either}`, 50],
    [`(?i:answer):(?:.{0,100}=\\s*|.{0,50}?)${either}(?!\\s*=)`, 100],
    [`(?i:answer)(?:.{0,100}=\\s*|.{0,50}?)${either}(?!\\s*=)`, 200],
    [withExpr, 300],
    [withNumber, 300],
  ];
  return list.map(([p, priority]) => regexPattern(p, "gu", priority, "expr"));
}

let patternsCache: Pattern[] | null = null;
function patterns(): Pattern[] {
  patternsCache ??= [...latexPatterns(), ...exprPatterns()].sort((a, b) => a.priority - b.priority);
  return patternsCache;
}

const pct = (v: MvNode): MvNode => ({ t: "pct", arg: v });

function parseNormalized(latex: string): MvNode {
  try {
    return parseLatex(latex);
  } catch (e) {
    // parse_latex_cached: retry with the last part of an equation chain (a = b = c -> c).
    if (!latex.includes(",") && !latex.includes(";")) {
      const parts = latex.split(/(?<!\\|<|!|>)=/);
      if (parts.length > 2) return parseLatex(parts[parts.length - 1]);
    }
    throw e;
  }
}

function extractLatex(g: Found["groups"]): { value: MvNode | null; text: string } {
  const found: { latex: string; name: string; percent: boolean }[] = [];
  for (const prefix of ["first", "next1", "next2", "next3", "next4", "next5"]) {
    const entry = Object.entries(g).find(([k, v]) => k.startsWith(`${prefix}_latex`) && v);
    if (entry) found.push({ latex: entry[1]!, name: entry[0], percent: !!g[`${prefix}_percent`] });
  }
  const values: (MvNode | null)[] = [];
  const texts: string[] = [];
  for (const { latex, name, percent } of found) {
    const normalized = normalizeLatex(latex, name.endsWith("latexBoxed") ? "last" : "all");
    texts.push(normalized);
    try {
      const v = parseNormalized(normalized);
      values.push(percent ? pct(v) : v);
    } catch {
      values.push(null);
    }
  }
  if (values.length === 0) return { value: null, text: "" };
  if (values.length > 1 && values.every((v) => v !== null)) {
    const items = values.flatMap((v) => v!.t === "set" ? v!.items : [v!]);
    return { value: { t: "set", items }, text: texts.join(" and ") };
  }
  return { value: values[0], text: texts[0] };
}

function extractExpr(g: Found["groups"]): { value: MvNode | null; text: string } {
  const integer = Object.entries(g).find(([k, v]) => k.startsWith("integer") && v)?.[1] ?? "";
  const decimal = Object.entries(g).find(([k, v]) => k.startsWith("decimal") && v)?.[1] ?? "";
  if (integer || decimal) {
    let int = integer.replace(/[, ]/g, "");
    const negative = int.startsWith("-");
    int = int.replace(/^-/, "").replace(/^0+/, "") || "0";
    const numberStr = `${negative ? "-" : ""}${int}${decimal.replace(",", ".")}`;
    const v: MvNode = { t: "num", v: ratFromDecimal(numberStr.replace("-", "")), float: decimal !== "" };
    const signed: MvNode = negative ? { ...v, v: rat(-v.v.n, v.v.d) } as MvNode : v;
    return { value: g.percent ? pct(signed) : signed, text: numberStr };
  }
  const expr = g.expr ?? "";
  if (expr) {
    try {
      // Python reads "3." as the float 3.0.
      const python = expr.replaceAll("\n", " ").replaceAll("×", "*").replaceAll("÷", "/")
        .replace(/(\d)\.(?!\d)/g, "$1.0");
      return { value: parseLatex(python), text: expr };
    } catch {
      // sympy's parse_expr failed: the match yields only its fallback string.
    }
  }
  return { value: null, text: expr };
}

/**
 * Math-Verify's `parse(text)` with the default configuration: the parsed value of the best match
 * (lowest priority group, rightmost match first) followed by the first match's string as fallback.
 */
export function mathVerifyParse(text: string): MathVerifyItem[] {
  if (text.length > MAX_INPUT) text = text.slice(text.length - MAX_INPUT);
  const all = patterns();
  const out: MathVerifyItem[] = [];
  const fallbacks: string[] = [];
  for (let i = 0; i < all.length;) {
    const priority = all[i].priority;
    const group: Pattern[] = [];
    for (; i < all.length && all[i].priority === priority; i++) group.push(all[i]);
    const matches = group.flatMap((p) => p.find(text).map((m) => ({ m, kind: p.kind })));
    matches.sort((a, b) => a.m.end !== b.m.end ? b.m.end - a.m.end : a.m.index - b.m.index);
    let found = false;
    for (const { m, kind } of matches) {
      const { value, text: fallback } = kind === "latex" ? extractLatex(m.groups) : extractExpr(m.groups);
      if (fallback) fallbacks.push(fallback);
      if (value) {
        out.push({ kind: "value", value });
        found = true;
        break;
      }
    }
    if (found) break;
  }
  if (fallbacks.length) out.push({ kind: "string", text: fallbacks[0] });
  return out;
}

/** Math-Verify's `verify(gold, target)`: any gold item equal to any target item. */
export function mathVerifyVerify(gold: MathVerifyItem[], target: MathVerifyItem[]): boolean {
  for (const g of gold) {
    for (const t of target) {
      if (g.kind === "value" && t.kind === "value") {
        try {
          if (exprEq(g.value, t.value)) return true;
        } catch {
          // verify returns False for a comparison that raises.
        }
      } else if (g.kind === "string" && t.kind === "string") {
        const a = g.text.trim(), b = t.text.trim();
        if (a.length > 0 && a === b) return true;
      }
    }
  }
  return false;
}

/** The `math_verify` verdict for a full response: `verify(parse(gold), parse(response))`. */
export function mathVerifyGrade(response: string, gold: string): boolean {
  return mathVerifyVerify(mathVerifyParse(gold), mathVerifyParse(response));
}

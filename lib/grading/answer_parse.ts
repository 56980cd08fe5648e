/**
 * Finding the answer inside a response (boxed values, math regions, "the answer is") and parsing a
 * normalised answer into its structure: lists and sets, tuples and intervals, unions, equations and
 * inequalities, single expressions.
 *
 * @module
 */

import { findBoxed, matchBrace } from "./extract.ts";
import { matchAnyBracket, splitTopLevel } from "./latex.ts";

/** Relation operators recognised at the top level of an answer. */
export type RelationOp = "=" | "<" | ">" | "\\le" | "\\ge" | "\\ne" | "\\in";

/** The parsed structure of an answer. */
export type AnswerNode =
  | { kind: "list"; items: AnswerNode[]; braced: boolean; source?: string }
  | { kind: "tuple"; open: "(" | "["; close: ")" | "]"; items: AnswerNode[] }
  | { kind: "union"; items: AnswerNode[] }
  | { kind: "relation"; parts: string[]; ops: RelationOp[] }
  | { kind: "expr"; text: string };

interface Span {
  content: string;
  start: number;
  end: number;
}

/** `$…$` (single line), `$$…$$`, `\(…\)` and `\[…\]` regions, in order. Escaped `\$` is text. */
export function findMathRegions(text: string): Span[] {
  const spans: Span[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\\" && (text[i + 1] === "(" || text[i + 1] === "[")) {
      const close = text.indexOf(text[i + 1] === "(" ? "\\)" : "\\]", i + 2);
      if (close < 0) break;
      spans.push({ content: text.slice(i + 2, close), start: i, end: close + 2 });
      i = close + 2;
    } else if (ch === "\\") {
      i += 2;
    } else if (ch === "$" && text[i + 1] === "$") {
      const close = text.indexOf("$$", i + 2);
      if (close < 0) break;
      spans.push({ content: text.slice(i + 2, close), start: i, end: close + 2 });
      i = close + 2;
    } else if (ch === "$") {
      let j = i + 1;
      while (j < text.length && text[j] !== "$" && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
      if (text[j] === "$") {
        spans.push({ content: text.slice(i + 1, j), start: i, end: j + 1 });
        i = j + 1;
      } else {
        i++;
      }
    } else {
      i++;
    }
  }
  return spans;
}

/** True when the text between two answers only separates them (commas, "and", spacing, delimiters). */
function isSeparatorOnly(gap: string): boolean {
  const rest = gap
    .replace(/\\(?:text|textnormal|textrm|mbox)\s*\{([^{}]*)\}/g, " $1 ")
    .replace(/\\(?:q?quad|[,;: ])|\\[()[\]]|\$/g, " ")
    .replace(/\b(?:and|or)\b|[,;&]/gi, " ");
  return rest.trim() === "";
}

/** The last run of spans separated only by separators, joined as a list. */
function lastRun(text: string, spans: Span[]): string {
  let first = spans.length - 1;
  while (first > 0 && isSeparatorOnly(text.slice(spans[first - 1].end, spans[first].start))) first--;
  return spans.slice(first).map((s) => s.content.trim()).join(", ");
}

const ANSWER_PHRASE = /(?:final answer|the answer|answer)\s*(?:is|:)\s*/gi;

/**
 * The answer part of a response or of a reference: the boxed value(s), else the last math region(s),
 * else what follows "the answer is", else the whole text. Several boxes or regions separated only by
 * commas or "and" form one list.
 *
 * @example
 * ```ts
 * import { isolateAnswer } from "./mod.ts";
 * isolateAnswer("so the roots are $\\boxed{1}$ and $\\boxed{-2}$."); // "1, -2"
 * ```
 */
export function isolateAnswer(text: string): string {
  const boxes = findBoxed(text).filter((b) => b.balanced);
  if (boxes.length > 0) return lastRun(text, boxes);
  let scope = text;
  let phrase: RegExpExecArray | null = null;
  for (const m of text.matchAll(ANSWER_PHRASE)) phrase = m as RegExpExecArray;
  if (phrase) {
    const rest = text.slice(phrase.index! + phrase[0].length);
    if (rest.trim() !== "") scope = rest;
  }
  const regions = findMathRegions(scope);
  if (regions.length > 0) return lastRun(scope, regions);
  if (scope !== text) {
    const sentence = /^([\s\S]*?)(?:\.\s|\n|$)/.exec(scope.trim());
    return sentence ? sentence[1] : scope;
  }
  return text;
}

const RELATIONS: RelationOp[] = ["\\le", "\\ge", "\\ne", "\\in", "=", "<", ">"];

/** Splits at relation operators outside brackets. */
export function splitRelations(s: string): { parts: string[]; ops: RelationOp[] } {
  const parts: string[] = [];
  const ops: RelationOp[] = [];
  let depth = 0;
  let start = 0;
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (depth === 0) {
      const op = RELATIONS.find((r) =>
        s.startsWith(r, i) && (!r.startsWith("\\") || !/[A-Za-z]/.test(s[i + r.length] ?? ""))
      );
      if (op) {
        parts.push(s.slice(start, i).trim());
        ops.push(op);
        i += op.length;
        start = i;
        continue;
      }
    }
    if (ch === "\\") {
      if (s.startsWith("\\begin", i) || s[i + 1] === "{") depth++;
      else if (s.startsWith("\\end", i) || s[i + 1] === "}") depth = Math.max(0, depth - 1);
      i += /^\\[A-Za-z]+/.exec(s.slice(i))?.[0].length ?? 2;
      continue;
    }
    if ("([{".includes(ch)) depth++;
    else if (")]}".includes(ch)) depth = Math.max(0, depth - 1);
    i++;
  }
  parts.push(s.slice(start).trim());
  return { parts, ops };
}

const GREEK_OR_ANGLE =
  /\\(?:angle|measuredangle|triangle|alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu|xi|rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Sigma|Phi|Psi|Omega)(?![A-Za-z])/g;
const DECORATIONS = /\\(?:overline|vec|hat|bar|widehat|overrightarrow|mathit|mathrm)\s*\{([^{}]*)\}/g;

/**
 * Is this the name of the thing being answered (`x`, `f(x)`, `(p,q)`, `a_{37}`, `|AB|`, `\angle A`)
 * rather than a quantity? Such a left-hand side can be dropped: `x = 5` answers `5`.
 */
export function isNameLike(lhs: string): boolean {
  const s = lhs
    .replace(DECORATIONS, "$1")
    .replace(/_\s*\{[^{}]*\}|_\s*\\?[A-Za-z0-9]+/g, "")
    .replace(GREEK_OR_ANGLE, "A")
    .replace(/'/g, "");
  return s.trim() !== "" && /^[A-Za-z(),|:\s]+$/.test(s);
}

/** Expands `a \pm b` into `a + b` and `a - b` (at most 3 signs, 8 variants). */
function expandPlusMinus(s: string): string[] | null {
  const count = (s.match(/\\(?:pm|mp)(?![A-Za-z])/g) ?? []).length;
  if (count === 0 || count > 3) return null;
  let variants = [s];
  for (let k = 0; k < count; k++) {
    variants = variants.flatMap((v) => {
      const m = /\\(pm|mp)(?![A-Za-z])/.exec(v)!;
      const [first, second] = m[1] === "pm" ? ["+", "-"] : ["-", "+"];
      const head = v.slice(0, m.index);
      const tail = v.slice(m.index + m[0].length);
      return [head + first + tail, head + second + tail];
    });
  }
  return variants.map((v) => v.replace(/^\s*\+/, "").trim());
}

function list(items: AnswerNode[], braced: boolean, source?: string): AnswerNode {
  const flat = items.flatMap((n) => (n.kind === "list" && !n.braced ? n.items : [n]));
  return source === undefined
    ? { kind: "list", items: flat, braced }
    : { kind: "list", items: flat, braced, source };
}

/**
 * The structure of a normalised answer (see {@link AnswerNode}).
 *
 * @example
 * ```ts
 * import { parseAnswer } from "./mod.ts";
 * parseAnswer("[0, 1)"); // { kind: "tuple", open: "[", close: ")", items: [...] }
 * ```
 */
export function parseAnswer(input: string, depth = 0): AnswerNode {
  let s = input.trim();
  if (depth > 12) return { kind: "expr", text: s };
  while (s.startsWith("{") && matchBrace(s, 0) === s.length) s = s.slice(1, -1).trim();

  if (s === "\\emptyset") return { kind: "list", items: [], braced: true };
  const items = splitTopLevel(s, [",", ";", "and", "or"]).filter((p) => p !== "");
  if (items.length > 1) return list(items.map((p) => parseAnswer(p, depth + 1)), false, s);

  const unionParts = splitTopLevel(s, ["\\cup"]);
  if (unionParts.length > 1) {
    return {
      kind: "union",
      items: unionParts.map((p) => parseAnswer(p, depth + 1)),
    };
  }

  const rel = splitRelations(s);
  if (rel.ops.length > 0 && rel.parts.every((p) => p !== "")) {
    const interval = chainToInterval(rel.parts, rel.ops, depth);
    if (interval) return interval;
    return { kind: "relation", parts: rel.parts, ops: rel.ops };
  }

  if (s.startsWith("\\{") && matchAnyBracket(s, 0) === s.length && s.endsWith("\\}")) {
    const inner = s.slice(2, -2).trim();
    const members = inner === ""
      ? []
      : splitTopLevel(inner, [",", ";"]).map((p) => parseAnswer(p, depth + 1));
    return list(members, true);
  }

  if ((s[0] === "(" || s[0] === "[") && matchAnyBracket(s, 0) === s.length && /[)\]]$/.test(s)) {
    const inner = s.slice(1, -1);
    const parts = splitTopLevel(inner, [","]);
    if (parts.length >= 2 && parts.every((p) => p !== "")) {
      return {
        kind: "tuple",
        open: s[0] as "(" | "[",
        close: s[s.length - 1] as ")" | "]",
        items: parts.map((p) => parseAnswer(p, depth + 1)),
      };
    }
    if (s[0] === "(" && s.endsWith(")") && parts.length === 1) return parseAnswer(inner, depth + 1);
  }

  const variants = expandPlusMinus(s);
  if (variants) return list(variants.map((v) => ({ kind: "expr", text: v })), false);
  return { kind: "expr", text: s };
}

/** `a < x \le b` with a name in the middle is the interval `(a, b]`. */
function chainToInterval(parts: string[], ops: RelationOp[], depth: number): AnswerNode | null {
  if (parts.length !== 3 || !isNameLike(parts[1])) return null;
  const up = ops.every((o) => o === "<" || o === "\\le");
  const down = ops.every((o) => o === ">" || o === "\\ge");
  if (!up && !down) return null;
  const [lo, hi] = up ? [parts[0], parts[2]] : [parts[2], parts[0]];
  const [loOp, hiOp] = up ? [ops[0], ops[1]] : [ops[1], ops[0]];
  return {
    kind: "tuple",
    open: loOp === "<" || loOp === ">" ? "(" : "[",
    close: hiOp === "<" || hiOp === ">" ? ")" : "]",
    items: [parseAnswer(lo, depth + 1), parseAnswer(hi, depth + 1)],
  };
}

/**
 * LaTeX answer normalisation: the rewrites that make two spellings of one answer compare equal as
 * strings (`\dfrac` → `\frac`, `\frac13` → `\frac{1}{3}`, units, degrees, percent signs, thousands
 * separators, `\left`/`\right`, spacing commands, math delimiters, trailing periods).
 *
 * @module
 */

import { matchBrace } from "./extract.ts";

/** A normalised answer and whether a percent sign (or the word percent) was removed from it. */
export interface CleanedAnswer {
  /** The normalised LaTeX, single-spaced. */
  text: string;
  /** True when the answer was written as a percentage. */
  percent: boolean;
}

const UNICODE: [RegExp, string][] = [
  [/[\u2212\u2013\u2014]/g, "-"],
  [/\u00d7/g, "\\times "],
  [/\u00f7/g, "\\div "],
  [/[\u00b7\u22c5]/g, "\\cdot "],
  [/\u03c0/g, "\\pi "],
  [/\u221e/g, "\\infty "],
  [/\u2264/g, "\\le "],
  [/\u2265/g, "\\ge "],
  [/\u2260/g, "\\ne "],
  [/\u221a/g, "\\sqrt"],
  [/\u00b0/g, "^\\circ"],
  [/\u222a/g, "\\cup "],
  [/\u2208/g, "\\in "],
  [/[\u00a0\u2009\u202f]/g, " "],
];

// Wrappers whose content is plain text or a name; units are recognised among them.
const TEXT_WRAPPERS =
  /\\(text|textbf|textit|textnormal|textrm|textsf|texttt|mbox|mathrm|mathbf|mathit|mathsf|mathbb|mathcal|boldsymbol|operatorname)\s*\{/g;
// Words that are mathematics, not units, when they follow a number.
const NOT_UNITS = new Set([
  "and",
  "or",
  "pi",
  "sin",
  "cos",
  "tan",
  "sec",
  "csc",
  "cot",
  "log",
  "ln",
  "exp",
  "sqrt",
  "i",
  "e",
  "x",
  "y",
  "z",
]);
const UNIT_WORDS = /^[A-Za-z]+(?:[ -][A-Za-z]+)*$/;
const SIZE_COMMANDS =
  /\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|bigg|Bigg|big|Big|middle)(?![A-Za-z])(?:\s*\.)?/g;

/**
 * Normalises a LaTeX answer (already isolated from its response) for comparison.
 *
 * @example
 * ```ts
 * import { cleanLatex } from "./mod.ts";
 * cleanLatex("\\$1,000.50"); // { text: "1000.50", percent: false }
 * cleanLatex("\\left(\\dfrac13\\right)\\%"); // { text: "(\\frac{1}{3})", percent: true }
 * ```
 */
export function cleanLatex(input: string): CleanedAnswer {
  let s = input.replace(/\s+/g, " ").trim();
  for (const [re, to] of UNICODE) s = s.replace(re, to);
  // `\\frac` is a doubly escaped `\frac` (JSON written twice); inside matrices `\\` is a row break.
  if (!s.includes("\\begin")) s = s.replace(/\\\\(?=[A-Za-z])/g, "\\");
  // `11,\!111` and `1{,}000` are typeset thousands separators.
  s = s.replace(/(\d)\s*,\s*\\!\s*(?=\d{3}(?!\d))/g, "$1").replace(/(\d)\{,\}(?=\d{3}(?!\d))/g, "$1");
  // Each rewrite below consumes `\\` whole so that a row break is never read as `\` + next char.
  s = s.replace(/\\\\|\\!/g, (m) => (m === "\\!" ? "" : m));
  s = s.replace(/\\\\|\\\$/g, (m) => (m === "\\$" ? " " : m)).replace(/\$/g, " ");
  s = s.replace(/\\\\|\\[()[\]]/g, (m) => (m === "\\\\" ? m : " "));
  s = s.replace(/\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![A-Za-z])/g, "");
  s = s.replace(SIZE_COMMANDS, "");
  s = s.replace(/\\[dtc]frac(?![A-Za-z])/g, "\\frac");
  s = s.replace(/\\(?:q?quad|enspace|thinspace|medspace|thickspace)(?![A-Za-z])/g, " ");
  s = s.replace(/\\\\|\\[,;:> ]/g, (m) => (m === "\\\\" ? m : " ")).replace(/~/g, " ");
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\\circ(?![A-Za-z])|\\degree(?![A-Za-z])/g, "");
  s = s.replace(/\^\s*\{\s*\}/g, "");

  let percent = false;
  if (/\\?%/.test(s)) {
    percent = true;
    s = s.replace(/\\?%/g, "");
  }
  s = unwrapText(s);
  const word = /\s*(?:percent|per\s+cent|pct)\.?\s*$/i;
  if (word.test(s) && /\d/.test(s)) {
    percent = true;
    s = s.replace(word, "");
  }

  s = s.replace(/\\approx(?![A-Za-z])/g, "=");
  s = s.replace(/\\(?:leq|leqslant|le)(?![A-Za-z])|<=/g, "\\le ");
  s = s.replace(/\\(?:geq|geqslant|ge)(?![A-Za-z])|>=/g, "\\ge ");
  s = s.replace(/\\(?:neq|ne)(?![A-Za-z])|!=/g, "\\ne ");
  s = s.replace(/\\lt(?![A-Za-z])/g, "<").replace(/\\gt(?![A-Za-z])/g, ">");
  s = s.replace(/\\(?:emptyset|varnothing)(?![A-Za-z])/g, "\\emptyset ");
  s = s.replace(/\\infty/g, "\\infty ");

  s = s.replace(/\s+/g, " ").trim();
  s = stripPlainUnits(s);
  s = joinThousands(s);
  if (/^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/ /g, "");
  s = trimTrailing(s, " .,;:");
  s = s.replace(/\s+/g, " ").trim();
  s = canonicalizeArguments(s);
  const choice = /^\(?\s*([A-Ea-e])\s*\)?$/.exec(s);
  if (choice) s = choice[1].toUpperCase();
  return { text: s, percent };
}

function trimTrailing(s: string, chars: string): string {
  let end = s.length;
  while (end > 0 && chars.includes(s[end - 1])) end--;
  return s.slice(0, end);
}

/** Replaces `\text{…}` and similar wrappers: units after a quantity go, other text stays as words. */
function unwrapText(input: string): string {
  let s = input;
  for (let guard = 0; guard < 64; guard++) {
    TEXT_WRAPPERS.lastIndex = 0;
    const m = TEXT_WRAPPERS.exec(s);
    if (!m) break;
    const open = m.index + m[0].length - 1;
    const close = matchBrace(s, open);
    if (close < 0) {
      s = s.slice(0, m.index) + s.slice(open + 1);
      continue;
    }
    const content = s.slice(open + 1, close - 1).trim();
    const before = s.slice(0, m.index).trim();
    let after = s.slice(close);
    let replacement: string;
    if (/^(?:and|or)$/i.test(content)) {
      replacement = ` ${content.toLowerCase()} `;
    } else if (
      m[1] !== "operatorname" && m[1] !== "mathbb" && isQuantityEnd(before) && UNIT_WORDS.test(content) &&
      !NOT_UNITS.has(content.toLowerCase()) &&
      (content.length > 1 || m[1].startsWith("text") || m[1] === "mbox")
    ) {
      // A unit such as `\text{ cm}^2` after a number: drop it with its exponent.
      replacement = " ";
      after = after.replace(/^\s*\^\s*(?:\{\s*\d\s*\}|\d)/, "");
    } else {
      replacement = /^[A-Za-z ]+$/.test(content) && content.length > 1 ? ` ${content} ` : content;
    }
    s = s.slice(0, m.index) + replacement + after;
  }
  return s;
}

function isQuantityEnd(before: string): boolean {
  return /[\d})\]A-Za-z]$/.test(before) && !/(?:^|[\s,;=(])(?:and|or)$/.test(before);
}

// `125 miles`, `3 cm^2`: trailing words after a number are units.
function stripPlainUnits(s: string): string {
  const m = /^(.*[\d}])\s+([A-Za-z]{2,}(?:\s+[A-Za-z]{2,})*)\s*(?:\^\s*\{?\d\}?)?$/.exec(s);
  if (!m) return s;
  const words = m[2].split(/\s+/);
  if (words.some((w) => NOT_UNITS.has(w.toLowerCase()))) return s;
  return m[1].trim();
}

/** Joins `1,234,567` at bracket depth 0, where a comma before exactly three digits groups thousands. */
function joinThousands(s: string): string {
  let out = "";
  let depth = 0;
  let segment = "";
  const flush = () => {
    out += segment.replace(
      /(^|[^\d.,\\])(-?[1-9]\d{0,2}(?:,\d{3})+)(?![\d,]|\.\d*,)/g,
      (_all, lead: string, num: string) => lead + num.replace(/,/g, ""),
    );
    segment = "";
  };
  for (const ch of s) {
    if ("([{".includes(ch)) {
      if (depth === 0) flush();
      depth++;
      out += ch;
    } else if (")]}".includes(ch)) {
      depth = Math.max(0, depth - 1);
      out += ch;
    } else if (depth === 0) segment += ch;
    else out += ch;
  }
  flush();
  return out;
}

/** Reads one LaTeX macro argument at `i`: a brace group, a command, or a single character. */
export function readArgument(s: string, i: number): { arg: string; end: number } | null {
  while (i < s.length && s[i] === " ") i++;
  if (i >= s.length) return null;
  if (s[i] === "{") {
    const close = matchBrace(s, i);
    if (close < 0) return null;
    return { arg: s.slice(i + 1, close - 1), end: close };
  }
  if (s[i] === "\\") {
    const m = /^\\(?:[A-Za-z]+|.)/.exec(s.slice(i));
    if (!m) return null;
    return { arg: m[0], end: i + m[0].length };
  }
  return { arg: s[i], end: i + 1 };
}

/** Rewrites `\frac13`, `\frac3{3}`, `\sqrt3` and `\sqrt[3]8` with braced arguments, recursively. */
export function canonicalizeArguments(s: string): string {
  let out = "";
  let i = 0;
  while (i < s.length) {
    const m = /^\\(frac|sqrt|binom)(?![A-Za-z])/.exec(s.slice(i, i + 6));
    if (!m) {
      out += s[i++];
      continue;
    }
    let j = i + m[0].length;
    if (m[1] === "sqrt") {
      let index = "";
      const k = s.slice(j).search(/\S/);
      if (k >= 0 && s[j + k] === "[") {
        const close = s.indexOf("]", j + k);
        if (close > 0) {
          index = `[${canonicalizeArguments(s.slice(j + k + 1, close).trim())}]`;
          j = close + 1;
        }
      }
      const a = readArgument(s, j);
      if (!a) {
        out += s.slice(i, j);
        i = j;
        continue;
      }
      out += `\\sqrt${index}{${canonicalizeArguments(a.arg.trim())}}`;
      i = a.end;
    } else {
      const a = readArgument(s, j);
      const b = a ? readArgument(s, a.end) : null;
      if (!a || !b) {
        out += s.slice(i, j);
        i = j;
        continue;
      }
      out += `\\${m[1]}{${canonicalizeArguments(a.arg.trim())}}{${canonicalizeArguments(b.arg.trim())}}`;
      i = b.end;
    }
  }
  return out;
}

/** Bracket depth change of the token at `i`: `(`, `[`, `{`, `\{`, `\begin` open; their partners close. */
function bracketDelta(s: string, i: number): { delta: number; width: number } {
  const ch = s[i];
  if (ch === "\\") {
    if (s.startsWith("\\begin", i)) return { delta: 1, width: 6 };
    if (s.startsWith("\\end", i)) return { delta: -1, width: 4 };
    if (s[i + 1] === "{") return { delta: 1, width: 2 };
    if (s[i + 1] === "}") return { delta: -1, width: 2 };
    return { delta: 0, width: s[i + 1] === undefined ? 1 : 2 };
  }
  if (ch === "(" || ch === "[" || ch === "{") return { delta: 1, width: 1 };
  if (ch === ")" || ch === "]" || ch === "}") return { delta: -1, width: 1 };
  return { delta: 0, width: 1 };
}

/**
 * Splits at separators that are outside every bracket. Separators are literal strings (`","`,
 * `"\\cup"`) or words (`"and"`, matched only between non-letters).
 */
export function splitTopLevel(s: string, separators: string[]): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let i = 0;
  outer: while (i < s.length) {
    if (depth === 0) {
      for (const sep of separators) {
        if (!s.startsWith(sep, i)) continue;
        const isWord = /^[A-Za-z]+$/.test(sep);
        const isCommand = sep.startsWith("\\");
        if (isWord && (/[A-Za-z\\]/.test(s[i - 1] ?? "") || /[A-Za-z]/.test(s[i + sep.length] ?? ""))) {
          continue;
        }
        if (isCommand && /[A-Za-z]/.test(s[i + sep.length] ?? "")) continue;
        parts.push(s.slice(start, i));
        i += sep.length;
        start = i;
        continue outer;
      }
    }
    const { delta, width } = bracketDelta(s, i);
    depth = Math.max(0, depth + delta);
    i += width;
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim());
}

/**
 * Index one past the bracket that closes the one opened at `open` (any of `( [ { \{`, closed by any
 * of `) ] } \}` so that half-open intervals match), or -1.
 */
export function matchAnyBracket(s: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < s.length) {
    const { delta, width } = bracketDelta(s, i);
    depth += delta;
    i += width;
    if (depth === 0) return i;
  }
  return -1;
}

/** Maximum bracket nesting depth of a string (guards the recursive parsers). */
export function nestingDepth(s: string): number {
  let depth = 0;
  let max = 0;
  for (const ch of s) {
    if (ch === "(" || ch === "[" || ch === "{") max = Math.max(max, ++depth);
    else if (ch === ")" || ch === "]" || ch === "}") depth--;
  }
  return max;
}

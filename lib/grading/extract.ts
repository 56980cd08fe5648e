/**
 * Answer extraction from model responses: `\boxed{…}`, GSM8K `#### N` (strict and flexible, as the
 * lm-evaluation-harness defines them), the Minerva "final answer is" sentence, `Answer: X` lines,
 * `<answer>` tags, and a last-number fallback.
 *
 * @module
 */

/** A `\boxed{…}` / `\fbox{…}` occurrence: its content and where the command starts and ends in the text. */
export interface BoxedSpan {
  /** The content between the braces (or the token after `\boxed `). */
  content: string;
  /** Index of the backslash of `\boxed`. */
  start: number;
  /** Index one past the closing brace. */
  end: number;
  /** False when the braces never close; `content` is then the text up to the end. */
  balanced: boolean;
}

const BOX_COMMAND = /\\(?:boxed|fbox)(?![A-Za-z])/g;

/** Index one past the brace that closes the group opened at `open` (a `{`), or -1 when it never closes. */
export function matchBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    // `\{` and `\}` are literal braces in LaTeX, not grouping; `\\` is a line break.
    if (ch === "\\") {
      i++;
      continue;
    }
    if (ch === "{") depth++;
    else if (ch === "}") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** For every `{` that closes, the index one past its `}` (one pass, so many boxes stay linear). */
function braceMatches(text: string): Map<number, number> {
  const closes = new Map<number, number>();
  const stack: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\") i++;
    else if (ch === "{") stack.push(i);
    else if (ch === "}" && stack.length > 0) closes.set(stack.pop()!, i + 1);
  }
  return closes;
}

/**
 * Every `\boxed{…}`, `\boxed 5` and `\fbox{…}` in the text, in order of appearance.
 *
 * @example
 * ```ts
 * import { findBoxed } from "./mod.ts";
 * findBoxed("$\\boxed{1}$ and $\\boxed{2}$").map((b) => b.content); // ["1", "2"]
 * ```
 */
export function findBoxed(text: string): BoxedSpan[] {
  const spans: BoxedSpan[] = [];
  let closes: Map<number, number> | null = null;
  for (const m of text.matchAll(BOX_COMMAND)) {
    const start = m.index!;
    let i = start + m[0].length;
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
    if (text[i] === "{") {
      closes ??= braceMatches(text);
      const close = closes.get(i) ?? -1;
      if (close < 0) {
        spans.push({ content: text.slice(i + 1), start, end: text.length, balanced: false });
      } else {
        spans.push({ content: text.slice(i + 1, close - 1), start, end: close, balanced: true });
      }
    } else if (i > start + m[0].length) {
      // `\boxed 5`: the argument is the next token, up to whitespace or a closing `$`.
      let j = i;
      while (j < text.length && !/[\s$]/.test(text[j])) j++;
      if (j > i) spans.push({ content: text.slice(i, j), start, end: j, balanced: true });
    }
  }
  return spans;
}

/**
 * The content of the last `\boxed{…}` (also `\boxed 5` and `\fbox{…}`), with nested braces kept.
 * Returns null when there is none, or when the last one's braces never close.
 *
 * @example
 * ```ts
 * import { extractBoxed } from "./mod.ts";
 * extractBoxed("so $x = \\boxed{\\frac{1}{2}}$."); // "\\frac{1}{2}"
 * extractBoxed("\\boxed{1 + {2"); // null
 * ```
 */
export function extractBoxed(text: string): string | null {
  const spans = findBoxed(text);
  if (spans.length === 0) return null;
  const last = spans[spans.length - 1];
  return last.balanced ? last.content.trim() : null;
}

/**
 * The contents of all balanced `\boxed{…}` / `\fbox{…}` in order of appearance.
 *
 * @example
 * ```ts
 * import { extractAllBoxed } from "./mod.ts";
 * extractAllBoxed("\\boxed{(1,2)}, \\boxed{(2,1)}"); // ["(1,2)", "(2,1)"]
 * ```
 */
export function extractAllBoxed(text: string): string[] {
  return findBoxed(text).filter((s) => s.balanced).map((s) => s.content.trim());
}

// lm-evaluation-harness gsm8k.yaml, filter "strict-match": the first `#### N`.
const GSM8K_STRICT = /#### (-?[0-9.,]+)/;
// lm-evaluation-harness gsm8k.yaml, filter "flexible-extract": the last number-like run.
const GSM8K_FLEXIBLE = /(-?[$0-9.,]{2,})|(-?[0-9]+)/g;

/**
 * GSM8K strict extraction (lm-evaluation-harness "strict-match"): the number after the first `#### `.
 *
 * @example
 * ```ts
 * import { extractGsm8kStrict } from "./mod.ts";
 * extractGsm8kStrict("She pays 3 * 4 = 12.\n#### 12"); // "12"
 * ```
 */
export function extractGsm8kStrict(text: string): string | null {
  const m = GSM8K_STRICT.exec(text);
  return m ? m[1] : null;
}

/**
 * GSM8K flexible extraction (lm-evaluation-harness "flexible-extract"): the last match of
 * `(-?[$0-9.,]{2,})|(-?[0-9]+)`, which may keep a `$`, commas or a trailing period.
 *
 * @example
 * ```ts
 * import { extractGsm8kFlexible } from "./mod.ts";
 * extractGsm8kFlexible("The total is $1,200."); // "$1,200."
 * ```
 */
export function extractGsm8kFlexible(text: string): string | null {
  let last: string | null = null;
  for (const m of text.matchAll(GSM8K_FLEXIBLE)) last = m[1] ?? m[2] ?? null;
  return last;
}

/**
 * The harness's answer normalisation for GSM8K exact match (gsm8k.yaml `regexes_to_ignore`, then
 * `ignore_case`): drop commas, `$`, everything up to the last `#### `, a final period, then lower-case.
 */
export function normalizeGsm8k(text: string): string {
  // Python's `\.$` also matches a period just before a final newline.
  return text.replace(/,/g, "").replace(/\$/g, "").replace(/^[\s\S]*#### /, "").replace(/\.(?=\n?$)/, "")
    .toLowerCase();
}

/**
 * GSM8K exact match as the lm-evaluation-harness scores it, in "strict" or "flexible" mode.
 * `reference` may be the dataset's full solution (ending in `#### N`) or just the number.
 *
 * @example
 * ```ts
 * import { gsm8kMatch } from "./mod.ts";
 * gsm8kMatch("so 18 eggs.\n#### 18", "Janet ... #### 18", "strict"); // true
 * gsm8kMatch("The answer is $18.", "#### 18", "flexible"); // true
 * ```
 */
export function gsm8kMatch(response: string, reference: string, mode: "strict" | "flexible"): boolean {
  const extracted = mode === "strict" ? extractGsm8kStrict(response) : extractGsm8kFlexible(response);
  if (extracted === null) return false;
  return normalizeGsm8k(extracted) === normalizeGsm8k(reference);
}

// lm-evaluation-harness minerva_math: the answer sentence the four-shot prompt teaches.
const MINERVA_EXACT = /Final Answer: The final answer is(.*?)\. I hope it is correct\./s;
const MINERVA_LOOSE = /final answer is[:\s]*(.+?)(?:\.\s|\.$|\n|$)/gi;

/**
 * The Minerva form: "Final Answer: The final answer is X. I hope it is correct." (also a looser
 * "the final answer is X."), with surrounding `$` removed.
 *
 * @example
 * ```ts
 * import { extractMinervaAnswer } from "./mod.ts";
 * extractMinervaAnswer("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct."); // "\\frac{3}{4}"
 * ```
 */
export function extractMinervaAnswer(text: string): string | null {
  const exact = MINERVA_EXACT.exec(text + "I hope it is correct.");
  let found: string | null = exact ? exact[1] : null;
  if (found === null) {
    for (const m of text.matchAll(MINERVA_LOOSE)) found = m[1];
  }
  if (found === null) return null;
  const boxed = extractBoxed(found);
  const answer = stripDollars(boxed ?? found);
  return answer === "" ? null : answer;
}

const ANSWER_LINE = /^[ \t>*_#-]*(?:final[ \t]+)?answer[ \t*_]*[:：][ \t*_]*(.*)$/gim;

/**
 * The content of the last `Answer: X` line (also `Final answer: X`, `**Answer:** X`); a boxed value on
 * that line wins over the rest of it.
 *
 * @example
 * ```ts
 * import { extractAnswerLine } from "./mod.ts";
 * extractAnswerLine("Work...\nAnswer: 42"); // "42"
 * ```
 */
export function extractAnswerLine(text: string): string | null {
  let found: string | null = null;
  for (const m of text.matchAll(ANSWER_LINE)) {
    if (m[1].trim() !== "") found = m[1];
  }
  if (found === null) return null;
  const boxed = extractBoxed(found);
  const answer = stripDollars((boxed ?? found).replace(/\*\*/g, "").trim().replace(/\.$/, ""));
  return answer === "" ? null : answer;
}

const ANSWER_TAG = /<answer>([\s\S]*?)<\/answer>/gi;

/**
 * The content of the last `<answer>…</answer>` tag (a boxed value inside it wins).
 *
 * @example
 * ```ts
 * import { extractAnswerTag } from "./mod.ts";
 * extractAnswerTag("<think>...</think><answer>7</answer>"); // "7"
 * ```
 */
export function extractAnswerTag(text: string): string | null {
  let found: string | null = null;
  for (const m of text.matchAll(ANSWER_TAG)) found = m[1];
  if (found === null) return null;
  const answer = stripDollars(extractBoxed(found) ?? found.trim());
  return answer === "" ? null : answer;
}

// Thousands groups must be exact (1,234,567); otherwise `1,2` is two numbers.
const NUMBER = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\/\d+)?|-?\.\d+/g;

/**
 * The last number in the text (integers, decimals, `a/b`, thousands separators), commas removed.
 *
 * @example
 * ```ts
 * import { extractLastNumber } from "./mod.ts";
 * extractLastNumber("2 apples cost $1,250.50 in total."); // "1250.50"
 * ```
 */
export function extractLastNumber(text: string): string | null {
  let last: string | null = null;
  for (const m of text.matchAll(NUMBER)) last = m[0];
  return last === null ? null : last.replace(/,/g, "");
}

/** Which rule produced an extracted answer. */
export type ExtractionMethod = "tag" | "boxed" | "minerva" | "answer-line" | "gsm8k" | "last-number" | "none";

/** An extracted answer with the rule that found it. */
export interface ExtractedAnswer {
  /** The answer text, or null when nothing was found. */
  answer: string | null;
  /** The rule that matched. */
  method: ExtractionMethod;
}

/**
 * The final answer of a response by the first rule that matches: `<answer>` tag, last `\boxed{}`,
 * Minerva sentence, `Answer:` line, GSM8K `#### N`, then the last number.
 *
 * @example
 * ```ts
 * import { extractAnswer } from "./mod.ts";
 * extractAnswer("... so the total is 18.\n#### 18"); // { answer: "18", method: "gsm8k" }
 * ```
 */
export function extractAnswer(text: string): ExtractedAnswer {
  const rules: [ExtractionMethod, (t: string) => string | null][] = [
    ["tag", extractAnswerTag],
    ["boxed", extractBoxed],
    ["minerva", extractMinervaAnswer],
    ["answer-line", extractAnswerLine],
    ["gsm8k", (t) => {
      const s = extractGsm8kStrict(t);
      return s === null ? null : s.replace(/,/g, "").replace(/\.$/, "");
    }],
    ["last-number", extractLastNumber],
  ];
  for (const [method, rule] of rules) {
    const answer = rule(text);
    if (answer !== null && answer !== "") return { answer, method };
  }
  return { answer: null, method: "none" };
}

/** Removes one pair of surrounding `$…$`, `$$…$$`, `\(…\)` or `\[…\]` and trims. */
export function stripDollars(text: string): string {
  let s = text.trim();
  const pairs: [string, string][] = [["$$", "$$"], ["$", "$"], ["\\(", "\\)"], ["\\[", "\\]"]];
  for (const [open, close] of pairs) {
    if (s.length >= open.length + close.length && s.startsWith(open) && s.endsWith(close)) {
      s = s.slice(open.length, s.length - close.length).trim();
      break;
    }
  }
  return s;
}

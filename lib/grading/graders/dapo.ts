/**
 * verl's DAPO math reward, reproduced: volcengine/verl, verl/utils/reward_score/math_dapo.py
 * (`compute_score` with its defaults: the Minerva check `is_correct_minerva`, no strict box).
 *
 * The response is cut to its last 300 characters, the last `Answer: …` line is taken (else the
 * prediction is `[INVALID]`), both sides go through `normalize_final_answer`, and the verdict is
 * string equality (the score is 1 for true, -1 for false). There is no mathematics: `0.5` and
 * `\frac{1}{2}` differ, and a response that only boxes its answer scores -1.
 *
 * @module
 */

// Python's `\s` in a str pattern (unicode whitespace), spelled out because JavaScript's differs.
const PY_SPACE =
  "[ \\t\\n\\r\\f\\v\\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const ANSWER_LINE = new RegExp(`Answer${PY_SPACE}*:${PY_SPACE}*([^\\n]+)`, "giu");

const SUBSTITUTIONS: [string, string][] = [
  ["an ", ""],
  ["a ", ""],
  [".$", "$"],
  ["\\$", ""],
  ["\\ ", ""],
  [" ", ""],
  ["mbox", "text"],
  [",\\text{and}", ","],
  ["\\text{and}", ","],
  ["\\text{m}", "\\text{}"],
];

const REMOVED_EXPRESSIONS = [
  "square",
  "ways",
  "integers",
  "dollars",
  "mph",
  "inches",
  "hours",
  "km",
  "units",
  "\\ldots",
  "sue",
  "points",
  "feet",
  "minutes",
  "digits",
  "cents",
  "degrees",
  "cm",
  "gm",
  "pounds",
  "meters",
  "meals",
  "edges",
  "students",
  "childrentickets",
  "multiples",
  "\\text{s}",
  "\\text{.}",
  "\\text{\ns}",
  "\\text{}^2",
  "\\text{}^3",
  "\\text{\n}",
  "\\text{}",
  "\\mathrm{th}",
  "^\\circ",
  "^{\\circ}",
  "\\;",
  ",\\!",
  "{,}",
  '"',
  "\\dots",
];

function replaceAll(s: string, from: string, to: string): string {
  return s.split(from).join(to);
}

/**
 * Python's `re.sub` of `(.*?)(\$)(.*?)(\$)(.*)` -> `$\3$`: a line (`.` stops at `\n`) holding two
 * `$` becomes the text between its first two, in dollars. Done per line so it stays linear.
 */
function keepFirstMath(s: string): string {
  return s.split("\n").map((line) => {
    const a = line.indexOf("$");
    const b = a < 0 ? -1 : line.indexOf("$", a + 1);
    return b < 0 ? line : `$${line.slice(a + 1, b)}$`;
  }).join("\n");
}

/**
 * Python's `re.sub` of `(PREFIX)(.*?)(\})` -> `\2` (lazy: up to the next `}` on the line), per line
 * so an unclosed prefix repeated a million times stays linear.
 */
function unwrapLazy(s: string, prefix: string): string {
  return s.split("\n").map((line) => {
    let out = "";
    let from = 0;
    for (;;) {
      const start = line.indexOf(prefix, from);
      if (start < 0) break;
      const close = line.indexOf("}", start + prefix.length);
      if (close < 0) break; // no `}` left on the line: no later prefix can match either
      out += line.slice(from, start) + line.slice(start + prefix.length, close);
      from = close + 1;
    }
    return out + line.slice(from);
  }).join("\n");
}

/** Python's `re.sub` of `(\\boxed\{)(.*)(\})` -> `\2` (greedy: up to the line's last `}`). */
function unwrapBoxedGreedy(s: string): string {
  const prefix = "\\boxed{";
  return s.split("\n").map((line) => {
    const start = line.indexOf(prefix);
    if (start < 0) return line;
    const close = line.lastIndexOf("}");
    if (close < start + prefix.length) return line;
    return line.slice(0, start) + line.slice(start + prefix.length, close) + line.slice(close + 1);
  }).join("\n");
}

// Python's str.isdigit(): decimal digits plus the superscript/subscript/circled digits it also accepts.
const PY_ISDIGIT =
  /^[\p{Nd}\u00b2\u00b3\u00b9\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247c\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792]+$/u;

/**
 * `normalize_final_answer`: the text after the last `=`, the fixed substitutions and removed unit
 * words, the first `$…$` of a line, `\text{}`/`\textbf{}`/`\overline{}`/`\boxed{}` unwrapped,
 * `\fracab` and `\sqrta` braced, dollars dropped, commas dropped from a digit string, trimmed.
 *
 * @example
 * ```ts
 * dapoNormalizeFinalAnswer("x = \\$1,000"); // "1000"
 * ```
 */
export function dapoNormalizeFinalAnswer(finalAnswer: string): string {
  const sides = finalAnswer.split("=");
  let s = sides[sides.length - 1];
  for (const [before, after] of SUBSTITUTIONS) s = replaceAll(s, before, after);
  for (const expr of REMOVED_EXPRESSIONS) s = replaceAll(s, expr, "");
  s = keepFirstMath(s);
  s = unwrapLazy(s, "\\text{");
  s = unwrapLazy(s, "\\textbf{");
  s = unwrapLazy(s, "\\overline{");
  s = unwrapBoxedGreedy(s);
  s = s.replace(/(frac)([^{])([^\n])/g, "frac{$2}{$3}");
  s = s.replace(/(sqrt)([^{])/g, "sqrt{$2}");
  s = replaceAll(s, "$", "");
  const noCommas = replaceAll(s, ",", "");
  if (PY_ISDIGIT.test(noCommas)) s = noCommas;
  return s.trim();
}

/** Python's `s[-n:]`, by code points as Python counts them. */
function lastCodePoints(s: string, n: number): string {
  if (s.length <= n) return s; // n UTF-16 units hold at most n code points
  let i = s.length;
  for (let k = 0; k < n && i > 0; k++) {
    const low = s.charCodeAt(i - 1);
    const high = i >= 2 ? s.charCodeAt(i - 2) : 0;
    i -= low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff ? 2 : 1;
  }
  return s.slice(i);
}

/**
 * The prediction `is_correct_minerva` extracts: the last `Answer: …` (case-insensitive) up to the
 * line's end, or `[INVALID]`.
 */
export function dapoExtractAnswer(solution: string): string {
  let last = "[INVALID]";
  for (const m of solution.matchAll(ANSWER_LINE)) last = m[1];
  return last;
}

/**
 * `compute_score(solution_str, ground_truth)` with verl's defaults, as its three fields.
 *
 * @example
 * ```ts
 * dapoComputeScore("... so the answer is 5.\nAnswer: 5", "5"); // { score: 1, acc: true, pred: "5" }
 * ```
 */
export function dapoComputeScore(
  solutionStr: string,
  groundTruth: string,
): { score: 1 | -1; acc: boolean; pred: string } {
  const pred = dapoNormalizeFinalAnswer(dapoExtractAnswer(lastCodePoints(solutionStr, 300)));
  const acc = pred === dapoNormalizeFinalAnswer(groundTruth);
  return { score: acc ? 1 : -1, acc, pred };
}

/** The verdict of verl's `math_dapo.compute_score` on a full response: true where the score is 1. */
export function dapoGrade(response: string, gold: string): boolean {
  return dapoComputeScore(response, gold).acc;
}

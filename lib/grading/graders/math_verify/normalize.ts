/**
 * Math-Verify's LaTeX normalization (latex2sympy2_extended, math_normalization.py, normalize_latex)
 * with the configuration Math-Verify's `LatexExtractionConfig` passes by default: basic LaTeX
 * clean-up, units, nits, malformed operators, and `\boxed` extraction ("all", or "last" for the
 * plain-boxed pattern).
 *
 * @module
 */

/** Which `\boxed{}` contents `normalizeLatex` keeps. */
export type BoxedMode = "all" | "last" | "none";

const R_LEFT =
  /\\m?left(\\\{|\{|\\\||\||\[|\(|\\rbracl|\\lgroup|\\lbrace|\\lbrack|\\vert|\\lvert|\\lceil|\\lfloor|\\langle|\\llcorner|\\ulcorner)/g;
const R_RIGHT =
  /\\m?right(\\\}|\}|\\\||\||\]|\)|\\rbrack|\\rgroup|\\rbrace|\\vert|\\rvert|\\rceil|\\rfloor|\\rangle|\\lrcorner|\\urcorner)/g;

// The reference's unit list, in its order (alternation order decides which unit a suffix matches).
const UNITS = [
  "integerpoint",
  "feet",
  "sue",
  "digit",
  "pound",
  "meal",
  "edge",
  "student",
  "children ticket",
  "multiple",
  "east",
  "degree",
  "mph",
  "kmph",
  "ft",
  "m square",
  " m east",
  "sq m",
  "deg",
  "mile",
  "q .",
  "monkey",
  "prime",
  "ratio",
  "profit of rs",
  "rd",
  "o",
  "gm",
  "p . m",
  "lb",
  "tile",
  "per",
  "dm",
  "lt",
  "gain",
  "ab",
  "way",
  "west",
  "a .",
  "b .",
  "c .",
  "d .",
  "e .",
  "f .",
  "g .",
  "h .",
  "t",
  "h",
  "no change",
  "men",
  "soldier",
  "pie",
  "bc",
  "excess",
  "st",
  "inches",
  "noon",
  "cent",
  "by",
  "gal",
  "kmh",
  "c",
  "acre",
  "rise",
  "a . m",
  "th",
  "π r 2",
  "sq",
  "mark",
  "l",
  "toy",
  "coin",
  "sq . m",
  "gallon",
  "° f",
  "profit",
  "minw",
  "yr",
  "women",
  "am",
  "pm",
  "hr",
  "cu cm",
  "square",
  "v â € ™",
  "are",
  "rupee",
  "rounds",
  "cubic",
  "cc",
  "mtr",
  "s",
  "ohm",
  "number",
  "kmph",
  "day",
  "hour",
  "minute",
  "min",
  "second",
  "man",
  "woman",
  "sec",
  "cube",
  "mt",
  "sq inch",
  "mp",
  "∏ cm ³",
  "hectare",
  "more",
  "sec",
  "unit",
  "cu . m",
  "cm 2",
  "rs .",
  "rs",
  "kg",
  "g",
  "month",
  "km",
  "m",
  "cm",
  "mm",
  "apple",
  "liter",
  "loss",
  "yard",
  "pure",
  "year",
  "increase",
  "decrease",
  "d",
  "less",
  "Surface",
  "litre",
  "pi sq m",
  "s .",
  "metre",
  "meter",
  "inch",
];
// The reference joins the list unescaped, so "." is any character there too.
const UNITS_RE = new RegExp(`(\\d|\\}|\\s)\\s*(?:(?:${UNITS.join("|")})(?:s|es)?)\\s*$`);
const UNIT_SUPERSCRIPT_RE = /(\\(?:text|mbox)\{.*?\})(\^\d|\{\^\d\})?$/;
const TO_REMOVE_RE = /\\mathrm\{th\}|\\!\s*|\\text\s*\{\s*\}|\\\$|\$|(?<!\\)["']|\\displaystyle/g;
const COMMAND_SLASH_FIX_RE = /\\\\(?=[a-zA-Z])/g;
const PERMUTATION_RE = /\(([a-zA-Z0-9+\-*/\\ ]+?)\)_\{([a-zA-Z0-9+\-*/\\ ]+?)\}/g;

// One alternation as in the reference, so that earlier alternatives win at each position.
const REPLACEMENTS: [string, string][] = [
  ["\\\\math(?:rm|it|bf)", "\\text"],
  ["\\\\text(?:normal|bf|it|rm)", "\\text"],
  ["\\\\(?:d|t|c)frac", "\\frac"],
  ["\\s\\.", " 0."],
  ["\\{\\.", "{0."],
  ["\\~\\=", "\\approx"],
  ["\\s*\\{\\s*,\\s*\\}", ","],
  ["(?<![a-zA-Z])(?:,?\\s*(?:and|or))(?![a-zA-Z])", ","],
  ["(?:,?\\s*\\\\text\\{\\s*(?:and|or)\\s*\\})", ","],
  ["(?<!\\\\)\\\\\\s", " "],
  ["infinity", "\\infty"],
  [",?(?:\\\\ldots)", " "],
  ["\\s*\\bpercentage\\b", "\\%"],
  ["\\\\text\\{percentage\\}", "%"],
  ["\\s*\\bpercent\\b", "\\%"],
  ["\\\\text\\{percent\\}", "%"],
  ["\\s*\\bpct\\b", "\\%"],
  ["\\\\text\\{pct\\}", "%"],
  ["(?:(?<!\\\\)inf(?!inity))", "\\infty"],
  [" sqrt", "\\sqrt"],
];
const REPLACE_RE = new RegExp(REPLACEMENTS.map(([p], i) => `(?<r${i}>${p})`).join("|"), "g");

const MALFORMED: [RegExp, string][] = [
  [/\^\s?\((.*?)\)/g, "^{$1}"],
  [/sqrt\s?\((.*?)\)/g, "\\sqrt{$1}"],
  [/\\frac\s?(\d)\s?(\d+)/g, "\\frac{$1}{$2}"],
  [/\\log_\s?(\d)\s?(\d+)/g, "\\log_{$1}{$2}"],
  [/\\frac\s?\{(.*?)\}\s?(\d)/g, "\\frac{$1}{$2}"],
  [/\\frac\s?(\d)\s?\{(.*?)\}/g, "\\frac{$1}{$2}"],
  [/\\sqrt\s?(\d)/g, "\\sqrt{$1}"],
];

const VALID_SEPARATOR = /\b(and|or)\b|,|;/;

/**
 * The contents of the `\boxed{}`/`\fbox{}` commands, scanned right to left: "all" joins every one
 * with commas; "last" keeps the last one plus earlier ones close to it (under 10 characters apart,
 * or under 70 with a separator and different content). Text without a box is returned unchanged.
 */
export function extractBoxedContent(text: string, mode: "last" | "all"): string {
  const results: string[] = [];
  let current = text.length;
  let lastBoxedStart: number | null = null;
  let maxPos = text.length;
  while (true) {
    const boxedIdx = current < 6 ? -1 : text.lastIndexOf("\\boxed", current - 6);
    const fboxIdx = current < 5 ? -1 : text.lastIndexOf("\\fbox", current - 5);
    if (boxedIdx < 0 && fboxIdx < 0) break;
    const start = Math.max(boxedIdx, fboxIdx);
    let next = start + (boxedIdx > fboxIdx ? 6 : 5);
    while (next < maxPos && /\s/.test(text[next])) next++;
    if (next >= maxPos) break;
    if (text[next] !== "{") {
      if (results.length === 0) results.push(text.slice(next));
      break;
    }
    let depth = 1;
    let close = -1;
    for (let i = next + 1; i < maxPos; i++) {
      if (text[i] === "{") depth++;
      else if (text[i] === "}" && --depth === 0) {
        close = i;
        break;
      }
    }
    if (close < 0) {
      if (results.length === 0) results.push(text.slice(next));
      break;
    }
    const content = text.slice(next + 1, close).trim();
    if (mode === "last" && lastBoxedStart !== null) {
      const between = text.slice(close + 1, lastBoxedStart);
      const previous = results.length ? results[results.length - 1] : "";
      const keep = between.length < 10 ||
        (previous !== content && between.length < 70 && VALID_SEPARATOR.test(between));
      if (!keep) break;
    }
    if (!results.length || results[results.length - 1] !== content) results.push(content);
    lastBoxedStart = start;
    maxPos = start;
    current = start;
  }
  return results.length ? results.reverse().join(",") : text;
}

function fixFracs(text: string): string {
  const parts = text.split("\\frac");
  let out = parts[0];
  for (let sub of parts.slice(1)) {
    sub = sub.trimStart();
    out += "\\frac";
    if (sub.length > 0 && sub[0] === "{") out += sub;
    else if (sub.length < 2) return text;
    else if (sub[1] !== "{") out += `{${sub[0]}}{${sub[1]}}${sub.slice(2)}`;
    else out += `{${sub[0]}}${sub.slice(1)}`;
  }
  return out;
}

function fixSlash(text: string): string {
  const parts = text.split("/");
  if (parts.length !== 2) return text;
  if (!/^-?\d+$/.test(parts[0]) || !/^-?\d+$/.test(parts[1])) return text;
  // Python's int() round trip: "01/2" or "-0/3" do not print back identically.
  const a = BigInt(parts[0]), b = BigInt(parts[1]);
  if (`${a}/${b}` !== text) return text;
  return `\\frac{${a}}{${b}}`;
}

function fixSqrt(text: string): string {
  if (!text.includes("\\sqrt")) return text;
  const parts = text.split("\\sqrt");
  let out = parts[0];
  for (let sub of parts.slice(1)) {
    sub = sub.trimStart();
    out += sub.length > 0 && sub[0] !== "{" && sub[0] !== "["
      ? `\\sqrt{${sub[0]}}${sub.slice(1)}`
      : `\\sqrt${sub}`;
  }
  return out;
}

/** Math-Verify's default normalization of an extracted LaTeX string (boxed mode "all" or "last"). */
export function normalizeLatex(input: string, boxed: BoxedMode = "all"): string {
  let text = boxed === "none" ? input : extractBoxedContent(input, boxed);
  // basic_latex
  text = text.replaceAll("\\mathrm{T}", "T").replaceAll("\\mathrm{d}", "d").replaceAll("{\\rm d}", "d");
  text = text.replaceAll("\\left[\\begin{matrix}", "\\begin{bmatrix}").replaceAll(
    "\\end{matrix}\\right]",
    "\\end{bmatrix}",
  );
  text = text.replace(R_LEFT, "$1").replace(R_RIGHT, "$1");
  text = text.replace(PERMUTATION_RE, "\\frac{($1)!}{(($1)-($2))!}");
  text = text.replace(TO_REMOVE_RE, "");
  text = text.replace(REPLACE_RE, (...args) => {
    const groups = args[args.length - 1] as Record<string, string | undefined>;
    for (let i = 0; i < REPLACEMENTS.length; i++) {
      if (groups[`r${i}`] !== undefined) return REPLACEMENTS[i][1];
    }
    return args[0] as string;
  });
  text = text.replaceAll("\n", " ").replaceAll("\t", " ");
  if (!text.includes("matrix")) text = text.replace(COMMAND_SLASH_FIX_RE, "\\");
  // units
  let t = text.replace(UNIT_SUPERSCRIPT_RE, "").trim();
  if (t !== "" && t !== text) text = t;
  for (let k = 0; k < 2; k++) {
    t = text.replace(UNITS_RE, "$1");
    if (t !== "" && t !== text) text = t;
  }
  // nits
  if (text.startsWith(".")) text = "0" + text;
  if (text === "0.5") text = "\\frac{1}{2}";
  // malformed operators
  for (const [re, rep] of MALFORMED) text = text.replace(re, rep);
  text = text.replaceAll(" sqrt", "\\sqrt");
  text = fixSqrt(text);
  text = fixFracs(text);
  text = fixSlash(text);
  return text.trim();
}

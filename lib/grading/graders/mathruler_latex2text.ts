/**
 * The subset of pylatexenc's `LatexNodes2Text().latex_to_text` (pylatexenc 2.10, latex2text) that
 * MathRuler's `_parse_latex` meets in answers: `\frac{a}{b}` -> `a/b` (no parentheses, as pylatexenc
 * writes it), `\sqrt{x}` -> `√(x)`, symbols to their Unicode characters, groups to their contents,
 * unknown macros to nothing. Approximations (kept narrow): styled alphabets (`\mathbf`, `\mathit`,
 * `\mathcal`) keep their plain letters, and environments render only their body.
 *
 * @module
 */

/** Raised where pylatexenc raises (a `\sqrt` with no argument), so `_parse_latex` can give up. */
export class Latex2TextError extends Error {}

const SYMBOLS: Record<string, string> = {
  pi: "π",
  infty: "∞",
  cup: "∪",
  cap: "∩",
  cdot: "·",
  times: "×",
  le: "≤",
  leq: "≤",
  ge: "≥",
  geq: "≥",
  neq: "≠",
  pm: "±",
  mp: "∓",
  circ: "∘",
  in: "∈",
  emptyset: "∅",
  varnothing: "∅",
  angle: "∠",
  to: "→",
  rightarrow: "→",
  Rightarrow: "⇒",
  cdots: "⋯",
  ldots: "…",
  dots: "…",
  approx: "≈",
  mid: "|",
  lfloor: "⌊",
  rfloor: "⌋",
  lceil: "⌈",
  rceil: "⌉",
  langle: "⟨",
  rangle: "⟩",
  prime: "'",
  div: "÷",
  setminus: "∖",
  perp: "⊥",
  cong: "≅",
  sim: "∼",
  equiv: "≡",
  ell: "ℓ",
  hbar: "ħ",
  alpha: "α",
  beta: "β",
  gamma: "γ",
  delta: "δ",
  epsilon: "ϵ",
  varepsilon: "ε",
  zeta: "ζ",
  eta: "η",
  theta: "θ",
  iota: "ι",
  kappa: "κ",
  lambda: "λ",
  mu: "μ",
  nu: "ν",
  xi: "ξ",
  rho: "ρ",
  sigma: "σ",
  tau: "τ",
  upsilon: "υ",
  phi: "ϕ",
  varphi: "φ",
  chi: "χ",
  psi: "ψ",
  omega: "ω",
  Gamma: "Γ",
  Delta: "Δ",
  Theta: "Θ",
  Lambda: "Λ",
  Xi: "Ξ",
  Pi: "Π",
  Sigma: "Σ",
  Upsilon: "Υ",
  Phi: "Φ",
  Psi: "Ψ",
  Omega: "Ω",
  quad: "  ",
  qquad: "    ",
  log: "log",
  ln: "ln",
  sin: "sin",
  cos: "cos",
  tan: "tan",
  exp: "exp",
  max: "max",
  min: "min",
};

// Macros followed by a non-letter: spacing, escapes, line breaks and math delimiters.
const CHAR_MACROS: Record<string, string> = {
  ",": " ",
  ";": " ",
  ":": " ",
  " ": " ",
  "!": "",
  "\\": "\n",
  "{": "{",
  "}": "}",
  "$": "$",
  "%": "%",
  "&": "&",
  "_": "_",
  "#": "#",
  "|": "",
  "(": "",
  ")": "",
  "[": "\n    ",
  "]": "\n",
};

const ACCENTS: Record<string, string> = {
  vec: "\u20d7",
  hat: "\u0302",
  bar: "\u0305",
  tilde: "\u0303",
  dot: "\u0307",
  ddot: "\u0308",
};

const BLACKBOARD: Record<string, string> = { R: "ℝ", N: "ℕ", Z: "ℤ", Q: "ℚ", C: "ℂ" };

const MAX_DEPTH = 200;

class Reader {
  i = 0;
  constructor(readonly s: string) {}

  skipSpace(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  /** Renders nodes until the end, or a `}` closing the group that `depth` is inside. */
  sequence(depth: number): string {
    if (depth > MAX_DEPTH) throw new Latex2TextError("groups nested too deeply");
    let out = "";
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === "}") {
        this.i++;
        if (depth > 0) return out;
        continue; // a stray `}` renders as nothing
      }
      out += this.node(depth);
    }
    return out;
  }

  /** Renders one node: a group, a macro, a ligature or one character. */
  node(depth: number): string {
    const s = this.s;
    const c = s[this.i];
    if (c === "{") {
      this.i++;
      return this.sequence(depth + 1);
    }
    if (c === "\\") return this.macro(depth);
    if (c === "$") {
      this.i++;
      return "";
    }
    if (c === "~") {
      this.i++;
      return "\u00a0";
    }
    if (s.startsWith("---", this.i)) {
      this.i += 3;
      return "—";
    }
    if (s.startsWith("--", this.i)) {
      this.i += 2;
      return "–";
    }
    if (s.startsWith("``", this.i)) {
      this.i += 2;
      return "“";
    }
    if (s.startsWith("''", this.i)) {
      this.i += 2;
      return "”";
    }
    const cp = s.codePointAt(this.i)!;
    const ch = String.fromCodePoint(cp);
    this.i += ch.length;
    return ch;
  }

  /** A macro's argument: a group, a macro, or one character; null at the end of input. */
  argument(depth: number): string | null {
    this.skipSpace();
    if (this.i >= this.s.length) return null;
    if (this.s[this.i] === "}") return null;
    return this.node(depth + 1);
  }

  optionalArgument(): void {
    this.skipSpace();
    if (this.s[this.i] !== "[") return;
    const close = this.s.indexOf("]", this.i);
    this.i = close < 0 ? this.s.length : close + 1;
  }

  macro(depth: number): string {
    const s = this.s;
    this.i++; // the backslash
    if (this.i >= s.length) return "";
    const m = /^[A-Za-z]+/.exec(s.slice(this.i, this.i + 64));
    if (!m) {
      const ch = s[this.i++];
      return CHAR_MACROS[ch] ?? ch;
    }
    const name = m[0];
    this.i += name.length;
    this.skipSpace();
    switch (name) {
      case "frac": {
        const a = this.argument(depth);
        const b = this.argument(depth);
        return `${a ?? "%s"}/${b ?? "%s"}`;
      }
      case "sqrt": {
        this.optionalArgument();
        const a = this.argument(depth);
        if (a === null) throw new Latex2TextError("\\sqrt without an argument");
        return `√(${a})`;
      }
      case "left":
      case "right":
        return "";
      case "begin":
      case "end":
        this.argument(depth);
        return "";
      case "mathbb": {
        const a = this.argument(depth) ?? "";
        return BLACKBOARD[a] ?? a;
      }
    }
    if (name in ACCENTS) return (this.argument(depth) ?? "") + ACCENTS[name];
    return SYMBOLS[name] ?? "";
  }
}

/**
 * pylatexenc's plain-text rendering of a LaTeX string, for the constructs listed in the module doc.
 *
 * @example
 * ```ts
 * latexToText("\\frac{a+b}{c}"); // "a+b/c"
 * latexToText("\\sqrt{2}\\pi"); // "√(2)π"
 * ```
 */
export function latexToText(latex: string): string {
  return new Reader(latex).sequence(0);
}

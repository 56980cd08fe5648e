/**
 * Converts a normalised LaTeX expression to mathjs syntax: `\frac`, `\sqrt[n]`, `^`, `_`, `\pi`,
 * `\cdot`/`\times`, trigonometric and logarithmic functions, `|x|`, floors, binomials and matrices.
 * Every product is written with an explicit `*`, because mathjs reads `x (y+1)` as a call of `x`.
 *
 * @module
 */

/** Thrown for LaTeX the converter does not understand (the caller then compares as text). */
import { RlifError } from "../errors.ts";

export class UnsupportedLatexError extends RlifError {
  /** Error name shown in stack traces. */
  override name = "UnsupportedLatexError";
  /** Creates the error for LaTeX described by `message`. */
  constructor(message: string) {
    super("grading.unsupported_latex", message);
  }
}

type Token = { kind: "cmd" | "num" | "char"; value: string };

/** LaTeX Greek letter commands (without the backslash) read as variable names. */
export const GREEK: ReadonlySet<string> = new Set([
  "alpha",
  "beta",
  "gamma",
  "delta",
  "epsilon",
  "varepsilon",
  "zeta",
  "eta",
  "theta",
  "vartheta",
  "iota",
  "kappa",
  "lambda",
  "mu",
  "nu",
  "xi",
  "rho",
  "sigma",
  "tau",
  "upsilon",
  "phi",
  "varphi",
  "chi",
  "psi",
  "omega",
  "Gamma",
  "Delta",
  "Theta",
  "Lambda",
  "Xi",
  "Sigma",
  "Phi",
  "Psi",
  "Omega",
]);

const FUNCTIONS: Record<string, string> = {
  sin: "sin",
  cos: "cos",
  tan: "tan",
  sec: "sec",
  csc: "csc",
  cot: "cot",
  arcsin: "asin",
  arccos: "acos",
  arctan: "atan",
  sinh: "sinh",
  cosh: "cosh",
  tanh: "tanh",
  ln: "log",
  log: "log10",
  exp: "exp",
};
const INVERSE: Record<string, string> = { sin: "asin", cos: "acos", tan: "atan" };
const MATRIX_ENVS = new Set([
  "pmatrix",
  "bmatrix",
  "Bmatrix",
  "vmatrix",
  "Vmatrix",
  "matrix",
  "smallmatrix",
  "array",
]);
const IGNORED_COMMANDS = new Set([",", ";", ":", " ", "!", "quad", "qquad", "displaystyle", "left", "right"]);

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "\\") {
      const m = /^\\([A-Za-z]+|.)/.exec(s.slice(i));
      if (!m) throw new UnsupportedLatexError("dangling backslash");
      tokens.push({ kind: "cmd", value: m[1] });
      i += m[0].length;
    } else if (/[\d.]/.test(ch)) {
      const m = /^(?:\d+(?:\.\d*)?|\.\d+)/.exec(s.slice(i));
      if (!m) throw new UnsupportedLatexError(`stray "${ch}"`);
      tokens.push({ kind: "num", value: m[0] });
      i += m[0].length;
    } else {
      tokens.push({ kind: "char", value: ch });
      i++;
    }
  }
  return tokens;
}

/** Is the piece the end of an operand (so that a following operand multiplies it)? */
function endsOperand(piece: string | undefined): boolean {
  return piece !== undefined && /[\w)\]!.]$/.test(piece) && !/^(?:[+\-*/^,]|[A-Za-z_]\w*\()$/.test(piece);
}

class Converter {
  private pos = 0;
  constructor(private tokens: Token[], private depth: number) {
    if (depth > 40) throw new UnsupportedLatexError("nesting too deep");
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  /** Converts tokens until `stop` matches (the stop token is not consumed) or the end. */
  convert(stop?: (t: Token) => boolean): string {
    const out: string[] = [];
    const operand = (text: string) => {
      if (endsOperand(out[out.length - 1])) out.push("*");
      out.push(text);
    };
    const absStack: number[] = [];
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      if (stop && stop(t)) break;
      this.pos++;
      if (t.kind === "num") {
        if (t.value === ".") throw new UnsupportedLatexError("lone period");
        operand(t.value.endsWith(".") ? t.value.slice(0, -1) : t.value);
      } else if (t.kind === "char") {
        const c = t.value;
        if (/[A-Za-z]/.test(c)) operand(c);
        else if (c === "+" || c === "-" || c === "*" || c === "/") out.push(c);
        else if (c === "!") out.push("!");
        else if (c === "^") out.push(`^(${this.argument()})`);
        else if (c === "_") this.subscript(out);
        else if (c === "{" || c === "(" || c === "[") {
          const close = c === "{" ? "}" : c === "(" ? ")" : "]";
          const inner = this.sub((x) => x.kind === "char" && x.value === close);
          this.expect(close);
          operand(`(${inner})`);
        } else if (c === "|") {
          // A bar after an operand closes the innermost open bar; anywhere else it opens one.
          if (absStack.length > 0 && endsOperand(out[out.length - 1])) {
            absStack.pop();
            out.push(")");
          } else {
            operand("abs(");
            absStack.push(out.length);
          }
        } else if (c === "'") {
          throw new UnsupportedLatexError("prime");
        } else {
          throw new UnsupportedLatexError(`"${c}" is not part of a scalar expression`);
        }
      } else {
        this.command(t.value, out, operand);
      }
    }
    if (absStack.length > 0) throw new UnsupportedLatexError("unbalanced |");
    const text = out.join(" ");
    if (text.trim() === "") throw new UnsupportedLatexError("empty expression");
    return text;
  }

  private sub(stop: (t: Token) => boolean): string {
    const c = new Converter(this.tokens, this.depth + 1);
    c.pos = this.pos;
    const text = c.convert(stop);
    this.pos = c.pos;
    return text;
  }

  private expect(close: string) {
    const t = this.peek();
    if (!t || t.kind !== "char" || t.value !== close) throw new UnsupportedLatexError(`missing "${close}"`);
    this.pos++;
  }

  /** One macro argument: a brace group, or a single token (`\frac13` takes the digits one by one). */
  private argument(): string {
    const t = this.peek();
    if (!t) throw new UnsupportedLatexError("missing argument");
    if (t.kind === "char" && t.value === "{") {
      this.pos++;
      const inner = this.sub((x) => x.kind === "char" && x.value === "}");
      this.expect("}");
      return inner;
    }
    if (t.kind === "num" && t.value.length > 1) {
      this.tokens[this.pos] = { kind: "num", value: t.value.slice(1) };
      return t.value[0];
    }
    const c = new Converter([t], this.depth + 1);
    this.pos++;
    if (t.kind === "cmd" && (t.value === "frac" || t.value === "sqrt")) {
      throw new UnsupportedLatexError("command as a bare argument");
    }
    return c.convert();
  }

  private rawArgument(): string {
    const t = this.peek();
    if (!t) throw new UnsupportedLatexError("missing argument");
    if (t.kind === "char" && t.value === "{") {
      let depth = 0;
      let text = "";
      while (this.pos < this.tokens.length) {
        const x = this.tokens[this.pos++];
        if (x.kind === "char" && x.value === "{") depth++;
        if (x.kind === "char" && x.value === "}") depth--;
        if (depth === 0) return text;
        if (!(x.kind === "char" && x.value === "{" && depth === 1)) text += x.value;
      }
      throw new UnsupportedLatexError("missing }");
    }
    this.pos++;
    return t.value;
  }

  private subscript(out: string[]) {
    const raw = this.rawArgument().replace(/[^A-Za-z0-9]/g, (c) => `x${c.charCodeAt(0)}`);
    const last = out[out.length - 1];
    if (last === undefined || !/^[A-Za-z]\w*$/.test(last)) throw new UnsupportedLatexError("subscript");
    out[out.length - 1] = `${last}_${raw}`;
  }

  private command(name: string, out: string[], operand: (s: string) => void) {
    if (IGNORED_COMMANDS.has(name)) return;
    if (name === "frac") {
      const a = this.argument();
      const b = this.argument();
      operand(`((${a}) / (${b}))`);
    } else if (name === "binom" || name === "dbinom" || name === "tbinom") {
      const a = this.argument();
      const b = this.argument();
      operand(`combinations(${a}, ${b})`);
    } else if (name === "sqrt") {
      const t = this.peek();
      if (t && t.kind === "char" && t.value === "[") {
        this.pos++;
        const index = this.sub((x) => x.kind === "char" && x.value === "]");
        this.expect("]");
        operand(`nthRoot(${this.argument()}, ${index})`);
      } else {
        operand(`sqrt(${this.argument()})`);
      }
    } else if (name === "cdot" || name === "times" || name === "ast") {
      out.push("*");
    } else if (name === "div") {
      out.push("/");
    } else if (name === "pi") {
      operand("pi");
    } else if (name === "infty") {
      operand("Infinity");
    } else if (GREEK.has(name)) {
      operand(`greek_${name}`);
    } else if (name in FUNCTIONS) {
      this.func(name, operand);
    } else if (name === "lfloor" || name === "lceil") {
      const close = name === "lfloor" ? "rfloor" : "rceil";
      const inner = this.sub((x) => x.kind === "cmd" && x.value === close);
      if (this.peek()?.value !== close) throw new UnsupportedLatexError(`missing \\${close}`);
      this.pos++;
      operand(`${name === "lfloor" ? "floor" : "ceil"}(${inner})`);
    } else if (name === "begin") {
      operand(this.matrix());
    } else if (
      name === "text" || name === "mathrm" || name === "mathbf" || name === "mathit" ||
      name === "operatorname"
    ) {
      const inner = this.rawArgument().trim();
      if (!/^[A-Za-z]+$/.test(inner)) throw new UnsupportedLatexError(`\\${name}{${inner}}`);
      if (name === "operatorname") this.func(inner, operand);
      else for (const c of inner) operand(c);
    } else {
      throw new UnsupportedLatexError(`\\${name}`);
    }
  }

  private func(name: string, operand: (s: string) => void) {
    let fn = FUNCTIONS[name] ?? name;
    let base: string | null = null;
    let power: string | null = null;
    for (let k = 0; k < 2; k++) {
      const t = this.peek();
      if (t?.kind === "char" && t.value === "_" && name === "log") {
        this.pos++;
        base = this.argument();
      } else if (t?.kind === "char" && t.value === "^") {
        this.pos++;
        power = this.argument();
      }
    }
    if (power !== null && power.replace(/\s/g, "") === "-1" && name in INVERSE) {
      fn = INVERSE[name];
      power = null;
    }
    const t = this.peek();
    let arg: string;
    if (t?.kind === "char" && (t.value === "(" || t.value === "{")) {
      this.pos++;
      const close = t.value === "(" ? ")" : "}";
      arg = this.sub((x) => x.kind === "char" && x.value === close);
      this.expect(close);
    } else {
      // `\sin 2x` means sin(2x): the argument runs over numbers, letters and constants.
      const start = this.pos;
      while (this.pos < this.tokens.length) {
        const x = this.tokens[this.pos];
        const simple = x.kind === "num" || (x.kind === "char" && /[A-Za-z]/.test(x.value)) ||
          (x.kind === "cmd" && (x.value === "pi" || GREEK.has(x.value)));
        if (!simple) break;
        this.pos++;
      }
      if (this.pos === start) throw new UnsupportedLatexError(`\\${name} without an argument`);
      arg = new Converter(this.tokens.slice(start, this.pos), this.depth + 1).convert();
    }
    const call = base !== null ? `log(${arg}, ${base})` : `${fn}(${arg})`;
    operand(power !== null ? `${call}^(${power})` : call);
  }

  private matrix(): string {
    const env = this.rawArgument();
    if (!MATRIX_ENVS.has(env)) throw new UnsupportedLatexError(`environment ${env}`);
    if (env === "array") this.rawArgument();
    const rows: string[][] = [[]];
    let cellStart = this.pos;
    let depth = 0;
    const pushCell = (end: number) => {
      const cell = this.tokens.slice(cellStart, end);
      rows[rows.length - 1].push(cell.length ? new Converter(cell, this.depth + 1).convert() : "");
    };
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      if (t.kind === "cmd" && t.value === "begin") depth++;
      if (t.kind === "cmd" && t.value === "end") {
        if (depth === 0) {
          pushCell(this.pos);
          this.pos++;
          this.rawArgument();
          const kept = rows.filter((r) => r.some((c) => c !== ""));
          if (kept.length === 0 || kept.some((r) => r.length !== kept[0].length || r.includes(""))) {
            throw new UnsupportedLatexError("ragged matrix");
          }
          const body = `[${kept.map((r) => `[${r.join(", ")}]`).join(", ")}]`;
          return env === "vmatrix" ? `det(${body})` : body;
        }
        depth--;
      }
      if (depth === 0 && t.kind === "char" && t.value === "&") {
        pushCell(this.pos);
        cellStart = this.pos + 1;
      } else if (depth === 0 && t.kind === "cmd" && t.value === "\\") {
        pushCell(this.pos);
        rows.push([]);
        cellStart = this.pos + 1;
      }
      this.pos++;
    }
    throw new UnsupportedLatexError(`missing \\end{${env}}`);
  }
}

/**
 * mathjs syntax for a LaTeX expression; throws {@link UnsupportedLatexError} when the input is not a
 * single expression it understands (relations, lists, text).
 *
 * @example
 * ```ts
 * import { latexToMathjs } from "./mod.ts";
 * latexToMathjs("\\frac{x}{7}+2\\sqrt{3}"); // "((x) / (7)) + 2 * sqrt(3)"
 * ```
 */
export function latexToMathjs(latex: string): string {
  return new Converter(tokenize(latex), 0).convert();
}

/**
 * A LaTeX-to-value parser covering the answer shapes latex2sympy2_extended turns into sympy objects:
 * numbers (with `1,000` thousands groups), `+ - \cdot \times / \div ^ !`, `\frac`, `\sqrt[n]`, `\pi`,
 * `e`, `i`, `\infty`, functions, `%`, `\pm`, letters and subscripted names, `\text{}` words, sets,
 * tuples, intervals and unions, relations (chains become conjunctions), `x \in S` (the set S) and
 * matrices. Anything else throws, as latex2sympy does.
 *
 * @module
 */

import { type MvNode, neg, rat, ratFromDecimal, type RelOp } from "./value.ts";
import { GREEK } from "../../latex_to_mathjs.ts";

/** Thrown for input the parser does not accept (Math-Verify then tries the next match). */
export class LatexParseError extends Error {
  /** Error name shown in stack traces. */
  override name = "LatexParseError";
}

type Tok = { k: "num" | "cmd" | "ch" | "text"; v: string };

const MAX_DEPTH = 200;
// Spacing and sizing commands carry no value (\left( is the bracket that follows it).
const SPACE_CMDS = new Set([
  ",",
  ";",
  ":",
  " ",
  "quad",
  "qquad",
  "!",
  "displaystyle",
  "limits",
  "left",
  "right",
  "middle",
  "big",
  "Big",
  "bigl",
  "bigr",
  "Bigl",
  "Bigr",
]);
const STYLE_CMDS = new Set([
  "mathbf",
  "mathit",
  "mathrm",
  "mathsf",
  "boldsymbol",
  "bm",
  "operatorname",
  "mbox",
]);
const FUNCS = new Set([
  "sin",
  "cos",
  "tan",
  "sec",
  "csc",
  "cot",
  "arcsin",
  "arccos",
  "arctan",
  "sinh",
  "cosh",
  "tanh",
  "ln",
  "log",
  "exp",
]);
const REL_CMDS: Record<string, RelOp> = {
  le: "<=",
  leq: "<=",
  leqslant: "<=",
  ge: ">=",
  geq: ">=",
  geqslant: ">=",
  ne: "!=",
  neq: "!=",
  lt: "<",
  gt: ">",
  approx: "=",
};

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "\\") {
      const m = /^\\([a-zA-Z]+|.)/.exec(s.slice(i, i + 40));
      if (!m) throw new LatexParseError("dangling backslash");
      // The lexer takes known command names greedily: "\\quadx" is "\\quad" then "x".
      const glued = /^(qquad|quad|cdot|times|pi)([a-zA-Z]+)$/.exec(m[1]);
      if (glued) {
        i += 1 + glued[1].length;
        if (!SPACE_CMDS.has(glued[1])) out.push({ k: "cmd", v: glued[1] });
        continue;
      }
      i += m[0].length;
      if (m[1] === "text" || STYLE_CMDS.has(m[1])) {
        let j = i;
        while (j < s.length && s[j] === " ") j++;
        if (s[j] === "{") {
          let depth = 0, k = j;
          for (; k < s.length; k++) {
            if (s[k] === "{") depth++;
            else if (s[k] === "}" && --depth === 0) break;
          }
          if (k >= s.length) throw new LatexParseError("unclosed \\text");
          const inner = s.slice(j + 1, k);
          i = k + 1;
          if (m[1] === "text" || m[1] === "mbox") {
            // A parenthesised choice letter, \text{(C)}, names the same answer as \text{C}.
            const word = inner.trim();
            out.push({ k: "text", v: /^\([A-Za-z]\)$/.test(word) ? word[1] : word });
          } else out.push(...tokenize(`{${inner}}`));
          continue;
        }
      }
      if (!SPACE_CMDS.has(m[1])) out.push({ k: "cmd", v: m[1] });
      continue;
    }
    // Numbers, with thousands groups written without spaces ("11,111,100").
    const decimalComma = /^0,\d{3,}/.exec(s.slice(i, i + 400));
    if (decimalComma && !/\d/.test(s[i - 1] ?? "")) {
      out.push({ k: "num", v: decimalComma[0].replace(",", ".") });
      i += decimalComma[0].length;
      continue;
    }
    const num = /^(?:\d+(?:,\d{3}(?!\d))+|\d+)(?:\.\d+)?|^\.\d+/.exec(s.slice(i, i + 400));
    if (num) {
      out.push({ k: "num", v: num[0] });
      i += num[0].length;
      continue;
    }
    out.push({ k: "ch", v: c });
    i++;
  }
  return out;
}

const one = (): MvNode => ({ t: "num", v: rat(1n), float: false });
const recip = (a: MvNode): MvNode => ({ t: "pow", base: a, exp: { t: "num", v: rat(-1n), float: false } });

class Parser {
  pos = 0;
  depth = 0;
  brackets = 0;
  constructor(readonly toks: Tok[]) {}

  peek(o = 0): Tok | undefined {
    return this.toks[this.pos + o];
  }
  is(k: Tok["k"], v?: string, o = 0): boolean {
    const t = this.peek(o);
    return !!t && t.k === k && (v === undefined || t.v === v);
  }
  expect(k: Tok["k"], v: string): void {
    if (!this.is(k, v)) throw new LatexParseError(`expected ${v}`);
    this.pos++;
  }
  enter(): void {
    if (++this.depth > MAX_DEPTH) throw new LatexParseError("nesting too deep");
  }

  /** Top level: comma/semicolon lists become sets (order kept, as latex2sympy's FiniteSet). */
  top(): MvNode {
    const items = this.list();
    if (this.pos < this.toks.length) throw new LatexParseError(`unexpected ${this.peek()!.v}`);
    return items.length === 1 ? items[0] : { t: "set", items };
  }

  list(): MvNode[] {
    const items = [this.relation()];
    while (this.is("ch", ",") || this.is("ch", ";")) {
      this.pos++;
      items.push(this.relation());
    }
    return items;
  }

  relOp(): RelOp | "in" | null {
    const t = this.peek();
    if (!t) return null;
    if (t.k === "ch") {
      if (t.v === "=") return "=";
      if (t.v === "<") return this.is("ch", "=", 1) ? (this.pos++, "<=") : "<";
      if (t.v === ">") return this.is("ch", "=", 1) ? (this.pos++, ">=") : ">";
    }
    if (t.k === "cmd") {
      if (t.v in REL_CMDS) return REL_CMDS[t.v];
      if (t.v === "in") return "in";
    }
    return null;
  }

  relation(): MvNode {
    this.enter();
    const first = this.union();
    const rels: MvNode[] = [];
    let lhs = first;
    for (let op = this.relOp(); op; op = this.relOp()) {
      this.pos++;
      const rhs = this.union();
      if (op === "in") {
        this.depth--;
        return rhs;
      }
      rels.push({ t: "rel", op, lhs, rhs });
      lhs = rhs;
    }
    this.depth--;
    if (rels.length === 0) return first;
    return rels.length === 1 ? rels[0] : { t: "and", args: rels };
  }

  union(): MvNode {
    const a = this.sum();
    if (!this.is("cmd", "cup")) return a;
    const args = [a];
    while (this.is("cmd", "cup")) {
      this.pos++;
      args.push(this.sum());
    }
    return { t: "union", args };
  }

  sum(): MvNode {
    let left = this.term();
    while (true) {
      if (this.is("ch", "+")) {
        this.pos++;
        left = { t: "add", args: [left, this.term()] };
      } else if (this.is("ch", "-")) {
        this.pos++;
        left = { t: "add", args: [left, neg(this.term())] };
      } else if (this.is("cmd", "pm") || this.is("cmd", "mp")) {
        this.pos++;
        const r = this.term();
        left = { t: "set", items: [{ t: "add", args: [left, r] }, { t: "add", args: [left, neg(r)] }] };
      } else return left;
    }
  }

  startsFactor(): boolean {
    const t = this.peek();
    if (!t) return false;
    if (t.k === "num" || t.k === "text") return true;
    if (t.k === "ch") return /^[a-zA-Z(\[{|]$/.test(t.v) || (t.v === "\\{");
    return !(t.v in REL_CMDS) &&
      !["cup", "in", "pm", "mp", "cdot", "times", "div", "right", "}", "%", "to", "\\", "end", ")", "]"]
        .includes(t.v);
  }

  term(): MvNode {
    let left = this.unary();
    while (true) {
      if (this.is("ch", "*") || this.is("cmd", "cdot") || this.is("cmd", "times")) {
        this.pos++;
        left = { t: "mul", args: [left, this.unary()] };
      } else if (this.is("ch", "/") || (this.is("ch", ":") && this.ratioColon()) || this.is("cmd", "div")) {
        this.pos++;
        left = { t: "mul", args: [left, recip(this.unary())] };
      } else if (this.startsFactor() && !this.is("ch", "|")) {
        left = { t: "mul", args: [left, this.postfix()] };
      } else return left;
    }
  }

  /** A ratio colon ("7:32", "S_1:S") is followed by a number or a letter; "matrix: \\begin" is prose. */
  ratioColon(): boolean {
    const next = this.peek(1);
    return !!next && (next.k === "num" || (next.k === "ch" && /^[a-zA-Z]$/.test(next.v)));
  }

  unary(): MvNode {
    if (this.is("ch", "-")) {
      this.pos++;
      return neg(this.unary());
    }
    if (this.is("ch", "+")) {
      this.pos++;
      return this.unary();
    }
    if (this.is("cmd", "pm")) {
      this.pos++;
      const v = this.unary();
      return { t: "set", items: [neg(v), v] };
    }
    return this.postfix();
  }

  group(): MvNode {
    if (this.is("ch", "{")) {
      this.pos++;
      const items = this.list();
      this.expect("ch", "}");
      return items.length === 1 ? items[0] : { t: "set", items };
    }
    const t = this.peek();
    if (!t) throw new LatexParseError("missing argument");
    if (t.k === "num" && t.v.length > 1 && !t.v.includes(".")) {
      // \frac12: a single digit is the argument.
      this.toks[this.pos] = { k: "num", v: t.v.slice(1) };
      return { t: "num", v: rat(BigInt(t.v[0])), float: false };
    }
    return this.atom();
  }

  postfix(): MvNode {
    let base = this.atom();
    while (true) {
      if (this.is("ch", "^")) {
        this.pos++;
        const exp = this.group();
        base = { t: "pow", base, exp };
      } else if (this.is("ch", "!")) {
        this.pos++;
        base = { t: "fn", name: "factorial", args: [base] };
      } else if (this.is("cmd", "%") || this.is("ch", "%")) {
        this.pos++;
        base = { t: "pct", arg: base };
      } else if (this.is("ch", "'")) {
        this.pos++;
      } else return base;
    }
  }

  subscript(name: string): string {
    if (!this.is("ch", "_")) return name;
    this.pos++;
    if (this.is("ch", "{")) {
      let depth = 0, s = "";
      do {
        const t = this.toks[this.pos++];
        if (!t) throw new LatexParseError("unclosed subscript");
        if (t.v === "{") depth++;
        if (t.v === "}") depth--;
        s += t.v;
      } while (depth > 0);
      return `${name}_${s.slice(1, -1)}`;
    }
    const t = this.toks[this.pos++];
    if (!t) throw new LatexParseError("missing subscript");
    return `${name}_${t.v}`;
  }

  bracketed(open: string): MvNode {
    this.enter();
    this.brackets++;
    const items = this.list();
    this.brackets--;
    const close = this.peek();
    if (!close || close.k !== "ch" || ![")", "]"].includes(close.v)) {
      throw new LatexParseError("unclosed bracket");
    }
    this.pos++;
    this.depth--;
    if (items.length === 2 && !(open === "(" && close.v === ")" && items.some((x) => x.t === "tuple"))) {
      return { t: "interval", lo: items[0], hi: items[1], lopen: open === "(", ropen: close.v === ")" };
    }
    if (open === "(" && close.v === ")") return items.length === 1 ? items[0] : { t: "tuple", items };
    if (open === "[" && close.v === "]" && items.length === 1) return items[0];
    throw new LatexParseError("bad bracket");
  }

  atom(): MvNode {
    this.enter();
    try {
      return this.atomInner();
    } finally {
      this.depth--;
    }
  }

  atomInner(): MvNode {
    const t = this.peek();
    if (!t) throw new LatexParseError("unexpected end");
    this.pos++;
    if (t.k === "num" && t.v.includes(",")) {
      // Thousands groups ("11,111,100") are one number at the top level; inside brackets the
      // commas separate elements ("(12,102)").
      if (this.brackets === 0) {
        return { t: "num", v: ratFromDecimal(t.v.replaceAll(",", "")), float: t.v.includes(".") };
      }
      const parts = t.v.split(",");
      this.toks.splice(
        this.pos - 1,
        1,
        ...parts.flatMap((v, i): Tok[] => i ? [{ k: "ch", v: "," }, { k: "num", v }] : [{ k: "num", v }]),
      );
      return { t: "num", v: ratFromDecimal(parts[0]), float: parts[0].includes(".") };
    }
    if (t.k === "num") return { t: "num", v: ratFromDecimal(t.v), float: t.v.includes(".") };
    if (t.k === "text") return { t: "sym", name: t.v };
    if (t.k === "ch") {
      if (/^[a-zA-Z]$/.test(t.v)) {
        const name = this.subscript(t.v);
        if (name === "e") return { t: "const", name: "e" };
        if (name === "i") return { t: "const", name: "i" };
        if (
          this.is("ch", "(") && /^[a-zA-Z](_.*)?$/.test(name) && /^[fgh]|[A-Z]$/.test(name[0]) &&
          name[0] !== "E"
        ) {
          this.pos++;
          const args = this.list();
          this.expect("ch", ")");
          return { t: "fn", name, args };
        }
        return { t: "sym", name };
      }
      if (t.v === "(" || t.v === "[") return this.bracketed(t.v);
      if (t.v === "{") {
        this.pos--;
        return this.group();
      }
      if (t.v === "|") {
        const inner = this.sum();
        this.expect("ch", "|");
        return { t: "fn", name: "abs", args: [inner] };
      }
      throw new LatexParseError(`unexpected ${t.v}`);
    }
    if (t.v === "(") {
      // latex2sympy's L_PAREN_VISUAL: "\(" opens intervals and tuples only, never a plain group.
      this.brackets++;
      const items = this.list();
      this.brackets--;
      this.expect("cmd", ")");
      if (items.length === 2) return { t: "interval", lo: items[0], hi: items[1], lopen: true, ropen: true };
      if (items.length > 2) return { t: "tuple", items };
      throw new LatexParseError("\\( group");
    }
    // commands
    switch (t.v) {
      case "frac":
      case "over": {
        const a = this.group(), b = this.group();
        return { t: "mul", args: [a, recip(b)] };
      }
      case "binom": {
        const a = this.group(), b = this.group();
        return { t: "fn", name: "binomial", args: [a, b] };
      }
      case "sqrt": {
        let index: MvNode | null = null;
        if (this.is("ch", "[")) {
          this.pos++;
          index = this.sum();
          this.expect("ch", "]");
        }
        const arg = this.group();
        return {
          t: "pow",
          base: arg,
          exp: index ? recip(index) : { t: "num", v: rat(1n, 2n), float: false },
        };
      }
      case "pi":
        return { t: "const", name: "pi" };
      case "infty":
        return { t: "const", name: "oo" };
      case "{": {
        this.brackets++;
        const items = this.is("cmd", "}") ? [] : this.list();
        this.brackets--;
        this.expect("cmd", "}");
        return { t: "set", items };
      }
      case "emptyset":
      case "varnothing":
        return { t: "set", items: [] };
      case "lfloor":
      case "lceil": {
        const inner = this.sum();
        this.pos++;
        return { t: "fn", name: t.v === "lfloor" ? "floor" : "ceil", args: [inner] };
      }
      case "begin":
        return this.matrix();
      case "sum":
      case "prod": {
        // Kept unevaluated: compared by structure, and as one opaque symbol in evaluations.
        let lower: MvNode = one(), upper: MvNode = one();
        if (this.is("ch", "_")) {
          this.pos++;
          lower = this.group();
        }
        if (this.is("ch", "^")) {
          this.pos++;
          upper = this.group();
        }
        return { t: "fn", name: t.v, args: [this.term(), lower, upper] };
      }
      case "circ":
        return one();
    }
    if (GREEK.has(t.v)) return { t: "sym", name: this.subscript(t.v) };
    if (FUNCS.has(t.v)) return this.func(t.v);
    throw new LatexParseError(`unsupported \\${t.v}`);
  }

  func(name: string): MvNode {
    let base: MvNode | null = null;
    let power: MvNode | null = null;
    if (name === "log" && this.is("ch", "_")) {
      this.pos++;
      base = this.group();
    }
    if (this.is("ch", "^")) {
      this.pos++;
      power = this.group();
    }
    const arg = this.is("ch", "(") ? this.atom() : this.postfix();
    const call: MvNode = { t: "fn", name, args: base ? [arg, base] : [arg] };
    return power ? { t: "pow", base: call, exp: power } : call;
  }

  matrix(): MvNode {
    this.expect("ch", "{");
    let env = "";
    while (this.peek() && !this.is("ch", "}")) env += this.toks[this.pos++].v;
    this.expect("ch", "}");
    if (!/matrix|array/.test(env)) throw new LatexParseError(`unsupported environment ${env}`);
    if (env === "array" && this.is("ch", "{")) {
      while (this.peek() && !this.is("ch", "}")) this.pos++;
      this.pos++;
    }
    const rows: MvNode[][] = [[]];
    while (true) {
      if (this.is("cmd", "end")) {
        this.pos++;
        this.expect("ch", "{");
        while (this.peek() && !this.is("ch", "}")) this.pos++;
        this.expect("ch", "}");
        break;
      }
      rows[rows.length - 1].push(this.sum());
      if (this.is("ch", "&")) this.pos++;
      else if (this.is("cmd", "\\")) {
        this.pos++;
        if (this.is("cmd", "end")) continue;
        rows.push([]);
      } else if (!this.is("cmd", "end")) throw new LatexParseError("bad matrix");
    }
    if (rows.some((r) => r.length !== rows[0].length)) throw new LatexParseError("ragged matrix");
    return { t: "matrix", rows };
  }
}

/** Parses normalized LaTeX into a value; throws `LatexParseError` where latex2sympy would fail. */
export function parseLatex(latex: string): MvNode {
  if (latex.length > 20_000) throw new LatexParseError("input too long");
  const toks = tokenize(latex);
  if (toks.length === 0) throw new LatexParseError("empty");
  return new Parser(toks).top();
}

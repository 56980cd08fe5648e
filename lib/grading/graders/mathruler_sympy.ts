/**
 * MathRuler's `are_equal_under_sympy` decision — `sympy.simplify(parse_expr(gt - given)) == 0` with
 * `standard_transformations + implicit_multiplication_application` — without sympy:
 *
 * - The string is tokenised and parsed like `parse_expr` reads it: `^` already became `**`, implicit
 *   multiplication (`2x`, `2(3)`, `)(`), names split into one-letter symbols unless sympy knows them
 *   (`pi`, `ln`, `sqrt`), postfix `!` as factorial, Python precedence (`-x**2` is `-(x**2)`).
 *   Anything sympy could not parse (commas, `=`, stray symbols) answers false, as the `except` does.
 * - Numbers are exact rationals (BigInt) while only integers and `/`, `**`, `sqrt`, `!` of them are
 *   involved: there sympy's verdict is exact and so is this one. A decimal literal is a sympy Float
 *   (53-bit binary, like a double): arithmetic with it is done in doubles and a pure-number result
 *   must be exactly 0, as sympy's would.
 * - Approximated: where irrational constants (`pi`, non-square roots, `ln`) or free symbols appear,
 *   the difference is evaluated in doubles (at several points for symbols) and called 0 within a
 *   relative 1e-12. sympy's `simplify` proves the common identities this accepts, but can fail on
 *   some (nested radicals, branch cuts); those show up as misses.
 * - Bounds: strings over 2,000 characters, nesting over 200, exact numbers over 8,192 bits (a
 *   power, product or sum that would exceed it) and factorials over 900 answer false instead of
 *   running unbounded (sympy would compute them; these never occur in answers).
 *
 * @module
 */

interface Rat {
  n: bigint;
  d: bigint;
}

interface Num {
  /** The exact value, where only rationals were involved. */
  q: Rat | null;
  /** The value as a double (NaN where it leaves the reals). */
  v: number;
  /** Whether a Float took part. */
  float: boolean;
}

type Node =
  | { k: "num"; text: string }
  | { k: "sym"; name: string }
  | { k: "const"; name: "pi" }
  | { k: "neg"; a: Node }
  | { k: "bin"; op: "+" | "-" | "*" | "/" | "**"; a: Node; b: Node }
  | { k: "fact"; a: Node }
  | { k: "call"; fn: "sqrt" | "ln"; a: Node };

class Unsupported extends Error {}

const MAX_LENGTH = 2000;
const MAX_DEPTH = 200;
const MAX_BITS = 8192;
const MAX_FACTORIAL = 900;
const FUNCTIONS = new Set(["sqrt", "ln", "log"]);

type Tok = { t: "num" | "name" | "op"; s: string };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i, i + 128);
    const num = /^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?/.exec(rest);
    if (num) {
      out.push({ t: "num", s: num[0] });
      i += num[0].length;
      continue;
    }
    const name = /^[\p{L}_][\p{L}\p{N}_]*/u.exec(src.slice(i, i + MAX_LENGTH));
    if (name) {
      pushName(out, name[0]);
      i += name[0].length;
      continue;
    }
    if (rest.startsWith("**")) {
      out.push({ t: "op", s: "**" });
      i += 2;
      continue;
    }
    if ("+-*/()!".includes(src[i])) {
      out.push({ t: "op", s: src[i] });
      i++;
      continue;
    }
    throw new Unsupported(`token ${JSON.stringify(src[i])}`);
  }
  return out;
}

/** `split_symbols`: a name sympy does not know becomes one symbol per character. */
function pushName(out: Tok[], name: string): void {
  if (name === "pi" || FUNCTIONS.has(name)) {
    out.push({ t: "name", s: name });
    return;
  }
  for (const ch of name) {
    out.push(/[0-9]/.test(ch) ? { t: "num", s: ch } : { t: "name", s: ch });
  }
}

/** `implicit_multiplication`: a `*` between juxtaposed operands, except a function and its `(`. */
function insertImplicit(toks: Tok[]): Tok[] {
  const out: Tok[] = [];
  for (const tok of toks) {
    const prev = out[out.length - 1];
    if (prev) {
      const leftEnds = prev.t === "num" || (prev.t === "name" && !FUNCTIONS.has(prev.s)) ||
        prev.s === ")" || prev.s === "!";
      const rightStarts = tok.t === "num" || tok.t === "name" || tok.s === "(";
      if (leftEnds && rightStarts) out.push({ t: "op", s: "*" });
    }
    out.push(tok);
  }
  return out;
}

class Parser {
  i = 0;
  constructor(readonly toks: Tok[]) {}

  peek(): Tok | undefined {
    return this.toks[this.i];
  }

  expect(s: string): void {
    if (this.toks[this.i]?.s !== s) throw new Unsupported(`expected ${s}`);
    this.i++;
  }

  expr(d: number): Node {
    if (d > MAX_DEPTH) throw new Unsupported("nested too deeply");
    let a = this.term(d);
    for (let t = this.peek(); t && (t.s === "+" || t.s === "-"); t = this.peek()) {
      this.i++;
      a = { k: "bin", op: t.s as "+" | "-", a, b: this.term(d) };
    }
    return a;
  }

  term(d: number): Node {
    let a = this.unary(d);
    for (let t = this.peek(); t && (t.s === "*" || t.s === "/"); t = this.peek()) {
      this.i++;
      a = { k: "bin", op: t.s as "*" | "/", a, b: this.unary(d) };
    }
    return a;
  }

  unary(d: number): Node {
    if (d > MAX_DEPTH) throw new Unsupported("nested too deeply");
    const t = this.peek();
    if (t?.s === "-") {
      this.i++;
      return { k: "neg", a: this.unary(d + 1) };
    }
    if (t?.s === "+") {
      this.i++;
      return this.unary(d + 1);
    }
    const base = this.postfix(d);
    if (this.peek()?.s === "**") {
      this.i++;
      return { k: "bin", op: "**", a: base, b: this.unary(d + 1) };
    }
    return base;
  }

  postfix(d: number): Node {
    let a = this.atom(d);
    while (this.peek()?.s === "!") {
      this.i++;
      a = { k: "fact", a };
    }
    return a;
  }

  atom(d: number): Node {
    const t = this.toks[this.i++];
    if (!t) throw new Unsupported("unexpected end");
    if (t.t === "num") return { k: "num", text: t.s };
    if (t.t === "name") {
      if (t.s === "pi") return { k: "const", name: "pi" };
      if (FUNCTIONS.has(t.s)) {
        this.expect("(");
        const a = this.expr(d + 1);
        this.expect(")");
        return { k: "call", fn: t.s === "sqrt" ? "sqrt" : "ln", a };
      }
      return { k: "sym", name: t.s };
    }
    if (t.s === "(") {
      const a = this.expr(d + 1);
      this.expect(")");
      return a;
    }
    throw new Unsupported(`unexpected ${t.s}`);
  }
}

function parseSympy(src: string): Node {
  if (src.length > MAX_LENGTH) throw new Unsupported("too long");
  const p = new Parser(insertImplicit(tokenize(src)));
  const node = p.expr(0);
  if (p.i !== p.toks.length) throw new Unsupported("trailing tokens");
  return node;
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
}

function rat(n: bigint, d: bigint): Rat {
  if (d === 0n) throw new Unsupported("division by zero");
  if (bitLength(n) + bitLength(d) > 2 * MAX_BITS) throw new Unsupported("number too large");
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

function ratValue(q: Rat): number {
  const v = Number(q.n) / Number(q.d);
  if (Number.isFinite(v)) return v;
  // Both sides overflow a double: scale them down together.
  const shift = BigInt(Math.max(q.n.toString(2).length, q.d.toString(2).length) - 1000);
  return Number(q.n >> (shift > 0n ? shift : 0n)) / Number(q.d >> (shift > 0n ? shift : 0n));
}

function exact(q: Rat): Num {
  return { q, v: ratValue(q), float: false };
}

function approx(v: number, float: boolean): Num {
  return { q: null, v, float };
}

/** The integer r-th root of n >= 0, or null when n is not a perfect r-th power. */
function exactRoot(n: bigint, r: bigint): bigint | null {
  if (n < 2n) return n;
  const bits = n.toString(2).length;
  let x = 1n << BigInt(Math.ceil(bits / Number(r)) + 1);
  for (;;) {
    const y = ((r - 1n) * x + n / x ** (r - 1n)) / r;
    if (y >= x) break;
    x = y;
  }
  return x ** r === n ? x : null;
}

function bitLength(n: bigint): number {
  return (n < 0n ? -n : n).toString(2).length;
}

function power(a: Num, b: Num): Num {
  if (a.q && b.q && !a.float && !b.float) {
    const { n: en, d: ed } = b.q;
    if (ed === 1n) {
      const e = en < 0n ? -en : en;
      if (Math.max(bitLength(a.q.n), bitLength(a.q.d)) * Number(e) > MAX_BITS) {
        throw new Unsupported("power too large");
      }
      if (en < 0n && a.q.n === 0n) throw new Unsupported("zero to a negative power");
      const r = rat(a.q.n ** e, a.q.d ** e);
      return exact(en < 0n ? rat(r.d, r.n) : r);
    }
    if (a.q.n >= 0n && ed <= 64n) {
      const rn = exactRoot(a.q.n, ed);
      const rd = exactRoot(a.q.d, ed);
      if (rn !== null && rd !== null) return power(exact(rat(rn, rd)), exact(rat(en, 1n)));
    }
  }
  return approx(Math.pow(a.v, b.v), a.float || b.float);
}

interface Trace {
  irrational: boolean;
  scale: number;
}

function evaluate(node: Node, env: Map<string, number>, tr: Trace): Num {
  const r = evalNode(node, env, tr);
  if (Number.isFinite(r.v)) tr.scale = Math.max(tr.scale, Math.abs(r.v));
  return r;
}

function evalNode(node: Node, env: Map<string, number>, tr: Trace): Num {
  switch (node.k) {
    case "num": {
      if (/^[0-9]+$/.test(node.text)) return exact(rat(BigInt(node.text), 1n));
      return approx(Number(node.text), true);
    }
    case "sym":
      tr.irrational = true;
      return approx(env.get(node.name)!, false);
    case "const":
      tr.irrational = true;
      return approx(Math.PI, false);
    case "neg": {
      const a = evaluate(node.a, env, tr);
      return a.q ? exact(rat(-a.q.n, a.q.d)) : approx(-a.v, a.float);
    }
    case "fact": {
      const a = evaluate(node.a, env, tr);
      if (!a.q || a.q.d !== 1n || a.q.n < 0n || a.q.n > BigInt(MAX_FACTORIAL)) {
        throw new Unsupported("factorial of a non-integer or too large");
      }
      let f = 1n;
      for (let k = 2n; k <= a.q.n; k++) f *= k;
      return exact(rat(f, 1n));
    }
    case "call": {
      const a = evaluate(node.a, env, tr);
      if (node.fn === "sqrt") {
        const r = power(a, exact(rat(1n, 2n)));
        if (!r.q) tr.irrational = true;
        return r;
      }
      if (a.q && a.q.n === a.q.d) return exact(rat(0n, 1n));
      tr.irrational = true;
      return approx(Math.log(a.v), a.float);
    }
    case "bin": {
      const a = evaluate(node.a, env, tr);
      const b = evaluate(node.b, env, tr);
      if (node.op === "**") {
        const r = power(a, b);
        if (!r.q && !r.float) tr.irrational = true;
        return r;
      }
      if (a.q && b.q) {
        if (
          Math.max(bitLength(a.q.n), bitLength(a.q.d)) + Math.max(bitLength(b.q.n), bitLength(b.q.d)) >
            MAX_BITS
        ) {
          throw new Unsupported("number too large");
        }
        const { n: an, d: ad } = a.q;
        const { n: bn, d: bd } = b.q;
        switch (node.op) {
          case "+":
            return exact(rat(an * bd + bn * ad, ad * bd));
          case "-":
            return exact(rat(an * bd - bn * ad, ad * bd));
          case "*":
            return exact(rat(an * bn, ad * bd));
          case "/":
            return exact(rat(an * bd, ad * bn));
        }
      }
      const float = a.float || b.float;
      if (node.op === "/" && b.v === 0) throw new Unsupported("division by zero");
      const v = node.op === "+"
        ? a.v + b.v
        : node.op === "-"
        ? a.v - b.v
        : node.op === "*"
        ? a.v * b.v
        : a.v / b.v;
      return approx(v, float);
    }
  }
}

function symbols(node: Node, acc: Set<string>): Set<string> {
  if (node.k === "sym") acc.add(node.name);
  else if (node.k === "neg" || node.k === "fact" || node.k === "call") symbols(node.a, acc);
  else if (node.k === "bin") {
    symbols(node.a, acc);
    symbols(node.b, acc);
  }
  return acc;
}

// Points for free symbols: irregular, of both signs, away from common poles.
const SAMPLES = [0.5377, 1.8339, -2.2588, 0.8622, 0.3188, -1.3077, 2.7694, -0.4336];
const TOLERANCE = 1e-12;

/**
 * Whether sympy would simplify `parse_expr(expr)` (already the difference `(gt)-(given)`) to 0, as
 * described in the module doc. False where sympy would raise.
 */
export function sympyDifferenceIsZero(expr: string): boolean {
  let node: Node;
  try {
    node = parseSympy(expr);
  } catch (e) {
    if (e instanceof Unsupported) return false;
    throw e;
  }
  const names = [...symbols(node, new Set())];
  const rounds = names.length === 0 ? 1 : 4;
  let valid = 0;
  for (let round = 0; round < rounds; round++) {
    const env = new Map(names.map((n, j) => [n, SAMPLES[(round * 3 + j) % SAMPLES.length] * (1 + j / 7)]));
    const tr: Trace = { irrational: false, scale: 1 };
    let r: Num;
    try {
      r = evaluate(node, env, tr);
    } catch (e) {
      if (e instanceof Unsupported) return false;
      throw e;
    }
    if (r.q) return r.q.n === 0n;
    if (!tr.irrational) return r.v === 0;
    if (Number.isNaN(r.v)) continue;
    if (!(Math.abs(r.v) <= TOLERANCE * tr.scale)) return false;
    valid++;
  }
  return valid > 0;
}

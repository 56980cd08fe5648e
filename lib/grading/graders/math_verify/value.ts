/**
 * The values Math-Verify's parser produces (a small stand-in for the sympy objects of
 * latex2sympy2_extended): expressions over exact rationals, sets, tuples, intervals, relations and
 * matrices, with exact rational evaluation where the expression is rational and float64 elsewhere.
 *
 * @module
 */

/** An exact rational (denominator > 0, reduced). */
export interface Rat {
  /** Numerator. */
  n: bigint;
  /** Denominator. */
  d: bigint;
}

/** Relation operators of a parsed relation. */
export type RelOp = "=" | "<" | ">" | "<=" | ">=" | "!=";

/** A parsed answer (sympy object analogue). */
export type MvNode =
  | { t: "num"; v: Rat; float: boolean }
  | { t: "sym"; name: string }
  | { t: "const"; name: "pi" | "e" | "i" | "oo" }
  | { t: "add"; args: MvNode[] }
  | { t: "mul"; args: MvNode[] }
  | { t: "pow"; base: MvNode; exp: MvNode }
  | { t: "fn"; name: string; args: MvNode[] }
  | { t: "pct"; arg: MvNode }
  | { t: "set"; items: MvNode[] }
  | { t: "tuple"; items: MvNode[] }
  | { t: "interval"; lo: MvNode; hi: MvNode; lopen: boolean; ropen: boolean }
  | { t: "union"; args: MvNode[] }
  | { t: "rel"; op: RelOp; lhs: MvNode; rhs: MvNode }
  | { t: "and"; args: MvNode[] }
  | { t: "matrix"; rows: MvNode[][] };

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A reduced rational n/d. */
export function rat(n: bigint, d = 1n): Rat {
  if (d === 0n) throw new RangeError("division by zero");
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

/** Parses a decimal literal ("12", "0.125") exactly. */
export function ratFromDecimal(s: string): Rat {
  const [int, frac = ""] = s.split(".");
  return rat(BigInt((int || "0") + frac), 10n ** BigInt(frac.length));
}

const add = (a: Rat, b: Rat) => rat(a.n * b.d + b.n * a.d, a.d * b.d);
const mul = (a: Rat, b: Rat) => rat(a.n * b.n, a.d * b.d);
/** True when both rationals are equal. */
export const ratEq = (a: Rat, b: Rat): boolean => a.n === b.n && a.d === b.d;
/** The nearest float64 of a rational. */
export function ratToNumber(a: Rat): number {
  const bits = a.n.toString().length - a.d.toString().length;
  if (Math.abs(bits) < 300) return Number(a.n) / Number(a.d);
  const shift = 10n ** 300n;
  return bits > 0 ? Number(a.n / a.d) : Number((a.n * shift) / a.d) / 1e300;
}

const MAX_DIGITS = 2000;

/** The exact value of a rational expression, or null when it is not rational (or too large). */
export function exactValue(node: MvNode): Rat | null {
  switch (node.t) {
    case "num":
      return node.v;
    case "pct": {
      const v = exactValue(node.arg);
      return v && mul(v, rat(1n, 100n));
    }
    case "add": {
      let acc = rat(0n);
      for (const a of node.args) {
        const v = exactValue(a);
        if (!v) return null;
        acc = add(acc, v);
      }
      return acc;
    }
    case "mul": {
      let acc = rat(1n);
      for (const a of node.args) {
        const v = exactValue(a);
        if (!v) return null;
        acc = mul(acc, v);
      }
      return acc;
    }
    case "pow": {
      const b = exactValue(node.base), e = exactValue(node.exp);
      if (!b || !e || e.d !== 1n) return null;
      const k = e.n < 0n ? -e.n : e.n;
      const size = BigInt(Math.max(b.n.toString().length, b.d.toString().length));
      if (k * size > BigInt(MAX_DIGITS)) return null;
      if (b.n === 0n && e.n < 0n) return null;
      const p = rat(b.n ** k, b.d ** k);
      return e.n < 0n ? rat(p.d, p.n) : p;
    }
    default:
      return null;
  }
}

const FUNCS: Record<string, (...x: number[]) => number> = {
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  sec: (x) => 1 / Math.cos(x),
  csc: (x) => 1 / Math.sin(x),
  cot: (x) => 1 / Math.tan(x),
  arcsin: Math.asin,
  arccos: Math.acos,
  arctan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  ln: Math.log,
  exp: Math.exp,
  sqrt: Math.sqrt,
  abs: Math.abs,
  floor: Math.floor,
  ceil: Math.ceil,
  log: (x, b) => b === undefined ? Math.log(x) : Math.log(x) / Math.log(b),
  factorial: (x) => {
    if (!Number.isInteger(x) || x < 0 || x > 170) return NaN;
    let r = 1;
    for (let i = 2; i <= x; i++) r *= i;
    return r;
  },
};

/** Float64 value of an expression with the symbols bound by `env` (NaN where undefined). */
export function evalNode(node: MvNode, env: Map<string, number>): number {
  switch (node.t) {
    case "num":
      return ratToNumber(node.v);
    case "const":
      return node.name === "pi"
        ? Math.PI
        : node.name === "e"
        ? Math.E
        : node.name === "oo"
        ? Infinity
        : env.get("i") ?? NaN;
    case "sym":
      return env.get(node.name) ?? NaN;
    case "pct":
      return evalNode(node.arg, env) / 100;
    case "add":
      return node.args.reduce((s, a) => s + evalNode(a, env), 0);
    case "mul":
      return node.args.reduce((s, a) => s * evalNode(a, env), 1);
    case "pow": {
      const b = evalNode(node.base, env), e = evalNode(node.exp, env);
      // sympy's real root of a negative base for odd-denominator exponents (x^{1/3}).
      if (b < 0 && !Number.isInteger(e)) {
        const r = exactValue(node.exp);
        if (r && r.d % 2n === 1n) return (r.n % 2n === 0n ? 1 : -1) * Math.pow(-b, e);
      }
      return Math.pow(b, e);
    }
    case "fn": {
      const f = FUNCS[node.name];
      if (!f) return env.get(`${node.name}(${node.args.map(printNode).join(",")})`) ?? NaN;
      return f(...node.args.map((a) => evalNode(a, env)));
    }
    default:
      return NaN;
  }
}

/** Free symbols of an expression (undefined functions count as symbols of their printed form). */
export function freeSymbols(node: MvNode, out: Set<string> = new Set()): Set<string> {
  switch (node.t) {
    case "sym":
      out.add(node.name);
      break;
    case "const":
      if (node.name === "i") out.add("i");
      break;
    case "fn":
      if (!FUNCS[node.name]) out.add(`${node.name}(${node.args.map(printNode).join(",")})`);
      else node.args.forEach((a) => freeSymbols(a, out));
      break;
    case "pct":
      freeSymbols(node.arg, out);
      break;
    case "pow":
      freeSymbols(node.base, out);
      freeSymbols(node.exp, out);
      break;
    case "add":
    case "mul":
    case "and":
    case "union":
      node.args.forEach((a) => freeSymbols(a, out));
      break;
    case "rel":
      freeSymbols(node.lhs, out);
      freeSymbols(node.rhs, out);
      break;
    case "set":
    case "tuple":
      node.items.forEach((a) => freeSymbols(a, out));
      break;
    case "interval":
      freeSymbols(node.lo, out);
      freeSymbols(node.hi, out);
      break;
    case "matrix":
      node.rows.flat().forEach((a) => freeSymbols(a, out));
  }
  return out;
}

/** A canonical printed form (sorted sums and products): the analogue of sympy's structural `==`. */
export function printNode(node: MvNode): string {
  switch (node.t) {
    case "num": {
      const v = node.v.d === 1n ? `${node.v.n}` : `${node.v.n}/${node.v.d}`;
      return node.float ? `${v}f` : v;
    }
    case "sym":
      return node.name;
    case "const":
      return `@${node.name}`;
    case "add":
      return `(${node.args.map(printNode).sort().join("+")})`;
    case "mul":
      return `(${node.args.map(printNode).sort().join("*")})`;
    case "pow":
      return `(${printNode(node.base)}^${printNode(node.exp)})`;
    case "fn":
      return `${node.name}(${node.args.map(printNode).join(",")})`;
    case "pct":
      return `(${printNode(node.arg)}%)`;
    case "set":
      return `{${node.items.map(printNode).sort().join(",")}}`;
    case "tuple":
      return `T(${node.items.map(printNode).join(",")})`;
    case "interval":
      return `${node.lopen ? "(" : "["}${printNode(node.lo)},${printNode(node.hi)}${node.ropen ? ")" : "]"}`;
    case "union":
      return `U(${node.args.map(printNode).join(",")})`;
    case "rel":
      return `${printNode(node.lhs)}${node.op}${printNode(node.rhs)}`;
    case "and":
      return `&(${node.args.map(printNode).join(",")})`;
    case "matrix":
      return `M[${node.rows.map((r) => r.map(printNode).join(",")).join(";")}]`;
  }
}

/** Negation as a product with -1 (literals are negated in place). */
export function neg(a: MvNode): MvNode {
  if (a.t === "num") return { t: "num", v: rat(-a.v.n, a.v.d), float: a.float };
  return { t: "mul", args: [{ t: "num", v: rat(-1n), float: false }, a] };
}

/** a - b as a sum. */
export function sub(a: MvNode, b: MvNode): MvNode {
  return { t: "add", args: [a, neg(b)] };
}

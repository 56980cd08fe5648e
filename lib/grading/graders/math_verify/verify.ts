/**
 * Math-Verify's comparison (grader.py, sympy_expr_eq and helpers, strict mode) over the values of
 * value.ts. Where sympy proves `simplify(a - b) == 0`, this evaluates a - b at seeded random points
 * (exactly when the expression is rational, float64 to 1e-9 relative otherwise).
 *
 * @module
 */

import { seededRandom } from "../../../data/rng.ts";
import {
  evalNode,
  exactValue,
  freeSymbols,
  type MvNode,
  printNode,
  ratEq,
  ratToNumber,
  type RelOp,
  sub,
} from "./value.ts";

const FLOAT_ROUNDING = 6;
const INVERSE: Record<RelOp, RelOp> = { "<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!=" };

const isRelation = (n: MvNode) => n.t === "rel" || (n.t === "and" && n.args.every((a) => a.t === "rel"));
const isEquation = (n: MvNode) =>
  (n.t === "rel" && n.op === "=") || (n.t === "and" && n.args.every((a) => a.t === "rel" && a.op === "="));
const onlySymbols = (n: MvNode): boolean =>
  n.t === "sym" || (n.t === "fn" && !["sin", "cos", "tan", "ln", "log", "exp"].includes(n.name)) ||
  ((n.t === "mul" || n.t === "and") && n.args.every(onlySymbols)) ||
  ((n.t === "tuple" || n.t === "set") && n.items.every(onlySymbols)) ||
  (n.t === "interval" && onlySymbols(n.lo) && onlySymbols(n.hi)) ||
  (n.t === "pow" && onlySymbols(n.base) && n.exp.t === "num");
const first = (n: MvNode): MvNode => n.t === "and" ? n.args[0] : n;
const last = (n: MvNode): MvNode => n.t === "and" ? last(n.args[n.args.length - 1]) : n;
function isAssignment(n: MvNode): boolean {
  if (n.t === "rel") return n.op === "=" && onlySymbols(n.lhs);
  if (n.t === "and" && n.args.length) return isEquation(n) && onlySymbols((n.args[0] as { lhs: MvNode }).lhs);
  return false;
}
const isSetLike = (n: MvNode) => n.t === "set" || n.t === "interval" || n.t === "union";
const isNumberAtom = (n: MvNode) => n.t === "num" || (n.t === "pct" && n.arg.t === "num");
const isFloatAtom = (n: MvNode) =>
  (n.t === "num" && n.float) || (n.t === "pct" && n.arg.t === "num" && n.arg.float);

/** Is a - b zero (sympy's evalf/simplify check)? */
function zeroDifference(a: MvNode, b: MvNode): boolean {
  const ea = exactValue(a), eb = exactValue(b);
  if (ea && eb) return ratEq(ea, eb);
  const syms = [...freeSymbols(a), ...freeSymbols(b)];
  const rand = seededRandom(12345);
  for (let k = 0; k < 3; k++) {
    const env = new Map(syms.map((s) => [s, 0.3 + 2 * rand()]));
    const va = evalNode(a, env), vb = evalNode(b, env);
    if (!Number.isFinite(va) || !Number.isFinite(vb)) return false;
    if (Math.abs(va - vb) > 1e-9 * Math.max(1, Math.abs(va), Math.abs(vb))) return false;
  }
  return true;
}

function rounded(n: MvNode): number | null {
  const e = exactValue(n);
  const v = e ? ratToNumber(e) : evalNode(n, new Map());
  if (!Number.isFinite(v)) return null;
  return Math.round(v * 10 ** FLOAT_ROUNDING);
}

function numericEq(a: MvNode, b: MvNode): boolean {
  if (a.t === "matrix" && b.t === "matrix") {
    if (a.rows.length !== b.rows.length || a.rows[0].length !== b.rows[0].length) return false;
    return a.rows.every((r, i) => r.every((x, j) => exprEq(x, b.rows[i][j])));
  }
  if (isNumberAtom(a) || isNumberAtom(b)) {
    if (isFloatAtom(a) || isFloatAtom(b)) {
      const ra = rounded(a), rb = rounded(b);
      return ra !== null && ra === rb;
    }
    const ea = exactValue(a), eb = exactValue(b);
    return !!ea && !!eb && ratEq(ea, eb);
  }
  if (freeSymbols(a).size === 0 && freeSymbols(b).size === 0) return zeroDifference(a, b);
  return false;
}

const unwrap = (x: MvNode): MvNode => isAssignment(x) ? (last(x) as { rhs: MvNode }).rhs : x;

function setArgs(n: MvNode): MvNode[] {
  const items = n.t === "set" || n.t === "tuple" ? n.items : [n];
  if (n.t === "tuple") return items;
  const key = (x: MvNode) => {
    const v = evalNode(unwrap(x), new Map());
    return Number.isFinite(v) ? v : NaN;
  };
  return [...items].sort((x, y) => {
    const kx = key(x), ky = key(y);
    if (Number.isNaN(kx) || Number.isNaN(ky)) return printNode(unwrap(x)) < printNode(unwrap(y)) ? -1 : 1;
    return kx - ky;
  });
}

/** Elements of a set without repeats (sympy's FiniteSet keeps one of each). */
function distinct(items: MvNode[]): MvNode[] {
  const seen = new Set<string>();
  return items.filter((x) => !seen.has(printNode(x)) && !!seen.add(printNode(x)));
}

function compareSetsAndTuples(gold: MvNode, pred: MvNode): boolean {
  if (gold.t === "set") gold = { t: "set", items: distinct(gold.items) };
  if (pred.t === "set") pred = { t: "set", items: distinct(pred.items) };
  const g = gold.t === "set" || gold.t === "tuple" ? gold.items : [gold];
  const p = pred.t === "set" || pred.t === "tuple" ? pred.items : [pred];
  if (g.length !== p.length) return false;
  let ga: MvNode[], pa: MvNode[];
  if (gold.t === "set") {
    ga = setArgs(gold);
    pa = setArgs(pred.t === "tuple" ? { t: "set", items: pred.items } : pred);
  } else if (gold.t === "tuple" && pred.t === "set") [ga, pa] = [g, p];
  else [ga, pa] = [g, p];
  return ga.every((x, i) => exprEq(x, pa[i]));
}

type Interval = MvNode & { t: "interval" };
function intervalsOf(n: MvNode): Interval[] | null {
  if (n.t === "interval") return [n];
  if (n.t === "union" && n.args.every((a) => a.t === "interval")) return n.args as Interval[];
  return null;
}

function compareSets(gold: MvNode, pred: MvNode): boolean {
  const a = isSetLike(gold) || gold.t === "tuple" ? gold : { t: "set", items: [gold] } as MvNode;
  const b = isSetLike(pred) || pred.t === "tuple" ? pred : { t: "set", items: [pred] } as MvNode;
  if (a.t === "interval" && b.t === "interval") return compareInterval(a, b);
  if (printNode(a) === printNode(b)) return true;
  const ia = intervalsOf(a), ib = intervalsOf(b);
  if (ia && ib && ia.length === ib.length) return ia.every((x, i) => compareInterval(x, ib[i]));
  if ((a.t === "set" || a.t === "tuple") && (b.t === "set" || b.t === "tuple")) {
    return compareSetsAndTuples(a, b);
  }
  if (
    a.t === "interval" && (b.t === "set" || b.t === "tuple") && a.lopen && a.ropen && b.items.length === 2
  ) {
    return compareSetsAndTuples({ t: "tuple", items: [a.lo, a.hi] }, b);
  }
  if (
    b.t === "interval" && (a.t === "set" || a.t === "tuple") && b.lopen && b.ropen && a.items.length === 2
  ) {
    return compareSetsAndTuples(a, { t: "tuple", items: [b.lo, b.hi] });
  }
  return false;
}

function compareInterval(a: MvNode & { t: "interval" }, b: MvNode & { t: "interval" }): boolean {
  return a.lopen === b.lopen && a.ropen === b.ropen && exprEq(a.lo, b.lo) && exprEq(a.hi, b.hi);
}

/** A one-variable linear inequality (or chain) as an interval, sympy's `as_set`. */
function relationAsSet(n: MvNode): MvNode | null {
  const rels = n.t === "and" ? n.args : [n];
  let lo: MvNode = { t: "const", name: "oo" }, hi: MvNode = { t: "const", name: "oo" };
  lo = { t: "mul", args: [{ t: "num", v: { n: -1n, d: 1n }, float: false }, lo] };
  let lopen = true, ropen = true, variable: string | null = null;
  for (const r of rels) {
    if (r.t !== "rel" || r.op === "=" || r.op === "!=") return null;
    let op: RelOp = r.op, other: MvNode;
    const isVar = (x: MvNode) => x.t === "sym" || x.t === "fn";
    if (isVar(r.lhs) && freeSymbols(r.rhs).size === 0) [other] = [r.rhs];
    else if (isVar(r.rhs) && freeSymbols(r.lhs).size === 0) {
      other = r.lhs;
      op = INVERSE[op];
    } else return null;
    const name = printNode(isVar(r.lhs) ? r.lhs : r.rhs);
    if (variable && variable !== name) return null;
    variable = name;
    if (op === "<" || op === "<=") [hi, ropen] = [other, op === "<"];
    else [lo, lopen] = [other, op === ">"];
  }
  return { t: "interval", lo, hi, lopen, ropen };
}

function compareRelational(gold: MvNode, pred: MvNode): boolean {
  if (gold.t === "and" && pred.t === "and") {
    return gold.args.length === pred.args.length &&
      gold.args.every((g, i) => compareRelational(g, pred.args[i]));
  }
  if (gold.t !== "rel" || pred.t !== "rel") return false;
  if (gold.op === pred.op && exprEq(sub(gold.lhs, gold.rhs), sub(pred.lhs, pred.rhs))) return true;
  if (INVERSE[gold.op] === pred.op && exprEq(sub(gold.lhs, gold.rhs), sub(pred.rhs, pred.lhs))) return true;
  // sympy's solve-and-compare: for equations, proportional sides describe the same solution set.
  if (gold.op === "=" && pred.op === "=") {
    return proportional(sub(gold.lhs, gold.rhs), sub(pred.lhs, pred.rhs));
  }
  return false;
}

function proportional(a: MvNode, b: MvNode): boolean {
  const syms = [...new Set([...freeSymbols(a), ...freeSymbols(b)])];
  if (syms.length === 0) return false;
  const rand = seededRandom(777);
  let ratio: number | null = null;
  for (let k = 0; k < 4; k++) {
    const env = new Map(syms.map((s) => [s, 0.3 + 2 * rand()]));
    const va = evalNode(a, env), vb = evalNode(b, env);
    if (!Number.isFinite(va) || !Number.isFinite(vb) || Math.abs(vb) < 1e-12) return false;
    const r = va / vb;
    if (ratio === null) ratio = r;
    else if (Math.abs(r - ratio) > 1e-9 * Math.max(1, Math.abs(ratio))) return false;
  }
  return ratio !== null && ratio !== 0 && freeSymbols(a).size === freeSymbols(b).size;
}

function compareSymbols(gold: MvNode, pred: MvNode): boolean {
  const nameOf = (n: MvNode): string | null =>
    n.t === "sym" ? n.name : n.t === "const" && n.name === "e" ? "e" : null;
  const factors = (n: MvNode): MvNode[] => n.t === "mul" ? n.args.flatMap(factors) : [n];
  const concat = (n: MvNode): string | null => {
    if (n.t !== "mul") return null;
    const parts = factors(n).map(nameOf);
    return parts.every((p) => p !== null) ? parts.join("") : null;
  };
  if (gold.t === "sym" && gold.name.toLowerCase() === "e" && pred.t === "const" && pred.name === "e") {
    return true;
  }
  if (pred.t === "sym" && pred.name.toLowerCase() === "e" && gold.t === "const" && gold.name === "e") {
    return true;
  }
  if (gold.t === "sym" && concat(pred) !== null) {
    return gold.name.toLowerCase() === concat(pred)!.toLowerCase();
  }
  if (pred.t === "sym" && concat(gold) !== null) {
    return pred.name.toLowerCase() === concat(gold)!.toLowerCase();
  }
  if (gold.t === "sym" && pred.t === "sym") {
    const g = gold.name.length > 1 ? gold.name.toLowerCase() : gold.name;
    const p = pred.name.length > 1 ? pred.name.toLowerCase() : pred.name;
    return g === p;
  }
  return printNode(gold) === printNode(pred);
}

/** Math-Verify's `sympy_expr_eq(gold, pred)` with strict=True, allow_set_relation_comp=False. */
export function exprEq(gold: MvNode, pred: MvNode): boolean {
  const goldAssign = isAssignment(gold), predAssign = isAssignment(pred);
  const goldEq = isEquation(gold), predEq = isEquation(pred);
  if (goldAssign) {
    gold = {
      t: "rel",
      op: "=",
      lhs: (first(gold) as { lhs: MvNode }).lhs,
      rhs: (last(gold) as { rhs: MvNode }).rhs,
    };
  }
  if (predAssign) {
    pred = {
      t: "rel",
      op: "=",
      lhs: (first(pred) as { lhs: MvNode }).lhs,
      rhs: (last(pred) as { rhs: MvNode }).rhs,
    };
  }
  if (predEq && !goldEq) pred = (last(pred) as { rhs: MvNode }).rhs;
  else if (goldAssign && !predEq) gold = (last(gold) as { rhs: MvNode }).rhs;
  if (isRelation(gold) && isSetLike(pred)) gold = relationAsSet(gold) ?? gold;
  if (printNode(gold) === printNode(pred)) return true;
  if (isRelation(gold) && isRelation(pred)) return compareRelational(gold, pred);
  if (isSetLike(gold) || gold.t === "tuple" || isSetLike(pred) || pred.t === "tuple") {
    return compareSets(gold, pred);
  }
  if (gold.t === "sym" || pred.t === "sym") return compareSymbols(gold, pred);
  if (isRelation(gold) || isRelation(pred)) return false;
  if (gold.t === "matrix" || pred.t === "matrix") return numericEq(gold, pred);
  if (numericEq(gold, pred)) return true;
  return zeroDifference(gold, pred);
}

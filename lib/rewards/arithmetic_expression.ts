/**
 * A tiny, safe evaluator for the arithmetic Countdown answers use: non-negative integer literals,
 * `+ - * /`, parentheses and whitespace. Nothing is ever handed to `eval`.
 *
 * Grammar (usual precedence, left-associative):
 * ```
 * expr    := term (("+" | "-") term)*
 * term    := unary (("*" | "/") unary)*
 * unary   := ("+" | "-") unary | primary
 * primary := digits | "(" expr ")"
 * ```
 * Unary signs are accepted because the reference Countdown reward (TinyZero) evaluates with Python,
 * which accepts them; `**` and `//` are not operators here, so they fail to parse.
 *
 * @module
 */

import { RlifError } from "../errors.ts";

/** Deepest nesting of parentheses and unary signs accepted. */
export const MAX_NESTING = 256;

/** A parsed expression: its value (float64, true division) and the integer literals in source order. */
export interface ParsedExpression {
  /** The value; may be ±Infinity or NaN after a division by zero (see {@link parseArithmetic}). */
  value: number;
  /** Every integer literal, as written (digit runs parsed base 10, so `007` is 7). */
  numbers: number[];
}

/** Why an expression could not be evaluated. */
export class ArithmeticSyntaxError extends RlifError {
  /** Creates an error describing the problem at `position` (0-based character index). */
  constructor(message: string, readonly position: number) {
    super("reward.arithmetic_syntax", `${message} at character ${position}`);
    this.name = "ArithmeticSyntaxError";
  }
}

/** The characters an answer may contain: digits, the four operators, parentheses and whitespace. */
export const ARITHMETIC_CHARACTERS: RegExp = /^[0-9+\-*/()\s]*$/;

/**
 * Parses and evaluates `source`. Throws {@link ArithmeticSyntaxError} for any character outside
 * {@link ARITHMETIC_CHARACTERS}, a missing operand, unbalanced parentheses or trailing input. Division by
 * zero is not a syntax error; nesting beyond {@link MAX_NESTING} is: the value is then ±Infinity or NaN, which the caller treats as wrong.
 *
 * @example
 * ```ts
 * import { parseArithmetic } from "./mod.ts";
 * parseArithmetic("(25 - 5) * 4 / 8"); // { value: 10, numbers: [25, 5, 4, 8] }
 * ```
 */
export function parseArithmetic(source: string): ParsedExpression {
  const numbers: number[] = [];
  let pos = 0;
  // Model output can nest arbitrarily deep; bound the recursion so it fails as a syntax error, not a
  // stack overflow.
  let depth = 0;
  const enter = () => {
    if (++depth > MAX_NESTING) throw new ArithmeticSyntaxError(`nesting deeper than ${MAX_NESTING}`, pos);
  };

  const skipSpace = () => {
    while (pos < source.length && /\s/.test(source[pos])) pos++;
  };
  const peek = (): string | undefined => {
    skipSpace();
    return source[pos];
  };

  const primary = (): number => {
    const ch = peek();
    if (ch === "(") {
      pos++;
      enter();
      const v = expr();
      depth--;
      if (peek() !== ")") throw new ArithmeticSyntaxError("expected ')'", pos);
      pos++;
      return v;
    }
    if (ch !== undefined && ch >= "0" && ch <= "9") {
      const start = pos;
      while (pos < source.length && source[pos] >= "0" && source[pos] <= "9") pos++;
      const n = parseInt(source.slice(start, pos), 10);
      numbers.push(n);
      return n;
    }
    if (ch === undefined) {
      throw new ArithmeticSyntaxError("expected a number or '(' but the input ended", pos);
    }
    throw new ArithmeticSyntaxError(`expected a number or '(' but found '${ch}'`, pos);
  };

  const unary = (): number => {
    const ch = peek();
    if (ch === "-" || ch === "+") {
      pos++;
      enter();
      const v = unary();
      depth--;
      return ch === "-" ? -v : v;
    }
    return primary();
  };

  const term = (): number => {
    let v = unary();
    for (let ch = peek(); ch === "*" || ch === "/"; ch = peek()) {
      pos++;
      const rhs = unary();
      v = ch === "*" ? v * rhs : v / rhs;
    }
    return v;
  };

  const expr = (): number => {
    let v = term();
    for (let ch = peek(); ch === "+" || ch === "-"; ch = peek()) {
      pos++;
      const rhs = term();
      v = ch === "+" ? v + rhs : v - rhs;
    }
    return v;
  };

  const bad = source.search(/[^0-9+\-*/()\s]/);
  if (bad >= 0) throw new ArithmeticSyntaxError(`character '${source[bad]}' is not allowed`, bad);
  const value = expr();
  if (peek() !== undefined) throw new ArithmeticSyntaxError(`unexpected '${source[pos]}'`, pos);
  return { value, numbers };
}

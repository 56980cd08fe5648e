import assert from "node:assert/strict";
import {
  ArithmeticSyntaxError,
  MAX_NESTING,
  parseArithmetic,
} from "../../lib/rewards/arithmetic_expression.ts";

Deno.test("arithmetic: precedence, associativity, parentheses and unary signs", () => {
  assert.deepEqual(parseArithmetic("2 + 3 * 4"), { value: 14, numbers: [2, 3, 4] });
  assert.equal(parseArithmetic("(2 + 3) * 4").value, 20);
  assert.equal(parseArithmetic("8 - 3 - 2").value, 3);
  assert.equal(parseArithmetic("8 / 4 / 2").value, 1);
  assert.equal(parseArithmetic("7 / 2").value, 3.5);
  assert.equal(parseArithmetic("-(2 - 6) * 5").value, 20);
  assert.equal(parseArithmetic("--3").value, 3);
  assert.equal(parseArithmetic(" \t( 1\n+ 2 ) ").value, 3);
  assert.deepEqual(parseArithmetic("007 + 10").numbers, [7, 10]);
  assert.equal(parseArithmetic("1 / 0").value, Infinity);
  assert.ok(Number.isNaN(parseArithmetic("0 / 0").value));
});

Deno.test("arithmetic: malformed input fails with the position", () => {
  const cases: [string, RegExp][] = [
    ["", /input ended at character 0/],
    ["2 +", /input ended/],
    ["(1 + 2", /expected '\)' at character 6/],
    ["1 + 2)", /unexpected '\)' at character 5/],
    ["2 ** 3", /found '\*' at character 3/],
    ["8 // 2", /found '\/' at character 3/],
    ["5(6 - 2)", /unexpected '\(' at character 1/],
    ["2.5 * 2", /character '\.' is not allowed at character 1/],
    ["x + 1", /character 'x' is not allowed at character 0/],
    ["1 + 2 = 3", /character '=' is not allowed/],
    ["()", /found '\)'/],
  ];
  for (const [src, re] of cases) {
    assert.throws(
      () => parseArithmetic(src),
      (e: unknown) => e instanceof ArithmeticSyntaxError && re.test(e.message),
      src,
    );
  }
});

Deno.test("arithmetic: deep nesting is a syntax error, not a stack overflow", () => {
  const deep = "(".repeat(MAX_NESTING + 1) + "1" + ")".repeat(MAX_NESTING + 1);
  assert.throws(() => parseArithmetic(deep), /nesting deeper than/);
  const ok = "(".repeat(MAX_NESTING - 1) + "1" + ")".repeat(MAX_NESTING - 1);
  assert.equal(parseArithmetic(ok).value, 1);
  assert.throws(() => parseArithmetic("-".repeat(100_000) + "1"), /nesting deeper than/);
});

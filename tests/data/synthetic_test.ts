import assert from "node:assert/strict";
import { arithmeticTask, countdownTask, solveCountdown } from "../../lib/data/synthetic.ts";
import { examplesFromRows } from "../../lib/data/fields.ts";
import { countdownReward } from "../../lib/rewards/countdown.ts";
import { assertThrowsWith } from "../support/numeric.ts";

Deno.test("synthetic: arithmetic rows are deterministic by seed and correct", () => {
  const a = arithmeticTask({ count: 200, seed: 11, ops: ["+", "-", "*", "/"], maxOperand: 50 });
  assert.deepEqual(a, arithmeticTask({ count: 200, seed: 11, ops: ["+", "-", "*", "/"], maxOperand: 50 }));
  assert.notDeepEqual(a, arithmeticTask({ count: 200, seed: 12, ops: ["+", "-", "*", "/"], maxOperand: 50 }));
  const seen = new Set<string>();
  for (const { problem, answer } of a) {
    const m = /^What is (\d+) ([-+*/]) (\d+)\?$/.exec(problem);
    assert.ok(m, problem);
    const x = Number(m[1]), op = m[2], y = Number(m[3]);
    seen.add(op);
    assert.ok(x <= 50 && y <= 50, problem);
    const want = op === "+" ? x + y : op === "-" ? x - y : op === "*" ? x * y : x / y;
    assert.ok(Number.isInteger(want) && want >= 0, `${problem} has a non-negative integer answer`);
    assert.equal(answer, String(want), problem);
  }
  assert.deepEqual([...seen].sort(), ["*", "+", "-", "/"]);
});

Deno.test("synthetic: the compact form is the same problems, shorter", () => {
  const long = arithmeticTask({ count: 20, seed: 5, ops: ["+"] });
  const short = arithmeticTask({ count: 20, seed: 5, ops: ["+"], format: "compact" });
  short.forEach((row, i) => {
    assert.match(row.problem, /^\d+\+\d+=$/);
    assert.equal(row.problem, long[i].problem.replace(/^What is (\d+) \+ (\d+)\?$/, "$1+$2="));
    assert.equal(row.answer, long[i].answer);
  });
  assert.deepEqual(arithmeticTask({ count: 2, seed: 7, ops: ["+"], format: "compact" }), [
    { problem: "6+97=", answer: "103" },
    { problem: "52+40=", answer: "92" },
  ]);
  const mapped = examplesFromRows(short.slice(0, 1), { problem: "problem", answer: "answer" }, "arith");
  assert.deepEqual(mapped[0].fields, { problem: short[0].problem });
});

Deno.test("synthetic: operand bounds hold, including division with a narrow range", () => {
  for (const row of arithmeticTask({ count: 100, seed: 3, ops: ["/"], minOperand: 10, maxOperand: 20 })) {
    const [x, y] = row.problem.match(/\d+/g)!.map(Number);
    assert.ok(x >= 10 && x <= 20 && y >= 10 && y <= 20 && x % y === 0, row.problem);
  }
});

Deno.test("synthetic: bad arithmetic options are errors", async () => {
  await assertThrowsWith(() => arithmeticTask({ count: 1, seed: 1, ops: ["^" as "+"] }), "ops", "+ - * /");
  await assertThrowsWith(() => arithmeticTask({ count: -1, seed: 1 }), "count must be an integer >= 0");
  await assertThrowsWith(
    () => arithmeticTask({ count: 1, seed: 1, minOperand: 5, maxOperand: 2 }),
    "maxOperand",
  );
  await assertThrowsWith(() => arithmeticTask({ count: 1, seed: 1, ops: ["/"], maxOperand: 0 }), "divisor");
  await assertThrowsWith(() => arithmeticTask({ count: 1, seed: 1, format: "short" as "compact" }), "format");
});

Deno.test("synthetic: countdown rows are deterministic, in range and solvable", () => {
  for (const numCount of [3, 4]) {
    const rows = countdownTask({ count: 60, seed: 21, numCount, maxNumber: 50, maxTarget: 100 });
    assert.deepEqual(rows, countdownTask({ count: 60, seed: 21, numCount, maxNumber: 50, maxTarget: 100 }));
    for (const row of rows) {
      assert.equal(row.nums.length, numCount);
      assert.ok(row.nums.every((n) => Number.isInteger(n) && n >= 1 && n <= 50), JSON.stringify(row));
      assert.ok(Number.isInteger(row.target) && row.target >= 1 && row.target <= 100, JSON.stringify(row));
      // The construction's own expression and the solver's both earn the full reward.
      assert.equal(countdownReward(`<answer>${row.solution}</answer>`, row), 1, JSON.stringify(row));
      const solved = solveCountdown(row.nums, row.target);
      assert.ok(solved !== null, JSON.stringify(row));
      assert.equal(
        countdownReward(`<answer>${solved}</answer>`, row),
        1,
        `${solved} for ${JSON.stringify(row)}`,
      );
    }
  }
  assert.deepEqual(countdownTask({ count: 1, seed: 3, numCount: 3 }), [
    { target: 43, nums: [29, 67, 53], solution: "(29 + 67) - 53" },
  ]);
});

Deno.test("synthetic: the solver finds fraction routes and reports the impossible", () => {
  const s = solveCountdown([3, 3, 8, 8], 24);
  assert.ok(s !== null);
  assert.equal(countdownReward(`<answer>${s}</answer>`, { target: 24, nums: [3, 3, 8, 8] }), 1);
  assert.equal(solveCountdown([1, 1], 5), null);
  assert.equal(solveCountdown([1, 2, 3], 100), null);
  assert.equal(solveCountdown([7], 7), "7");
  assert.equal(solveCountdown([], 0), null);
});

Deno.test("synthetic: countdown options that admit no target are errors", async () => {
  await assertThrowsWith(
    () =>
      countdownTask({
        count: 1,
        seed: 1,
        numCount: 2,
        minNumber: 1,
        maxNumber: 1,
        minTarget: 50,
        maxTarget: 60,
      }),
    "no target in [50, 60]",
  );
  await assertThrowsWith(() => countdownTask({ count: 1, seed: 1, numCount: 9 }), "numCount must be 2..6");
});

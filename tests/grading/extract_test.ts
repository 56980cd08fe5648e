import assert from "node:assert/strict";
import {
  extractAllBoxed,
  extractAnswer,
  extractAnswerLine,
  extractAnswerTag,
  extractBoxed,
  extractGsm8kFlexible,
  extractGsm8kStrict,
  extractLastNumber,
  extractMinervaAnswer,
  gsm8kMatch,
  normalizeGsm8k,
} from "../../lib/grading/extract.ts";

Deno.test("extractBoxed takes the last box and keeps nested braces", () => {
  assert.deepEqual(extractBoxed("first \\boxed{1}, then \\boxed{\\frac{1}{2}}."), "\\frac{1}{2}");
  assert.deepEqual(extractBoxed("$\\boxed{\\{1, \\{2\\}\\}}$"), "\\{1, \\{2\\}\\}");
  assert.deepEqual(extractBoxed("\\boxed{a^{b^{c}}}"), "a^{b^{c}}");
  assert.deepEqual(extractBoxed("\\fbox{42}"), "42");
  assert.deepEqual(extractBoxed("so \\boxed 5$ done"), "5");
  assert.deepEqual(extractBoxed("\\boxed   {7}"), "7");
});

Deno.test("extractBoxed returns null for no box or an unbalanced last box", () => {
  assert.deepEqual(extractBoxed("no answer here"), null);
  assert.deepEqual(extractBoxed("\\boxed{1 + {2}"), null);
  assert.deepEqual(extractBoxed("\\boxed{3} and later \\boxed{4"), null);
  // `\boxedx` is a different command, not a box.
  assert.deepEqual(extractBoxed("\\boxedx{3}"), null);
});

Deno.test("extractAllBoxed lists balanced boxes in order", () => {
  assert.deepEqual(extractAllBoxed("\\boxed{(1, 2)}, \\fbox{(2, 1)} and \\boxed{3"), ["(1, 2)", "(2, 1)"]);
});

Deno.test("GSM8K strict takes the first #### number, flexible the last number-like run", () => {
  const text = "She has 3 * 4 = 12 apples.\n#### 12\nAlso 5.";
  assert.deepEqual(extractGsm8kStrict(text), "12");
  assert.deepEqual(extractGsm8kFlexible(text), "5.");
  assert.deepEqual(extractGsm8kStrict("The answer is 12"), null);
  assert.deepEqual(extractGsm8kFlexible("It costs $1,200."), "$1,200.");
  assert.deepEqual(extractGsm8kFlexible("x = 7"), "7");
  assert.deepEqual(extractGsm8kFlexible("no digits"), null);
});

Deno.test("gsm8kMatch applies the harness normalisation to both sides", () => {
  const reference = "Step one.\n#### 1,000";
  assert.deepEqual(normalizeGsm8k(reference), "1000");
  assert.deepEqual(gsm8kMatch("so\n#### 1000", reference, "strict"), true);
  assert.deepEqual(gsm8kMatch("The answer is $1,000.", reference, "flexible"), true);
  assert.deepEqual(gsm8kMatch("The answer is $1,000.", reference, "strict"), false);
  assert.deepEqual(gsm8kMatch("#### 999", reference, "strict"), false);
});

Deno.test("Minerva answers, Answer: lines and <answer> tags", () => {
  assert.deepEqual(
    extractMinervaAnswer("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct."),
    "\\frac{3}{4}",
  );
  assert.deepEqual(extractMinervaAnswer("so the final answer is 3.5."), "3.5");
  assert.deepEqual(extractMinervaAnswer("nothing"), null);
  assert.deepEqual(extractAnswerLine("Work.\nAnswer: 42\nmore\nFinal answer: $7$."), "7");
  assert.deepEqual(extractAnswerLine("**Answer:** \\boxed{9}"), "9");
  assert.deepEqual(extractAnswerLine("The answer depends."), null);
  assert.deepEqual(extractAnswerTag("<think>2+2</think><answer> 4 </answer>"), "4");
  assert.deepEqual(extractAnswerTag("<answer>1</answer><answer>$\\boxed{2}$</answer>"), "2");
  assert.deepEqual(extractAnswerTag("<answer>unclosed"), null);
});

Deno.test("extractLastNumber understands thousands separators, decimals, fractions", () => {
  assert.deepEqual(extractLastNumber("2 apples cost $1,250.50 in total."), "1250.50");
  assert.deepEqual(extractLastNumber("ratio 3/4"), "3/4");
  assert.deepEqual(extractLastNumber("1,2 and -7"), "-7");
  assert.deepEqual(extractLastNumber("value .5"), ".5");
  assert.deepEqual(extractLastNumber("none"), null);
});

Deno.test("extractAnswer cascades tag, boxed, Minerva, Answer line, ####, last number", () => {
  assert.deepEqual(extractAnswer("<answer>\\boxed{3}</answer> \\boxed{4}"), { answer: "3", method: "tag" });
  assert.deepEqual(extractAnswer("Answer: 2. But \\boxed{5}"), { answer: "5", method: "boxed" });
  assert.deepEqual(extractAnswer("The final answer is 6. I hope it is correct."), {
    answer: "6",
    method: "minerva",
  });
  assert.deepEqual(extractAnswer("Answer: 8"), { answer: "8", method: "answer-line" });
  assert.deepEqual(extractAnswer("so 1,000 total\n#### 1,000"), { answer: "1000", method: "gsm8k" });
  assert.deepEqual(extractAnswer("it is 12 or 13"), { answer: "13", method: "last-number" });
  assert.deepEqual(extractAnswer("I cannot tell."), { answer: null, method: "none" });
});

/**
 * Writes the evaluation test fixtures into tests/fixtures/eval/: a few problems in each published
 * benchmark format (MATH-500 jsonl; GSM8K and MATH-12k parquet) and a small synthetic run directory
 * (metadata.jsonl, metrics.jsonl) whose signals track correctness to a known degree. The problems are
 * written for rlif; the output is deterministic, so re-running it leaves the files unchanged.
 *
 *   deno run --allow-write scripts/make_eval_fixtures.ts [OUT_DIR]
 *
 * @module
 */

import { parquetWriteBuffer } from "hyparquet-writer";
import { ScriptCli } from "./_cli.ts";

const cli = new ScriptCli({
  task: "make-eval-fixtures",
  summary: "Writes the evaluation test fixtures: a few problems in each published benchmark format " +
    "(MATH-500 jsonl; GSM8K and MATH-12k parquet) and a small synthetic run directory. Deterministic: " +
    "re-running leaves the files unchanged.",
  positionals: [{ arg: "OUT_DIR", doc: "where to write them (default tests/fixtures/eval)", optional: true }],
  flags: {},
  examples: ["deno task make-eval-fixtures", "deno task make-eval-fixtures /tmp/fixtures"],
});
cli.parse();
const outDir = cli.positionals[0] ?? "tests/fixtures/eval";
await Deno.mkdir(`${outDir}/run`, { recursive: true });

const math500 = [
  {
    problem: "What is the value of $\\frac{3}{4} + \\frac{1}{8}$?",
    solution:
      "Write $\\frac{3}{4} = \\frac{6}{8}$, so the sum is $\\frac{6}{8} + \\frac{1}{8} = \\boxed{\\frac{7}{8}}$.",
    answer: "\\frac{7}{8}",
    subject: "Prealgebra",
    level: 1,
    unique_id: "test/prealgebra/rlif-1.json",
  },
  {
    problem: "Solve for $x$: $2x - 7 = 11$.",
    solution: "Adding 7 gives $2x = 18$, so $x = \\boxed{9}$.",
    answer: "9",
    subject: "Algebra",
    level: 1,
    unique_id: "test/algebra/rlif-2.json",
  },
  {
    problem: "Find all real solutions of $x^2 - 5x + 6 = 0$. Enter the solutions separated by commas.",
    solution: "The quadratic factors as $(x-2)(x-3) = 0$, so the solutions are $\\boxed{2, 3}$.",
    answer: "2, 3",
    subject: "Algebra",
    level: 2,
    unique_id: "test/algebra/rlif-3.json",
  },
  {
    problem: "What is the length of the diagonal of a square with side length $3$?",
    solution: "By the Pythagorean theorem the diagonal is $\\sqrt{3^2 + 3^2} = \\boxed{3\\sqrt{2}}$.",
    answer: "3\\sqrt{2}",
    subject: "Geometry",
    level: 2,
    unique_id: "test/geometry/rlif-4.json",
  },
  {
    problem: "For which real $x$ is $\\sqrt{x - 1}$ defined? Express your answer in interval notation.",
    solution: "We need $x - 1 \\ge 0$, that is $x \\ge 1$, so the answer is $\\boxed{[1, \\infty)}$.",
    answer: "[1, \\infty)",
    subject: "Intermediate Algebra",
    level: 3,
    unique_id: "test/intermediate_algebra/rlif-5.json",
  },
  {
    problem: "Compute $\\dbinom{6}{2}$.",
    solution: "$\\dbinom{6}{2} = \\frac{6 \\cdot 5}{2} = \\boxed{15}$.",
    answer: "15",
    subject: "Counting & Probability",
    level: 1,
    unique_id: "test/counting_and_probability/rlif-6.json",
  },
];

const gsm8k = [
  {
    question: "A baker makes 24 muffins and sells 3 boxes of 6 muffins. How many muffins are left?",
    answer:
      "The baker sells 3 * 6 = <<3*6=18>>18 muffins.\nSo 24 - 18 = <<24-18=6>>6 muffins are left.\n#### 6",
  },
  {
    question: "Tom reads 15 pages a day for 2 weeks. How many pages does he read?",
    answer: "Two weeks have 2 * 7 = <<2*7=14>>14 days.\nHe reads 15 * 14 = <<15*14=210>>210 pages.\n#### 210",
  },
  {
    question: "A bike costs $1,250 and is on sale for 20% off. What is the sale price in dollars?",
    answer: "The discount is 1250 * 0.2 = <<1250*0.2=250>>250 dollars.\n" +
      "The sale price is 1250 - 250 = <<1250-250=1000>>1000 dollars.\n#### 1,000",
  },
  {
    question: "Maria has 5 bags with 8 marbles each and gives away 13 marbles. How many does she keep?",
    answer: "She has 5 * 8 = <<5*8=40>>40 marbles.\nShe keeps 40 - 13 = <<40-13=27>>27 marbles.\n#### 27",
  },
];

const math12k = [
  { problem: "What is $7 \\times 8$?", answer: "56" },
  { problem: "Simplify $\\frac{12}{18}$.", answer: "\\frac{2}{3}" },
  { problem: "What is the remainder when $100$ is divided by $7$?", answer: "2" },
  { problem: "Evaluate $\\sqrt{50}$ in simplest radical form.", answer: "5\\sqrt{2}" },
];

await Deno.writeTextFile(
  `${outDir}/math500_sample.jsonl`,
  math500.map((r) => JSON.stringify(r)).join("\n") + "\n",
);
await Deno.writeFile(
  `${outDir}/gsm8k_sample.parquet`,
  new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: "question", data: gsm8k.map((r) => r.question), type: "STRING" },
      { name: "answer", data: gsm8k.map((r) => r.answer), type: "STRING" },
    ],
  })),
);
await Deno.writeFile(
  `${outDir}/math12k_sample.parquet`,
  new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: "problem", data: math12k.map((r) => r.problem), type: "STRING" },
      { name: "answer", data: math12k.map((r) => r.answer), type: "STRING" },
    ],
  })),
);

// A synthetic run: self-certainty separates correct from incorrect rollouts, token entropy does the
// opposite (lower is better), length carries no signal.
let state = 20250601;
const random = () => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 4294967296;
};
const round = (v: number) => Math.round(v * 1e4) / 1e4;
const metadata: unknown[] = [];
const metrics: unknown[] = [];
for (let step = 1; step <= 3; step++) {
  let rewardSum = 0;
  let correctCount = 0;
  let total = 0;
  for (let p = 0; p < 4; p++) {
    const truth = String(10 + p);
    const responses = [];
    for (let j = 0; j < 4; j++) {
      const correct = random() < 0.3 + 0.15 * step;
      const answer = correct ? truth : String(20 + Math.floor(random() * 3));
      const selfCertainty = round((correct ? 1.2 : 0.6) + random() * 0.8);
      const reward = round(selfCertainty / 2);
      responses.push({
        text: `... so the answer is \\boxed{${answer}}.`,
        answer,
        correct,
        reward,
        length: 20 + Math.floor(random() * 40),
        signals: {
          selfCertainty,
          meanTokenEntropy: round((correct ? 0.5 : 0.9) + random() * 0.5),
          coe: { d1: round(random()), mag: round(0.5 + random()) },
        },
      });
      rewardSum += reward;
      correctCount += correct ? 1 : 0;
      total++;
    }
    metadata.push({ step, prompt: `What is ${p} + 10?`, ground_truth: truth, responses });
  }
  metrics.push({
    step,
    reward_mean: round(rewardSum / total),
    accuracy: round(correctCount / total),
    format_rate: 1,
    kl: round(0.001 * step * step),
    response_length: 30 + step,
    "signal/selfCertainty": round(1 + 0.1 * step),
  });
}
await Deno.writeTextFile(
  `${outDir}/run/metadata.jsonl`,
  metadata.map((r) => JSON.stringify(r)).join("\n") + "\n",
);
await Deno.writeTextFile(
  `${outDir}/run/metrics.jsonl`,
  metrics.map((r) => JSON.stringify(r)).join("\n") + "\n",
);
console.log(
  `make_eval_fixtures: wrote ${outDir}/{math500_sample.jsonl,gsm8k_sample.parquet,math12k_sample.parquet,run/}`,
);

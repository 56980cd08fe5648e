import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CompleteFn,
  evaluateBenchmark,
  gradeResponse,
  gsm8kFinalAnswer,
  loadBenchmark,
  type Problem,
  reportedKs,
  writeEvalOutputs,
} from "../../lib/bench/benchmarks.ts";

const FIXTURES = new URL("../fixtures/eval/", import.meta.url).pathname;

Deno.test("loads the MATH-500 jsonl format", async () => {
  const { benchmark, problems } = await loadBenchmark(join(FIXTURES, "math500_sample.jsonl"));
  assert.equal(benchmark, "math500");
  assert.equal(problems.length, 6);
  assert.equal(problems[0].answer, "\\frac{7}{8}");
  assert.equal(problems[0].subject, "Prealgebra");
  assert.equal(problems[0].level, 1);
  assert.equal(problems[0].id, "test/prealgebra/rlif-1.json");
});

Deno.test("loads the GSM8K parquet format and takes the number after ####", async () => {
  const { benchmark, problems } = await loadBenchmark(join(FIXTURES, "gsm8k_sample.parquet"));
  assert.equal(benchmark, "gsm8k");
  assert.deepEqual(problems.map((p) => p.answer), ["6", "210", "1000", "27"]);
  assert.ok(problems[0].solution!.endsWith("#### 6"));
  assert.equal(gsm8kFinalAnswer("a\n#### -3,500"), "-3500");
});

Deno.test("loads the MATH-12k parquet format", async () => {
  const { benchmark, problems } = await loadBenchmark(join(FIXTURES, "math12k_sample.parquet"));
  assert.equal(benchmark, "math12k");
  assert.deepEqual(problems.map((p) => p.answer), ["56", "\\frac{2}{3}", "2", "5\\sqrt{2}"]);
});

Deno.test("malformed benchmark files fail with the file, line and field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = join(dir, "bad.jsonl");
    await Deno.writeTextFile(bad, '{"problem": "1+1", "answer": "2"}\n{"problem": oops}\n');
    await assert.rejects(() => loadBenchmark(bad), new RegExp(`${bad}:2: not valid JSON`));
    await Deno.writeTextFile(bad, '{"problem": "1+1", "answer": "2"}\n{"problem": "2+2"}\n');
    await assert.rejects(
      () => loadBenchmark(bad, "math500"),
      new RegExp(`${bad}:2: field "answer" is missing.*fields present: problem`),
    );
    await Deno.writeTextFile(bad, "\n\n");
    await assert.rejects(() => loadBenchmark(bad), /the file is empty/);
    await Deno.writeTextFile(bad, '{"q": 1}\n');
    await assert.rejects(() => loadBenchmark(bad), /cannot tell the benchmark from fields q/);
    const gsm = join(dir, "gsm.jsonl");
    await Deno.writeTextFile(gsm, '{"question": "x", "answer": "no marker"}\n');
    await assert.rejects(() => loadBenchmark(gsm, "gsm8k"), /no "#### N" line/);
    const parquet = join(dir, "broken.parquet");
    await Deno.writeTextFile(parquet, "not a parquet file");
    await assert.rejects(() => loadBenchmark(parquet), /cannot read parquet/);
    await assert.rejects(() => loadBenchmark(join(dir, "missing.jsonl")), /no such file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const problems: Problem[] = [
  { id: "a", question: "2+2?", answer: "4" },
  { id: "b", question: "half?", answer: "\\frac{1}{2}" },
];

Deno.test("evaluateBenchmark grades samples and reports pass@k and maj@k", async () => {
  const replies: Record<string, string[]> = {
    "2+2?": ["\\boxed{4}", "\\boxed{5}", "\\boxed{4}", "no idea"],
    "half?": ["\\boxed{0.5}", "\\boxed{1/3}", "\\boxed{1/3}", "\\boxed{\\dfrac12}"],
  };
  const seen: string[] = [];
  const complete: CompleteFn = (prompts, n) => {
    seen.push(...prompts);
    return Promise.resolve(prompts.map((p) => replies[p.split("\n")[0]].slice(0, n)));
  };
  const { results, summary } = await evaluateBenchmark(problems, complete, {
    benchmark: "math500",
    n: 4,
    batchSize: 1,
  });
  assert.equal(seen.length, 2);
  assert.ok(seen[0].includes("\\boxed{}"));
  assert.deepEqual(results.map((r) => r.correct), [2, 2]);
  assert.equal(summary.accuracy, 0.5);
  assert.equal(summary.extractionRate, 7 / 8);
  assert.equal(summary.fallbackRate, 0);
  assert.deepEqual(reportedKs(4), [1, 2, 4]);
  assert.equal(summary.passAtK!["pass@1"], 0.5);
  assert.equal(summary.passAtK!["pass@4"], 1);
  // maj@4: "4" wins for a; for b, 1/3 (twice) beats 0.5 and \frac12 (once each as strings).
  assert.deepEqual(results.map((r) => r.majAtK["maj@4"]), [1, 0]);
  assert.equal(summary.majAtK!["maj@1"], 1);
});

Deno.test("avg@n is the per-problem fraction of correct samples averaged over problems, beside pass@k and maj@k", async () => {
  const two: Problem[] = [
    { id: "a", question: "qa", answer: "4" },
    { id: "b", question: "qb", answer: "9" },
  ];
  // Problem a: 3 of 4 right; problem b: 1 of 4 right, so avg@4 = (0.75 + 0.25) / 2 = 0.5.
  const texts: Record<string, string[]> = {
    qa: ["\\boxed{4}", "\\boxed{5}", "\\boxed{4}", "\\boxed{4}"],
    qb: ["\\boxed{1}", "\\boxed{1}", "\\boxed{9}", "\\boxed{2}"],
  };
  const complete: CompleteFn = (prompts) =>
    Promise.resolve(prompts.map((p) => texts[p.includes("qa") ? "qa" : "qb"]));
  const { summary } = await evaluateBenchmark(two, complete, { benchmark: "math500", n: 4 });
  assert.deepEqual(summary.avgAtK, { "avg@4": 0.5 });
  assert.equal(summary.accuracy, 0.5);
  assert.deepEqual(summary.passAtK, { "pass@1": 0.5, "pass@2": (1 + 0.5) / 2, "pass@4": 1 });
  // Votes: a's majority "4" is right; b's majority "1" is wrong.
  assert.equal(summary.majAtK!["maj@4"], 0.5);
  const greedy = await evaluateBenchmark(two, (p) => Promise.resolve(p.map(() => ["\\boxed{4}"])), {
    benchmark: "math500",
  });
  assert.deepEqual(greedy.summary.avgAtK, { "avg@1": 0.5 });
});

Deno.test("GSM8K evaluation reports the harness's strict and flexible matches", async () => {
  const gsm: Problem[] = [{ id: "0", question: "q", answer: "1000", solution: "work\n#### 1,000" }];
  const complete: CompleteFn = (prompts) =>
    Promise.resolve(prompts.map(() => ["so it is 1,000 dollars.\n#### 1,000", "The price is $1,000."]));
  const { summary, results } = await evaluateBenchmark(gsm, complete, { benchmark: "gsm8k", n: 2 });
  assert.deepEqual(summary.gsm8k, { strict: 0.5, flexible: 1 });
  assert.equal(summary.accuracy, 1);
  assert.deepEqual(results[0].samples.map((s) => s.method), ["gsm8k", "last-number"]);
  // Only `####` is a declared rule here; the last number of the second reply is the fallback.
  assert.equal(summary.extractionRate, 0.5);
  assert.equal(summary.fallbackRate, 0.5);
  const graded = gradeResponse("#### 7", { id: "x", question: "", answer: "8" }, "gsm8k");
  assert.equal(graded.correct, false);
  assert.equal(graded.gsm8kStrict, false);
});

Deno.test("evaluateBenchmark grades by the named grader, names it in the summary, and keeps GSM8K's matches", async () => {
  // rlif compares the decimal as written; qwen_math within a relative 1e-4.
  const near: Problem[] = [{ id: "0", question: "q", answer: "8.0001", solution: "w\n#### 8.0001" }];
  const complete: CompleteFn = (prompts) => Promise.resolve(prompts.map(() => ["\\boxed{8}", "\\boxed{7}"]));
  const rlif = await evaluateBenchmark(near, complete, { benchmark: "math500", n: 2 });
  assert.equal(rlif.summary.grader, "rlif");
  assert.equal(rlif.summary.accuracy, 0);
  const qwen = await evaluateBenchmark(near, complete, { benchmark: "math500", n: 2, grader: "qwen_math" });
  assert.equal(qwen.summary.grader, "qwen_math");
  assert.equal(qwen.summary.accuracy, 0.5);
  assert.deepEqual(qwen.results[0].samples.map((s) => s.correct), [true, false]);
  assert.equal(qwen.summary.passAtK!["pass@2"], 1);
  const gsm = await evaluateBenchmark(near, complete, { benchmark: "gsm8k", n: 2, grader: "qwen_math" });
  assert.equal(gsm.summary.accuracy, 0.5);
  assert.deepEqual(gsm.summary.gsm8k, { strict: 0, flexible: 0 });
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => evaluateBenchmark(near, complete, { benchmark: "math500", grader: "sympy" as any }),
    /unknown grader "sympy"; valid graders: rlif, mathruler, math_verify/,
  );
});

Deno.test("evaluateBenchmark rejects a completion callback that returns the wrong shape", async () => {
  const short: CompleteFn = () => Promise.resolve([["\\boxed{4}"]]);
  await assert.rejects(
    () => evaluateBenchmark(problems, short, { benchmark: "math500" }),
    /returned 1 groups for 2/,
  );
  const few: CompleteFn = (p) => Promise.resolve(p.map(() => ["x"]));
  await assert.rejects(
    () => evaluateBenchmark(problems, few, { benchmark: "math500", n: 2 }),
    /expected 2 strings/,
  );
  await assert.rejects(() => evaluateBenchmark([], few, { benchmark: "math500" }), /no problems/);
});

Deno.test("writeEvalOutputs writes results.jsonl and summary.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const complete: CompleteFn = (p) => Promise.resolve(p.map(() => ["\\boxed{4}"]));
    const { results, summary } = await evaluateBenchmark(problems, complete, { benchmark: "math500" });
    await writeEvalOutputs(join(dir, "out"), results, summary, { model: "m" });
    const lines = (await Deno.readTextFile(join(dir, "out/results.jsonl"))).trim().split("\n");
    assert.equal(lines.length, 2);
    assert.equal(JSON.parse(lines[0]).samples[0].correct, true);
    const written = JSON.parse(await Deno.readTextFile(join(dir, "out/summary.json")));
    assert.equal(written.model, "m");
    assert.equal(written.accuracy, 0.5);
    const names = [...Deno.readDirSync(join(dir, "out"))].map((e) => e.name).sort();
    assert.deepEqual(names, ["results.jsonl", "summary.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

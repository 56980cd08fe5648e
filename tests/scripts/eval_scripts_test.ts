import assert from "node:assert/strict";
import { join } from "node:path";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { runScript } from "../support/scripts.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = join(ROOT, "tests/fixtures/eval");

Deno.test("analyze writes the report and prints the table", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runScript("analyze.ts", [
      join(FIXTURES, "run"),
      "--out",
      dir,
      "--steps",
      "1,3",
      "--no-png",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /correctness: as logged by the trainer/);
    assert.match(r.stdout, /\| selfCertainty \| 3 \| 16 \|/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "analysis.json",
      "curves.svg",
      "ranked_rollouts.svg",
      "signal_table.csv",
      "signal_table.md",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze --grader regrades the logged responses and says which grader", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runScript("analyze.ts", [
      join(FIXTURES, "run"),
      "--out",
      dir,
      "--no-png",
      "--grader",
      "qwen_math",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /correctness: regraded with the qwen_math grader/);
    const json = JSON.parse(await Deno.readTextFile(join(dir, "analysis.json")));
    assert.equal(json.correctness, "qwen_math");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze and eval explain bad arguments", async () => {
  const missing = await runScript("analyze.ts", ["/nonexistent/run"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/nonexistent\/run: no such file or directory/);
  const steps = await runScript("analyze.ts", [join(FIXTURES, "run"), "--steps", "a,b"]);
  assert.equal(steps.code, 2);
  assert.match(steps.stderr, /--steps a,b must be all, each, or numbers/);
  const noModel = await runScript("eval.ts", ["--data", "x.jsonl"]);
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /--model is required/);
  const badN = await runScript("eval.ts", ["--model", "m", "--data", "d", "--n", "0"]);
  assert.match(badN.stderr, /--n 0 is not valid/);
  const valid = "rlif, mathruler, math_verify, qwen_math, hendrycks, dapo, gsm8k_strict, gsm8k_flexible";
  const badGrader = await runScript("eval.ts", ["--model", "m", "--data", "d", "--grader", "sympy"]);
  assert.equal(badGrader.code, 2);
  assert.ok(
    badGrader.stderr.includes(`error: --grader sympy is unknown; choose one of ${valid}`),
    badGrader.stderr,
  );
  const badRegrade = await runScript("analyze.ts", [join(FIXTURES, "run"), "--grader", "sympy"]);
  assert.equal(badRegrade.code, 2);
  assert.ok(
    badRegrade.stderr.includes(`error: --grader sympy is unknown; choose one of ${valid}`),
    badRegrade.stderr,
  );
  const badAlpha = await runScript("interpolate.ts", [
    "--base",
    "a",
    "--tuned",
    "b",
    "--data",
    "d",
    "--alphas",
    "0,x",
  ]);
  assert.match(badAlpha.stderr, /"x" is not a number/);
});

Deno.test({
  name: "eval runs a tiny model end to end and writes results and summary",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await writeTinyCheckpoint(join(dir, "model"), { seed: 1 });
      const r = await runScript("eval.ts", [
        "--model",
        join(dir, "model"),
        "--data",
        join(FIXTURES, "gsm8k_sample.parquet"),
        "--limit",
        "2",
        "--n",
        "2",
        "--max-new-tokens",
        "6",
        "--out",
        join(dir, "out"),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(await Deno.readTextFile(join(dir, "out/summary.json")));
      assert.equal(summary.benchmark, "gsm8k");
      assert.equal(summary.grader, "rlif");
      assert.equal(summary.problems, 2);
      assert.equal(summary.n, 2);
      assert.ok("pass@2" in summary.passAtK && "strict" in summary.gsm8k);
      const lines = (await Deno.readTextFile(join(dir, "out/results.jsonl"))).trim().split("\n");
      assert.equal(lines.length, 2);
      assert.equal(JSON.parse(lines[0]).samples.length, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

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

Deno.test("analyze prints the per-step GPU memory high-water mark of metrics.jsonl", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rows = [2.5, 2.75, 2.5, 2.6].map((mib, i) =>
      JSON.stringify({ step: i + 1, loss: 1, "gpu/peak_mib": mib })
    );
    await Deno.writeTextFile(join(dir, "metrics.jsonl"), rows.join("\n") + "\n");
    const r = await runScript("analyze.ts", [dir, "--no-png"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /GPU memory high-water mark per step \(gpu\/peak_mib\): first 2\.50 MiB \(step 1\), largest 2\.75 MiB \(step 2\), last 2\.60 MiB \(step 4\)/,
    );
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
  for (const script of ["eval.ts", "interpolate.ts"]) {
    const base = script === "eval.ts" ? ["--model", "m"] : ["--base", "a", "--tuned", "b"];
    for (const p of ["0", "1.5"]) {
      const badTopP = await runScript(script, [...base, "--data", "d", "--top-p", p]);
      assert.equal(badTopP.code, 2, `${script} --top-p ${p}`);
      assert.match(badTopP.stderr, new RegExp(`error: --top-p ${p.replace(".", "\\.")} is not valid`));
    }
  }
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

Deno.test("eval and interpolate --help list --top-p and the greedy defaults", async () => {
  for (const script of ["eval.ts", "interpolate.ts"]) {
    const help = await runScript(script, ["--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--top-p P +nucleus sampling mass, in \(0, 1\] \(default 1\)/);
    assert.match(help.stdout, /--temperature T +sampling temperature \(default 0: greedy/);
  }
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
        "--temperature",
        "0.6",
        "--top-p",
        "0.95",
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
      assert.equal(summary.temperature, 0.6);
      assert.equal(summary.topP, 0.95);
      assert.ok(summary.avgAtK["avg@2"] >= 0 && summary.avgAtK["avg@2"] <= 1);
      assert.equal(summary.avgAtK["avg@2"], summary.accuracy);
      assert.match(r.stdout, /"avg@2": /);
      assert.ok("pass@2" in summary.passAtK && "strict" in summary.gsm8k);
      const lines = (await Deno.readTextFile(join(dir, "out/results.jsonl"))).trim().split("\n");
      assert.equal(lines.length, 2);
      assert.equal(JSON.parse(lines[0]).samples.length, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "interpolate sweeps a tiny pair with the shared eval flags and tabulates avg@n beside pass@k and maj@k",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await writeTinyCheckpoint(join(dir, "a"), { seed: 1 });
      await writeTinyCheckpoint(join(dir, "b"), { seed: 2 });
      const r = await runScript("interpolate.ts", [
        "--base",
        join(dir, "a"),
        "--tuned",
        join(dir, "b"),
        "--alphas",
        "0,1",
        "--data",
        join(FIXTURES, "gsm8k_sample.parquet"),
        "--limit",
        "1",
        "--n",
        "2",
        "--temperature",
        "0.6",
        "--top-p",
        "0.95",
        "--max-new-tokens",
        "4",
        "--out",
        join(dir, "out"),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const csv = (await Deno.readTextFile(join(dir, "out/interpolation.csv"))).trim().split("\n");
      assert.equal(csv[0], "alpha,accuracy,avg@2,pass@1,pass@2,maj@1,maj@2,gsm8k strict,gsm8k flexible");
      assert.equal(csv.length, 3);
      const summary = JSON.parse(await Deno.readTextFile(join(dir, "out/alpha-1/summary.json")));
      assert.equal(summary.temperature, 0.6);
      assert.equal(summary.topP, 0.95);
      assert.equal(summary.avgAtK["avg@2"], summary.accuracy);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

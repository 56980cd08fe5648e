import assert from "node:assert/strict";
import { join } from "node:path";
import { gradeAnswer } from "../../lib/grading/grade.ts";
import { regradeRollouts } from "../../lib/report/regrade.ts";
import { writeAnalysisReport } from "../../lib/report/report.ts";
import { readRollouts } from "../../lib/report/run_logs.ts";
import { assertThrowsWith } from "../support/numeric.ts";

// rlif compares the decimal as written, qwen_math within a relative 1e-4: they disagree on "\boxed{S}"
// against S.0001. The trainer logged rlif's verdicts; regrading must replace them.
const GOLD = (s: number) => `${s}.0001`;

/** A metadata.jsonl of 2 steps × 2 prompts × 3 responses, logged with rlif's (all false) verdicts. */
function metadataLines(): string {
  const lines: string[] = [];
  for (const step of [1, 2]) {
    for (const sum of [7, 9]) {
      const responses = [sum, sum, sum + 1].map((v, j) => {
        const text = `<think>…</think> \\boxed{${v}}`;
        return {
          text,
          answer: String(v),
          correct: gradeAnswer(text, GOLD(sum), "rlif"),
          reward: 0,
          length: 10,
          // A signal that tracks the right sums: high for the first two responses.
          signals: { selfCertainty: j < 2 ? 2 + j + step : 0.5 + step / 10 },
        };
      });
      lines.push(JSON.stringify({ step, prompt: `${sum - 3}+3=`, ground_truth: GOLD(sum), responses }));
    }
  }
  return lines.join("\n") + "\n";
}

Deno.test("regradeRollouts recomputes correctness from text and ground truth; missing either is unknown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-regrade-" });
  try {
    const file = join(dir, "metadata.jsonl");
    await Deno.writeTextFile(file, metadataLines());
    const logged = await readRollouts(file);
    assert.equal(logged.length, 12);
    assert.ok(logged.every((r) => r.correct === false), "the fixture logs rlif's verdicts: all false");
    const regraded = regradeRollouts(logged, "qwen_math", file);
    assert.deepEqual(regraded.map((r) => r.correct), logged.map((_, i) => i % 3 !== 2));
    assert.deepEqual(regradeRollouts(logged, "rlif", file).map((r) => r.correct), logged.map(() => false));
    const partial = regradeRollouts([{ ...logged[0], text: null }, logged[1]], "qwen_math", file);
    assert.deepEqual(partial.map((r) => r.correct), [null, true]);
    await assertThrowsWith(
      () => regradeRollouts([{ ...logged[0], groundTruth: null }], "qwen_math", file),
      "metadata.jsonl",
      "qwen_math",
      "response text and ground truth",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAnalysisReport with a grader analyses the regraded correctness and says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-regrade-" });
  try {
    await Deno.writeTextFile(join(dir, "metadata.jsonl"), metadataLines());
    // Logged as all wrong: one class only, so there is nothing to separate.
    const logged = await writeAnalysisReport(dir, { png: false, outDir: join(dir, "logged") });
    assert.equal(logged.correctness, "logged");
    assert.equal(logged.rows.find((r) => r.signal === "selfCertainty")!.correct, 0);
    const report = await writeAnalysisReport(dir, {
      png: false,
      grader: "qwen_math",
      outDir: join(dir, "q"),
    });
    assert.equal(report.correctness, "qwen_math");
    const row = report.rows.find((r) => r.signal === "selfCertainty")!;
    assert.equal(row.correct, 8);
    assert.equal(row.auroc, 1);
    assert.deepEqual(report.stepAccuracy.map((s) => s.accuracy), [4 / 6, 4 / 6]);
    const json = JSON.parse(await Deno.readTextFile(join(dir, "q/analysis.json")));
    assert.equal(json.correctness, "qwen_math");
    const md = await Deno.readTextFile(join(dir, "q/signal_table.md"));
    assert.ok(md.startsWith("Correctness: regraded with the qwen_math grader.\n"), md.slice(0, 80));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

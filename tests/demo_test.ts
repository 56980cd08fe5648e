import assert from "node:assert/strict";
import { join } from "node:path";
import { runScript } from "./support/scripts.ts";

Deno.test("demo: both GRPO runs train from the bundled model and the table names their run directories", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-demo-" });
  try {
    const out = await runScript("demo.ts", [
      "--train.steps",
      "2",
      "--train.warmup_steps",
      "1",
      "--log.dir",
      dir,
    ]);
    const stdout = out.stdout;
    assert.equal(out.code, 0, `demo failed:\n${stdout}\n${out.stderr}`);
    for (
      const row of ["bundled model (before)", "after GRPO, verifiable reward", "after GRPO, self-certainty"]
    ) {
      assert.match(
        stdout,
        new RegExp(
          `${row.replace(/[()]/g, "\\$&")}\\s+\\d+\\.\\d%\\s+\\d+\\.\\d%\\s+\\d+\\.\\d%\\s+\\d+\\.\\d{4}`,
        ),
      );
    }
    for (const run of ["verifiable reward", "self-certainty"]) {
      assert.match(
        stdout,
        new RegExp(`${run}\\s+\\d\\.\\d{3} → \\d\\.\\d{3}\\s+\\d+\\.\\d{3} → \\d+\\.\\d{3}\\s+(none|\\d+)`),
      );
    }
    const runDirs = [...stdout.matchAll(new RegExp(`${dir}/demo-[a-z-]+-\\d{8}-\\d{6}`, "g"))].map((m) =>
      m[0]
    );
    assert.equal(new Set(runDirs).size, 2, `expected two run directories in:\n${stdout}`);
    for (const run of new Set(runDirs)) {
      const metrics = (await Deno.readTextFile(join(run, "metrics.jsonl"))).trim().split("\n");
      assert.equal(metrics.length, 2);
      assert.ok((await Deno.stat(join(run, "checkpoints", "step-000002", "model.safetensors"))).isFile);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

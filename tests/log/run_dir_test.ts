import type { MetadataEntry } from "../../lib/log/metadata.ts";
import { freshRunPath, RUN_FILES, RunDir, runDirName } from "../../lib/log/run_dir.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertThrowsWith } from "../support/numeric.ts";
import { SAMPLE } from "./sample_metadata.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const meta = (step: number, prompt: string): MetadataEntry => ({ ...structuredClone(SAMPLE), step, prompt });

/** One training "run": steps from..to, each with metrics and two prompts of metadata. */
async function runSteps(run: RunDir, from: number, to: number): Promise<void> {
  for (let s = from; s <= to; s++) {
    await run.appendMetrics({ step: s, loss: 1 / s, reward: s * 0.1 });
    await run.appendMetadata([meta(s, `p${s}a`), meta(s, `p${s}b`)]);
  }
}

Deno.test("RunDir.create makes runs/<name>-<UTC timestamp>, unique per call, and writes config.yaml", () =>
  withDir(async (root) => {
    const now = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
    const a = await RunDir.create({ root, name: "intuitor", now });
    const b = await RunDir.create({ root, name: "intuitor", now });
    if (a.path !== `${root}/intuitor-20250102-030405` || b.path !== `${a.path}-2`) {
      throw new Error(`paths ${a.path}, ${b.path}`);
    }
    await a.writeConfig("model:\n  path: m\n");
    if ((await Deno.readTextFile(a.file(RUN_FILES.config))) !== "model:\n  path: m\n") {
      throw new Error("config");
    }
    await assertThrowsWith(() => RunDir.create({ root, name: "a b" }), "run name", "letters, digits");
  }));

Deno.test("a resumed run's logs equal the uninterrupted run's", () =>
  withDir(async (root) => {
    const full = await RunDir.create({ dir: `${root}/full` });
    await runSteps(full, 1, 6);
    await full.close();

    // Interrupted run: checkpoint after step 3, crash during step 5 with a half-written metrics line.
    const cut = await RunDir.create({ dir: `${root}/cut` });
    await runSteps(cut, 1, 4);
    await cut.appendMetrics({ step: 5, loss: 0.2, reward: 0.5 });
    await cut.close();
    const f = await Deno.open(cut.file(RUN_FILES.metadata), { append: true });
    await f.write(new TextEncoder().encode('{"step":5,"prompt":"p5a","gro'));
    f.close();

    const resumed = await RunDir.resume(`${root}/cut`, 3);
    await runSteps(resumed, 4, 6);
    await resumed.close();
    for (const name of [RUN_FILES.metrics, RUN_FILES.metadata]) {
      const want = await Deno.readTextFile(`${root}/full/${name}`);
      const got = await Deno.readTextFile(`${root}/cut/${name}`);
      if (got !== want) throw new Error(`${name} differs after resume:\n${got}\n---\n${want}`);
    }
    const metrics = await resumed.readMetrics();
    if (metrics.map((m) => m.step).join() !== "1,2,3,4,5,6") throw new Error("metrics steps");
  }));

Deno.test("RunDir refuses decreasing steps, bad steps, reused log directories and bad resumes", () =>
  withDir(async (root) => {
    const run = await RunDir.create({ dir: `${root}/r` });
    await run.appendMetrics({ step: 2, loss: 1 });
    await assertThrowsWith(() => run.appendMetrics({ step: 1, loss: 1 }), "step 1 after step 2");
    await assertThrowsWith(() => run.appendMetadata([meta(1.5, "p")]), "metadata.jsonl", "integer step");
    await run.close();
    await assertThrowsWith(() => RunDir.create({ dir: `${root}/r` }), "already holds logs", "RunDir.resume");
    await assertThrowsWith(() => RunDir.resume(`${root}/nope`, 1), "nope is not a run directory");
    await assertThrowsWith(() => RunDir.resume(`${root}/r`, -1), "step -1");
    // Resuming before the first step empties the logs; appends then start over.
    const again = await RunDir.resume(`${root}/r`, 0);
    await again.appendMetrics({ step: 1, loss: 0 });
    await again.close();
    if ((await Deno.readTextFile(`${root}/r/metrics.jsonl`)) !== '{"step":1,"loss":0}\n') {
      throw new Error("reset");
    }
  }));

Deno.test("runDirName and freshRunPath: <name>-YYYYMMDD-HHMMSS in UTC, never an existing path", async () => {
  const when = new Date(Date.UTC(2026, 10, 30, 15, 24, 11, 394));
  assert.equal(runDirName("eval", when), "eval-20261130-152411");
  assert.throws(() => runDirName("a/b", when), /letters, digits/);
  const root = await Deno.makeTempDir({ prefix: "rlif-runpath-" });
  try {
    assert.equal(await freshRunPath(root, "eval", when), join(root, "eval-20261130-152411"));
    await Deno.mkdir(join(root, "eval-20261130-152411"));
    assert.equal(await freshRunPath(root, "eval", when), join(root, "eval-20261130-152411-2"));
    const run = await RunDir.create({ root, name: "eval", now: when });
    assert.equal(run.path, join(root, "eval-20261130-152411-2"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { checkpointDir, latestCheckpoint, removeStaleTemporaries } from "../../lib/rl/checkpoint.ts";

async function withRun(fn: (run: string) => Promise<void>) {
  const run = await Deno.makeTempDir({ prefix: "rlif-ckpt-" });
  try {
    await fn(run);
  } finally {
    await Deno.remove(run, { recursive: true });
  }
}

/** A checkpoint folder with everything a resume reads (weights, moments, config, trainer state). */
async function fakeCheckpoint(run: string, step: number): Promise<string> {
  const dir = checkpointDir(run, step);
  await Deno.mkdir(dir, { recursive: true });
  const t = { shape: [2], data: new Float32Array([step, 1]) };
  await writeSafetensors(join(dir, "model.safetensors"), new Map([["w", t]]));
  await writeSafetensors(join(dir, "optimizer.safetensors"), new Map([["m.w", t], ["v.w", t]]));
  await Deno.writeTextFile(join(dir, "config.json"), "{}");
  await Deno.writeTextFile(
    join(dir, "trainer_state.json"),
    JSON.stringify({ step, optimizerSteps: 2 * step }),
  );
  return dir;
}

async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("latestCheckpoint falls back past damaged newer checkpoints, warning which and why", async () => {
  await withRun(async (run) => {
    await fakeCheckpoint(run, 2);
    const s4 = await fakeCheckpoint(run, 4), s6 = await fakeCheckpoint(run, 6);
    assert.equal((await latestCheckpoint(run))?.state.step, 6);
    // Weights cut short, and a trainer state that is not JSON.
    const weights = join(s6, "model.safetensors");
    await Deno.truncate(weights, (await Deno.stat(weights)).size - 3);
    await Deno.writeTextFile(join(s4, "trainer_state.json"), '{"step": 4, "optimi');
    const warnings: string[] = [];
    const found = await latestCheckpoint(run, (m) => warnings.push(m));
    assert.equal(found?.state.step, 2);
    assert.deepEqual(found?.state, { step: 2, optimizerSteps: 4 });
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[0],
      /step-000006 cannot be loaded \(.*model\.safetensors.*\); resuming from the older .*step-000002/,
    );
    assert.match(warnings[1], /step-000004 cannot be loaded \(.*trainer_state\.json.*\)/);
    // A state naming another step than its folder is damage too.
    await Deno.writeTextFile(
      join(checkpointDir(run, 2), "trainer_state.json"),
      '{"step": 3, "optimizerSteps": 1}',
    );
    const none: string[] = [];
    assert.equal(await latestCheckpoint(run, (m) => none.push(m)), null);
    assert.equal(none.length, 3);
    assert.match(none[2], /step-000002.*does not record step 2.*no older checkpoint loads either/);
  });
});

Deno.test("removeStaleTemporaries removes dead writers' temporary folders and files, nothing else", async () => {
  await withRun(async (run) => {
    const dead = await deadPid();
    const kept = await fakeCheckpoint(run, 1);
    const stale = `${checkpointDir(run, 2)}.tmp-${dead}`;
    const live = `${checkpointDir(run, 3)}.tmp-${Deno.pid}`;
    await Deno.mkdir(stale);
    await Deno.writeTextFile(join(stale, "model.safetensors"), "partial");
    await Deno.mkdir(live);
    const staleFile = join(run, `.config.yaml.${dead}-0123abcd.tmp`);
    await Deno.writeTextFile(staleFile, "partial");
    await Deno.writeTextFile(join(run, "notes.tmp"), "the user's");
    assert.deepEqual((await removeStaleTemporaries(run)).sort(), [stale, staleFile].sort());
    for (const p of [kept, live, join(run, "notes.tmp")]) await Deno.stat(p);
    for (const p of [stale, staleFile]) await assert.rejects(() => Deno.stat(p), Deno.errors.NotFound);
  });
});

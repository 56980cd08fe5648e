/**
 * Fault injection on real processes: a tiny experiment is killed, signalled, run twice at once, and
 * resumed from damaged run directories, and every case must end with the logs and weights of one
 * uninterrupted run (shared by all cases) and with messages that say what happened. Random kill times
 * come from RLIF_FAULT_SEED (printed on failure) or the clock.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { seededRandom } from "../../lib/data/rng.ts";
import { RUN_LOCK_FILE } from "../../lib/log/run_lock.ts";
import { latestCheckpoint } from "../../lib/rl/checkpoint.ts";
import {
  assertSameRun,
  checkpointNames,
  copyRun,
  deadPid,
  dropCheckpointsAfter,
  type Ended,
  loggedSteps,
  run,
  runDirIn,
  type RunSnapshot,
  snapshot,
  start,
  STEPS,
  waitFor,
  writeExperiment,
} from "./harness.ts";

const ROOT = await Deno.makeTempDir({ prefix: "rlif-faults-" });
const EXPERIMENT = await writeExperiment(ROOT);
let reference: { dir: string; snap: RunSnapshot } | null = null;
let cases = 0;

/** A fresh `runs` folder for one case; the experiment's `--log.dir` points there. */
function caseRoot(): string {
  const runs = join(ROOT, `case-${++cases}`);
  Deno.mkdirSync(runs);
  return runs;
}

function fresh(runs: string, extra: string[] = []): string[] {
  return ["--config", EXPERIMENT, "--log.dir", runs, ...extra];
}

function resume(dir: string, extra: string[] = []): string[] {
  return ["--config", EXPERIMENT, "--log.resume", dir, ...extra];
}

function explain(e: Ended): string {
  return `exit ${e.code}${
    e.signal ? ` (${e.signal})` : ""
  }\n--- stderr ---\n${e.stderr}\n--- stdout ---\n${e.stdout}`;
}

async function uninterrupted(): Promise<{ dir: string; snap: RunSnapshot }> {
  if (reference) return reference;
  const runs = caseRoot();
  const ended = await run("intuitor.ts", fresh(runs));
  assert.equal(ended.code, 0, explain(ended));
  const dir = runDirIn(runs)!;
  reference = { dir, snap: await snapshot(dir) };
  return reference;
}

/** Resumes `dir` to the end, expecting success, and checks it equals the uninterrupted run. */
async function resumeToEnd(dir: string, context: string): Promise<Ended> {
  const ended = await run("intuitor.ts", resume(dir));
  assert.equal(ended.code, 0, `${context}: the resume failed: ${explain(ended)}`);
  assertSameRun(await snapshot(dir), (await uninterrupted()).snap, context);
  await assert.rejects(() => Deno.stat(join(dir, RUN_LOCK_FILE)), Deno.errors.NotFound, "lock left behind");
  return ended;
}

/** Starts a fresh run and waits until it has logged `step` (so a fault lands inside training). */
async function startAndReach(runs: string, step: number, extra: string[] = []) {
  const proc = start("intuitor.ts", fresh(runs, extra));
  let dir: string | null = null;
  let exited = false;
  proc.ended.then(() => (exited = true));
  await waitFor(
    () => exited || ((dir ??= runDirIn(runs)) !== null && loggedSteps(dir).includes(step)),
    `step ${step} in ${runs}`,
  );
  if (exited) assert.fail(`the run ended before step ${step}: ${explain(await proc.ended)}`);
  return { proc, dir: dir! };
}

Deno.test("faults: the uninterrupted reference run", async () => {
  const { snap } = await uninterrupted();
  assert.deepEqual(snap.metrics.map((l) => JSON.parse(l).step), [1, 2, 3, 4]);
});

Deno.test("faults: kill -9 at random times during training, then resume: logs and weights equal the uninterrupted run", async () => {
  const seed = Number(Deno.env.get("RLIF_FAULT_SEED") ?? Date.now() % 1_000_000);
  const next = seededRandom(seed);
  let landed = 0;
  for (let trial = 0; trial < 2; trial++) {
    const runs = caseRoot();
    const { proc, dir } = await startAndReach(runs, 1);
    const delay = Math.floor(next() * 1000);
    await new Promise((r) => setTimeout(r, delay));
    proc.child.kill("SIGKILL");
    const killed = await proc.ended;
    if (killed.signal === "SIGKILL") landed++;
    const context = `RLIF_FAULT_SEED=${seed} trial ${trial} (killed ${delay} ms after step 1, ` +
      `at steps ${loggedSteps(dir)}, checkpoints ${checkpointNames(dir)})`;
    await resumeToEnd(dir, context);
  }
  assert.ok(landed > 0, `RLIF_FAULT_SEED=${seed}: every run finished before its kill; nothing was tested`);
});

Deno.test("faults: kill -9 while a checkpoint folder is being written; resume removes it and equals the uninterrupted run", async () => {
  const runs = caseRoot();
  const { proc, dir } = await startAndReach(runs, 1);
  const ckpts = join(dir, "checkpoints");
  let caught = null as string | null;
  let exited = false;
  proc.ended.then(() => (exited = true));
  // Polls without yielding to timers between reads, to catch the folder during its few milliseconds.
  await waitFor(
    () => {
      try {
        caught = [...Deno.readDirSync(ckpts)].find((e) => e.name.includes(".tmp-"))?.name ?? null;
      } catch {
        caught = null;
      }
      if (caught) proc.child.kill("SIGKILL");
      return caught !== null || exited;
    },
    "a temporary checkpoint folder",
    60_000,
    0,
  );
  const killed = await proc.ended;
  assert.ok(caught, `no checkpoint write was caught in progress (${explain(killed)})`);
  assert.equal(killed.signal, "SIGKILL");
  // A torn checkpoint never carries a real name: only the temporary folder is partial.
  assert.ok(checkpointNames(dir).includes(caught!), `${caught} is gone before the resume`);
  const damaged: string[] = [];
  const newest = await latestCheckpoint(dir, (m) => damaged.push(m));
  assert.deepEqual(damaged, [], "a checkpoint under its real name is damaged");
  const complete = checkpointNames(dir).filter((n) => !n.includes(".tmp-"));
  const newestName = newest && `step-${String(newest.state.step).padStart(6, "0")}`;
  assert.equal(newestName ?? undefined, complete.at(-1), "the newest complete checkpoint does not load");
  const ended = await resumeToEnd(dir, `killed while writing ${caught}`);
  assert.ok(
    ended.stderr.includes(`warning: removed ${join(ckpts, caught!)}, left by an interrupted write`),
    ended.stderr,
  );
  assert.ok(!checkpointNames(dir).some((n) => n.includes(".tmp-")), `${checkpointNames(dir)}`);
});

Deno.test("faults: SIGTERM with save_every 0 saves the last completed step, exits 143 with the resume command, and resumes exactly", async () => {
  const runs = caseRoot();
  const { proc, dir } = await startAndReach(runs, 1, ["--log.save_every", "0"]);
  proc.child.kill("SIGTERM");
  const ended = await proc.ended;
  assert.equal(ended.code, 143, explain(ended));
  const last = Math.max(...loggedSteps(dir));
  assert.ok(last < STEPS, `the run finished (step ${last}) before SIGTERM arrived`);
  const saved = `step-${String(last).padStart(6, "0")}`;
  assert.deepEqual(checkpointNames(dir), [saved], "nothing completed may be lost");
  assert.match(
    ended.stderr,
    new RegExp(`interrupted by SIGTERM at step ${last} of ${STEPS}; saved .*${saved}`),
  );
  assert.ok(ended.stderr.includes(`Continue with: deno task intuitor --log.resume ${dir}`), ended.stderr);
  await assert.rejects(() => Deno.stat(join(dir, RUN_LOCK_FILE)), Deno.errors.NotFound);
  await resumeToEnd(dir, "after SIGTERM");
});

Deno.test("faults: SIGINT (Ctrl-C) saves and exits 130 with the resume command", async () => {
  const runs = caseRoot();
  const { proc, dir } = await startAndReach(runs, 1, ["--log.save_every", "0"]);
  proc.child.kill("SIGINT");
  const ended = await proc.ended;
  assert.equal(ended.code, 130, explain(ended));
  const last = Math.max(...loggedSteps(dir));
  assert.deepEqual(checkpointNames(dir), [`step-${String(last).padStart(6, "0")}`]);
  assert.match(
    ended.stderr,
    /interrupted by SIGINT at step \d of 4; saved .*Continue with: deno task intuitor --log\.resume/s,
  );
});

Deno.test("faults: a second SIGTERM exits at once with 143, leaving nothing that a resume cannot use", async () => {
  const runs = caseRoot();
  const { proc, dir } = await startAndReach(runs, 1);
  await waitFor(() => checkpointNames(dir).includes("step-000001"), "the checkpoint of step 1");
  // Into step 2 (0.4 s or more), so the second signal comes while the first waits for the step's end.
  await new Promise((r) => setTimeout(r, 100));
  proc.child.kill("SIGTERM");
  // Signals sent closer together than the process reads them arrive as one, as POSIX allows.
  await waitFor(() => proc.stderrSoFar().includes("SIGTERM: finishing"), "the first SIGTERM to be read");
  proc.child.kill("SIGTERM");
  const ended = await proc.ended;
  assert.equal(ended.code, 143, explain(ended));
  assert.match(ended.stderr, /SIGTERM again: stopping now; the last checkpoint is .*step-00000\d/);
  await assert.rejects(() => Deno.stat(join(dir, RUN_LOCK_FILE)), Deno.errors.NotFound);
  await resumeToEnd(
    dir,
    `after two SIGTERMs (steps ${loggedSteps(dir)}, checkpoints ${checkpointNames(dir)})`,
  );
});

Deno.test("faults: two resumes of one run at once: one is refused naming the holder, the other is unaffected", async () => {
  const { dir: ref } = await uninterrupted();
  const dir = await copyRun(ref, join(caseRoot(), "run"));
  await dropCheckpointsAfter(dir, 1);
  const both = [start("intuitor.ts", resume(dir)), start("intuitor.ts", resume(dir))];
  const ended = await Promise.all(both.map((p) => p.ended));
  const loser = ended.findIndex((e) => e.code !== 0);
  assert.ok(loser >= 0, "both resumes ran; one writer should have been refused");
  const winner = 1 - loser;
  assert.equal(ended[loser].code, 1, explain(ended[loser]));
  assert.match(
    ended[loser].stderr,
    new RegExp(
      `^error: ${dir} is in use by another run: pid ${both[winner].child.pid} on ${Deno.hostname()} ` +
        `since \\S+Z holds .*run\\.lock`,
    ),
  );
  assert.equal(ended[winner].code, 0, explain(ended[winner]));
  assertSameRun(await snapshot(dir), (await uninterrupted()).snap, "the writer that ran");
});

Deno.test("faults: what a killed writer leaves (stale lock, torn last log lines, a partial checkpoint folder) is taken over, cut and removed", async () => {
  const { dir: ref } = await uninterrupted();
  const dir = await copyRun(ref, join(caseRoot(), "run"));
  await dropCheckpointsAfter(dir, 2);
  const dead = await deadPid();
  const holder = { pid: dead, host: Deno.hostname(), since: new Date().toISOString(), started: 1 };
  await Deno.writeTextFile(join(dir, RUN_LOCK_FILE), JSON.stringify(holder));
  for (const log of ["metrics.jsonl", "metadata.jsonl"]) {
    await Deno.writeTextFile(join(dir, log), '{"step": 5, "cut sho', { append: true });
  }
  const partial = join(dir, "checkpoints", `step-000003.tmp-${dead}`);
  await Deno.mkdir(partial);
  await Deno.writeTextFile(join(partial, "model.safetensors"), "partial");
  const ended = await resumeToEnd(dir, "stale lock, torn lines, partial checkpoint");
  assert.ok(ended.stderr.includes(`warning: removed ${partial}, left by an interrupted write`), ended.stderr);
});

Deno.test("faults: a newest checkpoint that does not load is skipped with a warning naming it and why", async () => {
  const { dir: ref } = await uninterrupted();
  const dir = await copyRun(ref, join(caseRoot(), "run"));
  const weights = join(dir, "checkpoints", "step-000004", "model.safetensors");
  await Deno.truncate(weights, (await Deno.stat(weights)).size - 100);
  await Deno.writeTextFile(join(dir, "checkpoints", "step-000003", "trainer_state.json"), "{");
  const ended = await resumeToEnd(dir, "corrupted newest checkpoints");
  assert.match(
    ended.stderr,
    /warning: checkpoint .*step-000004 cannot be loaded \(.*model\.safetensors.*\); resuming from the older .*step-000002/,
  );
  assert.match(ended.stderr, /warning: checkpoint .*step-000003 cannot be loaded \(.*trainer_state\.json/);
});

Deno.test("faults: analyze skips a torn last log line with a warning, and names a damaged middle line", async () => {
  const { dir: ref } = await uninterrupted();
  const dir = await copyRun(ref, join(caseRoot(), "run"));
  const meta = join(dir, "metadata.jsonl");
  const lines = (await Deno.readTextFile(meta)).split("\n").slice(0, -1);
  await Deno.writeTextFile(meta, `${lines.slice(0, -1).join("\n")}\n${lines.at(-1)!.slice(0, 40)}`);
  const ended = await run("analyze.ts", [dir, "--no-png"]);
  assert.equal(ended.code, 0, explain(ended));
  assert.match(ended.stderr, new RegExp(`warning: ${meta}:${lines.length}: the last line is cut short`));
  const analysis = JSON.parse(await Deno.readTextFile(join(dir, "analysis.json")));
  const perPrompt = JSON.parse(lines[0]).responses.length;
  assert.equal(analysis.rows[0].n, (lines.length - 1) * perPrompt, "rollouts counted");
  await Deno.writeTextFile(meta, `${lines[0]}\n${lines[1].slice(0, 40)}\n${lines.slice(2).join("\n")}\n`);
  const bad = await run("analyze.ts", [dir, "--no-png"]);
  assert.equal(bad.code, 1, explain(bad));
  assert.match(bad.stderr, new RegExp(`^error: ${meta}:2: not valid JSON`));
});

Deno.test("faults: resume with --train.steps continues a finished run; an override changing the experiment is refused", async () => {
  const { dir: ref } = await uninterrupted();
  const dir = await copyRun(ref, join(caseRoot(), "run"));
  const refused = await run("intuitor.ts", resume(dir, ["--reward.name", "neg_entropy"]));
  assert.equal(refused.code, 2, explain(refused));
  assert.match(
    refused.stderr,
    /^error: log\.resume .*: resuming cannot change reward\.name \("neg_entropy"; the run has "self_certainty"\)/,
  );
  const shorter = await run("intuitor.ts", resume(dir, ["--train.steps", String(STEPS - 1)]));
  assert.equal(shorter.code, 2, explain(shorter));
  assert.match(
    shorter.stderr,
    new RegExp(`train\\.steps ${STEPS - 1} is below step ${STEPS}, which the run has reached`),
  );
  const longer = await run("intuitor.ts", resume(dir, ["--train.steps", String(STEPS + 1)]));
  assert.equal(longer.code, 0, explain(longer));
  assert.deepEqual(loggedSteps(dir), [1, 2, 3, 4, 5]);
  assert.ok(checkpointNames(dir).includes("step-000005"));
  assert.match(await Deno.readTextFile(join(dir, "config.yaml")), /\n {2}steps: 5\n/);
});

globalThis.addEventListener("unload", () => Deno.removeSync(ROOT, { recursive: true }));

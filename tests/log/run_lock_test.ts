import assert from "node:assert/strict";
import { join } from "node:path";
import { RUN_LOCK_FILE, RunLock, RunLockedError } from "../../lib/log/run_lock.ts";

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "rlif-lock-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The pid of a process that has exited. */
/** The holder the lock file of `dir` names. */
async function holderOf(dir: string): Promise<{ pid: number; host: string; since: string }> {
  return JSON.parse(await Deno.readTextFile(join(dir, RUN_LOCK_FILE)));
}

async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("run lock: a second writer is refused naming the holder's pid, host and start; release frees it", async () => {
  await withTemp(async (dir) => {
    const lock = RunLock.acquire(dir);
    const held = JSON.parse(await Deno.readTextFile(join(dir, RUN_LOCK_FILE)));
    assert.equal(held.pid, Deno.pid);
    assert.equal(held.host, Deno.hostname());
    const e = (() => {
      try {
        RunLock.acquire(dir);
      } catch (e) {
        return e as RunLockedError;
      }
      throw new Error("acquired twice");
    })();
    assert.ok(e instanceof RunLockedError);
    assert.equal(e.code, "run.locked");
    assert.equal(e.holder.pid, Deno.pid);
    assert.match(e.message, new RegExp(`pid ${Deno.pid} on ${Deno.hostname()} since ${held.since}`));
    assert.ok(e.message.includes(join(dir, RUN_LOCK_FILE)));
    lock.release();
    lock.release();
    await assert.rejects(() => Deno.stat(join(dir, RUN_LOCK_FILE)), Deno.errors.NotFound);
    RunLock.acquire(dir).release();
  });
});

Deno.test("run lock: a lock left by a dead process or a reused pid is taken over; a live one on another host is not", async () => {
  await withTemp(async (dir) => {
    const path = join(dir, RUN_LOCK_FILE);
    const stale = {
      pid: await deadPid(),
      host: Deno.hostname(),
      since: "2020-01-01T00:00:00.000Z",
      started: 1,
    };
    await Deno.writeTextFile(path, JSON.stringify(stale));
    const lock = RunLock.acquire(dir);
    assert.equal((await holderOf(dir)).pid, Deno.pid);
    lock.release();
    // This very pid, but recorded with another start time: the pid was reused, the holder is gone.
    await Deno.writeTextFile(path, JSON.stringify({ ...stale, pid: Deno.pid, started: -5 }));
    RunLock.acquire(dir).release();
    // Another host's process cannot be checked from here.
    await Deno.writeTextFile(path, JSON.stringify({ ...stale, host: "elsewhere.example" }));
    assert.throws(
      () => RunLock.acquire(dir),
      /pid \d+ on elsewhere\.example since 2020-01-01.*delete the lock file/,
    );
    assert.equal((await holderOf(dir)).host, "elsewhere.example");
  });
});

Deno.test("run lock: release leaves a lock that another process has taken since", async () => {
  await withTemp(async (dir) => {
    const lock = RunLock.acquire(dir);
    const other = { pid: 1, host: Deno.hostname(), since: "2030-01-01T00:00:00.000Z", started: null };
    await Deno.writeTextFile(join(dir, RUN_LOCK_FILE), JSON.stringify(other));
    lock.release();
    assert.equal((await holderOf(dir)).since, other.since);
  });
});

Deno.test("run lock: an empty lock file is a writer starting up, then (after 10 s) a writer that died starting", async () => {
  await withTemp(async (dir) => {
    const path = join(dir, RUN_LOCK_FILE);
    await Deno.writeTextFile(path, "");
    assert.throws(() => RunLock.acquire(dir), /names no holder yet \(a writer may be starting\); try again/);
    const old = new Date(Date.now() - 60_000);
    await Deno.utime(path, old, old);
    RunLock.acquire(dir).release();
  });
});

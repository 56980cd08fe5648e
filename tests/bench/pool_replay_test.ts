import assert from "node:assert/strict";
import { PoolReplay, type ReplayBuffer } from "../../lib/bench/pool_replay.ts";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { getDevice } from "../../lib/gpu/device.ts";
import { rng } from "../support/numeric.ts";

Deno.test("PoolReplay: grows like a BufferPool over random acquisitions, uploads, releases and submits", async () => {
  const gpu = await getDevice();
  const pool = new BufferPool(gpu.device, GPUBufferUsage.STORAGE);
  const replay = new PoolReplay();
  const rand = rng(5);
  // Sizes that share buckets (1000 and 1024; 5000 and 5100) and some that do not.
  const sizes = [4, 256, 1000, 1024, 5000, 5100, 70_000];
  const live: { real: GPUBuffer; replayed: ReplayBuffer }[] = [];
  const counts = { acquire: 0, upload: 0, release: 0, submit: 0 };
  for (let step = 0; step < 2000; step++) {
    const r = rand();
    if (r < 0.35 || live.length === 0) {
      const bytes = sizes[Math.floor(rand() * sizes.length)];
      if (rand() < 0.3) {
        live.push({ real: pool.acquireForUpload(bytes, "upload"), replayed: replay.acquireForUpload(bytes) });
        counts.upload++;
      } else {
        live.push({ real: pool.acquire(bytes, "tensor"), replayed: replay.acquire(bytes) });
        counts.acquire++;
      }
    } else if (r < 0.95) {
      const [b] = live.splice(Math.floor(rand() * live.length), 1);
      pool.release(b.real);
      replay.release(b.replayed);
      counts.release++;
    } else {
      pool.commitReleases();
      replay.submit();
      counts.submit++;
    }
    assert.equal(replay.createdBytes, pool.stats().liveBytes, `after step ${step}`);
  }
  // Every kind of request happened often enough to exercise each rule.
  for (const [kind, n] of Object.entries(counts)) assert.ok(n >= 50, `${kind}: ${n}`);
  pool.commitReleases();
  for (const b of live) pool.release(b.real);
  pool.commitReleases();
  pool.trim();
  assert.equal(pool.stats().liveBytes, 0);
});

Deno.test("PoolReplay: an upload waits for a submit to reuse a buffer, a kernel-filled tensor does not", () => {
  const replay = new PoolReplay();
  const a = replay.acquire(3000); // bucket 3072
  replay.release(a);
  replay.release(replay.acquire(3072)); // takes a's buffer
  assert.equal(replay.createdBytes, 3072);
  const upload = replay.acquireForUpload(3000); // released, not submitted: a new buffer
  assert.equal(replay.createdBytes, 2 * 3072);
  replay.release(upload);
  replay.submit();
  replay.acquireForUpload(2900);
  replay.acquireForUpload(3072);
  assert.equal(replay.createdBytes, 2 * 3072);
  assert.throws(() => replay.release(upload), /a 3072-byte buffer was released twice/);
});

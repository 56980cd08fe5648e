import assert from "node:assert/strict";
import { BufferPool } from "../../lib/gpu/buffer_pool.ts";
import { getDevice } from "../../lib/gpu/device.ts";
import { buildSequenceBatch } from "../../lib/model/batch.ts";
import { modelFromTensors } from "../../lib/model/model.ts";
import { score } from "../../lib/model/score.ts";
import { makeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { createOptimizer, lossBackward, optimizerStep } from "../../lib/model/train_step.ts";
import { createGradients } from "../../lib/model/transformer.ts";
import { add } from "../../lib/ops/elementwise.ts";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** The validation error (or null) of uploading 4 bytes into `buffer`: a destroyed buffer refuses it. */
async function writeError(device: GPUDevice, buffer: GPUBuffer): Promise<GPUError | null> {
  device.pushErrorScope("validation");
  device.queue.writeBuffer(buffer, 0, new Uint8Array(4));
  return await device.popErrorScope();
}

Deno.test("BufferPool.bucket: quarter-octave size classes, 256 bytes at least", () => {
  let previous = 0;
  for (let bytes = 1; bytes <= 1 << 22; bytes = Math.ceil(bytes * 1.07) + 1) {
    const b = BufferPool.bucket(bytes);
    assert.ok(b >= bytes && b >= 256, `bucket(${bytes}) = ${b}`);
    assert.ok(b >= previous, `bucket(${bytes}) = ${b} is below the bucket of a smaller request`);
    assert.equal(BufferPool.bucket(b), b, `a bucket is its own class (${b})`);
    // Slack under a quarter of the request's octave, beyond the 256-byte floor.
    const quarter = 2 ** Math.max(8, Math.floor(Math.log2(bytes)) - 2);
    assert.ok(b - bytes < quarter, `bucket(${bytes}) = ${b} wastes ${b - bytes} bytes`);
    previous = b;
  }
  // Between two powers of two above 1 KiB lie exactly four classes.
  const classes = new Set<number>();
  for (let bytes = 4097; bytes <= 8192; bytes++) classes.add(BufferPool.bucket(bytes));
  assert.deepEqual([...classes], [5120, 6144, 7168, 8192]);
});

Deno.test("BufferPool.trim destroys the free buffers only: held and not-yet-submitted ones stay usable", async () => {
  const { device } = await getDevice();
  const pool = new BufferPool(device, USAGE);
  const held = pool.acquire(1000, "held");
  const early = pool.acquire(5000, "early");
  const late = pool.acquire(70_000, "late");
  const LATE = BufferPool.bucket(70_000);
  assert.equal(pool.stats().liveBytes, 1024 + 5120 + LATE);
  pool.release(early);
  pool.commitReleases(); // a submit: `early` is free now
  pool.release(late); // released after it: recorded work may still bind it
  assert.equal(pool.trim(), 5120);
  assert.equal(pool.stats().liveBytes, 1024 + LATE);
  assert.ok(await writeError(device, early), "the trimmed buffer still accepts writes");
  assert.equal(await writeError(device, held), null);
  assert.equal(await writeError(device, late), null);
  // Nothing of `early`'s bucket is left to hand out: a new request of that size creates a buffer.
  pool.acquireForUpload(5000, "again");
  assert.equal(pool.stats().liveBytes, 1024 + 5120 + LATE);
  pool.commitReleases();
  assert.equal(pool.trim(), LATE);
  assert.ok(await writeError(device, late), "the buffer released before the submit was not destroyed");
});

Deno.test("BufferPool.resetPeak: the high-water mark restarts from what is held, and trim lowers only live bytes", async () => {
  const { device } = await getDevice();
  const pool = new BufferPool(device, USAGE);
  const a = pool.acquire(4096, "a");
  const b = pool.acquire(8192, "b");
  pool.release(b);
  pool.commitReleases();
  pool.trim();
  assert.deepEqual(pool.stats(), { liveBytes: 4096, peakBytes: 4096 + 8192 });
  pool.resetPeak();
  assert.deepEqual(pool.stats(), { liveBytes: 4096, peakBytes: 4096 });
  const c = pool.acquire(2000, "c");
  pool.release(c);
  pool.acquire(2000, "c again"); // reuses c's buffer: no new bytes
  assert.deepEqual(pool.stats(), { liveBytes: 4096 + 2048, peakBytes: 4096 + 2048 });
  pool.release(a);
  pool.commitReleases();
  pool.trim();
  assert.deepEqual(pool.stats(), { liveBytes: 2048, peakBytes: 4096 + 2048 });
});

Deno.test("Gpu.trim: buffers of submitted work may be destroyed before it runs; its results are intact", async () => {
  const gpu = await getDevice();
  gpu.trim();
  const resident = gpu.pool.stats().liveBytes;
  const a = gpu.fromArray([1, 2, 3, 4], [4]);
  const b = gpu.fromArray([10, 20, 30, 40], [4]);
  // A chain of temporaries, each released as soon as recorded: their buffers are only bound by the work.
  let x = add(gpu, a, b);
  for (let i = 0; i < 8; i++) {
    const y = add(gpu, x, a);
    x.release();
    x = y;
  }
  a.release();
  b.release();
  const freed = gpu.trim(); // submits the chain, then destroys every buffer it no longer holds
  assert.ok(freed > 0, "trim freed nothing");
  assert.equal(gpu.pool.stats().liveBytes, resident + BufferPool.bucket(16));
  assert.deepEqual(Array.from(await x.read()), [19, 38, 57, 76]);
  x.release();
  gpu.trim();
  assert.equal(gpu.pool.stats().liveBytes, resident);
});

Deno.test("Gpu.trim between phases: scoring and training a tiny model at 8 lengths holds the largest length's memory, not their sum", async () => {
  const gpu = await getDevice();
  const tiny = makeTinyCheckpoint({ seed: 1 });
  const model = modelFromTensors(gpu, tiny.config, tiny.tensors);
  const grads = createGradients(model);
  const optimizer = createOptimizer(model, {
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    maxGradNorm: 1,
  });
  // Four sequences a phase, completions of about `length` tokens (ragged, as sampled ones are).
  const phase = async (length: number) => {
    const prompts = [0, 1, 2, 3].map((b) => Array.from({ length: 3 + b }, (_, i) => 40 + i + b));
    const completions = [0, 1, 2, 3].map((b) =>
      Array.from({ length: length - b }, (_, i) => 60 + ((i * 7 + b) % 90))
    );
    await score(model, prompts.map((p, i) => ({ promptIds: p, completionIds: completions[i] })));
    for (const at of [0, 2]) {
      const batch = buildSequenceBatch(prompts.slice(at, at + 2), completions.slice(at, at + 2), 0);
      const weights = new Float32Array(batch.rows.length).fill(-1 / batch.rows.length);
      lossBackward(model, batch, { kind: "weights", weights, temperature: 1 }, grads);
    }
    optimizerStep(optimizer, [...grads.values()], 1e-4);
    await gpu.sync();
  };
  const lengths = [5, 8, 11, 15, 20, 26, 33, 41];
  try {
    await phase(lengths[0]); // what the first use creates for good (the RoPE table) is resident from here on
    gpu.trim();
    const resident = gpu.pool.stats().liveBytes;
    const alone: number[] = [];
    for (const length of lengths) {
      gpu.pool.resetPeak();
      await phase(length);
      alone.push(gpu.pool.stats().peakBytes - resident);
      gpu.trim();
    }
    gpu.pool.resetPeak();
    for (const length of lengths) {
      await phase(length);
      gpu.trim();
      assert.equal(gpu.pool.stats().liveBytes, resident, `after length ${length}`);
    }
    const largest = Math.max(...alone);
    assert.equal(gpu.pool.stats().peakBytes - resident, largest);
    // The same phases untrimmed keep every length's buffers: what the trims above gave back.
    for (const length of lengths) await phase(length);
    gpu.flush();
    const kept = gpu.pool.stats().liveBytes - resident;
    assert.ok(kept > 2 * largest, `untrimmed, the pool kept ${kept} bytes; one length needs ${largest}`);
  } finally {
    for (const g of grads.values()) g.release();
    optimizer.release();
    model.release();
    gpu.trim();
  }
});

import { getDevice } from "../../lib/gpu/device.ts";
import { add } from "../../lib/ops/elementwise.ts";

function same(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  if (Array.from(got).join() !== Array.from(want).join()) {
    throw new Error(`${what}: got [${got}], want [${want}]`);
  }
}

// One recorded dispatch reads `a`, which is then released before anything is submitted: its buffer is
// still bound by that unsubmitted dispatch.
async function readReleasedUnderRecordedWork() {
  const gpu = await getDevice();
  gpu.flush();
  const a = gpu.fromArray([1, 2, 3], [3]);
  const doubled = add(gpu, a, a);
  a.release();
  return { gpu, a, doubled };
}

Deno.test("uploads: fromArray after recorded work submits nothing, cannot take a buffer that work still reads, and what it holds is seen by work recorded after it", async () => {
  const { gpu, a, doubled } = await readReleasedUnderRecordedWork();
  const before = gpu.counters().submits;
  const fresh = gpu.fromArray([100, 200, 300], [3]);
  if (gpu.counters().submits !== before) throw new Error("fromArray submitted the recorded work");
  // Had it taken a's buffer, its upload (queued ahead of the unsubmitted add) would double 100, 200, 300.
  if (fresh.buffer === a.buffer) throw new Error("fromArray took a buffer an unsubmitted dispatch reads");
  const sum = add(gpu, fresh, doubled);
  const [d, f, s] = await gpu.readAll([doubled, fresh, sum]);
  same(d, [2, 4, 6], "the recorded add over the released tensor");
  same(f, [100, 200, 300], "the uploaded tensor");
  same(s, [102, 204, 306], "work recorded after the upload");
  for (const t of [doubled, fresh, sum]) t.release();
});

Deno.test("uploads: a tensor that recorded work fills takes a just-released buffer at once; the work recorded before it still reads the old contents", async () => {
  const { gpu, a, doubled } = await readReleasedUnderRecordedWork();
  const before = gpu.counters();
  const reused = gpu.empty([3]);
  if (reused.buffer !== a.buffer) throw new Error("empty did not reuse the buffer released before it");
  gpu.copy(gpu.fromArray([7, 8, 9], [3]), reused);
  const [d, r] = await gpu.readAll([doubled, reused]);
  same(d, [2, 4, 6], "the add recorded before the buffer was reused");
  same(r, [7, 8, 9], "the tensor that reused it");
  if (gpu.counters().submits - before.submits !== 1) throw new Error("expected the readback's submit only");
  doubled.release();
  reused.release();
});

Deno.test("uploads: write into an existing tensor submits the recorded work first, which sees the old contents", async () => {
  const gpu = await getDevice();
  gpu.flush();
  const a = gpu.fromArray([1, 2, 3], [3]);
  const doubled = add(gpu, a, a);
  const before = gpu.counters().submits;
  a.write([10, 20, 30]);
  if (gpu.counters().submits !== before + 1) throw new Error("write did not submit the recorded work first");
  const [d, v] = await gpu.readAll([doubled, a]);
  same(d, [2, 4, 6], "the add recorded before the write");
  same(v, [10, 20, 30], "the written tensor");
  a.release();
  doubled.release();
});

import { getDevice } from "../../lib/gpu/device.ts";
import { recordStep } from "../../lib/ops/decode.ts";
import { kvWrite } from "../../lib/ops/decode_layer.ts";
import { assertThrowsWith } from "../support/numeric.ts";

Deno.test("decode: kvWrite appends each sequence's rows at its own past length and drops overflow", async () => {
  const gpu = await getDevice();
  const [batch, maxLen, width, rows] = [3, 5, 6, 2];
  const src = Array.from({ length: batch * rows * width }, (_, i) => i + 1);
  const past = [0, 2, 4]; // the last sequence has room for one of its two rows
  const cache = gpu.zeros([batch, maxLen, width]);
  kvWrite(gpu, gpu.fromArray(src, [batch * rows, width]), gpu.fromArray(past, [batch], "i32"), cache, rows);
  const got = await cache.read();
  const want = new Float32Array(batch * maxLen * width);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < rows; i++) {
      const pos = past[b] + i;
      if (pos >= maxLen) continue;
      for (let c = 0; c < width; c++) want[(b * maxLen + pos) * width + c] = src[(b * rows + i) * width + c];
    }
  }
  if (got.join() !== want.join()) throw new Error(`cache ${got} != ${want}`);
});

Deno.test("decode: recordStep stores tokens, stops rows at EOS and advances the rest", async () => {
  const gpu = await getDevice();
  const [batch, maxNew] = [3, 4];
  const state = {
    outIds: gpu.zeros([batch, maxNew], "i32"),
    outLogprob: gpu.zeros([batch, maxNew]),
    done: gpu.fromArray([0, 0, 1], [batch], "u32"),
    positions: gpu.fromArray([4, 9, 2], [batch], "i32"),
    kvLen: gpu.fromArray([5, 10, 3], [batch], "i32"),
    eos: gpu.fromArray([7, 8], [2], "i32"),
  };
  recordStep(
    gpu,
    state,
    gpu.fromArray([5, 8, 6], [batch], "i32"),
    gpu.fromArray([-0.5, -1.5, -2], [batch]),
    1,
    -1,
  );
  const ids = Array.from(await state.outIds.read());
  const lp = Array.from(await state.outLogprob.read());
  if (ids.join() !== [0, 5, 0, 0, 0, 8, 0, 0, 0, -1, 0, 0].join()) throw new Error(`ids ${ids}`);
  if (lp.join() !== [0, -0.5, 0, 0, 0, -1.5, 0, 0, 0, 0, 0, 0].join()) throw new Error(`logprobs ${lp}`);
  if (Array.from(await state.done.read()).join() !== "0,1,1") throw new Error("done flags");
  if (Array.from(await state.positions.read()).join() !== "5,10,2") throw new Error("positions");
  if (Array.from(await state.kvLen.read()).join() !== "6,11,3") throw new Error("kv lengths");
  await assertThrowsWith(
    () => recordStep(gpu, state, gpu.zeros([batch], "i32"), gpu.zeros([batch]), maxNew, 0),
    "recordStep",
    `"step"`,
  );
});

import { getDevice } from "../../lib/gpu/device.ts";
import { copyColumns, gatherRows, maskedMeanRows, scatterAddRows } from "../../lib/ops/rows.ts";
import { assertClose, assertThrowsWith, dot, f32, randn, rng } from "../support/numeric.ts";

// Gather and scatter move values or add one term to zero: exact. Pooling sums seqLen terms in f32.
const EXACT = { atol: 0 };

for (const [n, width, picks] of [[1, 1, [0]], [7, 33, [6, 0, 3]], [130, 70, [129, 5, 64, 7, 100]]] as const) {
  Deno.test(`rows: gather ${picks.length} of ${n}×${width} and its scatter-add backward`, async () => {
    const gpu = await getDevice();
    const r = rng(n * 31 + width);
    const x = f32(randn(r, n * width));
    const tx = gpu.fromArray(x, [n, width]);
    const idx = gpu.fromArray(picks, [picks.length], "i32");
    const out = gatherRows(gpu, tx, idx);
    const want = new Float64Array(picks.length * width);
    picks.forEach((p, i) => want.set(x.subarray(p * width, (p + 1) * width), i * width));
    assertClose(await out.read(), want, EXACT, "gather");
    // Backward: for L = <dy, gather(x)>, dL/dx is dy scattered into the picked rows; check the adjoint
    // identity <dy, gather(x)> = <scatter(dy), x>, which fails for any wrong row or column.
    const dy = f32(randn(r, picks.length * width));
    const dx = gpu.zeros([n, width]);
    scatterAddRows(gpu, gpu.fromArray(dy, [picks.length, width]), idx, dx);
    const dxHost = await dx.read();
    const expectDx = new Float64Array(n * width);
    picks.forEach((p, i) => {
      for (let c = 0; c < width; c++) expectDx[p * width + c] += dy[i * width + c];
    });
    assertClose(dxHost, expectDx, EXACT, "scatter-add");
    const lhs = dot(dy, want), rhs = dot(dxHost, x);
    if (Math.abs(lhs - rhs) > 1e-9 * (1 + Math.abs(lhs))) throw new Error(`adjoint: ${lhs} vs ${rhs}`);
  });
}

for (const [batch, seq, width] of [[1, 1, 1], [3, 7, 33], [2, 130, 65]] as const) {
  Deno.test(`rows: masked mean pooling of ${batch}×${seq}×${width}`, async () => {
    const gpu = await getDevice();
    const r = rng(batch * 1000 + seq);
    const x = f32(randn(r, batch * seq * width));
    const mask = Array.from({ length: batch * seq }, (_, i) => (i % seq === 0 || r() < 0.5 ? 1 : 0));
    if (batch > 1) mask.fill(0, seq, 2 * seq); // a sequence with nothing to pool gives zeros
    const out = await maskedMeanRows(
      gpu,
      gpu.fromArray(x, [batch * seq, width]),
      gpu.fromArray(mask, [batch * seq]),
      batch,
    ).read();
    const want = new Float64Array(batch * width);
    for (let b = 0; b < batch; b++) {
      let total = 0;
      for (let i = 0; i < seq; i++) total += mask[b * seq + i];
      for (let c = 0; c < width; c++) {
        let acc = 0;
        for (let i = 0; i < seq; i++) acc += mask[b * seq + i] * x[(b * seq + i) * width + c];
        want[b * width + c] = total > 0 ? acc / total : 0;
      }
    }
    // seq f32 additions of |x| ~ 1 values, then one division: seq·ε relative to the sum of magnitudes.
    assertClose(out, want, { atol: seq * 1.2e-7 * 4, rtol: 1e-6 }, "masked mean");
  });
}

Deno.test("rows: bad arguments name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const x = gpu.zeros([4, 3]);
  await assertThrowsWith(() => gatherRows(gpu, x, gpu.zeros([2])), "gatherRows", `"index"`, "i32");
  await assertThrowsWith(() => maskedMeanRows(gpu, x, gpu.zeros([4]), 3), "maskedMeanRows", "3 sequences");
  await assertThrowsWith(() => maskedMeanRows(gpu, x, gpu.zeros([5]), 2), "maskedMeanRows", `"mask"`, "[4]");
});

Deno.test("rows: copyColumns moves a block of columns between matrices of different widths", async () => {
  const gpu = await getDevice();
  const [rows, srcW, dstW, width] = [7, 33, 130, 29];
  const src = Array.from({ length: rows * srcW }, (_, i) => i + 0.5);
  const dst = gpu.fromArray(new Float32Array(rows * dstW).fill(-1), [rows, dstW]);
  copyColumns(gpu, gpu.fromArray(src, [rows, srcW]), 3, dst, 100, width);
  const got = await dst.read();
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dstW; c++) {
      const want = c >= 100 && c < 100 + width ? src[r * srcW + 3 + (c - 100)] : -1;
      if (got[r * dstW + c] !== want) throw new Error(`[${r}, ${c}]: ${got[r * dstW + c]} != ${want}`);
    }
  }
  await assertThrowsWith(
    () => copyColumns(gpu, gpu.zeros([rows, srcW]), 5, dst, 0, 29),
    "copyColumns",
    `"srcOffset"`,
  );
});

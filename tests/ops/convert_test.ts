import { getDevice, type Gpu } from "../../lib/gpu/device.ts";
import { f32ToBf16Bits } from "../../lib/gpu/dtype.ts";
import { Tensor } from "../../lib/gpu/tensor.ts";
import { convertToHalf } from "../../lib/ops/convert.ts";
import { assertThrowsWith, randn, rng } from "../support/numeric.ts";

/** f32 bit patterns that exercise every rounding branch of both narrowings, then random values of every scale. */
function testBits(n: number, seed: number): Uint32Array<ArrayBuffer> {
  const special = [
    0x00000000,
    0x80000000, // ±0
    0x00000001,
    0x00400000,
    0x007fffff,
    0x80000001, // f32 subnormals
    0x7f800000,
    0xff800000, // ±Inf
    0x7f800001,
    0x7fc00000,
    0xffc00000,
    0x7fffffff,
    0xff800001, // NaNs, signalling and quiet, both signs
    0x7f7fffff,
    0xff7fffff, // largest finite: bf16 rounds it to ±Inf
    0x3f808000,
    0x3f818000,
    0x3f807fff,
    0x3f808001, // bf16 ties to even (down, up), just below / above
    0x477fe000,
    0x477fefff,
    0x477ff000,
    0x477fffff,
    0x47800000, // around binary16's largest finite 65504
    0x38800000,
    0x387fffff,
    0x38000000, // binary16 smallest normal 2^-14, just below, 2^-15
    0x33800000,
    0x33000000,
    0x33000001,
    0x32ffffff,
    0x33c00000,
    0x34200000, // 2^-24, 2^-25 ties, 1.5·2^-24…
    0x3f801000,
    0x3f803000,
    0x3f800fff, // binary16 ties to even in the normal range
  ];
  const out = new Uint32Array(n);
  const r = rng(seed);
  const z = randn(r, n);
  const f = new Float32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    if (i < special.length) out[i] = special[i];
    else if (i % 5 === 0) out[i] = ((r() * 0x10000) << 16 | (i % 3 === 0 ? 0x8000 : 0x7fff)) >>> 0;
    else f[i] = z[i] * 10 ** Math.floor(r() * 12 - 9);
  }
  return out;
}

/** The u32 words of a half-width tensor: two elements each, the first in the low half. */
async function words(gpu: Gpu, t: Tensor): Promise<Uint32Array> {
  const view = new Tensor(gpu, t.buffer, [t.bindingSize / 4], "u32", t.byteOffset, false);
  return (await view.read()) as Uint32Array;
}

function packed(halves: Uint16Array): Uint32Array {
  const out = new Uint32Array(Math.ceil(halves.length / 2));
  for (let i = 0; i < halves.length; i++) out[i >> 1] |= halves[i] << (16 * (i & 1));
  return out;
}

function expectWords(got: Uint32Array, want: Uint32Array, what: string): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} words, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      throw new Error(
        `${what}: word ${i} (elements ${2 * i}, ${2 * i + 1}) is 0x${got[i].toString(16)}, expected ` +
          `0x${want[i].toString(16)}`,
      );
    }
  }
}

for (const n of [1, 2, 7, 62, 1001, 70_001]) {
  Deno.test(`convert: f32 -> bf16 and f16 on the GPU are bit-identical to the host encoders (${n} elements)`, async () => {
    const gpu = await getDevice();
    const bits = testBits(n, n);
    const values = new Float32Array(bits.buffer);
    const src = gpu.emptyExact([n], "f32", "src");
    gpu.writeBytes(src, new Uint8Array(bits.buffer));
    const bf = convertToHalf(gpu, src, "bf16");
    expectWords(await words(gpu, bf), packed(f32ToBf16Bits(values)), "bf16");
    const half = Float16Array.from(values);
    const hf = convertToHalf(gpu, src, gpu.empty([n], "f16"));
    expectWords(await words(gpu, hf), packed(new Uint16Array(half.buffer)), "f16");
    for (const t of [src, bf, hf]) t.release();
  });
}

Deno.test("convert: a 2-D source keeps its shape; wrong dtypes or shapes are refused by name", async () => {
  const gpu = await getDevice();
  const src = gpu.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
  const out = convertToHalf(gpu, src, "bf16");
  if (out.shape.join() !== "2,3" || out.dtype !== "bf16") throw new Error(`got ${out.dtype}[${out.shape}]`);
  if ((await out.read()).join() !== "1,2,3,4,5,6") throw new Error("values changed");
  await assertThrowsWith(() => convertToHalf(gpu, out, "f16"), "convertToHalf", "src", "must be f32");
  await assertThrowsWith(
    () => convertToHalf(gpu, src, gpu.empty([3, 2], "bf16")),
    "convertToHalf",
    "dst",
    "shape [2, 3]",
  );
  await assertThrowsWith(() => convertToHalf(gpu, src, gpu.empty([2, 3], "f32")), "dst", "bf16 or f16");
  for (const t of [src, out]) t.release();
});

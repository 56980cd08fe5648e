import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileAtomic } from "../../lib/log/atomic.ts";
import {
  bf16BitsToFloat32,
  float32ToBf16Bits,
  float32ToF16Bits,
  MAX_HEADER_BYTES,
  openCheckpoint,
  readCheckpoint,
  readSafetensors,
  readSafetensorsHeader,
  SafetensorsError,
  SafetensorsFile,
  type TensorToWrite,
  writeSafetensors,
} from "../../lib/model/safetensors.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rlif-st-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function f32FromBits(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits);
  return view.getFloat32(0);
}

/** A file made by hand: 8-byte length (or `declaredLength`), header text, data bytes. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: bigint): Uint8Array {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const headerBytes = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

async function expectError(
  dir: string,
  bytes: Uint8Array,
  fragments: string[],
  tensor?: string,
): Promise<void> {
  const path = join(dir, "bad.safetensors");
  await Deno.writeFile(path, bytes);
  await assert.rejects(readSafetensors(path), (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${e}`);
    assert.equal(e.file, path);
    assert.ok(e.message.startsWith(path), e.message);
    assert.equal(e.tensor, tensor);
    if (tensor) assert.ok(e.message.includes(`"${tensor}"`), e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

Deno.test("F32 round trip is exact and keeps shapes, metadata and order", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.safetensors");
    const a = new Float32Array([1, -2.5, 3.25e-20, Infinity, -0, 7]);
    const b = new Float32Array([Math.PI]);
    await writeSafetensors(path, { "w.a": { shape: [2, 3], data: a }, "w.b": { shape: [], data: b } }, {
      metadata: { format: "pt", note: "x" },
    });
    const got = await readSafetensors(path);
    assert.deepEqual([...got.keys()], ["w.a", "w.b"]);
    assert.deepEqual(got.get("w.a")!.shape, [2, 3]);
    assert.deepEqual(got.get("w.a")!.data, a);
    assert.equal(got.get("w.a")!.dtype, "F32");
    assert.equal(got.get("w.a")!.file, path);
    assert.deepEqual(got.get("w.b")!.shape, []);
    assert.deepEqual(got.get("w.b")!.data, b);
    assert.deepEqual((await readSafetensorsHeader(path)).metadata, { format: "pt", note: "x" });
    assert.ok(Object.is(got.get("w.a")!.data[4], -0));
  });
});

Deno.test("layout follows the reference writer: 8-byte aligned header padded with spaces", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.safetensors");
    const tensors: Record<string, TensorToWrite> = {
      z_half: { shape: [3], data: new Float32Array([1, 2, 3]), dtype: "BF16" },
      a_half: { shape: [1], data: new Float32Array([1]), dtype: "F16" },
      m_full: { shape: [1], data: new Float32Array([1]) },
    };
    await writeSafetensors(path, tensors);
    const bytes = await Deno.readFile(path);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.ok(header.startsWith("{"));
    assert.match(header, /} *$/);
    assert.equal(header.length - header.trimEnd().length, (8 - (header.trimEnd().length % 8)) % 8);
    const parsed = JSON.parse(header);
    // Larger elements first, then by name: every tensor lands on a multiple of its element size.
    assert.deepEqual(parsed.m_full.data_offsets, [0, 4]);
    assert.deepEqual(parsed.a_half.data_offsets, [4, 6]);
    assert.deepEqual(parsed.z_half.data_offsets, [6, 12]);
    assert.equal(bytes.length, 8 + n + 12);
    assert.equal(parsed.__metadata__, undefined);
  });
});

Deno.test("BF16 rounding matches hand-computed bits (round to nearest, ties to even)", () => {
  const cases: [number, number][] = [
    [0x3f800000, 0x3f80], // 1.0
    [0x3f808000, 0x3f80], // halfway, low bit even: stays
    [0x3f818000, 0x3f82], // halfway, low bit odd: rounds up to even
    [0x3f808001, 0x3f81], // just above halfway
    [0x3f807fff, 0x3f80], // just below halfway
    [0xc0200000, 0xc020], // -2.5
    [0x80000000, 0x8000], // -0
    [0x7f800000, 0x7f80], // +Inf
    [0xff800000, 0xff80], // -Inf
    [0x7f7fffff, 0x7f80], // FLT_MAX rounds up to Inf
    [0x00000001, 0x0000], // smallest subnormal flushes to +0
    [0x7fc00000, 0x7fc0], // NaN
    [0xffc00001, 0x7fc0], // negative NaN with payload -> canonical quiet NaN
  ];
  const input = new Float32Array(cases.map(([bits]) => f32FromBits(bits)));
  const got = [...float32ToBf16Bits(input)];
  assert.deepEqual(got.map((b) => b.toString(16)), cases.map(([, want]) => want.toString(16)));
  const widened = bf16BitsToFloat32(new Uint16Array([0x3f80, 0xc020, 0x3f81, 0x0001]));
  assert.deepEqual([...widened], [1, -2.5, f32FromBits(0x3f810000), f32FromBits(0x00010000)]);
});

Deno.test("F16 rounding matches hand-computed bits", () => {
  const values = [1, 1 / 3, 65504, 65520, 2 ** -24, 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -2];
  const want = [0x3c00, 0x3555, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x3c00, 0x3c02, 0xc000];
  assert.deepEqual([...float32ToF16Bits(new Float32Array(values))], want);
});

Deno.test("BF16 and F16 files store rounded values and load them widened", async () => {
  await withTempDir(async (dir) => {
    const data = new Float32Array([1, f32FromBits(0x3f818000), 1 / 3, -1e-3, 70000]);
    for (const dtype of ["BF16", "F16"] as const) {
      const path = join(dir, `${dtype}.safetensors`);
      await writeSafetensors(path, new Map([["t", { shape: [5], data }]]), { dtype });
      const bytes = await Deno.readFile(path);
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const stored = new Uint16Array(bytes.slice(8 + n).buffer);
      const expectedBits = dtype === "BF16" ? float32ToBf16Bits(data) : float32ToF16Bits(data);
      assert.deepEqual(stored, expectedBits);
      const loaded = (await readSafetensors(path)).get("t")!;
      assert.equal(loaded.dtype, dtype);
      const expected = dtype === "BF16"
        ? bf16BitsToFloat32(expectedBits)
        : Float32Array.from(new Float16Array(expectedBits.buffer));
      assert.deepEqual(loaded.data, expected);
    }
    const bf = (await readSafetensors(join(dir, "BF16.safetensors"))).get("t")!.data;
    assert.equal(bf[1], f32FromBits(0x3f820000));
    const half = (await readSafetensors(join(dir, "F16.safetensors"))).get("t")!.data;
    assert.equal(half[4], Infinity);
  });
});

Deno.test("SafetensorsFile reads single tensors on demand; raw bytes of any dtype", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.safetensors");
    const header = {
      ids: { dtype: "I64", shape: [2], data_offsets: [0, 16] },
      w: { dtype: "F32", shape: [2], data_offsets: [16, 24] },
    };
    const data = new Uint8Array(24);
    new BigInt64Array(data.buffer, 0, 2).set([5n, -1n]);
    new Float32Array(data.buffer, 16, 2).set([0.5, 2]);
    await Deno.writeFile(path, rawFile(header, data));
    using file = await SafetensorsFile.open(path);
    assert.deepEqual(file.names, ["ids", "w"]);
    assert.deepEqual([...(await file.read("w"))], [0.5, 2]);
    assert.deepEqual(new BigInt64Array((await file.readBytes("ids")).buffer), new BigInt64Array([5n, -1n]));
    await assert.rejects(
      file.read("ids"),
      /tensor "ids": dtype I64 cannot be loaded as floats; rlif loads F32/,
    );
    assert.throws(() => file.info("nope"), /tensor "nope": no such tensor/);
  });
});

Deno.test("rejects truncated files and lying header lengths", async () => {
  await withTempDir(async (dir) => {
    await expectError(dir, new Uint8Array(5), ["5 bytes", "fewer than the 8-byte"]);
    await expectError(dir, rawFile("{}", new Uint8Array(0), 100n), ["says 100 bytes", "only 2 bytes follow"]);
    await expectError(dir, rawFile("{}", new Uint8Array(0), BigInt(MAX_HEADER_BYTES) + 1n), ["limit"]);
    await expectError(dir, rawFile("{}", new Uint8Array(0), 0xffffffffffffffffn), ["limit"]);
    // The header is intact but the data region is cut short.
    const header = { w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } };
    await expectError(dir, rawFile(header, new Uint8Array(12)), ["reach outside", "holds 12 bytes"], "w");
  });
});

Deno.test("rejects headers that are not UTF-8 JSON objects", async () => {
  await withTempDir(async (dir) => {
    await expectError(dir, rawFile(`{"w": {"dtype": "F32",`), ["not valid JSON"]);
    await expectError(dir, rawFile(`[1, 2]`), ["must be a JSON object"]);
    const bad = rawFile("{} ");
    bad[10] = 0xff;
    await expectError(dir, bad, ["UTF-8"]);
    await expectError(dir, rawFile({ __metadata__: { step: 3 } }), [`"__metadata__" value for "step"`]);
    await expectError(dir, rawFile({ w: [1, 2] }), ["{dtype, shape, data_offsets}"], "w");
  });
});

Deno.test("rejects bad dtype, shape, and offsets, naming the tensor", async () => {
  await withTempDir(async (dir) => {
    const f32 = (shape: number[], offsets: number[]) => ({ dtype: "F32", shape, data_offsets: offsets });
    await expectError(
      dir,
      rawFile({ w: { dtype: "F17", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
      [`unknown dtype "F17"`, "BF16"],
      "w",
    );
    await expectError(dir, rawFile({ w: f32([-1], [0, 4]) }, new Uint8Array(4)), ["shape must be"], "w");
    await expectError(dir, rawFile({ w: f32([1], [0]) }, new Uint8Array(4)), ["data_offsets must be"], "w");
    await expectError(
      dir,
      rawFile({ w: f32([1], [4, 0]) }, new Uint8Array(4)),
      ["end before they begin"],
      "w",
    );
    await expectError(
      dir,
      rawFile({ w: f32([2], [0, 12]) }, new Uint8Array(12)),
      ["shape [2] of F32 needs 8 bytes but data_offsets [0, 12] span 12"],
      "w",
    );
    await expectError(
      dir,
      rawFile({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, new Uint8Array(12)),
      [`overlap tensor "a"`, "ends at byte 8"],
      "b",
    );
    await expectError(
      dir,
      rawFile({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, new Uint8Array(12)),
      ["bytes [4, 8)", "unused"],
      "b",
    );
    await expectError(dir, rawFile({ a: f32([1], [0, 4]) }, new Uint8Array(8)), ["4 trailing bytes"]);
    await expectError(dir, rawFile({ a: f32([1], [0, 4]) }, new Uint8Array(2)), ["reach outside"], "a");
    await expectError(
      dir,
      rawFile({ a: { dtype: "F4", shape: [3], data_offsets: [0, 2] } }, new Uint8Array(2)),
      ["not a whole number of bytes"],
      "a",
    );
  });
});

Deno.test("accepts what the reference accepts: any key order, empty tensors, empty file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "ok.safetensors");
    const header = {
      b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      empty: { dtype: "BF16", shape: [0, 3], data_offsets: [4, 4] },
      a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
    };
    const data = new Uint8Array(new Float32Array([1, 2]).buffer);
    await Deno.writeFile(path, rawFile(header, data));
    const got = await readSafetensors(path);
    assert.deepEqual([...got.keys()], ["a", "empty", "b"]);
    assert.equal(got.get("empty")!.data.length, 0);
    assert.equal(got.get("b")!.data[0], 2);
    await Deno.writeFile(path, rawFile({}));
    assert.equal((await readSafetensors(path)).size, 0);
  });
});

Deno.test("writer refuses inconsistent input and leaves no file behind", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "w.safetensors");
    await assert.rejects(
      writeSafetensors(path, { w: { shape: [2, 2], data: new Float32Array(3) } }),
      /tensor "w": shape \[2, 2\] has 4 elements but data has 3/,
    );
    await assert.rejects(
      writeSafetensors(path, { w: { shape: [1], data: new Float32Array(1), dtype: "I8" as "F32" } }),
      /cannot write dtype "I8"/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("atomic write: a failing write keeps the old file and removes the temp file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "m.safetensors");
    await writeSafetensors(path, { w: { shape: [1], data: new Float32Array([1]) } });
    const before = await Deno.readFile(path);
    await assert.rejects(
      writeFileAtomic(path, async (f) => {
        await f.write(new Uint8Array([1, 2, 3]));
        throw new Error("disk full");
      }),
      /disk full/,
    );
    assert.deepEqual(await Deno.readFile(path), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["m.safetensors"]);
  });
});

async function writeSharded(dir: string, weightMap: Record<string, string>): Promise<void> {
  await writeSafetensors(join(dir, "model-00001-of-00002.safetensors"), {
    a: { shape: [2], data: new Float32Array([1, 2]) },
    b: { shape: [1], data: new Float32Array([3]) },
  }, { dtype: "BF16" });
  await writeSafetensors(join(dir, "model-00002-of-00002.safetensors"), {
    c: { shape: [1, 1], data: new Float32Array([4]) },
  });
  await Deno.writeTextFile(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ metadata: { total_size: 10 }, weight_map: weightMap }),
  );
}

const GOOD_MAP = {
  a: "model-00001-of-00002.safetensors",
  b: "model-00001-of-00002.safetensors",
  c: "model-00002-of-00002.safetensors",
};

Deno.test("sharded checkpoints load through the index", async () => {
  await withTempDir(async (dir) => {
    await writeSharded(dir, GOOD_MAP);
    const all = await readCheckpoint(dir);
    assert.deepEqual([...all.keys()].sort(), ["a", "b", "c"]);
    assert.deepEqual([...all.get("a")!.data], [1, 2]);
    assert.equal(all.get("a")!.dtype, "BF16");
    assert.deepEqual(all.get("c")!.shape, [1, 1]);
    assert.equal(all.get("c")!.file, join(dir, "model-00002-of-00002.safetensors"));
    using ckpt = await openCheckpoint(dir);
    assert.equal(ckpt.filePaths.length, 2);
    assert.equal(ckpt.info("b").file, join(dir, "model-00001-of-00002.safetensors"));
    assert.deepEqual([...(await ckpt.read("c"))], [4]);
    assert.throws(() => ckpt.info("d"), /tensor "d": no such tensor in this checkpoint/);
  });
});

Deno.test("single-file checkpoints load; a directory without weights says what it found", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      readCheckpoint(dir),
      /no model\.safetensors or model\.safetensors\.index\.json; found: \(empty/,
    );
    await Deno.writeFile(join(dir, "pytorch_model.bin"), new Uint8Array(1));
    await assert.rejects(
      readCheckpoint(dir),
      /PyTorch pickles \(pytorch_model\.bin\).*convert them to safetensors/,
    );
    await writeSafetensors(join(dir, "model.safetensors"), {
      w: { shape: [1], data: new Float32Array([9]) },
    });
    assert.equal((await readCheckpoint(dir)).get("w")!.data[0], 9);
  });
  await assert.rejects(readCheckpoint("/nonexistent/rlif-model"), /checkpoint directory does not exist/);
});

Deno.test("sharded checkpoints: missing shard, missing or unlisted tensor, path escape", async () => {
  await withTempDir(async (dir) => {
    await writeSharded(dir, { ...GOOD_MAP, d: "model-00003-of-00003.safetensors" });
    await assert.rejects(readCheckpoint(dir), (e: unknown) => {
      assert.ok(e instanceof SafetensorsError);
      assert.match(
        e.message,
        /model\.safetensors\.index\.json: shard "model-00003-of-00003\.safetensors" is missing/,
      );
      assert.match(e.message, /1 tensors there \(e\.g\. "d"\)/);
      return true;
    });
  });
  await withTempDir(async (dir) => {
    await writeSharded(dir, { ...GOOD_MAP, d: "model-00002-of-00002.safetensors" });
    await assert.rejects(
      readCheckpoint(dir),
      /model-00002-of-00002\.safetensors: tensor "d": the index model\.safetensors\.index\.json places this tensor/,
    );
  });
  await withTempDir(async (dir) => {
    await writeSharded(dir, { ...GOOD_MAP, c: "model-00001-of-00002.safetensors" });
    await assert.rejects(readCheckpoint(dir), /tensor "c": the index .* places this tensor in model-00001/);
  });
  await withTempDir(async (dir) => {
    await writeSharded(dir, { ...GOOD_MAP, c: "../model-00002-of-00002.safetensors" });
    await assert.rejects(
      readCheckpoint(dir),
      /tensor "c": weight_map entry must be a shard file name inside/,
    );
  });
  await withTempDir(async (dir) => {
    await writeSharded(dir, GOOD_MAP);
    await Deno.writeTextFile(join(dir, "model.safetensors.index.json"), `{"weight_map": []}`);
    await assert.rejects(readCheckpoint(dir), /must contain "weight_map"/);
  });
});

Deno.test("a tensor a shard holds but the index does not list is refused", async () => {
  await withTempDir(async (dir) => {
    const { b: _, ...withoutB } = GOOD_MAP;
    await writeSharded(dir, withoutB);
    await assert.rejects(
      readCheckpoint(dir),
      /model-00001-of-00002\.safetensors: tensor "b": the shard contains this tensor but model\.safetensors\.index\.json does not list it/,
    );
  });
});

Deno.test("BF16 bytes decode identically in PyTorch (skipped without python3-torch)", async () => {
  const python = await findPython("torch");
  if (python === null) {
    skipNote("BF16 bytes vs PyTorch", "torch");
    return;
  }
  await withTempDir(async (dir) => {
    const path = join(dir, "x.safetensors");
    const data = new Float32Array([1, -2.5, 1 / 3, 3.0e38, 1e-40, f32FromBits(0x3f818000), 65504.5]);
    await writeSafetensors(path, { x: { shape: [data.length], data } }, { dtype: "BF16" });
    const script = `
import json, struct, sys, torch
d = json.load(sys.stdin)
raw = open(d["path"], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
b, e = h["x"]["data_offsets"]
t = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + e]), dtype=torch.bfloat16)
src = torch.tensor(d["values"], dtype=torch.float32).to(torch.bfloat16)
print(json.dumps({"loaded": t.float().tolist(), "torch_rounded": src.float().tolist(), "dtype": h["x"]["dtype"]}))
`;
    const got = await runPythonJson(python, script, { path, values: [...data] }) as {
      loaded: number[];
      torch_rounded: number[];
      dtype: string;
    };
    const ours = [...(await readSafetensors(path)).get("x")!.data];
    assert.equal(got.dtype, "BF16");
    assert.deepEqual(got.loaded, ours);
    assert.deepEqual(got.torch_rounded, ours);
  });
});

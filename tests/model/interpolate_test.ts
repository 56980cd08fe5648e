import assert from "node:assert/strict";
import { join } from "node:path";
import { interpolateWeights, parseAlphas } from "../../lib/model/interpolate.ts";
import { writeInterpolatedCheckpoint } from "../../lib/model/interpolate_checkpoint.ts";
import { readSafetensors, writeSafetensors } from "../../lib/model/safetensors.ts";

Deno.test("interpolateWeights mixes every tensor linearly", () => {
  const base = new Map([["w", new Float32Array([0, 2, -1])], ["b", new Float32Array([1])]]);
  const tuned = new Map([["w", new Float32Array([1, 4, 1])], ["b", new Float32Array([3])]]);
  assert.deepEqual([...interpolateWeights(base, tuned, 0).get("w")!], [0, 2, -1]);
  assert.deepEqual([...interpolateWeights(base, tuned, 1).get("w")!], [1, 4, 1]);
  assert.deepEqual([...interpolateWeights(base, tuned, 0.5).get("w")!], [0.5, 3, 0]);
  assert.deepEqual([...interpolateWeights(base, tuned, 2).get("b")!], [5]);
  // The inputs are untouched.
  assert.deepEqual([...base.get("w")!], [0, 2, -1]);
});

Deno.test("interpolateWeights keeps shape objects and validates names and shapes", () => {
  const t = (shape: number[], values: number[]) => ({ shape, data: new Float32Array(values), dtype: "BF16" });
  const mixed = interpolateWeights(new Map([["w", t([2], [0, 0])]]), new Map([["w", t([2], [2, 4])]]), 0.25);
  assert.deepEqual(mixed.get("w")!.shape, [2]);
  assert.equal(mixed.get("w")!.dtype, "BF16");
  assert.deepEqual([...mixed.get("w")!.data], [0.5, 1]);
  assert.throws(
    () => interpolateWeights(new Map([["w", t([2, 1], [0, 0])]]), new Map([["w", t([1, 2], [0, 0])]]), 0.5),
    /w: base \[2, 1\] vs tuned \[1, 2\]/,
  );
  assert.throws(
    () =>
      interpolateWeights(new Map([["a", new Float32Array(1)]]), new Map([["b", new Float32Array(1)]]), 0.5),
    /a is only in the base weights; b is only in the tuned weights/,
  );
  assert.throws(() => interpolateWeights(new Map(), new Map(), NaN), /alpha is NaN/);
});

Deno.test("parseAlphas reads comma-separated coefficients", () => {
  assert.deepEqual(parseAlphas("0,0.25, 0.5,1"), [0, 0.25, 0.5, 1]);
  assert.throws(() => parseAlphas("0,x"), /"x" is not a number/);
  assert.throws(() => parseAlphas(" , "), /is empty/);
});

Deno.test("writeInterpolatedCheckpoint mixes shards and copies the other files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, scale] of [["base", 1], ["tuned", 3]] as const) {
      await Deno.mkdir(join(dir, name));
      await Deno.writeTextFile(join(dir, name, "config.json"), `{"name": "${name}"}`);
      await writeSafetensors(
        join(dir, name, "model.safetensors"),
        new Map([
          ["w", { shape: [2, 2], data: new Float32Array([1, 2, 3, 4].map((v) => v * scale)) }],
          ["h", { shape: [2], data: new Float32Array([scale, -scale]), dtype: "BF16" as const }],
        ]),
      );
    }
    await writeInterpolatedCheckpoint(join(dir, "base"), join(dir, "tuned"), 0.5, join(dir, "mid"));
    const mid = await readSafetensors(join(dir, "mid", "model.safetensors"));
    assert.deepEqual([...mid.get("w")!.data], [2, 4, 6, 8]);
    assert.deepEqual(mid.get("w")!.shape, [2, 2]);
    assert.equal(mid.get("h")!.dtype, "BF16");
    assert.deepEqual([...mid.get("h")!.data], [2, -2]);
    assert.equal(await Deno.readTextFile(join(dir, "mid", "config.json")), '{"name": "base"}');
    await Deno.remove(join(dir, "tuned", "model.safetensors"));
    await writeSafetensors(join(dir, "tuned", "model-00001-of-00001.safetensors"), new Map());
    await assert.rejects(
      () => writeInterpolatedCheckpoint(join(dir, "base"), join(dir, "tuned"), 0.5, join(dir, "bad")),
      /sharded differently \(only in base: model\.safetensors; only in tuned: model-00001-of-00001\.safetensors\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

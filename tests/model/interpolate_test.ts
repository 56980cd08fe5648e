import assert from "node:assert/strict";
import { join } from "node:path";
import { interpolateWeights, parseAlphas } from "../../lib/model/interpolate.ts";
import { writeInterpolatedCheckpoint } from "../../lib/model/interpolate_checkpoint.ts";
import { readSafetensors, writeSafetensors } from "../../lib/model/safetensors.ts";
import { loadModel } from "../../lib/model/model.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import type { RlifError } from "../../lib/errors.ts";

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

/** Writes `tensors` as safetensors files: one model.safetensors, or one shard per tensor plus an index. */
async function writeWeights(
  dir: string,
  tensors: [string, number[], number[], "F32" | "BF16"][],
  sharded = false,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const entry = ([name, shape, values, dtype]: (typeof tensors)[number]) =>
    [name, { shape, data: new Float32Array(values), dtype }] as const;
  if (!sharded) {
    await writeSafetensors(join(dir, "model.safetensors"), new Map(tensors.map(entry)));
    return;
  }
  const weightMap: Record<string, string> = {};
  for (const [k, t] of tensors.entries()) {
    const shard = `model-0000${k + 1}-of-0000${tensors.length}.safetensors`;
    await writeSafetensors(join(dir, shard), new Map([entry(t)]));
    weightMap[t[0]] = shard;
  }
  await Deno.writeTextFile(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ weight_map: weightMap }),
  );
}

Deno.test("writeInterpolatedCheckpoint blends a base model with a training checkpoint's model weights only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = join(dir, "base"), ckpt = join(dir, "run/checkpoints/step-000010"), mid = join(dir, "mid");
    await writeWeights(base, [["w", [2, 2], [1, 2, 3, 4], "F32"], ["h", [2], [1, -1], "F32"]]);
    await Deno.writeTextFile(join(base, "config.json"), '{"name": "base"}');
    await Deno.writeTextFile(join(base, "tokenizer.json"), "{}");
    // A trainer checkpoint as lib/rl/checkpoint.ts writes it: the policy, AdamW moments, trainer state.
    await writeWeights(ckpt, [["w", [2, 2], [3, 6, 9, 12], "F32"], ["h", [2], [0.5, 4], "F32"]]);
    await Deno.writeTextFile(join(ckpt, "config.json"), '{"name": "tuned"}');
    await writeSafetensors(
      join(ckpt, "optimizer.safetensors"),
      new Map([
        ["m.w", { shape: [2, 2], data: new Float32Array([100, 100, 100, 100]) }],
        ["v.w", { shape: [2, 2], data: new Float32Array([7, 7, 7, 7]) }],
        ["m.h", { shape: [2], data: new Float32Array([5, 5]) }],
        ["v.h", { shape: [2], data: new Float32Array([9, 9]) }],
      ]),
    );
    await Deno.writeTextFile(join(ckpt, "trainer_state.json"), '{"step": 10, "optimizerSteps": 10}');

    const alpha = 0.3;
    await writeInterpolatedCheckpoint(base, ckpt, alpha, mid);
    const out = await readSafetensors(join(mid, "model.safetensors"));
    assert.deepEqual([...out.keys()].sort(), ["h", "w"]);
    const expect = (a: number[], b: number[]) => a.map((x, i) => (1 - alpha) * x + alpha * b[i]);
    const close = (got: Float32Array, want: number[]) =>
      want.forEach((w, i) =>
        assert.ok(Math.abs(got[i] - w) <= 1e-6 * Math.max(1, Math.abs(w)), `${got[i]} vs ${w}`)
      );
    close(out.get("w")!.data, expect([1, 2, 3, 4], [3, 6, 9, 12]));
    close(out.get("h")!.data, expect([1, -1], [0.5, 4]));
    // Neither the optimizer moments nor the trainer state are blended or copied.
    const files = [...Deno.readDirSync(mid)].map((e) => e.name).sort();
    assert.deepEqual(files, ["config.json", "model.safetensors", "tokenizer.json"]);
    assert.equal(await Deno.readTextFile(join(mid, "config.json")), '{"name": "base"}');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeInterpolatedCheckpoint mixes differently sharded checkpoints tensor by tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeWeights(join(dir, "base"), [["w", [2, 2], [1, 2, 3, 4], "F32"], ["h", [2], [1, -1], "BF16"]]);
    await Deno.writeTextFile(join(dir, "base", "config.json"), '{"name": "base"}');
    await writeWeights(
      join(dir, "tuned"),
      [["w", [2, 2], [3, 6, 9, 12], "F32"], ["h", [2], [3, -3], "BF16"]],
      true,
    );
    await writeInterpolatedCheckpoint(join(dir, "base"), join(dir, "tuned"), 0.5, join(dir, "mid"));
    const mid = await readSafetensors(join(dir, "mid", "model.safetensors"));
    assert.deepEqual([...mid.get("w")!.data], [2, 4, 6, 8]);
    assert.deepEqual(mid.get("w")!.shape, [2, 2]);
    assert.equal(mid.get("h")!.dtype, "BF16");
    assert.deepEqual([...mid.get("h")!.data], [2, -2]);
    assert.equal(await Deno.readTextFile(join(dir, "mid", "config.json")), '{"name": "base"}');
    // The base's layout is kept: a sharded base gives shards and its index.
    await writeInterpolatedCheckpoint(join(dir, "tuned"), join(dir, "base"), 1, join(dir, "back"));
    const back = [...Deno.readDirSync(join(dir, "back"))].map((e) => e.name).sort();
    assert.deepEqual(back, [
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
      "model.safetensors.index.json",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeInterpolatedCheckpoint refuses different architectures, naming the tensors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeWeights(join(dir, "a"), [["w", [2], [1, 2], "F32"], ["x", [1], [1], "F32"]]);
    await writeWeights(join(dir, "b"), [["w", [2], [1, 2], "F32"], ["y", [1], [1], "F32"]]);
    await writeWeights(join(dir, "c"), [["w", [1, 2], [1, 2], "F32"], ["x", [1], [1], "F32"]]);
    await assert.rejects(
      () => writeInterpolatedCheckpoint(join(dir, "a"), join(dir, "b"), 0.5, join(dir, "o")),
      (e: RlifError) =>
        e.code === "checkpoint.mismatch" && /only in the base: x; only in the tuned: y/.test(e.message),
    );
    await assert.rejects(
      () => writeInterpolatedCheckpoint(join(dir, "a"), join(dir, "c"), 0.5, join(dir, "o")),
      /not the same architecture: .*w: base \[2\] vs tuned \[1, 2\]/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const family of [{ arch: "qwen3" as const, headDim: 24 }, { arch: "olmo2" as const }]) {
  Deno.test(`writeInterpolatedCheckpoint blends two ${family.arch} checkpoints into one that loads as ${family.arch}`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const [a, b, mid] = [join(dir, "a"), join(dir, "b"), join(dir, "mid")];
      const base = await writeTinyCheckpoint(a, { seed: 1, ...family });
      const tuned = await writeTinyCheckpoint(b, { seed: 2, ...family });
      await writeInterpolatedCheckpoint(a, b, 0.25, mid);
      const model = await loadModel(mid, { weights: "f32" });
      assert.equal(model.config.arch, family.arch);
      const got = await model.readWeights();
      for (
        const name of ["model.layers.1.self_attn.q_norm.weight", "model.layers.0.self_attn.k_proj.weight"]
      ) {
        const [x, y] = [base.tensors.get(name)!.data, tuned.tensors.get(name)!.data];
        const g = got.get(name)!.data;
        g.forEach((v, i) => assert.ok(Math.abs(v - (0.75 * x[i] + 0.25 * y[i])) <= 1e-6, `${name}[${i}]`));
      }
      model.release();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

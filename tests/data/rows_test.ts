import assert from "node:assert/strict";
import { join } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { parquetWriteBuffer } from "hyparquet-writer";
import {
  describeRow,
  loadRows,
  normalizeParquetValue,
  parseJsonlRows,
  parseJsonRows,
} from "../../lib/data/rows.ts";
import { assertThrowsWith } from "../support/numeric.ts";

const FIXTURES = new URL("../fixtures/data/", import.meta.url).pathname;

Deno.test("rows: JSON Lines with CRLF and a blank line keep file lines per row", async () => {
  const path = join(FIXTURES, "math500_sample.jsonl");
  const loaded = await loadRows(path);
  assert.equal(loaded.rows.length, 3);
  assert.deepEqual(loaded.lines, [1, 3, 4]);
  assert.equal(loaded.rows[1].answer, "\\frac{3}{4}");
  assert.equal(describeRow(loaded, 2), `${path} row 3 (line 4)`);
});

Deno.test("rows: JSON array and {data: [...]} documents", async () => {
  const arr = await loadRows(join(FIXTURES, "math12k_sample.json"));
  assert.deepEqual(arr.rows.map((r) => r.answer), ["12", "7"]);
  assert.equal(arr.lines, null);
  const wrapped = await loadRows(join(FIXTURES, "countdown_sample.json"));
  assert.deepEqual(wrapped.rows[1], { target: 98, nums: [44, 19, 35] });
  assert.equal(describeRow(wrapped, 0), `${join(FIXTURES, "countdown_sample.json")} row 1`);
});

Deno.test("rows: malformed input names the file and line or row", async () => {
  const path = join(FIXTURES, "malformed.jsonl");
  await assertThrowsWith(() => loadRows(path), path, "line 2", "not valid JSON");
  await assertThrowsWith(
    () => parseJsonlRows('{"a": 1}\n[1, 2]\n', "x.jsonl"),
    "x.jsonl line 2",
    "expected a JSON object",
    "array",
  );
  await assertThrowsWith(
    () => parseJsonRows('{"rows": []}', "y.json"),
    "y.json",
    '{"data": [...]}',
    "keys rows",
  );
  await assertThrowsWith(() => parseJsonRows('[{"a": 1}, 3]', "z.json"), "z.json row 2", "a number");
  await assertThrowsWith(() => loadRows(join(FIXTURES, "nope.jsonl")), "nope.jsonl", "cannot read");
  await assertThrowsWith(() => loadRows("data.csv"), "data.csv", ".jsonl, .json, .parquet");
});

Deno.test("rows: parquet with nested verl-style columns and INT64 reads back as plain values", async () => {
  const buffer = parquetWriteBuffer({
    columnData: [
      {
        name: "prompt",
        data: [[{ content: "Solve $x+1=3$.", role: "user" }], [{ content: "Find $y$.", role: "user" }]],
      },
      {
        name: "reward_model",
        data: [{ ground_truth: "2", style: "rule" }, { ground_truth: "7", style: "rule" }],
      },
      { name: "nums", data: [[1n, 2n], [3n]] },
      { name: "big", data: [2n ** 60n, 5n] },
    ],
    schema: [
      { name: "root", num_children: 4 },
      { name: "prompt", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "content", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      { name: "role", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      { name: "reward_model", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "ground_truth", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      { name: "style", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      { name: "nums", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", repetition_type: "OPTIONAL", type: "INT64" },
      { name: "big", repetition_type: "OPTIONAL", type: "INT64" },
    ],
  });
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "train.parquet");
    await Deno.writeFile(path, new Uint8Array(buffer));
    const loaded = await loadRows(path);
    assert.equal(loaded.rows.length, 2);
    assert.deepEqual(loaded.rows[0].prompt, [{ content: "Solve $x+1=3$.", role: "user" }]);
    assert.deepEqual(loaded.rows[1].reward_model, { ground_truth: "7", style: "rule" });
    assert.deepEqual(loaded.rows.map((r) => r.nums), [[1, 2], [3]]);
    // Beyond 2^53 a number would lose digits, so the BigInt stays.
    assert.deepEqual(loaded.rows.map((r) => r.big), [2n ** 60n, 5]);
    await Deno.writeTextFile(join(dir, "junk.parquet"), "not parquet at all");
    await assertThrowsWith(
      () => loadRows(join(dir, "junk.parquet")),
      "junk.parquet",
      "cannot read as Parquet",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rows: normalizeParquetValue walks lists and structs", () => {
  assert.deepEqual(normalizeParquetValue({ a: [1n, { b: 2n }], c: "x" }), { a: [1, { b: 2 }], c: "x" });
});

Deno.test("rows: gzip-compressed parquet reads; an unsupported codec names the file and the supported ones", async () => {
  const write = (codec: "GZIP" | "BROTLI") =>
    parquetWriteBuffer({
      columnData: [{ name: "problem", data: ["1+1", "2+3"], type: "STRING" }],
      codec,
      compressors: {
        GZIP: (b: Uint8Array) => new Uint8Array(gzipSync(b)),
        BROTLI: (b: Uint8Array) => new Uint8Array(brotliCompressSync(b)),
      },
    });
  const dir = await Deno.makeTempDir({ prefix: "rlif-parquet-" });
  try {
    await Deno.writeFile(join(dir, "gz.parquet"), new Uint8Array(write("GZIP")));
    assert.deepEqual((await loadRows(join(dir, "gz.parquet"))).rows, [{ problem: "1+1" }, {
      problem: "2+3",
    }]);
    await Deno.writeFile(join(dir, "br.parquet"), new Uint8Array(write("BROTLI")));
    await assertThrowsWith(() => loadRows(join(dir, "br.parquet")), "br.parquet", "snappy, gzip");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadRows: an empty file or one without rows is refused naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-rows-" });
  try {
    for (const name of ["empty.parquet", "empty.jsonl", "empty.json"]) {
      await Deno.writeFile(join(dir, name), new Uint8Array(0));
      await assertThrowsWith(() => loadRows(join(dir, name)), join(dir, name), "the file is empty");
    }
    await Deno.writeTextFile(join(dir, "blank.jsonl"), "\n\n");
    await assertThrowsWith(() => loadRows(join(dir, "blank.jsonl")), "blank.jsonl", "has no rows");
    await Deno.writeTextFile(join(dir, "none.json"), "[]");
    await assertThrowsWith(() => loadRows(join(dir, "none.json")), "none.json", "has no rows");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";
import {
  DATASET_PRESETS,
  examplesFromRows,
  gsm8kAnswer,
  loadExamples,
  mapRows,
  stripDapoInstruction,
} from "../../lib/data/fields.ts";
import { lookupPath, parseFieldPath } from "../../lib/data/field_path.ts";
import { parseJsonlRows } from "../../lib/data/rows.ts";
import { assertThrowsWith } from "../support/numeric.ts";

const FIXTURES = new URL("../fixtures/data/", import.meta.url).pathname;

Deno.test("fields: paths parse keys and indices, and lookups say where they broke", async () => {
  assert.deepEqual(parseFieldPath("prompt[0].content"), [{ key: "prompt" }, { index: 0 }, {
    key: "content",
  }]);
  assert.deepEqual(parseFieldPath("a[1][2]"), [{ key: "a" }, { index: 1 }, { index: 2 }]);
  await assertThrowsWith(() => parseFieldPath("a..b"), 'field path "a..b"', "prompt[0].content");
  await assertThrowsWith(() => parseFieldPath("a[x]"), "cannot parse");
  const row = { prompt: [{ content: "hi" }], meta: { n: 1 } };
  assert.deepEqual(lookupPath(row, parseFieldPath("prompt[0].content")), { found: true, value: "hi" });
  assert.deepEqual(lookupPath(row, parseFieldPath("prompt[2].content")), {
    found: false,
    reason: "prompt has 1 item(s), no [2]",
  });
  assert.deepEqual(lookupPath(row, parseFieldPath("meta.m")), {
    found: false,
    reason: 'meta has no "m" (it has: n)',
  });
  assert.deepEqual(lookupPath(row, parseFieldPath("meta[0]")), {
    found: false,
    reason: "meta is an object, not a list",
  });
});

Deno.test("fields: MATH-500 preset maps problem and answer, numbers become text", async () => {
  const path = join(FIXTURES, "math500_sample.jsonl");
  const examples = await loadExamples(path, { preset: "math500" });
  assert.deepEqual(examples.map((e) => e.answer), ["2", "\\frac{3}{4}", "5"]);
  assert.deepEqual(examples[0].fields, { problem: "What is $1+1$?" });
  assert.equal(examples[2].origin, `${path} row 3 (line 4)`);
  // Extra fields layer on top of a preset; limit keeps the first rows.
  const withLevel = await loadExamples(path, { preset: "math500", fields: { level: "level" }, limit: 2 });
  assert.deepEqual(withLevel.map((e) => e.fields.level), [1, 2]);
});

Deno.test("fields: math12k preset on a JSON array", async () => {
  const examples = await loadExamples(join(FIXTURES, "math12k_sample.json"), { preset: "math12k" });
  assert.deepEqual(examples.map((e) => [e.fields.problem, e.answer]), [
    ["Compute $3 \\cdot 4$.", "12"],
    ["What is $\\sqrt{49}$?", "7"],
  ]);
});

Deno.test("fields: GSM8K answers are the number after ####, without thousands separators", async () => {
  assert.equal(gsm8kAnswer("x\n#### 72"), "72");
  assert.equal(gsm8kAnswer("#### 1,234,567"), "1234567");
  assert.equal(gsm8kAnswer("#### -3.5"), "-3.5");
  assert.equal(gsm8kAnswer("a #### 1 then #### 2"), "2");
  assert.throws(() => gsm8kAnswer("no marker"), /no "#### <answer>" line/);
  const path = join(FIXTURES, "gsm8k_sample.jsonl");
  const two = await loadExamples(path, { preset: "gsm8k", limit: 2 });
  assert.deepEqual(two.map((e) => e.answer), ["72", "288000"]);
  assert.match(String(two[0].fields.problem), /^Natalia sold clips/);
  await assertThrowsWith(
    () => loadExamples(path, { preset: "gsm8k" }),
    `${path} row 3 (line 3)`,
    'field "answer"',
    "####",
  );
});

Deno.test("fields: DAPO-17k preset reads the verl layout and strips the Answer: instruction", async () => {
  const wrapped =
    "Solve the following math problem step by step. The last line of your response should be of the form " +
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\nFind the sum of $1+2$.\n\n" +
    'Remember to put your answer on its own line after "Answer:".';
  assert.equal(stripDapoInstruction(wrapped), "Find the sum of $1+2$.");
  assert.equal(stripDapoInstruction("  plain problem  "), "plain problem");
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "data_source", data: ["math_dapo", "math_dapo"] },
      { name: "prompt", data: [[{ content: wrapped, role: "user" }], []] },
      {
        name: "reward_model",
        data: [{ ground_truth: "3", style: "rule-lighteval/MATH_v2" }, { ground_truth: "4", style: "x" }],
      },
    ],
    schema: [
      { name: "root", num_children: 3 },
      { name: "data_source", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      { name: "prompt", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "content", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      { name: "role", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      { name: "reward_model", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "ground_truth", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
      { name: "style", repetition_type: "OPTIONAL", type: "BYTE_ARRAY", converted_type: "UTF8" },
    ],
  });
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "dapo-math-17k.parquet");
    await Deno.writeFile(path, new Uint8Array(buffer));
    const [first] = await loadExamples(path, { preset: "dapo17k", limit: 1 });
    assert.deepEqual(first, {
      fields: { problem: "Find the sum of $1+2$." },
      answer: "3",
      origin: `${path} row 1`,
    });
    // The second row's prompt list is empty.
    await assertThrowsWith(
      () => loadExamples(path, { preset: "dapo17k" }),
      `${path} row 2`,
      'missing field "problem"',
      "prompt[0].content",
      "no [0]",
      "data_source, prompt, reward_model",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fields: Countdown preset keeps target and nums as numbers and has no answer", async () => {
  const path = join(FIXTURES, "countdown_sample.json");
  const examples = await loadExamples(path, { preset: "countdown", limit: 2 });
  assert.deepEqual(examples[1], {
    fields: { target: 98, nums: [44, 19, 35] },
    answer: null,
    origin: `${path} row 2`,
  });
  await assertThrowsWith(
    () => loadExamples(path, { preset: "countdown" }),
    `${path} row 3`,
    'field "nums"',
    "list of non-negative integers",
  );
});

Deno.test("fields: a missing field names file, row, field and lists the row's fields", async () => {
  const loaded = parseJsonlRows(
    '{"question": "q", "answer": "1"}\n{"query": "q2", "answer": "2"}\n',
    "mixed.jsonl",
  );
  await assertThrowsWith(
    () => mapRows(loaded, DATASET_PRESETS.gsm8k),
    "mixed.jsonl row 1 (line 1)",
    'field "answer"',
  );
  await assertThrowsWith(
    () => mapRows(loaded, { problem: "question", answer: "answer" }),
    "mixed.jsonl row 2 (line 2)",
    'missing field "problem"',
    'no "question"',
    "the row's fields are: query, answer",
  );
  const opt = mapRows(loaded, { problem: { path: "question", optional: true }, answer: "answer" });
  assert.deepEqual(opt.map((e) => e.fields), [{ problem: "q" }, {}]);
});

Deno.test("fields: bad answers, mappings and options are errors that say what would be valid", async () => {
  await assertThrowsWith(
    () => examplesFromRows([{ p: "x", a: { v: 1 } }], { problem: "p", answer: "a" }, "mem"),
    "mem row 1",
    "answer must be a string or a number",
  );
  await assertThrowsWith(() => examplesFromRows([{ p: "x" }], {}, "mem"), "mapping is empty");
  await assertThrowsWith(
    () => loadExamples(join(FIXTURES, "math12k_sample.json"), { preset: "math-500" }),
    'unknown dataset preset "math-500"',
    "math500, math12k, gsm8k, dapo17k, countdown",
  );
  await assertThrowsWith(
    () => loadExamples(join(FIXTURES, "math12k_sample.json"), {}),
    "a preset",
    "field mapping",
  );
  await assertThrowsWith(
    () => loadExamples(join(FIXTURES, "math12k_sample.json"), { preset: "math12k", limit: -1 }),
    "limit must be a non-negative integer",
  );
});

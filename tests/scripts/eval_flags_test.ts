import assert from "node:assert/strict";
import { ScriptCli } from "../../scripts/_cli.ts";
import { EVAL_FLAGS, readEvalFlags } from "../../scripts/_eval_flags.ts";

const cli = new ScriptCli({ task: "eval", summary: "", flags: EVAL_FLAGS, examples: [] });
const read = (args: string[]) => {
  cli.parse(["--data", "d.jsonl", ...args]);
  return readEvalFlags(cli);
};

Deno.test("readEvalFlags: defaults when no flag is given are greedy decoding (temperature 0, n 1, top-p 1)", () => {
  assert.deepEqual(read([]), {
    benchmark: undefined,
    n: 1,
    temperature: 0,
    topP: 1,
    maxNewTokens: 1024,
    limit: Infinity,
    seed: 0,
    batchSize: 32,
    template: undefined,
    chat: true,
    chatTemplateKwargs: undefined,
    grader: "rlif",
  });
});

Deno.test("readEvalFlags: every flag read as given", () => {
  const args = ("--benchmark gsm8k --n 32 --temperature 0.6 --top-p 0.95 --max-new-tokens 64 --limit 10 " +
    "--seed=-3 --batch-size 2 --template Q:{question} --no-chat --grader math_verify").split(" ");
  assert.deepEqual(read(args), {
    benchmark: "gsm8k",
    n: 32,
    temperature: 0.6,
    topP: 0.95,
    maxNewTokens: 64,
    limit: 10,
    seed: -3,
    batchSize: 2,
    template: "Q:{question}",
    chat: false,
    chatTemplateKwargs: undefined,
    grader: "math_verify",
  });
});

Deno.test("readEvalFlags: --chat-template-kwargs is read as a JSON object", () => {
  const flags = read(["--chat-template-kwargs", '{"enable_thinking": false, "tools": [{"name": "add"}]}']);
  assert.deepEqual(flags.chatTemplateKwargs, { enable_thinking: false, tools: [{ name: "add" }] });
  assert.equal(flags.chat, true);
});

import assert from "node:assert/strict";
import { ScriptCli } from "../../scripts/_cli.ts";
import { EVAL_FLAG_OPTIONS, readEvalFlags } from "../../scripts/_eval_flags.ts";

const cli = new ScriptCli("usage: eval");
const read = (args: string[]) => readEvalFlags(cli, cli.parse({ args, options: EVAL_FLAG_OPTIONS }).values);

Deno.test("readEvalFlags: defaults when no flag is given", () => {
  assert.deepEqual(read([]), {
    benchmark: undefined,
    n: 1,
    temperature: 0.5,
    maxNewTokens: 1024,
    limit: Infinity,
    seed: 0,
    batchSize: 32,
  });
});

Deno.test("readEvalFlags: every flag read as given", () => {
  const args = ("--data d.parquet --benchmark gsm8k --n 4 --temperature 0 --max-new-tokens 64 --limit 10 " +
    "--seed=-3 --batch-size 2 --out o").split(" ");
  assert.deepEqual(read(args), {
    benchmark: "gsm8k",
    n: 4,
    temperature: 0,
    maxNewTokens: 64,
    limit: 10,
    seed: -3,
    batchSize: 2,
  });
});

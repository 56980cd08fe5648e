/**
 * Samples completions from a model on the GPU.
 *
 *   deno task generate --model DIR --prompt TEXT [--chat] [--n N] [--temperature T] [--top-p P] [--top-k K]
 *                      [--max-new-tokens M] [--seed S] [--stop STR …] [--json]
 *
 * Prints each completion; with --json one JSON object per line with completion_ids, text, finish_reason
 * and logprobs.
 */
import { runMain, ScriptCli } from "./_cli.ts";
import { generate } from "../lib/generate/generate.ts";
import { loadModel } from "../lib/model/model.ts";

const USAGE = "usage: deno task generate --model DIR --prompt TEXT [--chat] [--n N] [--temperature T] " +
  "[--top-p P] [--top-k K] [--max-new-tokens M] [--seed S] [--stop STR]... [--json]";
// Typed explicitly so that `cli.fail` (which never returns) narrows the flags checked with it.
const cli: ScriptCli = new ScriptCli(USAGE);
const { values } = cli.parse({
  options: {
    model: { type: "string" },
    prompt: { type: "string" },
    chat: { type: "boolean", default: false },
    n: { type: "string", default: "1" },
    temperature: { type: "string", default: "1" },
    "top-p": { type: "string", default: "1" },
    "top-k": { type: "string", default: "0" },
    "max-new-tokens": { type: "string", default: "128" },
    seed: { type: "string", default: "0" },
    stop: { type: "string", multiple: true },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (!values.model || values.prompt === undefined) cli.fail("--model and --prompt are required");
const modelDir = values.model, prompt = values.prompt;
const num = (flag: string, text: string, integer: boolean) => {
  const v = Number(text);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    cli.fail(`--${flag} must be ${integer ? "an integer" : "a number"}, got ${text}`);
  }
  return v;
};
const options = {
  chat: values.chat,
  n: num("n", values.n, true),
  temperature: num("temperature", values.temperature, false),
  topP: num("top-p", values["top-p"], false),
  topK: num("top-k", values["top-k"], true),
  maxNewTokens: num("max-new-tokens", values["max-new-tokens"], true),
  seed: num("seed", values.seed, true),
  stop: values.stop,
};

await runMain(async () => {
  const model = await loadModel(modelDir);
  const started = performance.now();
  const outs = await generate(model, [prompt], options);
  const seconds = (performance.now() - started) / 1000;
  for (const o of outs) {
    if (values.json) {
      console.log(JSON.stringify({
        completion_ids: o.completionIds,
        text: o.text,
        finish_reason: o.finishReason,
        logprobs: o.logprobs,
      }));
    } else {
      console.log(
        `--- sample ${o.sampleIndex} (${o.finishReason}, ${o.completionIds.length} tokens)\n${o.text}`,
      );
    }
  }
  const tokens = outs.reduce((a, o) => a + o.completionIds.length, 0);
  console.error(`${tokens} tokens in ${seconds.toFixed(2)} s (${(tokens / seconds).toFixed(1)} tokens/s)`);
});

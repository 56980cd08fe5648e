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
import { z } from "zod";
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
const options = {
  chat: values.chat,
  n: cli.number(values.n, "n", 1, z.number().int().min(1)),
  temperature: cli.number(values.temperature, "temperature", 1, z.number().min(0)),
  topP: cli.number(values["top-p"], "top-p", 1, z.number().gt(0).max(1)),
  topK: cli.number(values["top-k"], "top-k", 0, z.number().int().min(0)),
  maxNewTokens: cli.number(values["max-new-tokens"], "max-new-tokens", 128, z.number().int().min(1)),
  seed: cli.number(values.seed, "seed", 0, z.number().int()),
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

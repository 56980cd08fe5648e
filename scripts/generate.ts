/**
 * Samples completions from a model on the GPU.
 *
 *   deno task generate --model DIR --prompt TEXT [--chat] [--n N] [--temperature T] [--top-p P] [--top-k K]
 *                      [--max-new-tokens M] [--seed S] [--stop STR …] [--json]
 *
 * Prints each completion; with --json one JSON object per line with completion_ids, text, finish_reason
 * and logprobs.
 */
import { parseArgs } from "node:util";
import { runMain } from "../lib/cli.ts";
import { generate } from "../lib/generate/generate.ts";
import { loadModel } from "../lib/model/model.ts";

const USAGE = "usage: deno task generate --model DIR --prompt TEXT [--chat] [--n N] [--temperature T] " +
  "[--top-p P] [--top-k K] [--max-new-tokens M] [--seed S] [--stop STR]... [--json]";
await runMain("generate", async () => {
  const { values } = parseArgs({
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
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (!values.model || values.prompt === undefined) {
    console.error(`generate: --model and --prompt are required\n${USAGE}`);
    Deno.exit(2);
  }
  const num = (flag: string, text: string, integer: boolean) => {
    const v = Number(text);
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) {
      console.error(`generate: --${flag} must be ${integer ? "an integer" : "a number"}, got ${text}`);
      Deno.exit(2);
    }
    return v;
  };
  const model = await loadModel(values.model);
  const started = performance.now();
  const outs = await generate(model, [values.prompt], {
    chat: values.chat,
    n: num("n", values.n, true),
    temperature: num("temperature", values.temperature, false),
    topP: num("top-p", values["top-p"], false),
    topK: num("top-k", values["top-k"], true),
    maxNewTokens: num("max-new-tokens", values["max-new-tokens"], true),
    seed: num("seed", values.seed, true),
    stop: values.stop,
  });
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

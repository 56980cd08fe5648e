/**
 * Samples completions from a model on the GPU.
 *
 *   deno task generate --model DIR --prompt TEXT [options]   (deno task generate --help lists them)
 *
 * Prints each completion; with --json one JSON object per line with completion_ids, text, finish_reason
 * and logprobs.
 *
 * @module
 */
import { ADAPTER_FLAG, runMain, ScriptCli } from "./_cli.ts";
import { z } from "zod";
import { contextMaxNewTokens, generate, promptIds } from "../lib/generate/generate.ts";
import { loadModel } from "../lib/model/model.ts";
import { CHAT_TEMPLATE_KWARGS_FLAG, readChatTemplateKwargs } from "./_eval_flags.ts";

const cli = new ScriptCli({
  task: "generate",
  summary: "Samples completions of one prompt from a model on the GPU and prints them.",
  flags: {
    model: { arg: "DIR", doc: "model directory: config.json, *.safetensors, tokenizer.json", required: true },
    adapter: { ...ADAPTER_FLAG, doc: `${ADAPTER_FLAG.doc}, merged into the weights at their width` },
    prompt: { arg: "TEXT", doc: "the prompt, used as given (see --chat)", required: true },
    chat: { doc: "wrap the prompt in the tokenizer's chat template (instruct models)" },
    "chat-template-kwargs": {
      ...CHAT_TEMPLATE_KWARGS_FLAG,
      doc: `${CHAT_TEMPLATE_KWARGS_FLAG.doc} (with --chat)`,
    },
    n: { arg: "N", doc: "completions to sample", default: "1" },
    temperature: { arg: "T", doc: "sampling temperature; 0 decodes greedily", default: "1" },
    "top-p": { arg: "P", doc: "nucleus sampling mass, in (0, 1]", default: "1", defaultNote: "off" },
    "top-k": { arg: "K", doc: "sample among the K most likely tokens", default: "0", defaultNote: "off" },
    "max-new-tokens": {
      arg: "M",
      doc: "most new tokens per completion; fewer when the model's context (max_position_embeddings) " +
        "has less room after the prompt",
      default: "128",
    },
    seed: { arg: "S", doc: "sampling seed: same seed, same completions", default: "0" },
    stop: { arg: "STR", doc: "stop a completion at this text (repeatable)", multiple: true },
    json: { doc: "print one JSON object per completion: completion_ids, text, finish_reason, logprobs" },
  },
  examples: [
    'deno task generate --model scripts/assets/arith-tiny --prompt "12+7="',
    'deno task generate --model models/Qwen2.5-0.5B-Instruct --chat --prompt "What is 2+3?" --n 4 --json',
    `deno task generate --model DIR --chat --chat-template-kwargs '{"enable_thinking": false}' ` +
    '--prompt "2+3?"',
  ],
});
const { values } = cli.parse();
const maxNewTokens = cli.number("max-new-tokens", z.number().int().min(1));
const chatTemplateKwargs = readChatTemplateKwargs(cli);
if (chatTemplateKwargs !== undefined && !values.chat) {
  cli.fail("--chat-template-kwargs only reaches the chat template; add --chat");
}
const options = {
  chat: values.chat,
  chatTemplateKwargs,
  n: cli.number("n", z.number().int().min(1)),
  temperature: cli.number("temperature", z.number().min(0)),
  topP: cli.number("top-p", z.number().gt(0).max(1)),
  topK: cli.number("top-k", z.number().int().min(0)),
  seed: cli.number("seed", z.number().int()),
  stop: values.stop.length ? values.stop : undefined,
};

await runMain(async () => {
  const model = await loadModel(values.model, { adapter: values.adapter });
  const ids = promptIds(model, [values.prompt], values.chat, chatTemplateKwargs);
  const fits = contextMaxNewTokens(model, ids, maxNewTokens);
  if (fits < maxNewTokens) {
    console.error(
      `note: --max-new-tokens ${maxNewTokens} is capped at ${fits}: the prompt's ${ids[0].length} tokens ` +
        `leave ${fits} of the model's ${model.config.maxPositionEmbeddings}-token context`,
    );
  }
  const started = performance.now();
  const outs = await generate(model, ids, { ...options, maxNewTokens: fits });
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

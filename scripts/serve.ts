/**
 * An OpenAI-compatible HTTP server over one model (see docs/scale-out.md, "Serving").
 *
 *   deno task serve --model DIR [options]   (deno task serve --help lists them)
 *
 * Endpoints: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions,
 * POST /update_weights_from_disk {"model_path": DIR}, POST /v1/load_lora_adapter {"lora_name", "lora_path"}
 * and POST /v1/unload_lora_adapter {"lora_name"}. Stops on SIGINT / SIGTERM.
 */
import { basename, resolve } from "node:path";
import { z } from "zod";
import { ADAPTER_FLAG, runMain, ScriptCli } from "./_cli.ts";
import { loadModel } from "../lib/model/model.ts";
import { createHandler } from "../lib/serve/server.ts";

const cli = new ScriptCli({
  task: "serve",
  summary: 'Serves a model over an OpenAI-compatible HTTP API (docs/scale-out.md, "Serving"): GET /health, ' +
    "GET /v1/models, POST /v1/completions, POST /v1/chat/completions, POST /update_weights_from_disk " +
    '{"model_path": DIR}, and vLLM\'s POST /v1/load_lora_adapter {"lora_name", "lora_path"} (the adapter is ' +
    'merged and served under lora_name, one at a time) and POST /v1/unload_lora_adapter {"lora_name"}. ' +
    "Stops on SIGINT / SIGTERM.",
  flags: {
    model: { arg: "DIR", doc: "model directory: config.json, *.safetensors, tokenizer.json", required: true },
    adapter: {
      ...ADAPTER_FLAG,
      doc: `${ADAPTER_FLAG.doc}, merged into the weights (POST /v1/load_lora_adapter loads one at run time)`,
    },
    port: { arg: "PORT", doc: "TCP port; 0 picks a free one", default: "8000" },
    host: {
      arg: "HOST",
      doc: "address to bind; 0.0.0.0 exposes the server beyond this machine",
      default: "127.0.0.1",
    },
    "max-rows": { arg: "R", doc: "most rows (prompt × sample) decoded at once", default: "64" },
    "max-model-len": {
      arg: "N",
      doc: "most prompt + completion tokens of a request",
      defaultText: "the model's max_position_embeddings",
    },
    "served-model-name": {
      arg: "NAME",
      doc: "the model's id in requests and /v1/models",
      defaultText: "the folder's name",
    },
    "api-key": {
      arg: "KEY",
      doc: "require `Authorization: Bearer KEY` on every request",
      defaultText: "none",
    },
  },
  examples: [
    "deno task serve --model scripts/assets/arith-tiny --port 8000",
    "deno task serve --model models/Qwen2.5-1.5B --host 0.0.0.0 --api-key secret --max-rows 128",
  ],
});
const { values } = cli.parse();
const modelDir = values.model;
const port = cli.number("port", z.number().int().min(0).max(65535));
const maxRows = cli.number("max-rows", z.number().int().min(1).max(4096));
const maxModelLen = cli.number("max-model-len", z.number().int().min(2), undefined);
if (values["api-key"] === "") cli.fail("--api-key is empty; give a key or leave the flag out");
const servedName = values["served-model-name"] ?? basename(resolve(modelDir));

await runMain(async () => {
  const model = await loadModel(modelDir, { adapter: values.adapter });
  const { handle } = createHandler(model, { servedName, maxRows, maxModelLen, apiKey: values["api-key"] });
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => stop.abort());
  const server = Deno.serve({
    hostname: values.host,
    port,
    signal: stop.signal,
    onListen: (addr) => console.log(`serving ${servedName} on http://${addr.hostname}:${addr.port}`),
  }, handle);
  await server.finished;
});

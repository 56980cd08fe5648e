/**
 * An OpenAI-compatible HTTP server over one model (see docs/scale-out.md, "Serving").
 *
 *   deno task serve --model DIR [--port 8000] [--host 127.0.0.1] [--max-rows 64] [--max-model-len N]
 *                   [--served-model-name NAME] [--api-key KEY]
 *
 * Endpoints: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions,
 * POST /update_weights_from_disk {"model_path": DIR}. Stops on SIGINT / SIGTERM.
 */
import { basename, resolve } from "node:path";
import { z } from "zod";
import { runMain, ScriptCli } from "./_cli.ts";
import { loadModel } from "../lib/model/model.ts";
import { createHandler } from "../lib/serve/server.ts";

const USAGE = "usage: deno task serve --model DIR [--port 8000] [--host 127.0.0.1] [--max-rows 64] " +
  "[--max-model-len N] [--served-model-name NAME] [--api-key KEY]";
// Typed explicitly so that `cli.fail` (which never returns) narrows the flags checked with it.
const cli: ScriptCli = new ScriptCli(USAGE);
const { values } = cli.parse({
  options: {
    model: { type: "string" },
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    "max-rows": { type: "string" },
    "max-model-len": { type: "string" },
    "served-model-name": { type: "string" },
    "api-key": { type: "string" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (!values.model) cli.fail("--model is required");
const modelDir = values.model;
const port = cli.number(values.port, "port", 8000, z.number().int().min(0).max(65535));
const maxRows = cli.number(values["max-rows"], "max-rows", 64, z.number().int().min(1).max(4096));
const maxModelLen = values["max-model-len"] === undefined
  ? undefined
  : cli.number(values["max-model-len"], "max-model-len", 0, z.number().int().min(2));
if (values["api-key"] === "") cli.fail("--api-key is empty; give a key or leave the flag out");
const servedName = values["served-model-name"] ?? basename(resolve(modelDir));

await runMain(async () => {
  const model = await loadModel(modelDir);
  const { handle } = createHandler(model, { servedName, maxRows, maxModelLen, apiKey: values["api-key"] });
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => stop.abort());
  const server = Deno.serve({
    hostname: values.host,
    port,
    signal: stop.signal,
    onListen: ({ hostname, port }) => console.log(`serving ${servedName} on http://${hostname}:${port}`),
  }, handle);
  await server.finished;
});

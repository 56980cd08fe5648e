/**
 * Throughput of the server: N concurrent completion requests against the same N sent one at a time,
 * both measured in this run over real HTTP on loopback, with the same seeds (so the same tokens).
 *
 *   deno task bench:serve [--model DIR] [--requests N] [--max-tokens M] [--max-rows R] [--rounds K]
 *
 * Prints wall time, tokens/s and requests/s of each, their ratios, and the decode batches each ran.
 */
import { z } from "zod";
import { runMain, ScriptCli } from "./_cli.ts";
import { loadModel } from "../lib/model/model.ts";
import { createHandler } from "../lib/serve/server.ts";

const USAGE =
  "usage: deno task bench:serve [--model DIR] [--requests N] [--max-tokens M] [--max-rows R] [--rounds K]";
const cli: ScriptCli = new ScriptCli(USAGE);
const { values } = cli.parse({
  options: {
    model: { type: "string", default: new URL("./assets/arith-tiny", import.meta.url).pathname },
    requests: { type: "string" },
    "max-tokens": { type: "string" },
    "max-rows": { type: "string" },
    rounds: { type: "string" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
const requests = cli.number(values.requests, "requests", 16, z.number().int().min(1).max(1024));
const maxTokens = cli.number(values["max-tokens"], "max-tokens", 24, z.number().int().min(1));
const maxRows = cli.number(values["max-rows"], "max-rows", 64, z.number().int().min(1));
const rounds = cli.number(values.rounds, "rounds", 3, z.number().int().min(1));

await runMain(async () => {
  const model = await loadModel(values.model);
  const handler = createHandler(model, { servedName: "bench", maxRows });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler.handle);
  const url = `http://127.0.0.1:${server.addr.port}/v1/completions`;
  const ask = async (i: number): Promise<number> => {
    const res = await fetch(url, {
      method: "POST",
      body: JSON.stringify({ prompt: `${i % 20}+${(7 * i) % 20}=`, max_tokens: maxTokens, seed: i }),
    });
    const json = await res.json();
    if (res.status !== 200) throw new Error(`request ${i}: ${res.status} ${JSON.stringify(json)}`);
    return json.usage.completion_tokens;
  };
  const ids = Array.from({ length: requests }, (_, i) => i);
  const measure = async (concurrent: boolean) => {
    const batches = handler.scheduler.stats.batches;
    const start = performance.now();
    let tokens = 0;
    if (concurrent) tokens = (await Promise.all(ids.map(ask))).reduce((a, b) => a + b, 0);
    else for (const i of ids) tokens += await ask(i);
    return {
      seconds: (performance.now() - start) / 1000,
      tokens,
      batches: handler.scheduler.stats.batches - batches,
    };
  };
  await measure(true); // warm-up: pipelines compiled, buffers pooled
  let one = await measure(false), all = await measure(true);
  for (let r = 1; r < rounds; r++) {
    const a = await measure(false), b = await measure(true);
    if (a.seconds < one.seconds) one = a;
    if (b.seconds < all.seconds) all = b;
  }
  const line = (name: string, m: typeof one) =>
    `${name.padEnd(14)} ${m.seconds.toFixed(3).padStart(8)} s  ${
      (m.tokens / m.seconds).toFixed(1).padStart(9)
    } tokens/s  ` +
    `${(requests / m.seconds).toFixed(2).padStart(7)} requests/s  ${String(m.batches).padStart(4)} batches`;
  console.log(
    `${requests} requests of at most ${maxTokens} tokens, best of ${rounds} rounds, max-rows ${maxRows}`,
  );
  console.log(line("one at a time", one));
  console.log(line("concurrent", all));
  console.log(`concurrent / one at a time: ${(one.seconds / all.seconds).toFixed(2)}x throughput`);
  await server.shutdown();
  handler.scheduler.model.release();
});

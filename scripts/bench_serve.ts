/**
 * Throughput of the server: N concurrent completion requests against the same N sent one at a time,
 * both measured in this run over real HTTP on loopback, with the same seeds (so the same tokens).
 *
 *   deno task bench:serve [options]   (deno task bench:serve --help lists them)
 *
 * Prints wall time, tokens/s and requests/s of each, their ratios, and the decode batches each ran —
 * concurrently both by continuous batching and by batches formed at batch boundaries.
 */
import { z } from "zod";
import { runMain, ScriptCli } from "./_cli.ts";
import { loadModel } from "../lib/model/model.ts";
import { createHandler } from "../lib/serve/server.ts";

const cli = new ScriptCli({
  task: "bench:serve",
  summary:
    "Throughput of the OpenAI-compatible server: N concurrent completion requests against the same N " +
    "sent one at a time, both measured in this run over HTTP on loopback with the same seeds.",
  flags: {
    model: { arg: "DIR", doc: "model directory", defaultText: "scripts/assets/arith-tiny" },
    requests: { arg: "N", doc: "requests per round", default: "16" },
    "max-tokens": {
      arg: "M",
      doc: "most new tokens per request (every 4th asks a quarter of it)",
      default: "24",
    },
    "max-rows": { arg: "R", doc: "the server's --max-rows", default: "64" },
    rounds: { arg: "K", doc: "rounds measured; the best of each mode is kept", default: "3" },
  },
  examples: ["deno task bench:serve", "deno task bench:serve --requests 64 --max-tokens 32 --max-rows 32"],
});
const { values } = cli.parse();
const modelDir = values.model ?? new URL("./assets/arith-tiny", import.meta.url).pathname;
const requests = cli.number("requests", z.number().int().min(1).max(1024));
const maxTokens = cli.number("max-tokens", z.number().int().min(1));
const maxRows = cli.number("max-rows", z.number().int().min(1));
const rounds = cli.number("rounds", z.number().int().min(1));

await runMain(async () => {
  const model = await loadModel(modelDir);
  // Two servers over one model: continuous batching, and batches formed at batch boundaries.
  const servers = [true, false].map((continuous) => {
    const handler = createHandler(model, { servedName: "bench", maxRows, continuous });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler.handle);
    return { handler, server, url: `http://127.0.0.1:${server.addr.port}/v1/completions` };
  });
  // Budgets differ (a quarter of the requests ask for 4× fewer tokens) so that rows finish at different
  // times, as they do in rollouts.
  const budget = (i: number) => i % 4 === 3 ? Math.max(1, Math.floor(maxTokens / 4)) : maxTokens;
  const ask = async (url: string, i: number): Promise<number> => {
    const res = await fetch(url, {
      method: "POST",
      body: JSON.stringify({ prompt: `${i % 20}+${(7 * i) % 20}=`, max_tokens: budget(i), seed: i }),
    });
    const json = await res.json();
    if (res.status !== 200) throw new Error(`request ${i}: ${res.status} ${JSON.stringify(json)}`);
    return json.usage.completion_tokens;
  };
  const ids = Array.from({ length: requests }, (_, i) => i);
  type Run = { seconds: number; tokens: number; batches: number; steps: number };
  const measure = async (s: (typeof servers)[number], concurrent: boolean): Promise<Run> => {
    const { batches, steps } = s.handler.scheduler.stats;
    const start = performance.now();
    let tokens = 0;
    if (concurrent) tokens = (await Promise.all(ids.map((i) => ask(s.url, i)))).reduce((a, b) => a + b, 0);
    else for (const i of ids) tokens += await ask(s.url, i);
    const after = s.handler.scheduler.stats;
    return {
      seconds: (performance.now() - start) / 1000,
      tokens,
      batches: after.batches - batches,
      steps: after.steps - steps,
    };
  };
  const [continuous, boundary] = servers;
  const plans: [string, (typeof servers)[number], boolean][] = [
    ["one at a time", continuous, false],
    ["concurrent, continuous batching", continuous, true],
    ["concurrent, batch boundaries", boundary, true],
  ];
  for (const [, s, c] of plans) await measure(s, c); // warm-up: pipelines compiled, buffers pooled
  const best: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [k, [, s, c]] of plans.entries()) {
      const run = await measure(s, c);
      if (!best[k] || run.seconds < best[k].seconds) best[k] = run;
    }
  }
  console.log(
    `${requests} requests of at most ${maxTokens} tokens (every 4th at most ${
      budget(3)
    }), best of ${rounds} ` +
      `rounds, max-rows ${maxRows}, on ${model.gpu.adapterInfo.description || model.gpu.adapterInfo.vendor}`,
  );
  for (const [k, [name]] of plans.entries()) {
    const m = best[k];
    console.log(
      `${name.padEnd(32)} ${m.seconds.toFixed(3).padStart(8)} s  ${
        (m.tokens / m.seconds).toFixed(1).padStart(8)
      } ` +
        `tokens/s  ${(requests / m.seconds).toFixed(2).padStart(7)} requests/s  ${m.batches} batches` +
        (m.steps > 0 ? `, ${m.steps} decode steps` : ""),
    );
  }
  const ratio = (k: number) => (best[0].seconds / best[k].seconds).toFixed(2);
  console.log(`throughput against one at a time: continuous ${ratio(1)}x, batch boundaries ${ratio(2)}x`);
  console.log(`continuous against batch boundaries: ${(best[2].seconds / best[1].seconds).toFixed(2)}x`);
  for (const s of servers) await s.server.shutdown();
  model.release();
});

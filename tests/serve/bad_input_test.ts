import { MAX_BODY_BYTES } from "../../lib/serve/server.ts";
import { withServer } from "./serve_support.ts";

function fail(message: string): never {
  throw new Error(message);
}

Deno.test("serve: malformed JSON, wrong types, huge n and max_tokens, past-context prompts get 400s naming the field", async () => {
  await withServer(async (s) => {
    const cases: [string, string, unknown, string | null][] = [
      ["malformed JSON", "/v1/completions", '{"prompt": "1+1=", ', null],
      ["a JSON array", "/v1/completions", "[1, 2]", null],
      ["no prompt", "/v1/completions", { max_tokens: 3 }, "prompt"],
      ["a number prompt", "/v1/completions", { prompt: 3 }, "prompt"],
      ["n as a string", "/v1/completions", { prompt: "1+1=", n: "2" }, "n"],
      ["temperature as a word", "/v1/completions", { prompt: "1+1=", temperature: "hot" }, "temperature"],
      ["negative temperature", "/v1/completions", { prompt: "1+1=", temperature: -1 }, "temperature"],
      ["top_p 0", "/v1/completions", { prompt: "1+1=", top_p: 0 }, "top_p"],
      ["fractional max_tokens", "/v1/completions", { prompt: "1+1=", max_tokens: 2.5 }, "max_tokens"],
      ["a negative seed", "/v1/completions", { prompt: "1+1=", seed: -3 }, "seed"],
      ["stop as a number", "/v1/completions", { prompt: "1+1=", stop: 7 }, "stop"],
      ["huge n", "/v1/completions", { prompt: "1+1=", n: 1e9 }, "n"],
      ["n past the row bound", "/v1/completions", { prompt: Array(20).fill("1+1="), n: 100 }, "n"],
      ["huge max_tokens", "/v1/completions", { prompt: "1+1=", max_tokens: 1e9 }, "max_tokens"],
      ["max_tokens past the context", "/v1/completions", { prompt: "1+1=", max_tokens: 61 }, "max_tokens"],
      ["a prompt filling the context", "/v1/completions", { prompt: Array(64).fill(5) }, "prompt"],
      ["a token id past the vocabulary", "/v1/completions", { prompt: [5, 268] }, "prompt"],
      ["a negative token id", "/v1/completions", { prompt: [5, -1] }, "prompt"],
      ["logprobs past the bound", "/v1/completions", { prompt: "1+1=", logprobs: 1000 }, "logprobs"],
      ["streaming", "/v1/completions", { prompt: "1+1=", stream: true }, "stream"],
      ["chat without messages", "/v1/chat/completions", { prompt: "1+1=" }, "messages"],
      [
        "a message without a role",
        "/v1/chat/completions",
        { messages: [{ content: "hi" }] },
        "messages",
      ],
      ["chat past the context", "/v1/chat/completions", {
        messages: [{ role: "user", content: "1+1=" }],
        max_tokens: 60,
      }, "max_tokens"],
      ["chat template kwargs as a list", "/v1/chat/completions", {
        messages: [{ role: "user", content: "1+1=" }],
        chat_template_kwargs: [1],
      }, "chat_template_kwargs"],
      ["chat template kwargs that replace the messages", "/v1/chat/completions", {
        messages: [{ role: "user", content: "1+1=" }],
        chat_template_kwargs: { messages: [] },
      }, "chat_template_kwargs"],
      ["reload without a path", "/update_weights_from_disk", { path: "x" }, "model_path"],
    ];
    for (const [what, path, body, param] of cases) {
      const { status, json } = await s.post(path, body);
      if (status !== 400) fail(`${what}: status ${status}, ${JSON.stringify(json)}`);
      const e = json.error;
      if (
        typeof e?.message !== "string" || e.type !== "invalid_request_error" || e.param !== param ||
        !("code" in e)
      ) {
        fail(`${what}: error body ${JSON.stringify(json)}, want param ${param}`);
      }
    }
    const other = await s.post("/v1/completions", { prompt: "1+1=", model: "gpt-4" });
    if (other.status !== 404 || other.json.error.param !== "model") {
      fail(`wrong model: ${JSON.stringify(other)}`);
    }
    const get = await s.get("/v1/completions");
    if (get.status !== 405) fail(`GET completions: ${get.status}`);
    // Nothing of the above reached the decode loop, and the server still answers.
    if (s.handler.scheduler.stats.requests !== 0) {
      fail(`bad requests were queued: ${JSON.stringify(s.handler.scheduler.stats)}`);
    }
    const ok = await s.post("/v1/completions", { prompt: "1+1=", max_tokens: 60, model: "arith-tiny" });
    if (ok.status !== 200 || ok.json.choices.length !== 1) fail(`after bad input: ${JSON.stringify(ok)}`);
  });
});

Deno.test("serve: the API key is required on every route but /health", async () => {
  await withServer(async (s) => {
    const body = { prompt: "1+1=", max_tokens: 2 };
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "sesame" },
      { authorization: "Bearer sesame2" },
    ];
    for (const headers of attempts) {
      const { status, json } = await s.post("/v1/completions", body, headers);
      if (status !== 401 || json.error.type !== "authentication_error") {
        fail(`${JSON.stringify(headers)}: ${status}`);
      }
    }
    if ((await s.get("/v1/models")).status !== 401) fail("models without a key");
    if ((await s.get("/health")).status !== 200) fail("health needs no key");
    const auth = { authorization: "Bearer sesame" };
    if ((await s.get("/v1/models", auth)).status !== 200) fail("models with the key");
    if ((await s.post("/v1/completions", body, auth)).status !== 200) fail("completions with the key");
  }, { apiKey: "sesame" });
});

Deno.test("serve: a client that disconnects mid-request is dropped and the server keeps serving", async () => {
  await withServer(async (s) => {
    const { port } = new URL(s.url);
    // The first request keeps the decode loop busy, so the second waits in the queue when its client leaves.
    const busy = s.post("/v1/completions", { prompt: "1+1=", n: 8, max_tokens: 59, temperature: 1, seed: 1 });
    const body = JSON.stringify({ prompt: "2+2=", max_tokens: 50, temperature: 0.5 });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
    await conn.write(new TextEncoder().encode(
      `POST /v1/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\n\r\n${body}`,
    ));
    // Closing once the request is queued: bounded wait on the scheduler's own count.
    for (let i = 0; i < 400 && s.handler.scheduler.stats.requests < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (s.handler.scheduler.stats.requests < 2) fail("the second request never reached the scheduler");
    conn.close();
    if ((await busy).status !== 200) fail("the busy request failed");
    for (let i = 0; i < 400 && s.handler.scheduler.stats.abandoned < 1; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const { stats } = s.handler.scheduler;
    if (stats.abandoned !== 1) fail(`the disconnected request was not dropped: ${JSON.stringify(stats)}`);
    // Dropped from the queue: only the busy request's 8 rows were decoded.
    if (stats.rows !== 8) fail(`the disconnected request's rows were decoded: ${JSON.stringify(stats)}`);
    const after = await s.post("/v1/completions", { prompt: "3+3=", max_tokens: 4 });
    if (after.status !== 200) fail(`after the disconnect: ${after.status}`);
  });
});

Deno.test("serve: --max-model-len bounds prompt + completion below the model's context", async () => {
  await withServer(async (s) => {
    const models = await s.get("/v1/models");
    if (models.json.data[0].max_model_len !== 32) fail(`max_model_len ${models.json.data[0].max_model_len}`);
    const past = await s.post("/v1/completions", { prompt: "1+1=", max_tokens: 29 });
    if (
      past.status !== 400 || past.json.error.param !== "max_tokens" || !past.json.error.message.includes("32")
    ) {
      fail(`past the bound: ${JSON.stringify(past)}`);
    }
    const within = await s.post("/v1/completions", { prompt: "1+1=", max_tokens: 28 });
    if (within.status !== 200) fail(`within the bound: ${JSON.stringify(within)}`);
  }, { maxModelLen: 32 });
});

Deno.test("serve: a body over the bound is refused with a 413, declared or streamed; bytes that are not UTF-8 with a 400", async () => {
  await withServer(async (s) => {
    const big = JSON.stringify({ prompt: "x".repeat(MAX_BODY_BYTES) });
    const declared = await s.post("/v1/completions", big);
    if (declared.status !== 413) fail(`declared: ${declared.status}`);
    // A chunked body without Content-Length: the server stops reading past the bound.
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ < 8) c.enqueue(chunk);
        else c.close();
      },
    });
    const res = await fetch(`${s.url}/v1/completions`, { method: "POST", body: stream });
    await res.body?.cancel();
    if (res.status !== 413) fail(`streamed: ${res.status}`);
    const bytes = await fetch(`${s.url}/v1/completions`, {
      method: "POST",
      body: new Uint8Array([0x7b, 0xff, 0x7d]),
    });
    const json = await bytes.json();
    if (bytes.status !== 400 || json.error.type !== "invalid_request_error") {
      fail(`not UTF-8: ${bytes.status}`);
    }
    if ((await s.post("/v1/completions", { prompt: "1+1=", max_tokens: 2 })).status !== 200) fail("after");
  });
});

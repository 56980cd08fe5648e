import { generate } from "../../lib/generate/generate.ts";
import { assertClose } from "../support/numeric.ts";
import { type Json, withServer } from "./serve_support.ts";

const PROMPT = "7+5=";

function fail(message: string): never {
  throw new Error(message);
}

Deno.test("serve: /health, /v1/models lists the served model, unknown routes are 404", async () => {
  await withServer(async (s) => {
    if ((await s.get("/health")).status !== 200) fail("health is not 200");
    const { status, json } = await s.get("/v1/models");
    if (status !== 200 || json.object !== "list" || json.data.length !== 1) {
      fail(`models: ${JSON.stringify(json)}`);
    }
    if (json.data[0].id !== "arith-tiny" || json.data[0].max_model_len !== 64) {
      fail(`model entry ${JSON.stringify(json.data[0])}`);
    }
    const missing = await s.get("/v1/nothing");
    if (missing.status !== 404 || missing.json.error.type !== "invalid_request_error") {
      fail(`404: ${JSON.stringify(missing)}`);
    }
  }, { servedName: "arith-tiny" });
});

Deno.test("serve: completions by text and by ids with a seed equal generate with that seed, token ids both ways", async () => {
  await withServer(async (s) => {
    const ids = s.model.tokenizer!.encode(PROMPT, { addSpecialTokens: false });
    const sampling = { temperature: 1, top_p: 0.9, top_k: 20, max_tokens: 12, seed: 4242, n: 3 };
    const want = await generate(s.model, [ids], {
      temperature: 1,
      topP: 0.9,
      topK: 20,
      maxNewTokens: 12,
      seed: 4242,
      n: 3,
    });
    // A single-prompt request is generate's seeds: [S] as well.
    const wantSeeds = await generate(s.model, [ids], {
      temperature: 1,
      topP: 0.9,
      topK: 20,
      maxNewTokens: 12,
      seeds: [4242],
      n: 3,
    });
    if (
      JSON.stringify(want.map((c) => c.completionIds)) !==
        JSON.stringify(wantSeeds.map((c) => c.completionIds))
    ) {
      fail("generate's seed S and seeds [S] differ for one prompt");
    }
    for (const prompt of [PROMPT, ids]) {
      const { status, json } = await s.post("/v1/completions", {
        prompt,
        ...sampling,
        return_token_ids: true,
      });
      if (status !== 200) fail(`status ${status}: ${JSON.stringify(json)}`);
      if (json.object !== "text_completion" || json.choices.length !== 3) fail(JSON.stringify(json));
      json.choices.forEach((c: Json, i: number) => {
        const w = want[i];
        if (c.index !== i) fail(`choice ${i} has index ${c.index}`);
        if (c.token_ids.join() !== w.completionIds.join()) {
          fail(`choice ${i}: ids ${c.token_ids}, generate ${w.completionIds}`);
        }
        if (c.prompt_token_ids.join() !== ids.join()) fail(`choice ${i}: prompt ids ${c.prompt_token_ids}`);
        if (c.text !== w.text) fail(`choice ${i}: text ${c.text}, generate ${w.text}`);
        const reason = w.finishReason === "length" ? "length" : "stop";
        if (c.finish_reason !== reason) {
          fail(`choice ${i}: finish ${c.finish_reason}, generate ${w.finishReason}`);
        }
      });
      const completion = want.reduce((a, c) => a + c.completionIds.length, 0);
      if (json.usage.prompt_tokens !== ids.length || json.usage.completion_tokens !== completion) {
        fail(`usage ${JSON.stringify(json.usage)}`);
      }
    }
    // vLLM's return_tokens_as_token_ids: logprobs tokens as "token_id:N"; raw logprobs equal the sampler's at T = 1.
    const { json } = await s.post("/v1/completions", {
      prompt: PROMPT,
      ...sampling,
      n: 1,
      logprobs: 2,
      return_tokens_as_token_ids: true,
    });
    const lp = json.choices[0].logprobs;
    if (lp.tokens.join() !== want[0].completionIds.map((t) => `token_id:${t}`).join()) {
      fail(`tokens ${lp.tokens}`);
    }
    assertClose(lp.token_logprobs, want[0].logprobs, { atol: 2e-4, rtol: 0 }, "token_logprobs");
    lp.top_logprobs.forEach((top: Record<string, number>, i: number) => {
      const entries = Object.entries(top);
      if (entries.length !== 2 || !entries.every(([k]) => k.startsWith("token_id:"))) {
        fail(`top ${i}: ${JSON.stringify(top)}`);
      }
      if (Math.max(...entries.map(([, v]) => v)) < lp.token_logprobs[i] - 1e-6) {
        fail(`top ${i} misses a likelier token`);
      }
    });
    if (lp.text_offset.length !== lp.tokens.length || lp.text_offset[0] !== 0) {
      fail(`offsets ${lp.text_offset}`);
    }
  });
});

Deno.test("serve: several prompts are prompt-major with streams p·n + j; echo and stop", async () => {
  await withServer(async (s) => {
    const tok = s.model.tokenizer!;
    const prompts = ["3+4=", "12+9="].map((p) => tok.encode(p, { addSpecialTokens: false }));
    const want = await generate(s.model, prompts, { temperature: 1, maxNewTokens: 10, seed: 77, n: 2 });
    const { json } = await s.post("/v1/completions", {
      prompt: prompts,
      n: 2,
      max_tokens: 10,
      seed: 77,
      return_token_ids: true,
    });
    json.choices.forEach((c: Json, i: number) => {
      if (c.token_ids.join() !== want[i].completionIds.join()) {
        fail(`choice ${i}: ${c.token_ids} vs ${want[i].completionIds}`);
      }
    });
    const greedy = await generate(s.model, ["3+4="], { temperature: 0, maxNewTokens: 10 });
    const echo = await s.post("/v1/completions", {
      prompt: "3+4=",
      temperature: 0,
      max_tokens: 10,
      echo: true,
      logprobs: 0,
    });
    const c = echo.json.choices[0];
    if (c.text !== "3+4=" + greedy[0].text) fail(`echo text ${c.text}`);
    if (
      c.logprobs.tokens.length !== 4 + greedy[0].completionIds.length || c.logprobs.token_logprobs[0] !== null
    ) {
      fail(`echo logprobs ${JSON.stringify(c.logprobs)}`);
    }
    // The greedy completion starts "\boxed{": stopping at "x" leaves "\bo" and says why.
    const stopped = await s.post("/v1/completions", {
      prompt: "3+4=",
      temperature: 0,
      max_tokens: 10,
      stop: ["x"],
      return_token_ids: true,
    });
    const sc = stopped.json.choices[0];
    if (!greedy[0].text.startsWith("\\box")) fail(`unexpected greedy text ${greedy[0].text}`);
    if (
      sc.text !== "\\bo" || sc.finish_reason !== "stop" || sc.stop_reason !== "x" || sc.token_ids.length !== 4
    ) {
      fail(`stop: ${JSON.stringify(sc)}`);
    }
  });
});

Deno.test("serve: chat completions go through the chat template and equal generate with chat", async () => {
  await withServer(async (s) => {
    const want = await generate(s.model, ["2+2="], {
      chat: true,
      temperature: 1,
      maxNewTokens: 8,
      seed: 5,
      n: 2,
    });
    const { status, json } = await s.post("/v1/chat/completions", {
      messages: [{ role: "user", content: "2+2=" }],
      max_tokens: 8,
      seed: 5,
      n: 2,
      logprobs: true,
      top_logprobs: 1,
      return_token_ids: true,
    });
    if (status !== 200 || json.object !== "chat.completion") fail(JSON.stringify(json));
    if (json.prompt_token_ids.join() !== want[0].promptIds.join()) {
      fail(`prompt ids ${json.prompt_token_ids}`);
    }
    json.choices.forEach((c: Json, i: number) => {
      if (c.message.role !== "assistant" || c.message.content !== want[i].text) {
        fail(`choice ${i}: ${c.message.content}`);
      }
      if (c.token_ids.join() !== want[i].completionIds.join()) fail(`choice ${i}: ids ${c.token_ids}`);
      if (
        c.logprobs.content.length !== c.token_ids.length || c.logprobs.content[0].top_logprobs.length !== 1
      ) {
        fail(`chat logprobs ${JSON.stringify(c.logprobs)}`);
      }
    });
  });
});

for (const continuous of [true, false]) {
  const mode = continuous ? "continuous batching" : "batches at batch boundaries";
  Deno.test(`serve: 8 concurrent clients of two sampling settings are all answered as alone, in fewer decode batches than requests (${mode})`, async () => {
    await withServer(async (s) => {
      const tok = s.model.tokenizer!;
      const prompts = Array.from({ length: 8 }, (_, i) => `${i}+${2 * i + 1}=`);
      // Clients 0 and 5 decode greedily: their rows cannot share a sampler dispatch with the others.
      const sampling = (i: number) => i % 5 === 0 ? { temperature: 0 } : { temperature: 0.9, top_k: 40 };
      const answers = await Promise.all(
        prompts.map((prompt, i) =>
          s.post("/v1/completions", {
            prompt,
            max_tokens: 8,
            seed: 100 + i,
            return_token_ids: true,
            ...sampling(i),
          })
        ),
      );
      for (const [i, { status, json }] of answers.entries()) {
        if (status !== 200) fail(`client ${i}: ${status} ${JSON.stringify(json)}`);
        const { temperature, top_k } = { top_k: 0, ...sampling(i) };
        const [alone] = await generate(s.model, [tok.encode(prompts[i], { addSpecialTokens: false })], {
          maxNewTokens: 8,
          seed: 100 + i,
          temperature,
          topK: top_k,
        });
        if (json.choices[0].token_ids.join() !== alone.completionIds.join()) {
          fail(`client ${i}: batched ${json.choices[0].token_ids}, alone ${alone.completionIds}`);
        }
      }
      const { stats } = s.handler.scheduler;
      if (stats.requests !== 8 || stats.rows !== 8) fail(`stats ${JSON.stringify(stats)}`);
      if (stats.batches >= 8 || stats.largestBatch < 2) {
        fail(`requests were not batched: ${JSON.stringify(stats)}`);
      }
      if (continuous !== stats.steps > 0) fail(`the ${mode} path did not run: ${JSON.stringify(stats)}`);
    }, { continuous });
  });
}

Deno.test("serve: continuous batching refills a finished row's slot; batch boundaries split by the row bound", async () => {
  for (const continuous of [true, false]) {
    await withServer(async (s) => {
      const { status, json } = await s.post("/v1/completions", {
        prompt: "1+1=",
        n: 5,
        max_tokens: 4,
        seed: 3,
        return_token_ids: true,
      });
      if (status !== 200 || json.choices.length !== 5) fail(JSON.stringify(json));
      const want = await generate(s.model, ["1+1="], { n: 5, maxNewTokens: 4, seed: 3 });
      json.choices.forEach((c: Json, i: number) => {
        if (c.token_ids.join() !== want[i].completionIds.join()) fail(`choice ${i}`);
      });
      const { stats } = s.handler.scheduler;
      // Two slots: continuously, one loop whose freed slots take rows 3, 4 and 5; else three batches.
      const ok = continuous
        ? stats.batches === 1 && stats.largestBatch === 2 && stats.refills === 3
        : stats.batches === 3 && stats.largestBatch === 2 && stats.refills === 0;
      if (!ok) fail(`continuous ${continuous}: stats ${JSON.stringify(stats)}`);
    }, { maxRows: 2, continuous });
  }
});

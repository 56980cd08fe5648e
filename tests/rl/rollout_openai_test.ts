import { RlifError } from "../../lib/errors.ts";
import { loadTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { type GroupSampling, OpenAIRolloutClient, parseChoices } from "../../lib/rl/rollout_openai.ts";

const tokenizer = await loadTokenizer("scripts/assets/arith-tiny");
const EOS = [266];
const sampling: GroupSampling = { n: 2, temperature: 1, topP: 1, topK: 0, maxNewTokens: 4, stop: [] };

/** What a fake replica does with one completion request. */
type Behaviour = (body: Record<string, unknown>) => Response | Promise<Response>;

/**
 * A completion server answering as vLLM does: sample j of a request with seed S is the ids of the text
 * `S%100` followed by digit j and EOS, so the tests can see which seed reached the server. `ids` picks the
 * field the ids come back in.
 */
function answer(ids: "token_ids" | "tokens"): Behaviour {
  return (body) => {
    const n = body.n as number, seed = body.seed as number;
    const choices = Array.from({ length: n }, (_, j) => {
      const out = [...new TextEncoder().encode(`${seed % 100}${j}`), 266];
      return {
        index: j,
        text: "ignored",
        finish_reason: "stop",
        ...(ids === "token_ids" ? { token_ids: out } : {}),
        logprobs: {
          token_logprobs: out.map((_, t) => -0.1 * (t + 1)),
          tokens: ids === "tokens" ? out.map((t) => `token_id:${t}`) : out.map(String),
        },
      };
    });
    return Response.json({ id: "cmpl-1", object: "text_completion", choices });
  };
}

/** Fake replicas on port 0, each with its own behaviour; records the request bodies each got. */
async function withReplicas(
  behaviours: Behaviour[],
  fn: (urls: string[], seen: Record<string, unknown>[][]) => Promise<void>,
): Promise<void> {
  const seen = behaviours.map(() => [] as Record<string, unknown>[]);
  const servers = behaviours.map((b, r) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
      const body = await req.json();
      seen[r].push({ path: new URL(req.url).pathname, auth: req.headers.get("authorization"), ...body });
      return b(body);
    })
  );
  try {
    await fn(servers.map((s) => `http://127.0.0.1:${s.addr.port}`), seen);
  } finally {
    await Promise.all(servers.map((s) => s.shutdown()));
  }
}

function client(urls: string[], extra: { timeoutMs?: number; retries?: number } = {}) {
  return new OpenAIRolloutClient({
    endpoints: urls,
    model: "m",
    apiKey: "k",
    timeoutMs: extra.timeoutMs ?? 10_000,
    retries: extra.retries ?? 1,
  });
}

async function rejects(p: Promise<unknown>, ...parts: string[]): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof RlifError)) throw e;
    for (const part of parts) {
      if (!e.message.includes(part)) throw new Error(`message lacks ${JSON.stringify(part)}: ${e.message}`);
    }
    return e.message;
  }
  throw new Error("expected an RlifError");
}

Deno.test("openai rollouts: one request per group, spread round-robin, completions prompt-major from token ids", async () => {
  await withReplicas([answer("token_ids"), answer("tokens")], async (urls, seen) => {
    const prompts = [[49], [50], [51], [52], [53]];
    const seeds = [1000, 1001, 1002, 1003, 1004];
    const c = client(urls);
    const out = await c.sample(prompts, seeds, sampling, tokenizer, EOS);
    // Groups 0, 2, 4 on replica 0 (ids in token_ids), 1 and 3 on replica 1 (ids as "token_id:N").
    if (seen[0].length !== 3 || seen[1].length !== 2) throw new Error(`spread ${seen.map((s) => s.length)}`);
    if (seen[0].map((b) => b.seed).join() !== "1000,1002,1004") {
      throw new Error("groups went to wrong replicas");
    }
    const body = seen[1][0];
    const want = {
      path: "/v1/completions",
      auth: "Bearer k",
      model: "m",
      prompt: [50],
      n: 2,
      max_tokens: 4,
      temperature: 1,
      top_p: 1,
      top_k: -1,
      seed: 1001,
      logprobs: 1,
      return_token_ids: true,
      return_tokens_as_token_ids: true,
    };
    for (const [k, v] of Object.entries(want)) {
      if (JSON.stringify(body[k]) !== JSON.stringify(v)) {
        throw new Error(`request ${k}: ${JSON.stringify(body[k])}`);
      }
    }
    const texts = out.map((o) => `${o.promptIndex}.${o.sampleIndex}:${o.text}:${o.finishReason}`).join(" ");
    const expected = seeds.flatMap((s, p) => [0, 1].map((j) => `${p}.${j}:${s % 100}${j}:eos`)).join(" ");
    if (texts !== expected) throw new Error(`${texts} != ${expected}`);
    if (out[3].promptIds.join() !== "50" || out[3].completionIds.join() !== "49,49,266") {
      throw new Error(`completion 3: ${JSON.stringify(out[3])}`);
    }
    if (out[3].logprobs.map((x) => x.toFixed(1)).join() !== "-0.1,-0.2,-0.3") {
      throw new Error("logprobs");
    }
  });
});

Deno.test("openai rollouts: a failing replica's groups are retried on the next one", async () => {
  const fail: Behaviour = () => new Response("engine crashed", { status: 500 });
  await withReplicas([fail, answer("token_ids")], async (urls, seen) => {
    const out = await client(urls).sample([[49], [50], [51]], [7, 8, 9], sampling, tokenizer, EOS);
    if (out.map((o) => o.text).join() !== "70,71,80,81,90,91") throw new Error(out.map((o) => o.text).join());
    // Groups 0 and 2 failed on replica 0 and were served by replica 1, with their own seeds.
    if (seen[0].length !== 2 || seen[1].map((b) => b.seed).sort().join() !== "7,8,9") {
      throw new Error(`requests: ${seen.map((s) => s.map((b) => b.seed))}`);
    }
  });
  // Without a working replica the error names every endpoint tried and the last error.
  await withReplicas([fail, fail], async (urls) => {
    await rejects(
      client(urls, { retries: 2 }).sample([[49]], [7], sampling, tokenizer, EOS),
      "prompt group 0 failed 3 time(s)",
      urls[0],
      urls[1],
      "HTTP 500: engine crashed",
    );
  });
});

Deno.test("openai rollouts: a request that outlives rollout.timeout_s is retried elsewhere", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const hang: Behaviour = async () => {
    await held;
    return new Response("late", { status: 503 });
  };
  try {
    await withReplicas([hang, answer("tokens")], async (urls, seen) => {
      const out = await client(urls, { timeoutMs: 300 }).sample([[49]], [5], sampling, tokenizer, EOS);
      if (out.map((o) => o.text).join() !== "50,51" || seen[0].length !== 1) throw new Error("not retried");
      await rejects(
        client([urls[0]], { timeoutMs: 300, retries: 0 }).sample([[49]], [5], sampling, tokenizer, EOS),
        "no answer within 0.3 s",
        urls[0],
      );
      release();
    });
  } finally {
    release();
  }
});

Deno.test("openai rollouts: malformed answers are errors that say what is missing", async () => {
  const choice = {
    index: 0,
    finish_reason: "stop",
    token_ids: [48, 266],
    logprobs: { token_logprobs: [-1, -2] },
  };
  const cases: [unknown, string][] = [
    [{}, "no choices list"],
    [{ choices: [choice] }, "1 choices; 2 were asked for"],
    [{ choices: [choice, { ...choice, index: 1, token_ids: undefined }] }, "choices[1] carries no token ids"],
    [
      {
        choices: [choice, {
          ...choice,
          index: 1,
          token_ids: undefined,
          logprobs: { token_logprobs: [-1], tokens: ["0"] },
        }],
      },
      'holds "0", not "token_id:N"',
    ],
    [
      { choices: [choice, { ...choice, index: 1, logprobs: { token_logprobs: [-1] } }] },
      "one number per generated",
    ],
    [{ choices: [choice, { ...choice, index: 1, finish_reason: "abort" }] }, 'finish_reason is "abort"'],
    [{ choices: [choice, { ...choice }] }, "not a distinct sample index"],
  ];
  for (const [body, part] of cases) {
    let message = "";
    try {
      parseChoices(body, 2);
    } catch (e) {
      message = (e as Error).message;
    }
    if (!message.includes(part)) throw new Error(`${JSON.stringify(body)}: ${JSON.stringify(message)}`);
  }
  const parsed = parseChoices({ choices: [{ ...choice, index: 1 }, choice] }, 2);
  if (parsed.length !== 2 || parsed[0].ids.join() !== "48,266") throw new Error("valid answer not read");
  // Through the client: the replica is named beside the problem.
  await withReplicas([() => Response.json({ choices: [] })], async (urls) => {
    await rejects(
      client(urls, { retries: 0 }).sample([[49]], [1], sampling, tokenizer, EOS),
      `${urls[0]}: the response has 0 choices`,
    );
  });
});

Deno.test("openai rollouts: a stop string ends the text where local generation cuts it", async () => {
  const stopAt: Behaviour = (body) =>
    Response.json({
      choices: Array.from({ length: body.n as number }, (_, j) => ({
        index: j,
        finish_reason: j === 0 ? "stop" : "length",
        token_ids: [...new TextEncoder().encode("12=3")],
        logprobs: { token_logprobs: [-1, -1, -1, -1] },
      })),
    });
  await withReplicas([stopAt], async (urls, seen) => {
    const s = { ...sampling, stop: ["="] };
    const out = await client(urls).sample([[49]], [1], s, tokenizer, EOS);
    if (JSON.stringify(seen[0][0].stop) !== '["="]') throw new Error("stop strings not sent");
    const got = out.map((o) => `${o.text}/${o.finishReason}/${o.completionIds.length}`).join(" ");
    if (got !== "12/stop/4 12=3/length/4") throw new Error(got);
  });
});

Deno.test("openai rollouts: every replica is told to reload the synced folder, and one that fails is named", async () => {
  const ok: Behaviour = () => Response.json({ success: true, message: "loaded" });
  const refuse: Behaviour = () => Response.json({ success: false, message: "shape mismatch" });
  await withReplicas([ok, ok], async (urls, seen) => {
    await client(urls).reload("/shared/sync/step-000001");
    for (const s of seen) {
      if (
        s.length !== 1 || s[0].path !== "/update_weights_from_disk" ||
        s[0].model_path !== "/shared/sync/step-000001"
      ) {
        throw new Error(JSON.stringify(s));
      }
    }
  });
  // vLLM (VLLM_SERVER_DEV_MODE=1): reload_weights through /collective_rpc, which answers with a status.
  const rpc: Behaviour = () => Response.json({ results: [null] });
  const down: Behaviour = () => new Response("Not Found", { status: 404 });
  await withReplicas([rpc, down], async (urls, seen) => {
    await rejects(client(urls).reload("/d", "collective_rpc"), "1 of 2", `${urls[1]}: HTTP 404`);
    if (seen[0][0].path !== "/collective_rpc" || seen[0][0].method !== "reload_weights") {
      throw new Error(JSON.stringify(seen[0]));
    }
  });
  await withReplicas([ok, refuse], async (urls) => {
    const message = await rejects(
      client(urls).reload("/d"),
      "1 of 2 replica(s) did not reload /d",
      urls[1],
      "shape mismatch",
    );
    if (message.includes(`${urls[0]}:`)) throw new Error(`the replica that reloaded is blamed: ${message}`);
  });
});

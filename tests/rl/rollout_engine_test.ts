import { join } from "node:path";
import { getDevice } from "../../lib/gpu/device.ts";
import { bf16BitsToF32, f32ToBf16Bits } from "../../lib/gpu/dtype.ts";
import { generate } from "../../lib/generate/generate.ts";
import { parseMetadataEntry } from "../../lib/log/metadata.ts";
import { halfWidthCopy } from "../../lib/model/half_width.ts";
import { loadModel } from "../../lib/model/model.ts";
import { ConfigError, GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import { logprobMismatch } from "../../lib/rl/rollout.ts";
import { groupSeed, rolloutEngine } from "../../lib/rl/rollout_engine.ts";
import { writeSyncFolder } from "../../lib/rl/rollout_sync.ts";
import type { CompletionStats } from "../../lib/rewards/types.ts";
import type { Completion } from "../../lib/generate/generate.ts";

const MODEL = "scripts/assets/arith-tiny";

function configIssues(rollout: string): string[] {
  try {
    resolveConfig(GRPO_CONFIG, `model: {path: m}\nrollout: ${rollout}`, "a.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => i.message);
    throw e;
  }
  return [];
}

Deno.test("rollout engine config: openai needs endpoints that are URLs; sync disk needs openai and a sync_dir", () => {
  const cases: [string, string[]][] = [
    ["{engine: openai}", ["rollout.engine openai needs rollout.endpoints"]],
    ["{engine: openai, endpoints: ['localhost:8000', 'http://a:1']}", [
      `rollout.endpoints[0]: "localhost:8000" is not an http(s) URL`,
    ]],
    ["{engine: openai, endpoints: [http://a:1], sync: disk}", ["rollout.sync disk needs rollout.sync_dir"]],
    ["{sync: disk, sync_dir: /tmp/s}", [
      "rollout.sync disk reloads external replicas; it needs rollout.engine openai",
    ]],
    ["{engine: openai, endpoints: ['http://a:1/v1', 'https://b'], sync: disk, sync_dir: /tmp/s}", []],
    ["{engine: vllm}", [`rollout.engine: "vllm" is not one of local, openai`]],
  ];
  for (const [yaml, want] of cases) {
    const got = configIssues(yaml);
    if (got.length !== want.length || !want.every((w, i) => got[i].includes(w))) {
      throw new Error(`${yaml}: ${JSON.stringify(got)}`);
    }
  }
});

Deno.test("group seeds: a function of the step seed and the prompt's position, distinct across both", () => {
  const seeds = new Set<number>();
  for (const step of [0, 1, 2 ** 32 - 1]) {
    for (let p = 0; p < 64; p++) {
      const s = groupSeed(step, p);
      if (!Number.isInteger(s) || s < 0 || s >= 2 ** 32 || s !== groupSeed(step, p)) throw new Error(`${s}`);
      seeds.add(s);
    }
  }
  if (seeds.size !== 3 * 64) throw new Error(`${3 * 64 - seeds.size} collisions`);
});

Deno.test("local engine: group p samples as that prompt alone with its seed (what a replica does with one request)", async () => {
  const gpu = await getDevice();
  const policy = await loadModel(MODEL, { gpu, weights: "f32" });
  const sampler = halfWidthCopy(policy);
  const config = resolveConfig(
    GRPO_CONFIG,
    `model: {path: ${MODEL}}\nrollout: {n: 3, max_new_tokens: 6, temperature: 3}`,
    "a.yaml",
  ).config;
  const prompts = ["3+4=", "12+9=", "0+0="].map((t) => [...new TextEncoder().encode(t)]);
  const seeds = prompts.map((_, p) => groupSeed(77, p));
  const together = await rolloutEngine(config, sampler).sample(prompts, seeds);
  const alone = [];
  for (const [p, ids] of prompts.entries()) {
    const o = { n: 3, maxNewTokens: 6, temperature: 3, seed: seeds[p] };
    alone.push(...(await generate(sampler, [ids], o)).map((c) => ({ ...c, promptIndex: p })));
  }
  const show = (cs: Completion[]) =>
    cs.map((c) => `${c.promptIndex}.${c.sampleIndex}:${c.completionIds}`).join(" ");
  if (show(together) !== show(alone)) throw new Error(`${show(together)}\n!=\n${show(alone)}`);
  if (new Set(together.map((c) => c.completionIds.join())).size < 4) {
    throw new Error(`samples too alike to tell: ${show(together)}`);
  }
  sampler.release();
  policy.release();
});

Deno.test("weight sync folder: reloads as the sampling copy bit for bit (half-width matrices, f32 vectors)", async () => {
  const gpu = await getDevice();
  const root = await Deno.makeTempDir();
  const policy = await loadModel(MODEL, { gpu, weights: "f32" });
  const sampler = halfWidthCopy(policy, "bf16");
  try {
    const first = await writeSyncFolder(sampler, join(root, "sync"), 1);
    const { dir, bytes } = await writeSyncFolder(sampler, join(root, "sync"), 2);
    const names = [];
    for await (const e of Deno.readDir(join(root, "sync"))) names.push(e.name);
    if (names.sort().join() !== "current,step-000002" || dir !== join(root, "sync", "step-000002")) {
      throw new Error(`sync dir holds ${names}; ${first.dir} should be gone and no temporary left`);
    }
    // What a replica started on <sync_dir>/current reloads from.
    if ((await Deno.readLink(join(root, "sync", "current"))) !== "step-000002") {
      throw new Error("current link");
    }
    const loaded = await loadModel(dir, { gpu });
    const [a, b] = [await sampler.readWeights(), await loaded.readWeights()];
    if (loaded.weightDType !== "bf16" || a.size !== b.size) {
      throw new Error(`${loaded.weightDType}, ${b.size}`);
    }
    for (const [name, t] of a) {
      const u = b.get(name)!;
      if (!t.data.every((x, i) => Object.is(x, u.data[i]))) {
        throw new Error(`${name} differs after the reload`);
      }
    }
    // The norms are not bf16-exact: storing them at the matrices' width would have rounded them.
    const norm = a.get("model.norm.weight")!.data;
    if (bf16BitsToF32(f32ToBf16Bits(norm)).every((x, i) => x === norm[i])) {
      throw new Error("the test model's norm is bf16-exact: the test cannot see its width");
    }
    if (!(bytes > 0) || (await loaded.tokenizer?.encode("1+2="))?.length !== 4) {
      throw new Error("tokenizer missing");
    }
    loaded.release();
  } finally {
    sampler.release();
    policy.release();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("logprob mismatch: mean |engine − learner| over every completion token", () => {
  const c = (logprobs: number[]) => ({ logprobs }) as unknown as Completion;
  const s = (tokenLogprobs: number[]) => ({ tokenLogprobs }) as unknown as CompletionStats;
  const got = logprobMismatch([c([-1, -2]), c([-0.5])], [s([-1.5, -1]), s([-0.25])]);
  if (Math.abs(got! - (0.5 + 1 + 0.25) / 3) > 1e-12) throw new Error(`${got}`);
  if (logprobMismatch([], []) !== null) throw new Error("no tokens should give null");
});

Deno.test("metadata: rollout_logprob is read back, and a malformed one is named", () => {
  const response = {
    text: "x",
    answer: null,
    correct: null,
    reward: 0,
    length: 2,
    signals: {
      selfCertainty: 0,
      meanTokenEntropy: 0,
      trajectoryLogprob: 0,
      meanLogprob: 0,
      topGap: 0,
      coe: { d1: 0, d2: 0, mag: 0, ang: 0, r: 0, c: 0 },
    },
  };
  const entry = (r: unknown) => ({ step: 1, prompt: "p", ground_truth: null, responses: [r] });
  const read = parseMetadataEntry(entry({ ...response, rollout_logprob: [-0.5, null] }), "m.jsonl:1");
  const lp = read.responses[0].rollout_logprob;
  if (lp?.length !== 2 || lp[0] !== -0.5 || !Number.isNaN(lp[1])) throw new Error(JSON.stringify(lp));
  if ("rollout_logprob" in parseMetadataEntry(entry(response)).responses[0]) {
    throw new Error("invented a field");
  }
  let message = "";
  try {
    parseMetadataEntry(entry({ ...response, rollout_logprob: [-1, "a"] }), "m.jsonl:1");
  } catch (e) {
    message = (e as Error).message;
  }
  if (!message.includes("m.jsonl:1: responses[0].rollout_logprob[1] must be a number")) {
    throw new Error(message);
  }
});

Deno.test("openai engine: the API key comes from RLIF_ROLLOUT_API_KEY when rollout.api_key is null", async () => {
  const sampler = await loadModel(MODEL, { gpu: await getDevice(), weights: "bf16" });
  const auth: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    auth.push(req.headers.get("authorization"));
    const choice = (j: number) => ({
      index: j,
      finish_reason: "length",
      token_ids: [48],
      logprobs: { token_logprobs: [-1] },
    });
    return Response.json({ choices: [choice(0), choice(1)] });
  });
  const yaml = (key: string) =>
    `model: {path: ${MODEL}}\nrollout: {n: 2, engine: openai, endpoints: [http://127.0.0.1:${server.addr.port}]${key}}`;
  try {
    Deno.env.set("RLIF_ROLLOUT_API_KEY", "from-env");
    for (const key of ["", ", api_key: from-config"]) {
      const engine = rolloutEngine(resolveConfig(GRPO_CONFIG, yaml(key), "a.yaml").config, sampler);
      const out = await engine.sample([[49]], [3]);
      if (out.map((c) => c.text).join() !== "0,0") throw new Error(JSON.stringify(out));
    }
    if (auth.join() !== "Bearer from-env,Bearer from-config") throw new Error(`sent ${auth}`);
  } finally {
    Deno.env.delete("RLIF_ROLLOUT_API_KEY");
    await server.shutdown();
    sampler.release();
  }
});

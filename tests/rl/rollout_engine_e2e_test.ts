/**
 * GRPO with `rollout.engine: openai` against a `deno task serve` replica, the weights synced through
 * disk after each update, equals the in-process run with the same seed: the same sampled tokens, rewards
 * and metrics. With `model.lora` only the adapter is synced, through `/v1/load_lora_adapter`.
 */
import { join } from "node:path";
import { type MetadataEntry, parseMetadataEntry } from "../../lib/log/metadata.ts";
import { GRPO_CONFIG, type GrpoConfig, resolveConfig } from "../../lib/rl/config.ts";
import { trainGrpo } from "../../lib/rl/trainer.ts";
import { getDevice } from "../../lib/gpu/device.ts";
import { halfWidthCopy } from "../../lib/model/half_width.ts";
import { loadModel } from "../../lib/model/model.ts";
import { OpenAIRolloutClient } from "../../lib/rl/rollout_openai.ts";
import { writeSyncFolder } from "../../lib/rl/rollout_sync.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MODEL = join(ROOT, "scripts/assets/arith-tiny");

function config(runs: string, rollout: string, model = `{path: ${MODEL}}`): GrpoConfig {
  const yaml = `
model: ${model}
data:
  template: configs/templates/problem_only.jinja
  chat_template: false
  synthetic: {format: compact, max_operand: 19, count: 40}
rollout: {n: 4, max_new_tokens: 8, temperature: 1.5, ${rollout}}
reward: {name: self_certainty}
algorithm: {kl_coef: 0}
train: {steps: 2, prompts_per_step: 3, micro_batch: 12, lr: 0.01, warmup_ratio: 0, seed: 5}
log: {dir: ${runs}, save_every: 10}
`;
  return resolveConfig(GRPO_CONFIG, yaml, "e2e.yaml").config;
}

/** A `deno task serve` process on a free port; resolves once it prints where it listens. */
async function startServe(model: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "serve", "--model", model, "--port", "0", "--served-model-name", "arith-tiny"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const stop = async () => {
    child.kill("SIGTERM");
    await lines.cancel().catch(() => {});
    await child.status;
  };
  while (true) {
    const { value, done } = await lines.read();
    if (done) {
      await stop();
      throw new Error(`deno task serve exited before listening; it printed: ${seen}`);
    }
    seen += value;
    const m = /on (http:\/\/[^\s]+)/.exec(seen);
    if (m) return { url: m[1], stop };
  }
}

async function jsonl(file: string): Promise<unknown[]> {
  return (await Deno.readTextFile(file)).trim().split("\n").map((l) => JSON.parse(l));
}

function close(a: number | null, b: number | null, tol = 1e-5): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}

/**
 * Wall-clock time, the mismatch diagnostic, which raw engine log-probabilities leave out at T ≠ 1, and the
 * trainer's GPU memory, whose sampling phase the replica runs in its own process.
 */
const NOT_COMPARED = ["step_seconds", "tokens_per_s", "rollout/logprob_abs_diff", "gpu/peak_mib"];

Deno.test({
  name: "openai engine: GRPO against a deno task serve replica with disk sync equals the in-process run",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "rlif-e2e-" });
    // The replica serves the weights the local engine samples from: the bf16 copy of the f32 policy.
    const policy = await loadModel(MODEL, { gpu: await getDevice(), weights: "f32" });
    const initial = halfWidthCopy(policy);
    const { dir } = await writeSyncFolder(initial, join(root, "initial"), 0).finally(() => {
      initial.release();
      policy.release();
    });
    const server = await startServe(dir).catch(async (e) => {
      await Deno.remove(root, { recursive: true });
      throw e;
    });
    try {
      const local = await trainGrpo(config(join(root, "local"), "engine: local"), { progress: false });
      const remote = await trainGrpo(
        config(
          join(root, "remote"),
          `engine: openai, endpoints: [${server.url}], model: arith-tiny, engine_logprobs: raw, sync: disk, sync_dir: ${
            join(root, "sync")
          }, timeout_s: 120`,
        ),
        { progress: false },
      );
      // Same sampled tokens: every response's text, length, reward and correctness, the engine's
      // log-probabilities one per token; the scoring pass's signals to float tolerance.
      const [ma, mb] = await Promise.all(
        [local, remote].map(async (r) =>
          (await jsonl(join(r.runDir, "metadata.jsonl"))).map((e) => parseMetadataEntry(e) as MetadataEntry)
        ),
      );
      if (ma.length !== 6 || mb.length !== 6) throw new Error(`${ma.length} and ${mb.length} records`);
      ma.forEach((a, i) => {
        a.responses.forEach((ra, j) => {
          const rb = mb[i].responses[j];
          const where = `step ${a.step} prompt ${a.prompt_index} response ${j}`;
          for (const k of ["text", "length", "reward", "raw_reward", "correct", "answer"] as const) {
            if (ra[k] !== rb[k]) throw new Error(`${where}: ${k} ${ra[k]} != ${rb[k]}`);
          }
          // deno task serve reports raw log-probabilities (before temperature), the local engine processed ones.
          const [la, lb] = [ra.rollout_logprob!, rb.rollout_logprob!];
          if (la.length !== ra.length || lb.length !== ra.length || !lb.every((x) => x <= 0)) {
            throw new Error(`${where}: engine logprobs ${la} / ${lb}`);
          }
          if (!close(ra.signals.selfCertainty, rb.signals.selfCertainty)) {
            throw new Error(`${where}: signals`);
          }
        });
      });
      if (new Set(ma.flatMap((e) => e.responses.map((r) => r.text))).size < 4) {
        throw new Error("the rollouts are too alike for the comparison to mean anything");
      }
      // Same metrics, but for wall-clock time and the sync's own timing.
      const [xa, xb] = await Promise.all(
        [local, remote].map((r) =>
          jsonl(join(r.runDir, "metrics.jsonl")) as Promise<Record<string, number>[]>
        ),
      );
      xb.forEach((m, i) => {
        if (!(m["rollout/sync_s"] > 0 && m["rollout/sync_write_s"] > 0 && m["rollout/sync_reload_s"] > 0)) {
          throw new Error(`step ${m.step}: no weight sync logged: ${JSON.stringify(m)}`);
        }
        const keys = Object.keys(xa[i]).filter((k) => !NOT_COMPARED.includes(k));
        if (!(xa[i]["rollout/logprob_abs_diff"] >= 0) || m["rollout/logprob_abs_diff"] !== null) {
          throw new Error(
            `step ${m.step}: mismatch ${xa[i]["rollout/logprob_abs_diff"]} / ${
              m["rollout/logprob_abs_diff"]
            }`,
          );
        }
        const extra = Object.keys(m).filter((k) => !(k in xa[i]) && !k.startsWith("rollout/sync"));
        if (extra.length) throw new Error(`remote run logs ${extra} the local one does not`);
        for (const k of keys) {
          if (!close(xa[i][k], m[k])) throw new Error(`step ${m.step}: ${k} ${xa[i][k]} != ${m[k]}`);
        }
      });
      const synced = [];
      for await (const e of Deno.readDir(join(root, "sync"))) synced.push(e.name);
      if (synced.sort().join() !== "current,step-000002") throw new Error(`sync dir holds ${synced}`);

      // Control: the replica back on the initial sampling weights and no sync samples step 1 as the local
      // run did and step 2 from stale weights, which the comparison above would have caught.
      const client = new OpenAIRolloutClient({
        endpoints: [server.url],
        model: "arith-tiny",
        timeoutMs: 60_000,
        retries: 0,
      });
      await client.reload(dir);
      const stale = await trainGrpo(
        config(
          join(root, "stale"),
          `engine: openai, endpoints: [${server.url}], model: arith-tiny, engine_logprobs: raw`,
        ),
        { progress: false },
      );
      const ms = (await jsonl(join(stale.runDir, "metadata.jsonl"))).map((e) => parseMetadataEntry(e));
      const texts = (es: MetadataEntry[], step: number) =>
        es.filter((e) => e.step === step).flatMap((e) => e.responses.map((r) => r.text)).join("|");
      if (texts(ms, 1) !== texts(ma, 1)) {
        throw new Error("step 1 from the initial weights differs from the local run");
      }
      if (texts(ms, 2) === texts(ma, 2)) {
        throw new Error("step 2 from stale weights samples as the synced run");
      }
    } finally {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "openai engine: a LoRA run syncing only its adapter through load_lora_adapter equals the in-process run",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "rlif-e2e-lora-" });
    // The base at the sampling width, so the replica's merge of the adapter gives the local sampler's bits.
    const base = join(root, "base");
    const f32 = await loadModel(MODEL, { gpu: await getDevice(), weights: "bf16" });
    await f32.save(base).finally(() => f32.release());
    const server = await startServe(base).catch(async (e) => {
      await Deno.remove(root, { recursive: true });
      throw e;
    });
    try {
      const lora = `{path: ${base}, lora: {r: 4, alpha: 16, target_modules: all-linear}}`;
      const local = await trainGrpo(config(join(root, "local"), "engine: local", lora), { progress: false });
      const remote = await trainGrpo(
        config(
          join(root, "remote"),
          `engine: openai, endpoints: [${server.url}], engine_logprobs: raw, sync: disk, reload: load_lora_adapter, sync_dir: ${
            join(root, "sync")
          }, timeout_s: 120`,
          lora,
        ),
        { progress: false },
      );
      const texts = async (dir: string) =>
        (await jsonl(join(dir, "metadata.jsonl"))).map((e) => parseMetadataEntry(e) as MetadataEntry)
          .flatMap((e) => e.responses.map((r) => `${r.text}:${r.reward}`));
      const [ta, tb] = [await texts(local.runDir), await texts(remote.runDir)];
      if (ta.length !== 24 || ta.join("|") !== tb.join("|")) {
        throw new Error(`rollouts differ:\n${ta}\n${tb}`);
      }
      const synced = [];
      for await (const e of Deno.readDir(join(root, "sync", "step-000002"))) synced.push(e.name);
      if (synced.sort().join() !== "adapter_config.json,adapter_model.safetensors") {
        throw new Error(`the sync folder holds ${synced}`);
      }
      const models = await (await fetch(`${server.url}/v1/models`)).json();
      if (models.data.map((m: { id: string }) => m.id).join() !== "arith-tiny,rlif-lora-step-000002") {
        throw new Error(`the replica serves ${JSON.stringify(models.data)}`);
      }
    } finally {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

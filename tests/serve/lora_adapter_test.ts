/**
 * `deno task serve` and LoRA: vLLM's `POST /v1/load_lora_adapter {"lora_name", "lora_path"}` merges a PEFT
 * adapter over the served base and serves it under its name (greedy tokens equal those of the base with the
 * adapter merged at load, as `--adapter` loads it), `/v1/models` lists it with its parent, a request for
 * the base's name is refused while it serves, `/v1/unload_lora_adapter` brings the base back, and a bad
 * folder is a 400 naming lora_path with the served weights unchanged.
 */
import { join } from "node:path";
import { generate } from "../../lib/generate/generate.ts";
import { loadModel } from "../../lib/model/model.ts";
import { writeRandomAdapter } from "../support/peft_folders.ts";
import { ARITH_TINY, withServer } from "./serve_support.ts";

Deno.test("serve: load_lora_adapter serves the merged adapter under its name; unload brings the base back", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-serve-lora-" });
  try {
    const adapter = join(root, "adapter");
    await writeRandomAdapter(adapter, ARITH_TINY, 3);
    const prompts = ["3+4=", "12+9="];
    const greedy = async (dir: string, options = {}) => {
      const model = await loadModel(dir, options);
      const ids = prompts.map((p) => model.tokenizer!.encode(p, { addSpecialTokens: false }));
      const outs = await generate(model, ids, { temperature: 0, maxNewTokens: 8, eosTokenIds: [] });
      model.release();
      return outs.map((o) => o.completionIds.join(" "));
    };
    const [base, tuned] = [await greedy(ARITH_TINY), await greedy(ARITH_TINY, { adapter })];
    if (base.join() === tuned.join()) {
      throw new Error("the adapter changes no greedy token; the test means nothing");
    }
    await withServer(async (s) => {
      const ask = async (model?: string) => {
        const out = [];
        for (const prompt of prompts) {
          const { status, json } = await s.post("/v1/completions", {
            ...(model ? { model } : {}),
            prompt,
            temperature: 0,
            max_tokens: 8,
            return_token_ids: true,
            ignore_eos: true,
          });
          if (status !== 200) return { status, json };
          out.push(json.choices[0].token_ids.join(" "));
        }
        return { status: 200, tokens: out };
      };
      const load = await fetch(`${s.url}/v1/load_lora_adapter`, {
        method: "POST",
        body: JSON.stringify({ lora_name: "step-1", lora_path: adapter }),
      });
      const text = await load.text();
      if (load.status !== 200 || text !== "Success: LoRA adapter 'step-1' added successfully.") {
        throw new Error(`load: ${load.status} ${text}`);
      }
      const served = await ask("step-1");
      if (served.tokens?.join() !== tuned.join()) {
        throw new Error(`served ${JSON.stringify(served)}, want ${tuned}`);
      }
      if ((await ask()).tokens?.join() !== tuned.join()) throw new Error("a request naming no model");
      const other = await ask("arith-tiny");
      if (other.status !== 404 || !JSON.stringify(other.json).includes("step-1")) {
        throw new Error(`the base's name while the adapter serves: ${JSON.stringify(other)}`);
      }
      const models = (await s.get("/v1/models")).json.data;
      if (models.length !== 2 || models[1].id !== "step-1" || models[1].parent !== "arith-tiny") {
        throw new Error(`models: ${JSON.stringify(models)}`);
      }
      const bad = await s.post("/v1/load_lora_adapter", { lora_name: "x", lora_path: join(root, "missing") });
      if (bad.status !== 400 || bad.json.error.param !== "lora_path") {
        throw new Error(`bad path: ${JSON.stringify(bad)}`);
      }
      if ((await ask("step-1")).tokens?.join() !== tuned.join()) {
        throw new Error("a failed load changed the weights");
      }
      const unknown = await s.post("/v1/unload_lora_adapter", { lora_name: "nope" });
      if (unknown.status !== 404) throw new Error(`unload of an unknown name: ${unknown.status}`);
      const unload = await fetch(`${s.url}/v1/unload_lora_adapter`, {
        method: "POST",
        body: JSON.stringify({ lora_name: "step-1" }),
      });
      if (unload.status !== 200) throw new Error(`unload: ${unload.status} ${await unload.text()}`);
      await unload.body?.cancel();
      if ((await ask("arith-tiny")).tokens?.join() !== base.join()) {
        throw new Error("the base does not serve again");
      }
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

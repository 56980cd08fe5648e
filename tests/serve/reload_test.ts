import { join } from "node:path";
import { generate } from "../../lib/generate/generate.ts";
import { loadModel } from "../../lib/model/model.ts";
import { readSafetensors, writeSafetensors } from "../../lib/model/safetensors.ts";
import { ARITH_TINY, withServer } from "./serve_support.ts";

function fail(message: string): never {
  throw new Error(message);
}

/** A copy of arith-tiny in a temp dir, with its LM head negated and `config` edits applied. */
async function modifiedCopy(config: Record<string, unknown> = {}): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rlif-serve-reload-" });
  for await (const e of Deno.readDir(ARITH_TINY)) {
    if (e.name !== "model.safetensors") await Deno.copyFile(join(ARITH_TINY, e.name), join(dir, e.name));
  }
  const tensors = await readSafetensors(join(ARITH_TINY, "model.safetensors"));
  const head = tensors.get("lm_head.weight")!;
  head.data = head.data.map((v) => -v);
  await writeSafetensors(
    join(dir, "model.safetensors"),
    new Map([...tensors].map(([name, t]) => [name, { shape: t.shape, data: t.data }])),
  );
  const cfg = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify({ ...cfg, ...config }));
  return dir;
}

Deno.test("serve: update_weights_from_disk swaps in new weights; a bad path or another architecture is a 400 and the old weights still serve", async () => {
  const perturbed = await modifiedCopy();
  const wider = await modifiedCopy({ max_position_embeddings: 128 });
  try {
    await withServer(async (s) => {
      const ask = async () => {
        const { status, json } = await s.post("/v1/completions", {
          prompt: "3+4=",
          temperature: 0,
          max_tokens: 8,
          return_token_ids: true,
        });
        if (status !== 200) fail(`completion: ${status} ${JSON.stringify(json)}`);
        return json.choices[0].token_ids.join(" ");
      };
      const before = await ask();
      for (
        const [what, path, mention] of [["a missing folder", "/nonexistent/model", "/nonexistent/model"], [
          "another architecture",
          wider,
          "max_position_embeddings",
        ]]
      ) {
        const { status, json } = await s.post("/update_weights_from_disk", { model_path: path });
        if (status !== 400 || json.success !== false || !json.message.includes(mention)) {
          fail(`${what}: ${status} ${JSON.stringify(json)}`);
        }
        if (await ask() !== before) fail(`${what}: the served weights changed`);
      }
      // A request in flight while the reload runs is answered (by the old or the new weights).
      const [during, reload] = await Promise.all([
        s.post("/v1/completions", { prompt: "5+5=", max_tokens: 20, seed: 1 }),
        s.post("/update_weights_from_disk", { model_path: perturbed }),
      ]);
      if (during.status !== 200) fail(`request during the reload: ${during.status}`);
      if (reload.status !== 200 || reload.json.success !== true || typeof reload.json.message !== "string") {
        fail(`reload: ${JSON.stringify(reload.json)}`);
      }
      const after = await ask();
      const reference = await loadModel(perturbed);
      const [want] = await generate(reference, ["3+4="], { temperature: 0, maxNewTokens: 8 });
      reference.release();
      if (after === before) fail("the reload did not change the outputs");
      if (after !== want.completionIds.join(" ")) {
        fail(`after the reload: ${after}, the new weights give ${want.completionIds}`);
      }
      if (s.handler.scheduler.stats.swaps !== 1) fail(`swaps: ${s.handler.scheduler.stats.swaps}`);
    });
  } finally {
    await Deno.remove(perturbed, { recursive: true });
    await Deno.remove(wider, { recursive: true });
  }
});

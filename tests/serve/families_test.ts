/** The server on Qwen3 and OLMo-2 checkpoints: seeded completions equal generate's, through the fused step. */
import { join } from "node:path";
import { generate } from "../../lib/generate/generate.ts";
import { fusedDecodeSupported } from "../../lib/model/decode_step.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";
import { withServer } from "./serve_support.ts";

for (const family of [{ arch: "qwen3" as const, headDim: 24 }, { arch: "olmo2" as const }]) {
  Deno.test(`serve: a ${family.arch} checkpoint answers completions equal to generate with the same seed`, async () => {
    const root = await Deno.makeTempDir({ prefix: `rlif-serve-${family.arch}-` });
    try {
      const dir = join(root, "model");
      await writeTinyCheckpoint(dir, { seed: 8, dtype: "bf16", ...family });
      await writeSafetensors(
        join(dir, "model.safetensors"),
        sharpTinyCheckpoint({ seed: 8, dtype: "bf16", ...family }).tensors,
        {
          dtype: "BF16",
        },
      );
      await withServer(async (s) => {
        if (!fusedDecodeSupported(s.model)) throw new Error("the fused decode step does not cover the model");
        const ids = [5, 17, 100, 3];
        const want = await generate(s.model, [ids], { temperature: 1, maxNewTokens: 10, seed: 77, n: 2 });
        const { status, json } = await s.post("/v1/completions", {
          prompt: ids,
          n: 2,
          max_tokens: 10,
          temperature: 1,
          seed: 77,
          return_token_ids: true,
        });
        if (status !== 200) throw new Error(`status ${status}: ${JSON.stringify(json)}`);
        const got = json.choices.map((c: { token_ids: number[] }) => c.token_ids.join());
        const expected = want.map((c) => c.completionIds.join());
        if (got.join("|") !== expected.join("|")) throw new Error(`server ${got}, generate ${expected}`);
      }, { modelDir: dir, servedName: family.arch });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

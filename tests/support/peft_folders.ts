/** PEFT LoRA folders for the tests, written as PEFT lays them out, with factors far from zero. */
import { join } from "node:path";
import { loadModelConfig } from "../../lib/model/config.ts";
import { peftTensorName, resolveTargetModules } from "../../lib/model/lora.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { expectedTensorShapes } from "../../lib/model/weights.ts";
import { randn, rng } from "./numeric.ts";

/**
 * Writes into `dir` a PEFT adapter for the model in `modelDir` adapting every projection (rank 4, alpha 8),
 * its factors drawn N(0, 0.5²) from `seed`: large enough to change a tiny model's answers.
 */
export async function writeRandomAdapter(dir: string, modelDir: string, seed: number): Promise<void> {
  const config = await loadModelConfig(modelDir);
  const shapes = expectedTensorShapes(config);
  const g = rng(seed);
  const r = 4;
  const factors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const key of resolveTargetModules(config, "all-linear")) {
    const [outF, inF] = shapes.get(`${key}.weight`)!;
    factors.set(peftTensorName(key, "A"), {
      shape: [r, inF],
      data: Float32Array.from(randn(g, r * inF, 0.5)),
    });
    factors.set(peftTensorName(key, "B"), {
      shape: [outF, r],
      data: Float32Array.from(randn(g, outF * r, 0.5)),
    });
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, "adapter_model.safetensors"), factors, { metadata: { format: "pt" } });
  await Deno.writeTextFile(
    join(dir, "adapter_config.json"),
    JSON.stringify({
      peft_type: "LORA",
      task_type: "CAUSAL_LM",
      r,
      lora_alpha: 8,
      lora_dropout: 0,
      target_modules: "all-linear",
      bias: "none",
    }),
  );
}

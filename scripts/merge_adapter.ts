/**
 * Merges a PEFT LoRA adapter into its base model and writes the result as a plain Hugging Face folder
 * (config.json, generation_config.json, model.safetensors, tokenizer files): W + s·B·A for every adapted
 * projection, rounded once to the output width, every other tensor as the base holds it. The folder is
 * written under a temporary name and renamed when complete.
 *
 *   deno task merge-adapter --model BASE --adapter DIR --out DIR [--dtype bf16|f16|f32]
 *
 * @module
 */
import { runMain, ScriptCli } from "./_cli.ts";
import { checkOutput } from "../lib/log/output_check.ts";
import { syncDir } from "../lib/log/atomic.ts";
import { dirname, resolve } from "node:path";
import { loadModel, WEIGHT_WIDTHS } from "../lib/model/model.ts";
import type { WeightDType } from "../lib/gpu/dtype.ts";

const cli = new ScriptCli({
  task: "merge-adapter",
  summary: "Merges a PEFT LoRA adapter into its base model and writes a plain Hugging Face folder: " +
    "W + (alpha/r)·B·A for every adapted projection, rounded once to the output width; the other tensors " +
    "and the tokenizer files as the base has them. The folder appears only when complete.",
  flags: {
    model: {
      arg: "DIR",
      doc: "the base model the adapter was trained on (a Hugging Face folder)",
      required: true,
    },
    adapter: {
      arg: "DIR",
      doc: "the adapter: a PEFT folder (adapter_config.json, adapter_model.safetensors), e.g. a LoRA run's " +
        "RUN/checkpoints/step-N",
      required: true,
    },
    out: { arg: "DIR", doc: "where the merged model goes (a new or empty directory)", required: true },
    dtype: { arg: "bf16|f16|f32", doc: "width of the merged matrices", defaultText: "the base's own" },
  },
  examples: [
    "deno task merge-adapter --model models/Qwen2.5-7B --adapter runs/intuitor-7b-lora/checkpoints/step-000058 " +
    "--out models/Qwen2.5-7B-intuitor",
  ],
});
const { values } = cli.parse();
const dtype = values.dtype as WeightDType | undefined;
if (dtype !== undefined && !WEIGHT_WIDTHS.includes(dtype)) {
  cli.fail(`--dtype ${JSON.stringify(values.dtype)} is not a width; use bf16, f16 or f32`);
}

await runMain(async () => {
  const out = resolve(values.out);
  await checkOutput(out, "--out", { kind: "dir", notInto: ["model.safetensors", "config.json"] });
  const model = await loadModel(values.model, {
    adapter: values.adapter,
    weights: dtype,
    withoutTokenizer: true,
  });
  const width = model.weightDType;
  const tmp = `${out}.tmp-${Deno.pid}`;
  try {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await model.save(tmp);
    await syncDir(tmp);
    // An existing output directory is empty here (checkOutput refused one holding a model): rename over it.
    await Deno.remove(out).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    await Deno.rename(tmp, out);
    await syncDir(dirname(out));
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  } finally {
    model.release();
  }
  console.log(`merged ${values.adapter} into ${values.model} (${width}) → ${out}`);
});

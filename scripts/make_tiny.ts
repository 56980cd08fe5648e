/**
 * Writes a tiny random Qwen2 (or Qwen3, Llama, OLMo-2) checkpoint with a byte-level BPE tokenizer, for
 * tests and smoke runs.
 *
 *   deno task make-tiny --out runs/tiny [options]   (--help lists them)
 *
 * The same flags always produce byte-identical files.
 *
 * @module
 */

import { runMain, ScriptCli } from "./_cli.ts";
import { z } from "zod";
import { type TinyModelOptions, writeTinyCheckpoint } from "../lib/model/tiny.ts";

const cli = new ScriptCli({
  task: "make-tiny",
  summary: "Writes a tiny random Qwen2 (or Qwen3, Llama, OLMo-2) checkpoint with a byte-level BPE " +
    "tokenizer, for tests and smoke runs. The same flags always produce byte-identical files.",
  flags: {
    out: { arg: "DIR", doc: "output folder", required: true },
    tied: { doc: "tie the LM head to the embedding" },
    dtype: { arg: "f32|bf16", doc: "weight width", default: "f32" },
    seed: { arg: "S", doc: "seed of the random weights", defaultText: "the tiny model's" },
    layers: { arg: "N", doc: "transformer blocks", defaultText: "the tiny model's" },
    hidden: { arg: "H", doc: "residual width", defaultText: "the tiny model's" },
    heads: { arg: "A", doc: "query heads", defaultText: "the tiny model's" },
    "kv-heads": { arg: "K", doc: "key/value heads", defaultText: "the tiny model's" },
    intermediate: { arg: "I", doc: "MLP width", defaultText: "the tiny model's" },
    arch: { arg: "qwen2|qwen3|llama|olmo2", doc: "architecture", default: "qwen2" },
    "head-dim": {
      arg: "D",
      doc: "per-head width (Qwen3 sets it apart from hidden/heads)",
      defaultText: "hidden/heads",
    },
    "max-positions": { arg: "P", doc: "context length", defaultText: "the tiny model's" },
    vocab: { arg: "V", doc: "vocabulary size (at least the tokenizer's)", defaultText: "the tiny model's" },
  },
  examples: [
    "deno task make-tiny --out runs/tiny",
    "deno task make-tiny --out runs/tiny-llama --arch llama --tied",
    "deno task make-tiny --out runs/tiny-qwen3 --arch qwen3 --head-dim 24",
    "deno task make-tiny --out runs/tiny-olmo2 --arch olmo2",
  ],
});
const { values } = cli.parse();

/** A non-negative integer flag; undefined (the tiny model's default) when absent. */
const intFlag = (name: string) => cli.number(name, z.number().int().min(0), undefined);

const dtype = cli.oneOf("dtype", ["f32", "bf16"] as const) ?? "f32";
const arch = cli.oneOf("arch", ["qwen2", "qwen3", "llama", "olmo2"] as const) ?? "qwen2";

const out = values.out;
const options: TinyModelOptions = {
  seed: intFlag("seed"),
  tied: values.tied,
  dtype,
  arch,
  layers: intFlag("layers"),
  hidden: intFlag("hidden"),
  heads: intFlag("heads"),
  kvHeads: intFlag("kv-heads"),
  headDim: intFlag("head-dim"),
  intermediate: intFlag("intermediate"),
  maxPositions: intFlag("max-positions"),
  vocabSize: intFlag("vocab"),
};

await runMain(async () => {
  let tiny;
  try {
    tiny = await writeTinyCheckpoint(out, options);
  } catch (e) {
    if (e instanceof RangeError) cli.fail(e.message);
    throw e;
  }

  const c = tiny.config;
  let params = 0;
  for (const t of tiny.tensors.values()) params += t.data.length;
  const shape = `${c.numLayers} layers, hidden ${c.hiddenSize}, heads ${c.numHeads}/${c.numKvHeads} of ` +
    `${c.headDim}`;
  console.log(
    `wrote ${out}: ${c.arch}, ${shape}, intermediate ${c.intermediateSize}, vocab ${c.vocabSize}, ` +
      `${c.tieWordEmbeddings ? "tied" : "untied"}, ${c.torchDtype}, ${params} parameters`,
  );
});

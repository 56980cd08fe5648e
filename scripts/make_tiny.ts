/**
 * Writes a tiny random Qwen2 (or Llama) checkpoint with a byte-level BPE tokenizer, for tests and smoke runs.
 *
 *   deno task make-tiny --out runs/tiny [--tied] [--dtype bf16|f32] [--seed S]
 *                       [--layers N --hidden H --heads A --kv-heads K --intermediate I]
 *                       [--arch qwen2|llama] [--max-positions P] [--vocab V]
 *
 * The same flags always produce byte-identical files.
 *
 * @module
 */

import { runMain, ScriptCli } from "./_cli.ts";
import { z } from "zod";
import { type TinyModelOptions, writeTinyCheckpoint } from "../lib/model/tiny.ts";

const USAGE = `usage: deno task make-tiny --out DIR [--tied] [--dtype bf16|f32] [--seed S]
       [--layers N] [--hidden H] [--heads A] [--kv-heads K] [--intermediate I]
       [--arch qwen2|llama] [--max-positions P] [--vocab V]`;

// Typed explicitly so that `cli.fail` (which never returns) narrows the flags checked with it.
const cli: ScriptCli = new ScriptCli(USAGE);

/** A non-negative integer flag; undefined (the tiny model's default) when absent. */
function intFlag(values: Record<string, string | boolean | undefined>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  return cli.number(String(raw), name, 0, z.number().int().min(0));
}

const { values } = cli.parse({
  options: {
    out: { type: "string" },
    tied: { type: "boolean", default: false },
    dtype: { type: "string", default: "f32" },
    seed: { type: "string" },
    layers: { type: "string" },
    hidden: { type: "string" },
    heads: { type: "string" },
    "kv-heads": { type: "string" },
    intermediate: { type: "string" },
    arch: { type: "string", default: "qwen2" },
    "max-positions": { type: "string" },
    vocab: { type: "string" },
    help: { type: "boolean", default: false },
  },
  strict: true,
  allowPositionals: false,
});
if (!values.out) cli.fail("--out is required");
const dtype = cli.oneOf(values.dtype, "dtype", ["f32", "bf16"] as const) ?? "f32";
const arch = cli.oneOf(values.arch, "arch", ["qwen2", "llama"] as const) ?? "qwen2";

const out = values.out;
const options: TinyModelOptions = {
  seed: intFlag(values, "seed"),
  tied: values.tied,
  dtype,
  arch,
  layers: intFlag(values, "layers"),
  hidden: intFlag(values, "hidden"),
  heads: intFlag(values, "heads"),
  kvHeads: intFlag(values, "kv-heads"),
  intermediate: intFlag(values, "intermediate"),
  maxPositions: intFlag(values, "max-positions"),
  vocabSize: intFlag(values, "vocab"),
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
  const shape = `${c.numLayers} layers, hidden ${c.hiddenSize}, heads ${c.numHeads}/${c.numKvHeads}`;
  console.log(
    `wrote ${out}: ${c.arch}, ${shape}, intermediate ${c.intermediateSize}, vocab ${c.vocabSize}, ` +
      `${c.tieWordEmbeddings ? "tied" : "untied"}, ${c.torchDtype}, ${params} parameters`,
  );
});

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

import { parseArgs } from "node:util";
import { runMain } from "../lib/cli.ts";
import { type TinyModelOptions, writeTinyCheckpoint } from "../lib/model/tiny.ts";

const USAGE = `usage: deno task make-tiny --out DIR [--tied] [--dtype bf16|f32] [--seed S]
       [--layers N] [--hidden H] [--heads A] [--kv-heads K] [--intermediate I]
       [--arch qwen2|llama] [--max-positions P] [--vocab V]`;

function fail(message: string): never {
  console.error(`make_tiny: ${message}\n${USAGE}`);
  Deno.exit(2);
}

function intFlag(values: Record<string, unknown>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    fail(`--${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
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
} catch (e) {
  fail((e as Error).message);
}
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
if (!values.out) fail("--out is required");
if (values.dtype !== "f32" && values.dtype !== "bf16") {
  fail(`--dtype must be bf16 or f32, got "${values.dtype}"`);
}
if (values.arch !== "qwen2" && values.arch !== "llama") {
  fail(`--arch must be qwen2 or llama, got "${values.arch}"`);
}

const out = values.out;
const options: TinyModelOptions = {
  seed: intFlag(values, "seed"),
  tied: values.tied,
  dtype: values.dtype,
  arch: values.arch,
  layers: intFlag(values, "layers"),
  hidden: intFlag(values, "hidden"),
  heads: intFlag(values, "heads"),
  kvHeads: intFlag(values, "kv-heads"),
  intermediate: intFlag(values, "intermediate"),
  maxPositions: intFlag(values, "max-positions"),
  vocabSize: intFlag(values, "vocab"),
};

await runMain("make_tiny", async () => {
  let tiny;
  try {
    tiny = await writeTinyCheckpoint(out, options);
  } catch (e) {
    if (e instanceof RangeError) fail(e.message);
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

/**
 * Scores (prompt, completion) pairs with a model: every intrinsic signal from one forward pass.
 *
 *   deno task score --model DIR --input IN.jsonl --output OUT.jsonl [options]   (--help: the details)
 *
 * An input line holds `prompt_ids` + `completion_ids` (token ids) or `prompt` + `completion` (text; the
 * prompt is used as given, no chat template). An output line holds the input's other fields followed by
 * tokenLogprobs, tokenEntropy, selfCertainty, meanTokenEntropy, trajectoryLogprob, meanLogprob, topGap and
 * coe {d1, d2, mag, ang, r, c}. The output file is written atomically once everything is scored.
 */
import { ADAPTER_FLAG, checkOutput, runMain, ScriptCli } from "./_cli.ts";
import { z } from "zod";
import { InputFileError, readJsonlRecords, toJsonl } from "../lib/data/jsonl_input.ts";
import { writeFileAtomic } from "../lib/log/atomic.ts";
import { loadModel } from "../lib/model/model.ts";
import { score, type ScoreItem } from "../lib/model/score.ts";

const cli = new ScriptCli({
  task: "score",
  summary: "Scores (prompt, completion) pairs with a model: every intrinsic signal from one forward pass " +
    "(tokenLogprobs, tokenEntropy, selfCertainty, meanTokenEntropy, trajectoryLogprob, meanLogprob, topGap, " +
    "coe {d1, d2, mag, ang, r, c}). Each output line is its input line's other fields followed by the " +
    "signals; the output is written atomically once everything is scored.",
  flags: {
    model: { arg: "DIR", doc: "model directory: config.json, *.safetensors, tokenizer.json", required: true },
    adapter: {
      ...ADAPTER_FLAG,
      doc: `${ADAPTER_FLAG.doc}, unmerged: its term is added in f32 as the trainer's scoring pass adds it`,
    },
    input: {
      arg: "IN.jsonl",
      doc: "the pairs to score, one JSON object per line (see input)",
      required: true,
    },
    output: { arg: "OUT.jsonl", doc: "where the scored lines go", required: true },
    temperature: { arg: "T", doc: "logits are divided by T before every statistic (> 0)", default: "1" },
    "batch-size": { arg: "N", doc: "sequences per forward pass", default: "8" },
  },
  input: {
    from: "--input",
    format: 'one JSON object per line with "prompt_ids" + "completion_ids" (token ids) or "prompt" + ' +
      '"completion" (text, tokenized as given: no chat template); other fields are copied to the output',
    example: '{"id": "a", "prompt": "12+7=", "completion": "\\\\boxed{19}"}',
  },
  examples: [
    "deno task score --model scripts/assets/arith-tiny --input pairs.jsonl --output scored.jsonl",
    "deno task analyze scored.jsonl   # how well each signal tracks a `correct` field of the input",
  ],
});
const { values } = cli.parse();
const temperature = cli.number("temperature", z.number().gt(0));
const batchSize = cli.number("batch-size", z.number().int().min(1));

await runMain(async () => {
  await checkOutput(values.output, "--output");
  const records = await readJsonlRecords(values.input);
  const model = await loadModel(values.model, { adapter: values.adapter, mergeAdapter: false });
  const context = model.config.maxPositionEmbeddings;
  const isIds = (v: unknown): v is number[] =>
    Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0);
  const items: ScoreItem[] = records.map(({ line, value }) => {
    const row = value as Record<string, unknown>;
    const fail = (what: string): never => {
      throw new InputFileError(values.input, line, what);
    };
    const fits = (item: ScoreItem): ScoreItem => {
      if (item.promptIds.length === 0) fail("the prompt has no tokens");
      if (item.completionIds.length === 0) fail("the completion has no tokens");
      const length = item.promptIds.length + item.completionIds.length;
      if (length > context) {
        fail(
          `prompt and completion are ${length} tokens, more than the model's context of ${context} ` +
            `(max_position_embeddings)`,
        );
      }
      return item;
    };
    if (typeof row !== "object" || row === null || Array.isArray(row)) fail("expected a JSON object");
    if ("prompt_ids" in row || "completion_ids" in row) {
      if (!isIds(row.prompt_ids)) fail(`field "prompt_ids" must be a list of token ids`);
      if (!isIds(row.completion_ids)) fail(`field "completion_ids" must be a list of token ids`);
      for (const id of [...(row.prompt_ids as number[]), ...(row.completion_ids as number[])]) {
        if (id >= model.config.vocabSize) {
          fail(`token id ${id} is outside the vocabulary of ${model.config.vocabSize}`);
        }
      }
      return fits({ promptIds: row.prompt_ids as number[], completionIds: row.completion_ids as number[] });
    }
    if (typeof row.prompt !== "string" || typeof row.completion !== "string") {
      fail(
        `needs "prompt_ids" + "completion_ids" (token ids) or "prompt" + "completion" (text); has ${
          Object.keys(row).join(", ")
        }`,
      );
    }
    if (!model.tokenizer) fail(`text fields need a tokenizer, and ${values.model} has no tokenizer.json`);
    const enc = (t: string) => model.tokenizer!.encode(t, { addSpecialTokens: false });
    return fits({ promptIds: enc(row.prompt as string), completionIds: enc(row.completion as string) });
  });

  const started = performance.now();
  const stats = await score(model, items, { temperature, batchSize });
  const seconds = (performance.now() - started) / 1000;
  const out = records.map(({ value }, i) => {
    const { prompt_ids: _p, completion_ids: _c, ...rest } = value as Record<string, unknown>;
    return { ...rest, ...stats[i] };
  });
  await writeFileAtomic(values.output, toJsonl(out));
  const tokens = items.reduce((a, it) => a + it.promptIds.length + it.completionIds.length, 0);
  console.log(
    `scored ${items.length} completions (${tokens} tokens, ${
      (tokens / seconds).toFixed(1)
    } tokens/s) → ${values.output}`,
  );
});

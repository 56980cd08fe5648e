/**
 * Scores (prompt, completion) pairs with a model: every intrinsic signal from one forward pass.
 *
 *   deno task score --model DIR --input IN.jsonl --output OUT.jsonl [--temperature T] [--batch-size N]
 *
 * An input line holds `prompt_ids` + `completion_ids` (token ids) or `prompt` + `completion` (text; the
 * prompt is used as given, no chat template). An output line holds the input's other fields followed by
 * tokenLogprobs, tokenEntropy, selfCertainty, meanTokenEntropy, trajectoryLogprob, meanLogprob, topGap and
 * coe {d1, d2, mag, ang, r, c}. The output file is written atomically once everything is scored.
 */
import { runMain, ScriptCli } from "./_cli.ts";
import { z } from "zod";
import { InputFileError, readJsonlRecords, toJsonl } from "../lib/data/jsonl_input.ts";
import { writeFileAtomic } from "../lib/log/atomic.ts";
import { loadModel } from "../lib/model/model.ts";
import { score, type ScoreItem } from "../lib/model/score.ts";

const USAGE =
  "usage: deno task score --model DIR --input IN.jsonl --output OUT.jsonl [--temperature T] [--batch-size N]";
// Typed explicitly so that `cli.fail` (which never returns) narrows the flags checked with it.
const cli: ScriptCli = new ScriptCli(USAGE);
const { values } = cli.parse({
  options: {
    model: { type: "string" },
    input: { type: "string" },
    output: { type: "string" },
    temperature: { type: "string", default: "1" },
    "batch-size": { type: "string", default: "8" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
for (const flag of ["model", "input", "output"] as const) {
  if (!values[flag]) cli.fail(`--${flag} is required`);
}
const temperature = cli.number(values.temperature, "temperature", 1, z.number().gt(0));
const batchSize = cli.number(values["batch-size"], "batch-size", 8, z.number().int().min(1));

await runMain(async () => {
  const records = await readJsonlRecords(values.input!);
  const model = await loadModel(values.model!);
  const isIds = (v: unknown): v is number[] =>
    Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0);
  const items: ScoreItem[] = records.map(({ line, value }) => {
    const row = value as Record<string, unknown>;
    const fail = (what: string) => {
      throw new InputFileError(values.input!, line, what);
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
      return { promptIds: row.prompt_ids as number[], completionIds: row.completion_ids as number[] };
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
    return { promptIds: enc(row.prompt as string), completionIds: enc(row.completion as string) };
  });

  const started = performance.now();
  const stats = await score(model, items, { temperature, batchSize });
  const seconds = (performance.now() - started) / 1000;
  const out = records.map(({ value }, i) => {
    const { prompt_ids: _p, completion_ids: _c, ...rest } = value as Record<string, unknown>;
    return { ...rest, ...stats[i] };
  });
  await writeFileAtomic(values.output!, toJsonl(out));
  const tokens = items.reduce((a, it) => a + it.promptIds.length + it.completionIds.length, 0);
  console.log(
    `scored ${items.length} completions (${tokens} tokens, ${
      (tokens / seconds).toFixed(1)
    } tokens/s) → ${values.output}`,
  );
});

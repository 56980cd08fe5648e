/**
 * Run by passes_train_test.ts, with and without RLIF_DEVICE_LIMITS: one GRPO step of a tiny model into the
 * folder given as the first argument; prints the step's metrics and the updated weights as one JSON line.
 */
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "../../lib/model/safetensors.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import { trainGrpo } from "../../lib/rl/trainer.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const root = Deno.args[0];
const model = join(root, "model");
await writeTinyCheckpoint(model, { seed: 4, arch: "qwen3", headDim: 24 });
await writeSafetensors(
  join(model, "model.safetensors"),
  sharpTinyCheckpoint({ seed: 4, arch: "qwen3", headDim: 24 }).tensors,
);
const yaml = `
model: {path: ${model}}
data:
  template: configs/templates/problem_only.jinja
  chat_template: false
  synthetic: {format: compact, max_operand: 99, count: 20}
rollout: {n: 4, max_new_tokens: 10}
reward: {name: self_certainty}
algorithm: {kl_coef: 0.01}
train: {steps: 1, prompts_per_step: 2, micro_batch: 8, lr: 1e-3, warmup_ratio: 0}
log: {dir: ${join(root, "runs")}, save_every: 10}
`;
const result = await trainGrpo(resolveConfig(GRPO_CONFIG, yaml, "test.yaml").config, { progress: false });
const { step_seconds: _s, tokens_per_s: _t, ...metrics } = result.metrics[0] as Record<string, unknown>;
const weights = await readSafetensors(join(result.runDir, "checkpoints/step-000001/model.safetensors"));
// Rows of the micro-batch: 8 sequences padded to the longest prompt + completion. The tiny tokenizer's
// merges join at most 3 characters, so a prompt of c characters has at least c / 3 tokens.
const records = (await Deno.readTextFile(join(result.runDir, "metadata.jsonl"))).trim().split("\n").map((l) =>
  JSON.parse(l)
);
const minRows = 8 * Math.max(
  ...records.flatMap((r) =>
    r.responses.map((x: { length: number }) => Math.ceil(r.prompt.length / 3) + x.length)
  ),
);
console.log(JSON.stringify({
  minRows,
  metrics,
  weights: Object.fromEntries([...weights].map(([name, t]) => [name, Array.from(t.data)])),
}));

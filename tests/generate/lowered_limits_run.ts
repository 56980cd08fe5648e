/**
 * Run by passes_test.ts, with and without RLIF_DEVICE_LIMITS: greedy and sampled generation and scoring on
 * a tiny model, printed as one JSON line, so the test can compare a run split into passes with one that is
 * not.
 */
import { getDevice } from "../../lib/gpu/device.ts";
import { generate } from "../../lib/generate/generate.ts";
import { modelFromTensors } from "../../lib/model/model.ts";
import { rowsPerPass, sequencesPerPass } from "../../lib/model/pass_plan.ts";
import { score } from "../../lib/model/score.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const gpu = await getDevice();
const arch = (Deno.args[0] ?? "qwen2") as "qwen2" | "qwen3";
const tiny = sharpTinyCheckpoint({ seed: 5, arch, ...(arch === "qwen3" ? { headDim: 24 } : {}) });
const model = modelFromTensors(gpu, tiny.config, tiny.tensors, { weights: "bf16" });
const prompts = [3, 9, 14, 5, 11, 16, 7].map((len, i) =>
  Array.from({ length: len }, (_, j) => (i * 31 + j * 7) % 250)
);
const greedy = await generate(model, prompts, { temperature: 0, maxNewTokens: 6, eosTokenIds: [] });
const sampled = await generate(model, prompts, {
  n: 2,
  temperature: 1,
  maxNewTokens: 6,
  eosTokenIds: [],
  seed: 3,
});
const scored = await score(model, sampled, { temperature: 1 });
console.log(JSON.stringify({
  splitPasses: gpu.counters().splitPasses,
  rowsPerPass: rowsPerPass(model),
  // The prompts pad to 16 tokens; scored sequences are up to 22 long.
  promptsPerPass: sequencesPerPass(model, 16),
  scoredPerPass: sequencesPerPass(model, 22),
  greedy: greedy.map((c) => c.completionIds),
  sampled: sampled.map((c) => c.completionIds),
  logprobs: sampled.map((c) => c.logprobs),
  scored: scored.map((s) => [s.tokenLogprobs, s.selfCertainty, s.coe.d1]),
}));

/**
 * Model throughput: tokens/s for scoring (one forward + logit statistics), training (forward + backward of
 * a weighted log-probability loss) and generation at batch 1 and batch 64, with peak GPU memory, on a tiny
 * model and on a random model with Qwen2.5-0.5B's shapes.
 *
 *   deno task bench:model [--models tiny,qwen0.5b] [--seq 32] [--score-batch 2] [--gen-tokens 4] [--gen-prompt 8]
 *                         [--large]
 *
 * Defaults suit a CPU (llvmpipe runs ~1 GFLOP/s); --large uses GPU-sized batches and lengths. Random
 * weights: throughput does not depend on their values.
 */
import { ScriptCli } from "../lib/cli.ts";
import { getDevice, type Gpu } from "../lib/gpu/device.ts";
import { generate } from "../lib/generate/generate.ts";
import type { ModelConfig } from "../lib/model/config.ts";
import { buildSequenceBatch, uploadBatch } from "../lib/model/batch.ts";
import { headBackward } from "../lib/model/head.ts";
import { type Model, modelFromTensors } from "../lib/model/model.ts";
import { score } from "../lib/model/score.ts";
import { seededRandom } from "../lib/data/rng.ts";
import { makeTinyCheckpoint } from "../lib/model/tiny.ts";
import { backward, createGradients, forward } from "../lib/model/transformer.ts";
import { expectedTensorShapes, LM_HEAD } from "../lib/model/weights.ts";

const USAGE = "usage: deno task bench:model [--models tiny,qwen0.5b] [--seq N] [--score-batch N] " +
  "[--gen-tokens N] [--gen-prompt N] [--large]";
const cli = new ScriptCli("bench:model", USAGE);
const { values } = cli.parse({
  options: {
    models: { type: "string", default: "tiny,qwen0.5b" },
    seq: { type: "string" },
    "score-batch": { type: "string" },
    "gen-tokens": { type: "string" },
    "gen-prompt": { type: "string" },
    large: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
const large = values.large;
const positiveInteger = (v: number) => Number.isInteger(v) && v >= 1;
const seq = cli.number(values.seq, "seq", large ? 512 : 32, (v) => positiveInteger(v) && v >= 2);
const scoreBatch = cli.number(values["score-batch"], "score-batch", large ? 16 : 2, positiveInteger);
const genTokens = cli.number(values["gen-tokens"], "gen-tokens", large ? 128 : 4, positiveInteger);
const genPrompt = cli.number(values["gen-prompt"], "gen-prompt", large ? 64 : 8, positiveInteger);
const models = values.models.split(",");
for (const m of models) {
  if (m !== "tiny" && m !== "qwen0.5b") cli.fail(`--models: unknown model ${m}; use tiny or qwen0.5b`);
}

/** Qwen2.5-0.5B-Instruct's config.json shapes. */
const QWEN_05B: ModelConfig = {
  arch: "qwen2",
  vocabSize: 151936,
  hiddenSize: 896,
  intermediateSize: 4864,
  numLayers: 24,
  numHeads: 14,
  numKvHeads: 2,
  headDim: 64,
  ropeTheta: 1000000,
  rmsNormEps: 1e-6,
  maxPositionEmbeddings: 32768,
  tieWordEmbeddings: true,
  attentionBias: true,
  outputProjBias: false,
  mlpBias: false,
  torchDtype: "bfloat16",
  bosTokenId: undefined,
  eosTokenIds: [151645],
};

function randomModel(gpu: Gpu, config: ModelConfig): Model {
  const rand = seededRandom(1);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    if (name === LM_HEAD && config.tieWordEmbeddings) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const norm = name.endsWith("norm.weight");
    for (let i = 0; i < n; i++) data[i] = norm ? 1 : (rand() - 0.5) * 0.04;
    tensors.set(name, { shape, data });
  }
  return modelFromTensors(gpu, config, tensors);
}

async function timed<T>(gpu: Gpu, fn: () => Promise<T>): Promise<{ seconds: number; peak: number }> {
  await gpu.sync();
  gpu.pool.resetPeak();
  const start = performance.now();
  await fn();
  await gpu.sync();
  return { seconds: (performance.now() - start) / 1000, peak: gpu.pool.stats().peakBytes };
}

const gpu = await getDevice();
console.log(
  `adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.device}; seq ${seq}, score batch ${scoreBatch}`,
);
const WIDTHS = [10, 20, 8, 9, 10, 13];
const printRow = (cells: string[]) => console.log(cells.map((c, i) => c.padStart(WIDTHS[i])).join("  "));
printRow(["model", "workload", "tokens", "seconds", "tokens/s", "peak GPU MiB"]);
for (const name of models) {
  const model = name === "tiny"
    ? (() => {
      const t = makeTinyCheckpoint({ seed: 1 });
      return modelFromTensors(gpu, t.config, t.tensors);
    })()
    : randomModel(gpu, QWEN_05B);
  const v = model.config.vocabSize;
  const rand = seededRandom(2);
  const ids = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * Math.min(v, 30000)));
  const half = Math.floor(seq / 2);
  const items = Array.from(
    { length: scoreBatch },
    () => ({ promptIds: ids(half), completionIds: ids(seq - half) }),
  );
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const add = (workload: string, tokens: number, r: { seconds: number; peak: number }) =>
    printRow([
      name,
      workload,
      String(tokens),
      r.seconds.toFixed(2),
      (tokens / r.seconds).toFixed(1),
      mib(r.peak),
    ]);

  await score(model, items.slice(0, 1)); // compile pipelines outside the timings
  add("score", scoreBatch * seq, await timed(gpu, () => score(model, items, { batchSize: scoreBatch })));

  const batch = buildSequenceBatch(items.map((i) => i.promptIds), items.map((i) => i.completionIds), 0);
  const grads = createGradients(model);
  const train = () => {
    const inputs = uploadBatch(gpu, batch);
    const fwd = forward(model, inputs, { saveForBackward: true });
    const w = new Float32Array(batch.rows.length).fill(1 / batch.rows.length);
    const dFinal = headBackward(model, fwd.final, batch.rows, batch.targets, w, 1, grads);
    backward(model, fwd, inputs, batch.ids, dFinal, grads);
    dFinal.release();
    fwd.release();
    inputs.release();
    return gpu.sync();
  };
  await train();
  add("train fwd+bwd", scoreBatch * seq, await timed(gpu, train));
  for (const t of grads.values()) t.release();

  for (const b of [1, 64]) {
    const prompts = Array.from({ length: b }, () => ids(genPrompt));
    const opts = { maxNewTokens: genTokens, eosTokenIds: [], temperature: 1, seed: 1, batchSize: b };
    await generate(model, prompts.slice(0, 1), { ...opts, maxNewTokens: 2 });
    add(`generate batch ${b}`, b * genTokens, await timed(gpu, () => generate(model, prompts, opts)));
  }
  model.release();
  gpu.pool.trim();
}

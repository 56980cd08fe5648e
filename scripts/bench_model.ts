/**
 * Where the speed budgets are measured: for each model and workload (scoring, training forward + backward,
 * generation at several batch sizes, and one GRPO step on the bundled demo model), the time, tokens/s and
 * peak GPU memory, the work asked of the GPU per step (dispatches, submits, readbacks, bind groups), the
 * weight bytes and FLOPs per token, and the time an H100 would need at best for the same step (roofline:
 * 67 TF/s f32 vector FMA, 3.35 TB/s HBM).
 *
 * Generation is run twice, with `--gen-tokens` and with `--steady-tokens` more new tokens; the difference
 * is the steady-state decode step, reported apart from the prefill and the call's fixed costs.
 *
 *   deno task bench:model [--models tiny,qwen0.5b-graph,qwen3-1.7b-graph] [--weights f32|bf16] [--json FILE] ...
 *
 * `--json FILE` holds {command, date, deno, adapter, roofline, options, models: [{model, workloads}],
 * grpo: {model, workloads}}; each workload has tokens, seconds, tokensPerSecond, steps, msPerStep,
 * perStep {dispatches, submits, readbacks, bindGroups}, weightBytesPerToken, flopsPerToken, bytesPerStep,
 * flopsPerStep, rooflineMsPerStep, rooflineBound and peakGpuMiB; generation adds `decode` (the steady step,
 * with perLayer and outsideLayers counts) and `prefill` (a one-token call) with the same per-step fields.
 * The training rows (`train fwd+bwd`, and `train fwd+bwd (recompute)` with per-layer activation
 * recomputation) start from an empty pool and add computedPeakGpuMiB, the peak lib/bench/model_cost.ts's
 * trainingPeakMemory predicts for the step.
 *
 * Timings on the CPU adapter (llvmpipe) say nothing about GPUs; the counts are the same on every adapter.
 * `qwen0.5b-graph` has Qwen2.5-0.5B's op graph (24 layers, 14/2 heads, biases, tied 151,936-token
 * vocabulary) at a width llvmpipe can run, so its counts are the real model's; `qwen3-1.7b-graph` has
 * Qwen3-1.7B-Base's (28 layers, 16/8 heads of 128, q/k norms per head, tied 151,936-token vocabulary) at
 * the same width. Random weights: throughput does not depend on their values.
 */
import { dirname, join } from "node:path";
import { runMain, ScriptCli } from "./_cli.ts";
import { issueText } from "../lib/schema.ts";
import { z } from "zod";
import { getDevice, Gpu } from "../lib/gpu/device.ts";
import { planGrpoMemory, planModelConfig } from "../lib/bench/memory_plan.ts";
import { bytesPerElement } from "../lib/gpu/dtype.ts";
import type { GpuCounters } from "../lib/gpu/recorder.ts";
import { generate } from "../lib/generate/generate.ts";
import {
  forwardFlopsPerToken,
  H100,
  kvCacheBytesPerStep,
  type ParamSize,
  recomputeFlopsPerToken,
  roofline,
  trainBytesPerStep,
  trainFlopsPerToken,
  trainingPeakMemory,
  weightBytesPerForward,
} from "../lib/bench/model_cost.ts";
import { writeFileAtomic } from "../lib/log/atomic.ts";
import { loadModelConfig, type ModelConfig } from "../lib/model/config.ts";
import { QWEN25_05B } from "../lib/model/qwen25_config.ts";
import { QWEN3_17B_BASE } from "../lib/model/paper_configs.ts";
import { buildSequenceBatch } from "../lib/model/batch.ts";
import { logitChunkRows } from "../lib/model/head.ts";
import { loadModel, Model, modelFromTensors } from "../lib/model/model.ts";
import { score } from "../lib/model/score.ts";
import { seededRandom } from "../lib/data/rng.ts";
import { makeTinyCheckpoint, writeTinyCheckpoint } from "../lib/model/tiny.ts";
import { createGradients, createKvCache, releaseKvCache } from "../lib/model/transformer.ts";
import { expectedTensorShapes, LM_HEAD } from "../lib/model/weights.ts";
import { lossBackward } from "../lib/model/train_step.ts";
import { groupAdvantages } from "../lib/rl/advantages.ts";
import { GRPO_CONFIG, type GrpoConfig, loadConfig, resolveConfig } from "../lib/rl/config.ts";
import { policyOptimizer, updatePolicy } from "../lib/rl/policy_update.ts";
import { halfWidthCopy, refreshHalfWidthCopy } from "../lib/model/half_width.ts";
import { buildPromptSet, loadTrainingExamples, stepPromptIndices } from "../lib/rl/prompts.ts";
import { collectRollouts } from "../lib/rl/rollout.ts";
import { rewardFromConfig } from "../lib/rewards/registry.ts";

const MODEL_NAMES = ["tiny", "qwen0.5b-graph", "qwen0.5b", "qwen3-1.7b-graph"] as const;
type ModelName = typeof MODEL_NAMES[number];
const WEIGHTS = ["f32", "bf16"] as const;
/** generate() checks its finished flags every 8 decode steps: whole periods give exact per-step averages. */
const CHECK_EVERY = 8;
const GRPO_MODEL = "scripts/assets/arith-tiny";

const cli = new ScriptCli({
  task: "bench:model",
  summary:
    "Benchmarks whole-model workloads (score, train step, generation, one GRPO step) and counts what " +
    "the GPU is asked to do: dispatches, submits, readbacks and bind groups per step, bytes and FLOPs.",
  flags: {
    models: {
      arg: "LIST",
      doc: `comma-separated, from ${MODEL_NAMES.join(", ")}: tiny is the 2-layer test model (hidden 64, ` +
        "vocabulary 268); qwen0.5b-graph is Qwen2.5-0.5B's op graph at hidden 128 (24 layers, 14/2 heads of " +
        "64, MLP 256, q/k/v biases, tied 151,936-token vocabulary): the real model's dispatch / submit / " +
        "readback / bind-group counts on a CPU; qwen0.5b has Qwen2.5-0.5B's full shapes (hidden 896, MLP " +
        "4864): for GPUs; qwen3-1.7b-graph is Qwen3-1.7B-Base's op graph at hidden 128 (28 layers, 16/8 " +
        "heads of 128, MLP 256, q/k norms per head, no biases, tied 151,936-token vocabulary)",
      defaultText: "tiny,qwen0.5b-graph; with --large tiny,qwen0.5b",
    },
    weights: {
      arg: "f32|bf16",
      doc: "width of the matrices (embeddings and projections); norms and biases stay f32",
      default: "f32",
    },
    seq: { arg: "N", doc: "tokens per sequence for score and train, >= 2", defaultText: "32; --large 512" },
    "score-batch": { arg: "N", doc: "sequences per score / train call", defaultText: "2; --large 16" },
    "gen-batches": { arg: "LIST", doc: "generation batch sizes", default: "1,16,64" },
    "gen-prompt": { arg: "N", doc: "prompt tokens per generated sequence", defaultText: "8; --large 64" },
    "gen-tokens": {
      arg: "N",
      doc: `new tokens of the first generation run, >= ${CHECK_EVERY + 2}: generate checks its finished ` +
        "flags only where the answer can end the loop early, so shorter runs have no check and the two " +
        "runs' difference would miss the steady ones",
      defaultText: "16; --large 128",
    },
    "steady-tokens": {
      arg: "N",
      doc: `extra new tokens of the second generation run, a multiple of ${CHECK_EVERY}; the difference ` +
        "of the two runs is the steady-state decode step",
      defaultText: "8; --large 64",
    },
    "grpo-micro-batches": {
      arg: "LIST",
      doc: `one GRPO step on ${GRPO_MODEL} (2 prompts x 8 samples, 8 new tokens) per micro-batch count in ` +
        'LIST, each dividing 16; "none" skips it; f32 weights whatever --weights says (training keeps ' +
        "f32 master weights)",
      default: "4,8",
    },
    json: {
      arg: "FILE",
      doc: "also write every figure, the adapter, Deno version, date and command line as JSON (atomically)",
      defaultText: "none",
    },
    large: { doc: "GPU-sized defaults (the values marked --large above)" },
    recipes: {
      doc: "also plan one step of every recipe in configs/ at its model's real shapes (peak GiB, folded " +
        "dispatches, split passes), and measure it at tiny shapes: the same recipe on a tiny model of its " +
        "family, planned on the planning device and measured on this adapter (minutes)",
    },
  },
  examples: [
    "deno task bench:model",
    "deno task bench:model --large --json bench.json",
    "deno task bench:model --models tiny --grpo-micro-batches none --recipes --json recipes.json",
  ],
});
const { values } = cli.parse();
const large = values.large;
const positiveInteger = z.number().int().min(1);
const seq = cli.number("seq", z.number().int().min(2), large ? 512 : 32);
const scoreBatch = cli.number("score-batch", positiveInteger, large ? 16 : 2);
const genTokens = cli.number("gen-tokens", z.number().int().min(CHECK_EVERY + 2), large ? 128 : 16);
const genPrompt = cli.number("gen-prompt", positiveInteger, large ? 64 : 8);
const steadyTokens = cli.number(
  "steady-tokens",
  z.number().int().positive().multipleOf(CHECK_EVERY),
  large ? 64 : 8,
);
const weights = cli.oneOf("weights", WEIGHTS) ?? "f32";
const jsonPath = values.json;
if (jsonPath !== undefined) {
  // Fail before minutes of benchmarking rather than when the report is written.
  const dir = dirname(jsonPath);
  let isDir = false;
  try {
    isDir = Deno.statSync(dir).isDirectory;
  } catch {
    // Missing or unreadable: refused below.
  }
  if (jsonPath === "" || !isDir) {
    cli.fail(`--json ${jsonPath}: no directory ${dir} to write it in`);
  }
}

/** A comma-separated list of positive integers, or a usage failure naming the flag. */
function integerList(
  value: string,
  name: string,
  each: z.ZodType<number, number>,
): number[] {
  const parsed = z.array(z.coerce.number().pipe(each)).min(1).safeParse(
    value.split(",").map((s) => s.trim()),
  );
  if (!parsed.success) {
    return cli.fail(`--${name} ${value} is not valid: ${issueText(parsed.error.issues[0])}`);
  }
  return parsed.data;
}
const genBatches = integerList(values["gen-batches"], "gen-batches", positiveInteger);
const grpoMicroBatches = values["grpo-micro-batches"] === "none" ? [] : integerList(
  values["grpo-micro-batches"],
  "grpo-micro-batches",
  positiveInteger.refine((v) => 16 % v === 0, "must divide 16"),
);
const models = (values.models ?? (large ? "tiny,qwen0.5b" : "tiny,qwen0.5b-graph")).split(",");
for (const m of models) {
  if (!(MODEL_NAMES as readonly string[]).includes(m)) {
    cli.fail(`--models: unknown model ${m}; choose from ${MODEL_NAMES.join(", ")}`);
  }
}

/** Qwen2.5-0.5B's op graph (every count the same) with the arithmetic shrunk to fit llvmpipe. */
const QWEN_05B_GRAPH: ModelConfig = { ...QWEN25_05B, hiddenSize: 128, intermediateSize: 256 };
/**
 * Qwen3-1.7B-Base's op graph, shrunk the same way: Qwen3 sets head_dim apart from hidden / heads, so the
 * heads keep their 128 values (q 2048 and k, v 1024 wide, as in the real model) and only the residual and
 * MLP widths shrink.
 */
const QWEN3_17B_GRAPH: ModelConfig = { ...QWEN3_17B_BASE, hiddenSize: 128, intermediateSize: 256 };
/** The configs of the random-weight models (tiny is the test model, with its own weights). */
const CONFIGS: Record<Exclude<ModelName, "tiny">, Readonly<ModelConfig>> = {
  "qwen0.5b-graph": QWEN_05B_GRAPH,
  "qwen0.5b": QWEN25_05B,
  "qwen3-1.7b-graph": QWEN3_17B_GRAPH,
};

/** Host tensors of a model: the tiny test model's, or small random values for a published config. */
function hostTensors(name: ModelName): {
  config: ModelConfig;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
} {
  if (name === "tiny") return makeTinyCheckpoint({ seed: 1 });
  const config = CONFIGS[name];
  const rand = seededRandom(1);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    if (name === LM_HEAD && config.tieWordEmbeddings) continue;
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith("norm.weight")) data.fill(1);
    else for (let i = 0; i < data.length; i++) data[i] = (rand() - 0.5) * 0.04;
    tensors.set(name, { shape, data });
  }
  return { config, tensors };
}

/** Bytes of a model's parameters at their stored widths. */
function weightBytesOf(sizes: readonly ParamSize[]): number {
  return sizes.reduce((n, p) => n + p.elements * p.bytesPerElement, 0);
}

/** The model on the GPU with its matrices at `width` (norm weights and biases f32, as loadModel holds them). */
function buildModel(gpu: Gpu, name: ModelName, width: typeof WEIGHTS[number]): Model {
  const { config, tensors } = hostTensors(name);
  return modelFromTensors(gpu, config, tensors, { weights: width });
}

/** The model cut to its first decoder layer, sharing its tensors (not to be released). */
function firstLayerOnly(model: Model): Model {
  const params = new Map([...model.params].filter(([name]) => !/^model\.layers\.[1-9]/.test(name)));
  return new Model(model.gpu, { ...model.config, numLayers: 1 }, params);
}

/** Every parameter's element count and stored width, read from the model's tensors. */
function paramSizes(model: Model): ParamSize[] {
  return [...model.params].map(([name, t]) => ({
    name,
    elements: t.size,
    bytesPerElement: bytesPerElement(t.dtype),
  }));
}

/** Bytes per element of the model's KV cache, read from a cache made for it. */
function kvCacheWidth(model: Model): number {
  const cache = createKvCache(model, 1, 1);
  const bytes = bytesPerElement(cache.k[0].dtype);
  releaseKvCache(cache);
  return bytes;
}

/** The width of the model's projection matrices, read from layer 0's q_proj. */
function matrixWidth(model: Model): string {
  return model.param("model.layers.0.self_attn.q_proj.weight").dtype;
}

interface Measured {
  seconds: number;
  peakBytes: number;
  counts: GpuCounters;
}

/** Times `fn` between two idle points of the GPU and counts the work it asked for. */
async function measure(gpu: Gpu, fn: () => Promise<unknown>): Promise<Measured> {
  await gpu.sync();
  gpu.pool.resetPeak();
  const before = gpu.counters();
  const start = performance.now();
  await fn();
  await gpu.sync();
  const seconds = (performance.now() - start) / 1000;
  const after = gpu.counters();
  return {
    seconds,
    peakBytes: gpu.pool.stats().peakBytes,
    counts: difference(after, before),
  };
}

/** GPU work per step: each counter divided by the number of steps. */
interface PerStep {
  dispatches: number;
  submits: number;
  readbacks: number;
  bindGroups: number;
  /** Dispatches whose grid the runtime folded onto a second axis. */
  folded: number;
  /** Forward passes added by splitting a batch to the device's limits. */
  splitPasses: number;
}

function perStep(c: GpuCounters, steps: number): PerStep {
  return {
    dispatches: c.dispatches / steps,
    submits: c.submits / steps,
    readbacks: c.readbacks / steps,
    bindGroups: c.bindGroups / steps,
    folded: c.folded / steps,
    splitPasses: c.splitPasses / steps,
  };
}

function difference(a: GpuCounters, b: GpuCounters): GpuCounters {
  return {
    dispatches: a.dispatches - b.dispatches,
    submits: a.submits - b.submits,
    readbacks: a.readbacks - b.readbacks,
    bindGroups: a.bindGroups - b.bindGroups,
    folded: a.folded - b.folded,
    splitPasses: a.splitPasses - b.splitPasses,
  };
}

/** Bytes, FLOPs and the H100 roofline of one step that produces (or trains on) `tokens` tokens. */
interface StepCost {
  /** Weight bytes read per token (a step's weight reads shared by its tokens). */
  weightBytesPerToken: number;
  /** FLOPs per token at the step's mean attended context. */
  flopsPerToken: number;
  /** Bytes the roofline charges the step: weights, plus the KV cache (decode) or gradients (train). */
  bytesPerStep: number;
  /** FLOPs of the step. */
  flopsPerStep: number;
  /** H100 roofline time of the step. */
  rooflineMsPerStep: number;
  /** Which limit sets the roofline time. */
  rooflineBound: "compute" | "memory";
}

/** The costs of a step that handles `tokens` tokens, reads `weightBytes` of weights and does `flops` FLOPs. */
function stepCost(tokens: number, weightBytes: number, otherBytes: number, flops: number): StepCost {
  const bytes = weightBytes + otherBytes;
  const r = roofline(flops, bytes, H100);
  return {
    weightBytesPerToken: weightBytes / tokens,
    flopsPerToken: flops / tokens,
    bytesPerStep: bytes,
    flopsPerStep: flops,
    rooflineMsPerStep: r.seconds * 1000,
    rooflineBound: r.bound,
  };
}

/**
 * One workload's row: the whole measured region, per step, and its costs. For generation the step is one
 * generated token of the --gen-tokens call, whose costs include the prefill's.
 */
interface WorkloadResult extends StepCost {
  workload: string;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  /** Steps the per-step figures divide by: 1 call (score, train); new tokens (generation). */
  steps: number;
  msPerStep: number;
  perStep: PerStep;
  peakGpuMiB: number;
  /** Training: the peak trainingPeakMemory computes for the step (f32 weights and gradients, no optimizer). */
  computedPeakGpuMiB?: number;
  /** Generation: the steady-state decode step, from the difference of two runs. */
  decode?: Phase;
  /** Generation: a call that generates one token: setup, prefill, sampling and the final readbacks. */
  prefill?: Phase;
}

/** One phase of generation, per step. */
interface Phase extends StepCost {
  /** Steps measured. */
  steps: number;
  /** Mean keys attended per token. */
  context: number;
  msPerStep: number;
  perStep: PerStep;
  /** Decode: work one decoder layer adds to a step (from the same model cut to one layer). */
  perLayer?: { dispatches: number; bindGroups: number };
  /** Decode: work of a step outside the decoder layers (embedding, final norm, LM head, sampling). */
  outsideLayers?: { dispatches: number; bindGroups: number };
}

const mib = (b: number) => b / 2 ** 20;

/** Bytes of reading and writing every parameter's f32 gradient accumulator once. */
function gradientBytes(sizes: readonly ParamSize[]): number {
  return 8 * sizes.reduce((n, p) => n + p.elements, 0);
}

/**
 * Generation at batch `b`: a prefill-only call (one new token), a call with --gen-tokens new tokens (the
 * row's whole-call figures) and one with --steady-tokens more, whose difference is the steady decode step.
 */
async function benchGenerate(
  model: Model,
  sizes: readonly ParamSize[],
  b: number,
  prompt: () => number[],
): Promise<WorkloadResult> {
  const { gpu, config: cfg } = model;
  const layers = cfg.numLayers;
  const prompts = Array.from({ length: b }, prompt);
  const opts = { eosTokenIds: [], temperature: 1, seed: 1, batchSize: b };
  // Each run starts from an empty pool: fresh buffers miss the bind-group cache alike in every run, so
  // two runs differ only by their extra decode steps (whose bind groups are made once per call).
  const run = async (m: Model, maxNewTokens: number) => {
    await gpu.sync();
    gpu.pool.trim();
    return await measure(gpu, () => generate(m, prompts, { ...opts, maxNewTokens }));
  };
  await generate(model, prompts.slice(0, 1), { ...opts, maxNewTokens: 2 }); // compile pipelines
  const kvBytes = kvCacheWidth(model);
  const prefill = await run(model, 1);
  const first = await run(model, genTokens);
  const longer = await run(model, genTokens + steadyTokens);
  const decodeCounts = difference(longer.counts, first.counts);
  const decodePerStep = perStep(decodeCounts, steadyTokens);
  // The same step with one decoder layer: the difference is what each further layer adds.
  const perLayer = {
    dispatches: decodePerStep.dispatches / layers,
    bindGroups: decodePerStep.bindGroups / layers,
  };
  if (layers > 1) {
    const one = firstLayerOnly(model);
    const oneStep = perStep(
      difference((await run(one, genTokens + steadyTokens)).counts, (await run(one, genTokens)).counts),
      steadyTokens,
    );
    perLayer.dispatches = (decodePerStep.dispatches - oneStep.dispatches) / (layers - 1);
    perLayer.bindGroups = (decodePerStep.bindGroups - oneStep.bindGroups) / (layers - 1);
  }
  // Decode step s (1-based; the prefill samples token 1) feeds token s and attends to genPrompt + s keys.
  const decodeContext = genPrompt + genTokens + (steadyTokens - 1) / 2;
  const decodeWeights = weightBytesPerForward(cfg, sizes, b);
  const prefillContext = (genPrompt + 1) / 2;
  const prefillWeights = weightBytesPerForward(cfg, sizes, b * genPrompt);
  const prefillFlops = b * genPrompt * forwardFlopsPerToken(cfg, prefillContext);
  // The --gen-tokens call: the prefill and genTokens − 1 decode steps at mean context genPrompt + genTokens / 2
  // (bytes and FLOPs are linear in the context), spread over its genTokens steps.
  const steps = genTokens, decodes = genTokens - 1, meanContext = genPrompt + genTokens / 2;
  const whole = stepCost(
    b,
    (prefillWeights + decodes * decodeWeights) / steps,
    decodes * kvCacheBytesPerStep(cfg, b, meanContext, kvBytes) / steps,
    (prefillFlops + decodes * b * forwardFlopsPerToken(cfg, meanContext)) / steps,
  );
  return {
    workload: `generate batch ${b}`,
    tokens: b * genTokens,
    seconds: first.seconds,
    tokensPerSecond: b * genTokens / first.seconds,
    steps,
    msPerStep: first.seconds * 1000 / steps,
    perStep: perStep(first.counts, steps),
    peakGpuMiB: mib(Math.max(prefill.peakBytes, first.peakBytes, longer.peakBytes)),
    ...whole,
    decode: {
      steps: steadyTokens,
      context: decodeContext,
      msPerStep: (longer.seconds - first.seconds) * 1000 / steadyTokens,
      perStep: decodePerStep,
      perLayer,
      outsideLayers: {
        dispatches: decodePerStep.dispatches - layers * perLayer.dispatches,
        bindGroups: decodePerStep.bindGroups - layers * perLayer.bindGroups,
      },
      ...stepCost(
        b,
        decodeWeights,
        kvCacheBytesPerStep(cfg, b, decodeContext, kvBytes),
        b * forwardFlopsPerToken(cfg, decodeContext),
      ),
    },
    prefill: {
      steps: 1,
      context: prefillContext,
      msPerStep: prefill.seconds * 1000,
      perStep: perStep(prefill.counts, 1),
      ...stepCost(b * genPrompt, prefillWeights, 0, prefillFlops),
    },
  };
}

async function benchModel(gpu: Gpu, name: ModelName): Promise<{ model: object; rows: WorkloadResult[] }> {
  const model = buildModel(gpu, name, weights);
  const cfg = model.config;
  const sizes = paramSizes(model);
  const rows: WorkloadResult[] = [];
  const rand = seededRandom(2);
  const ids = (n: number) =>
    Array.from({ length: n }, () => Math.floor(rand() * Math.min(cfg.vocabSize, 30000)));
  const half = Math.floor(seq / 2);
  const items = Array.from(
    { length: scoreBatch },
    () => ({ promptIds: ids(half), completionIds: ids(seq - half) }),
  );
  const causalContext = (seq + 1) / 2;
  const callRow = (workload: string, m: Measured, cost: StepCost): WorkloadResult => ({
    workload,
    tokens: scoreBatch * seq,
    seconds: m.seconds,
    tokensPerSecond: scoreBatch * seq / m.seconds,
    steps: 1,
    msPerStep: m.seconds * 1000,
    perStep: perStep(m.counts, 1),
    peakGpuMiB: mib(m.peakBytes),
    ...cost,
  });

  await score(model, items.slice(0, 1)); // compile pipelines outside the timings
  const scored = await measure(gpu, () => score(model, items, { batchSize: scoreBatch }));
  const callTokens = scoreBatch * seq;
  rows.push(callRow(
    "score",
    scored,
    stepCost(
      callTokens,
      weightBytesPerForward(cfg, sizes, callTokens),
      0,
      callTokens * forwardFlopsPerToken(cfg, causalContext),
    ),
  ));

  const batch = buildSequenceBatch(items.map((i) => i.promptIds), items.map((i) => i.completionIds), 0);
  // Training runs on f32 master weights whatever the inference width.
  const master = weights === "f32" ? model : buildModel(gpu, name, "f32");
  const masterSizes = paramSizes(master);
  const grads = createGradients(master);
  const tokenWeights = new Float32Array(batch.rows.length).fill(1 / batch.rows.length);
  const train = (recompute: boolean) => {
    lossBackward(master, batch, { kind: "weights", weights: tokenWeights, temperature: 1 }, grads, {
      recompute,
    });
    return gpu.sync();
  };
  const gradBytes = gradientBytes(masterSizes);
  for (const recompute of [false, true]) {
    await train(recompute);
    // From an empty pool, so the peak is this step's: the weights, the gradients and what the step allocates.
    gpu.flush();
    gpu.pool.trim();
    const trained = await measure(gpu, () => train(recompute));
    const computed = trainingPeakMemory(cfg, masterSizes, {
      batch: batch.batch,
      seqLen: batch.seqLen,
      lossRows: batch.rows.length,
      logitChunkRows: logitChunkRows(model),
      recompute,
      optimizer: false,
      ids: batch.ids,
    });
    rows.push({
      ...callRow(
        recompute ? "train fwd+bwd (recompute)" : "train fwd+bwd",
        trained,
        stepCost(
          callTokens,
          trainBytesPerStep(cfg, masterSizes, callTokens) - gradBytes,
          gradBytes,
          callTokens * (trainFlopsPerToken(cfg, causalContext) +
            (recompute ? recomputeFlopsPerToken(cfg, causalContext) : 0)),
        ),
      ),
      // With half-width inference weights, the f32 masters train beside them: both count in the peak.
      computedPeakGpuMiB: mib(computed.peakBytes + (master === model ? 0 : weightBytesOf(sizes))),
    });
  }
  for (const t of grads.values()) t.release();
  if (master !== model) master.release();

  for (const b of genBatches) rows.push(await benchGenerate(model, sizes, b, () => ids(genPrompt)));
  const description = {
    name,
    weights: matrixWidth(model),
    config: {
      arch: cfg.arch,
      qkNorm: cfg.qkNorm,
      postNorms: cfg.postNorms,
      vocabSize: cfg.vocabSize,
      hiddenSize: cfg.hiddenSize,
      intermediateSize: cfg.intermediateSize,
      numLayers: cfg.numLayers,
      numHeads: cfg.numHeads,
      numKvHeads: cfg.numKvHeads,
      headDim: cfg.headDim,
      tieWordEmbeddings: cfg.tieWordEmbeddings,
      attentionBias: cfg.attentionBias,
    },
    params: sizes.reduce((n, p) => n + p.elements, 0),
    weightBytes: weightBytesOf(sizes),
  };
  model.release();
  gpu.flush(); // releases reach the free lists, which trim() empties
  gpu.pool.trim();
  return { model: description, rows };
}

/** A GRPO config for a step on the demo model: 2 prompts × 8 samples, 8 new tokens, `microBatches` micro-batches. */
function grpoConfig(microBatches: number): GrpoConfig {
  const yaml = `
model: {path: ${GRPO_MODEL}}
data:
  template: configs/templates/problem_only.jinja
  chat_template: false
  synthetic: {task: arithmetic, format: compact, min_operand: 0, max_operand: 19, ops: ["+"], count: 64, seed: 11}
rollout: {n: 8, temperature: 1.0, max_new_tokens: 8}
reward: {name: math_accuracy}
algorithm: {kl_coef: 0.0, loss_agg: token-mean}
train: {steps: 2, prompts_per_step: 2, micro_batch: ${16 / microBatches}, lr: 3.0e-4, warmup_ratio: 0}
`;
  return resolveConfig(GRPO_CONFIG, yaml, "bench:model grpo").config;
}

/**
 * Bytes and FLOPs of a GRPO step over sequences of the given prompt / completion lengths: the rollout
 * (prefill, then one decode step per generated token, weights read once per step), the scoring forward,
 * `epochs` × (forward + backward of each micro-batch) and AdamW (f32 weight, gradient and two moments read,
 * weight and moments written); the KV cache holds `kvBytes` per element.
 */
function grpoStepCost(
  cfg: ModelConfig,
  sizes: readonly ParamSize[],
  lengths: readonly { prompt: number; completion: number }[],
  microBatches: number,
  epochs: number,
  tokens: number,
  kvBytes: number,
): StepCost {
  const n = lengths.length;
  const maxPrompt = Math.max(...lengths.map((l) => l.prompt));
  const decodeSteps = Math.max(...lengths.map((l) => l.completion)) - 1;
  const totalTokens = lengths.reduce((t, l) => t + l.prompt + l.completion, 0);
  let flops = 0;
  for (const { prompt, completion } of lengths) {
    flops += prompt * forwardFlopsPerToken(cfg, (prompt + 1) / 2);
    // Decode steps 1 … completion − 1 attend to prompt + s keys: mean prompt + completion / 2.
    flops += (completion - 1) * forwardFlopsPerToken(cfg, prompt + completion / 2);
    const len = prompt + completion;
    flops += len * forwardFlopsPerToken(cfg, (len + 1) / 2) * (1 + 3 * epochs);
  }
  const meanContext = maxPrompt + (decodeSteps + 1) / 2;
  const weights = weightBytesPerForward(cfg, sizes, n * maxPrompt) +
    decodeSteps * weightBytesPerForward(cfg, sizes, n) +
    weightBytesPerForward(cfg, sizes, totalTokens) +
    epochs * microBatches *
      (trainBytesPerStep(cfg, sizes, totalTokens / microBatches) - gradientBytes(sizes));
  const params = sizes.reduce((t, p) => t + p.elements, 0);
  const other = decodeSteps * kvCacheBytesPerStep(cfg, n, meanContext, kvBytes) +
    epochs * (microBatches * gradientBytes(sizes) + 7 * 4 * params);
  return stepCost(tokens, weights, other, flops);
}

/**
 * One steady-state GRPO step (rollout, scoring, update) on the demo model, after a first step that
 * compiles the pipelines, counted as a whole.
 */
async function benchGrpo(gpu: Gpu, microBatches: number): Promise<WorkloadResult> {
  const config = grpoConfig(microBatches);
  const policy = await loadModel(config.model.path, { gpu, weights: "f32" });
  // As the trainer does: the f32 policy trains and scores, a half-width copy refreshed after each update samples.
  const sampler = config.rollout.weights === "f32" ? policy : halfWidthCopy(policy, config.rollout.weights);
  const examples = await loadTrainingExamples(config.data);
  const prompts = await buildPromptSet(config.data, examples, policy.tokenizer!);
  const { reward, shaping } = rewardFromConfig(config.reward);
  const keys = policy.names;
  const grads = createGradients(policy);
  const optimizer = policyOptimizer(policy, config.train);
  let lengths: { prompt: number; completion: number }[] = [];
  const step = async (s: number) => {
    const indices = stepPromptIndices(examples.length, config.train.prompts_per_step, s, config.train.seed);
    const batch = await collectRollouts(
      { policy, sampler, reference: null, reward, shaping, config },
      examples,
      prompts,
      indices,
      s,
    );
    const advantages = groupAdvantages(batch.rewards, config.rollout.n, {
      stdScaling: config.algorithm.adv_std,
      eps: config.algorithm.adv_eps,
    });
    await updatePolicy(policy, optimizer, grads, keys, batch, advantages, config, config.train.lr);
    if (sampler !== policy) refreshHalfWidthCopy(sampler, policy);
    lengths = batch.completions.map((c) => ({
      prompt: c.promptIds.length,
      completion: c.completionIds.length,
    }));
  };
  try {
    await step(1);
    const m = await measure(gpu, () => step(2));
    const cfg = policy.config;
    const sizes = paramSizes(policy);
    const tokens = lengths.reduce((n, l) => n + l.completion, 0);
    return {
      workload: `grpo step (${microBatches} micro-batches)`,
      tokens,
      seconds: m.seconds,
      tokensPerSecond: tokens / m.seconds,
      steps: 1,
      msPerStep: m.seconds * 1000,
      perStep: perStep(m.counts, 1),
      peakGpuMiB: mib(m.peakBytes),
      ...grpoStepCost(
        cfg,
        sizes,
        lengths,
        microBatches,
        config.algorithm.ppo_epochs,
        tokens,
        kvCacheWidth(sampler),
      ),
    };
  } finally {
    for (const g of grads.values()) g.release();
    optimizer.release();
    if (sampler !== policy) sampler.release();
    policy.release();
    gpu.flush();
    gpu.pool.trim();
  }
}

const COLUMNS: [string, number][] = [
  ["model", 16],
  ["workload", 25],
  ["tokens", 6],
  ["seconds", 7],
  ["tokens/s", 9],
  ["ms/step", 9],
  ["H100 ms", 8],
  ["disp", 6],
  ["disp/L", 6],
  ["submit", 6],
  ["readbk", 6],
  ["bindgr", 6],
  ["wMB/tok", 8],
  ["MFLOP/tok", 10],
  ["peak MiB", 8],
  ["calc MiB", 8],
];
const printRow = (cells: string[]) => console.log(cells.map((c, i) => c.padStart(COLUMNS[i][1])).join(" "));

/** One table line; a generation row shows the steady decode step's figures, the rest the call's. */
function printResult(model: string, r: WorkloadResult) {
  const step = r.decode ?? r;
  const p = step.perStep;
  const small = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
  printRow([
    model,
    r.workload,
    String(r.tokens),
    r.seconds.toFixed(2),
    r.tokensPerSecond.toFixed(1),
    step.msPerStep.toFixed(2),
    step.rooflineMsPerStep < 0.01
      ? step.rooflineMsPerStep.toExponential(1)
      : step.rooflineMsPerStep.toFixed(3),
    small(p.dispatches),
    r.decode?.perLayer ? r.decode.perLayer.dispatches.toFixed(2) : "-",
    small(p.submits),
    small(p.readbacks),
    small(p.bindGroups),
    (step.weightBytesPerToken / 1e6).toFixed(2),
    (step.flopsPerToken / 1e6).toFixed(1),
    r.peakGpuMiB.toFixed(1),
    r.computedPeakGpuMiB?.toFixed(1) ?? "-",
  ]);
}

await runMain(async () => {
  const gpu = await getDevice();
  const adapter = gpu.adapterInfo.description || gpu.adapterInfo.device || gpu.adapterInfo.vendor;
  console.log(
    `adapter: ${adapter}; weights ${weights}; seq ${seq}, score batch ${scoreBatch}; generate: prompt ${genPrompt}, ` +
      `${genTokens} new tokens (steady state from ${steadyTokens} more)`,
  );
  console.log(
    "per step: the call (score, train, grpo) or the steady decode step (generate); H100 ms: roofline at " +
      "67 TF/s, 3.35 TB/s; disp/L: dispatches per decoder layer per decode step; wMB/tok: weight MB read per token",
  );
  printRow(COLUMNS.map(([c]) => c));
  const results: { model: object; workloads: WorkloadResult[] }[] = [];
  for (const name of models as ModelName[]) {
    const { model, rows } = await benchModel(gpu, name);
    rows.forEach((r) => printResult(name, r));
    results.push({ model, workloads: rows });
  }
  const grpo: WorkloadResult[] = [];
  for (const micro of grpoMicroBatches) {
    const r = await benchGrpo(gpu, micro);
    printResult("arith-tiny", r);
    grpo.push(r);
  }
  const recipes = values.recipes ? await benchRecipes(gpu) : null;
  if (jsonPath !== undefined) {
    const report = {
      command: ["deno", "task", "bench:model", ...Deno.args].join(" "),
      date: new Date().toISOString(),
      deno: Deno.version.deno,
      adapter: {
        description: gpu.adapterInfo.description,
        vendor: gpu.adapterInfo.vendor,
        architecture: gpu.adapterInfo.architecture,
        device: gpu.adapterInfo.device,
      },
      roofline: H100,
      options: {
        weights,
        seq,
        scoreBatch,
        genBatches,
        genPrompt,
        genTokens,
        steadyTokens,
        grpoMicroBatches,
        large,
      },
      models: results,
      grpo: { model: GRPO_MODEL, workloads: grpo },
      ...(recipes ? { recipes } : {}),
    };
    await writeFileAtomic(jsonPath, JSON.stringify(report, null, 2) + "\n");
    console.log(`wrote ${jsonPath}`);
  }
});

/** One recipe's plan at its model's real shapes and, at tiny shapes, planned against measured. */
interface RecipeRow {
  recipe: string;
  model: string;
  plannedPeakGiB: number;
  gpuMemoryGiB: number;
  foldedDispatches: number;
  splitPasses: number;
  tiny: { plannedPeakMiB: number; measuredPeakMiB: number };
}

/**
 * Every recipe in configs/: its step planned at its model's shapes (lib/bench/memory_plan.ts), and the
 * same recipe shrunk onto a tiny model of the family (prompts of 8 tokens, 6 new tokens, 2 prompts a
 * step) planned on the planning device and measured by the same code on this adapter.
 */
async function benchRecipes(gpu: Gpu): Promise<RecipeRow[]> {
  const rows: RecipeRow[] = [];
  const files = [...Deno.readDirSync("configs")].filter((e) => e.name.endsWith(".yaml")).map((e) => e.name)
    .sort();
  const tinyRoot = await Deno.makeTempDir({ prefix: "rlif-bench-recipes-" });
  try {
    console.log(
      "\nrecipe                       model                                 planned GiB  of GiB  folded  split  tiny planned / measured MiB",
    );
    for (const file of files) {
      const { config } = await loadConfig(GRPO_CONFIG, { file: join("configs", file) });
      const { config: model, source } = await planModelConfig(config.model.path);
      const plan = await planGrpoMemory(config, model);
      const dir = join(tinyRoot, model.arch);
      try {
        await Deno.stat(dir);
      } catch {
        await writeTinyCheckpoint(dir, {
          arch: model.arch,
          ...(model.arch === "qwen3" ? { headDim: 24 } : {}),
        });
      }
      const tinyConfig: GrpoConfig = {
        ...config,
        model: { ...config.model, path: dir },
        rollout: { ...config.rollout, max_new_tokens: 6, batch: 8 },
        train: { ...config.train, prompts_per_step: 2, mini_batch: null, micro_batch: 4 },
        gpu: { ...config.gpu, prompt_tokens: 8 },
      };
      const tinyModel = await loadModelConfig(dir);
      const planned = await planGrpoMemory(tinyConfig, tinyModel, { limits: gpu.limits });
      // A runtime of its own, so no table cached by an earlier recipe is missing from the measurement.
      const own = new Gpu(gpu.device, gpu.adapterInfo);
      await own.kernels.loadAll();
      const measured = await planGrpoMemory(tinyConfig, tinyModel, { gpu: own });
      const row: RecipeRow = {
        recipe: file,
        model: source,
        plannedPeakGiB: plan.peakBytes / 2 ** 30,
        gpuMemoryGiB: config.gpu.memory_gb ?? 80,
        foldedDispatches: plan.foldedDispatches,
        splitPasses: plan.splitPasses,
        tiny: { plannedPeakMiB: mib(planned.peakBytes), measuredPeakMiB: mib(measured.peakBytes) },
      };
      rows.push(row);
      console.log(
        `${file.padEnd(28)} ${source.slice(0, 37).padEnd(37)} ${
          row.plannedPeakGiB.toFixed(1).padStart(11)
        } ` +
          `${String(row.gpuMemoryGiB).padStart(7)} ${String(row.foldedDispatches).padStart(7)} ` +
          `${String(row.splitPasses).padStart(6)}  ${row.tiny.plannedPeakMiB.toFixed(3)} / ` +
          `${row.tiny.measuredPeakMiB.toFixed(3)}`,
      );
    }
  } finally {
    await Deno.remove(tinyRoot, { recursive: true });
  }
  return rows;
}

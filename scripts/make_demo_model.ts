/**
 * Makes the bundled demo model, scripts/assets/arith-tiny: a tiny Qwen2-architecture model trained from random
 * init by supervised fine-tuning on two-operand addition and stopped while it is only partly right, so that
 * GRPO with a verifiable or an intrinsic reward has room to raise its accuracy in a few CPU minutes.
 *
 *   deno task make-demo-model [--out DIR] [--seed S] [--steps N] [--batch B] [--lr LR] ...   (--help lists all)
 *
 * Task: prompt `{a}+{b}=` (tiny byte-level tokenizer, no special tokens, no chat template); completion
 * `\boxed{a+b}` then `<|im_end|>`. All pairs a, b in [min, max] are split once by seed into training pairs
 * and held-out pairs; SFT sees only the training pairs. The folder (weights, tokenizer, README with the
 * measured accuracy, split.json with the held-out prompts) is built next to the output and renamed into
 * place. The same flags on the same WebGPU adapter give byte-identical files.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { type Flags, runMain, ScriptCli } from "./_cli.ts";
import { z } from "zod";
import { NonFiniteError } from "../lib/gpu/errors.ts";
import { seededRandom, shuffled } from "../lib/data/rng.ts";
import { extractBoxed } from "../lib/grading/extract.ts";
import { isEquivalent } from "../lib/grading/equivalence.ts";
import { passAtK } from "../lib/metrics/metrics.ts";
import { generate } from "../lib/generate/generate.ts";
import { getDevice } from "../lib/gpu/device.ts";
import { buildSequenceBatch } from "../lib/model/batch.ts";
import { loadModel, type Model } from "../lib/model/model.ts";
import { writeFileAtomic } from "../lib/log/atomic.ts";
import { TINY_TOKEN_IDS, writeTinyCheckpoint } from "../lib/model/tiny.ts";
import { score } from "../lib/model/score.ts";
import { createOptimizer, lossBackward, optimizerStep } from "../lib/model/train_step.ts";
import { createGradients } from "../lib/model/transformer.ts";
import { learningRate } from "../lib/rl/schedule.ts";

// ---- flags ---------------------------------------------------------------------------------------------

const FLAGS = {
  out: { arg: "DIR", default: "scripts/assets/arith-tiny", doc: "output folder (replaced atomically)" },
  seed: { arg: "N", default: "0", doc: "seed of the init, the split, the batch order and the sampling" },
  "min-operand": { arg: "N", default: "0", doc: "smallest operand" },
  "max-operand": { arg: "N", default: "19", doc: "largest operand" },
  "heldout-fraction": { arg: "X", default: "0.2", doc: "share of the a+b pairs SFT never sees" },
  layers: { arg: "N", default: "2", doc: "transformer blocks" },
  hidden: { arg: "N", default: "64", doc: "residual width" },
  heads: { arg: "N", default: "4", doc: "query heads" },
  "kv-heads": { arg: "N", default: "2", doc: "key/value heads" },
  intermediate: { arg: "N", default: "128", doc: "MLP width" },
  "max-positions": { arg: "N", default: "64", doc: "context length" },
  steps: { arg: "N", default: "220", doc: "SFT optimizer steps" },
  batch: { arg: "N", default: "32", doc: "sequences per step" },
  lr: { arg: "X", default: "0.004", doc: "peak learning rate (linear warmup, then cosine decay)" },
  "min-lr-ratio": { arg: "X", default: "0.1", doc: "cosine floor as a fraction of --lr" },
  warmup: { arg: "N", default: "20", doc: "warmup steps" },
  "weight-decay": { arg: "X", default: "0.01", doc: "AdamW decay of matrices (norms and biases get none)" },
  "max-grad-norm": { arg: "N", default: "1", doc: "global gradient-norm clip" },
  "log-every": { arg: "N", default: "20", doc: "steps between loss / greedy-accuracy lines" },
  "eval-count": { arg: "N", default: "64", doc: "problems per split in the periodic greedy check" },
  samples: {
    arg: "N",
    default: "8",
    doc: "samples per held-out problem at temperature 1 in the final evaluation",
  },
  role: {
    arg: "ROLE",
    default: "demo",
    doc: "what the README calls the model: demo, or instruct (a longer-tuned sibling)",
  },
} as const satisfies Flags;
type FlagName = keyof typeof FLAGS;

const cli = new ScriptCli({
  task: "make-demo-model",
  summary: "Trains the bundled demo model (scripts/assets/arith-tiny) from random init by supervised " +
    "fine-tuning on two-operand addition, stopped while it is only partly right.",
  flags: FLAGS,
  examples: ["deno task make-demo-model", "deno task make-demo-model --out /tmp/arith --steps 50"],
});
const { values } = cli.parse();

const num = (name: FlagName, schema: z.ZodType<number, number>) => cli.number(name, schema);
const int = (name: FlagName, min: number) => num(name, z.number().int().min(min));
const positive = (name: FlagName) => num(name, z.number().positive());

const out = values.out;
if (out.trim() === "") cli.fail("--out must name a folder");
const role = cli.oneOf("role", ["demo", "instruct"] as const)!;
const seed = int("seed", 0);
const minOperand = int("min-operand", 0);
const maxOperand = int("max-operand", minOperand);
const heldoutFraction = num("heldout-fraction", z.number().gt(0).lt(1));
const sizes = {
  layers: int("layers", 1),
  hidden: int("hidden", 2),
  heads: int("heads", 1),
  kvHeads: int("kv-heads", 1),
  intermediate: int("intermediate", 1),
  maxPositions: int("max-positions", 16),
};
const steps = int("steps", 1);
const batchSize = int("batch", 1);
const baseLr = positive("lr");
const minLrRatio = num("min-lr-ratio", z.number().min(0).max(1));
const warmup = int("warmup", 0);
const weightDecay = num("weight-decay", z.number().min(0));
const maxGradNorm = positive("max-grad-norm");
const logEvery = int("log-every", 1);
const evalCount = int("eval-count", 1);
const samples = int("samples", 1);

// ---- the task: every pair once, split by seed ----------------------------------------------------------

/** One addition problem. */
interface Problem {
  readonly prompt: string;
  readonly answer: string;
}

const pairs: Problem[] = [];
for (let a = minOperand; a <= maxOperand; a++) {
  for (let b = minOperand; b <= maxOperand; b++) pairs.push({ prompt: `${a}+${b}=`, answer: String(a + b) });
}
const heldoutCount = Math.round(pairs.length * heldoutFraction);
if (heldoutCount < 1 || heldoutCount >= pairs.length) {
  cli.fail(
    `--heldout-fraction ${heldoutFraction} of ${pairs.length} pairs leaves no held-out or no training pair`,
  );
}
// Separate streams for the split and the batch order, so changing one flag does not reshuffle the other.
const order = shuffled(seededRandom(seed * 2 + 1), pairs);
const heldout = order.slice(0, heldoutCount).sort((x, y) => pairs.indexOf(x) - pairs.indexOf(y));
const train = order.slice(heldoutCount);

// ---- grading -------------------------------------------------------------------------------------------

/** A completion in the trained format: `\boxed{digits}` and nothing else, ended by EOS. */
const FORMAT = /^\\boxed\{\d+\}$/;
const EOS = TINY_TOKEN_IDS.imEnd;

/** Accuracy, format rate, pass@n and the share of problems with both right and wrong samples. */
interface Evaluation {
  accuracy: number;
  format: number;
  passAtN: number;
  mixed: number;
}

async function evaluate(
  model: Model,
  problems: readonly Problem[],
  options: { temperature: number; n: number },
): Promise<Evaluation> {
  const outs = await generate(model, problems.map((p) => p.prompt), {
    temperature: options.temperature,
    n: options.n,
    seed,
    // `\boxed{` + 2 digits + `}` + EOS is 11 tokens; one spare shows a model that does not stop.
    maxNewTokens: 12,
    eosTokenIds: [EOS, TINY_TOKEN_IDS.endOfText],
    batchSize: 256,
  });
  let correct = 0, formatted = 0, pass = 0, mixed = 0;
  problems.forEach((p, i) => {
    let c = 0;
    for (let j = 0; j < options.n; j++) {
      const o = outs[i * options.n + j];
      const boxed = extractBoxed(o.text);
      if (boxed !== null && isEquivalent(boxed, p.answer)) c++;
      if (o.finishReason === "eos" && FORMAT.test(o.text)) formatted++;
    }
    correct += c;
    pass += passAtK(options.n, c, options.n);
    if (c > 0 && c < options.n) mixed++;
  });
  const total = problems.length * options.n;
  return {
    accuracy: correct / total,
    format: formatted / total,
    passAtN: pass / problems.length,
    mixed: mixed / problems.length,
  };
}

// ---- SFT -----------------------------------------------------------------------------------------------

/** Trains `model` in place on the training pairs; returns the last step's mean token cross-entropy. */
async function sft(model: Model): Promise<number> {
  const { gpu } = model;
  const tok = model.tokenizer!;
  const encode = (text: string) => tok.encode(text, { addSpecialTokens: false });
  const promptIds = new Map(train.map((p) => [p.prompt, encode(p.prompt)]));
  const completionIds = new Map(train.map((p) => [p.prompt, [...encode(`\\boxed{${p.answer}}`), EOS]]));
  const grads = createGradients(model);
  const gradList = model.names.map((n) => grads.get(n)!);
  const opt = createOptimizer(model, { betas: [0.9, 0.98], eps: 1e-8, weightDecay, maxGradNorm });
  const schedule = { schedule: "cosine" as const, warmupSteps: warmup, totalSteps: steps, minLrRatio };
  const seenCheck = train.slice(0, Math.min(evalCount, train.length));
  const heldCheck = heldout.slice(0, Math.min(evalCount, heldout.length));

  const batchRand = seededRandom(seed * 2 + 2);
  let epoch: Problem[] = [], at = 0;
  const started = performance.now();
  let loss = NaN;
  for (let step = 0; step < steps; step++) {
    const problems: Problem[] = [];
    while (problems.length < batchSize) {
      if (at >= epoch.length) [epoch, at] = [shuffled(batchRand, train), 0];
      problems.push(epoch[at++]);
    }
    const batch = buildSequenceBatch(
      problems.map((p) => promptIds.get(p.prompt)!),
      problems.map((p) => completionIds.get(p.prompt)!),
      TINY_TOKEN_IDS.endOfText,
      model.config.maxPositionEmbeddings,
    );
    const logging = (step + 1) % logEvery === 0 || step === steps - 1;
    // The logged loss comes from a scoring pass before the step, on the weights the step starts from.
    const scored = logging
      ? await score(
        model,
        problems.map((p) => ({
          promptIds: promptIds.get(p.prompt)!,
          completionIds: completionIds.get(p.prompt)!,
        })),
      )
      : null;
    // Mean cross-entropy over completion tokens is Σ_r −log p(target_r) / N: weights −1/N.
    const weights = new Float32Array(batch.rows.length).fill(-1 / batch.rows.length);
    lossBackward(model, batch, { kind: "weights", weights, temperature: 1 }, grads);
    optimizerStep(opt, gradList, learningRate(step, baseLr, schedule));
    if (!scored) {
      await gpu.sync(); // one step in flight at a time keeps memory flat
      continue;
    }
    const tokenLogprobs = scored.flatMap((s) => [...s.tokenLogprobs]);
    loss = -tokenLogprobs.reduce((a, b) => a + b, 0) / tokenLogprobs.length;
    if (!Number.isFinite(loss)) {
      throw new NonFiniteError(`make_demo_model: the loss is ${loss} at step ${step + 1}; lower --lr`);
    }
    const seen = await evaluate(model, seenCheck, { temperature: 0, n: 1 });
    const held = await evaluate(model, heldCheck, { temperature: 0, n: 1 });
    console.log(
      `step ${String(step + 1).padStart(4)}  loss ${loss.toFixed(4)}  greedy accuracy seen ${
        seen.accuracy.toFixed(3)
      } held-out ${held.accuracy.toFixed(3)}  format ${held.format.toFixed(3)}  ` +
        `${((performance.now() - started) / 1000).toFixed(0)}s`,
    );
  }
  opt.release();
  for (const g of gradList) g.release();
  return loss;
}

// ---- the folder ----------------------------------------------------------------------------------------

/** Fills words into lines of at most `width` characters, as `deno fmt` wraps markdown prose. */
function wrap(text: string, first = "", rest = ""): string {
  const width = 110;
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(" ")) {
    const prefix = lines.length === 0 ? first : rest;
    if (line.length > prefix.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else line += (line.length > prefix.length ? " " : "") + word;
  }
  lines.push(line);
  return lines.join("\n");
}

/** A markdown table with padded columns, as `deno fmt` writes it. */
function table(rows: readonly (readonly [string, string])[]): string {
  const w = [0, 1].map((c) => Math.max(3, ...rows.map((r) => r[c].length)));
  const line = (r: readonly string[]) => `| ${r.map((cell, c) => cell.padEnd(w[c])).join(" | ")} |`;
  return [line(rows[0]), line(w.map((n) => "-".repeat(n))), ...rows.slice(1).map(line)].join("\n");
}

/** README.md of the folder: what the model is, the command that made it and what it measured. */
function readme(
  model: Model,
  paramCount: number,
  loss: number,
  seen: Evaluation,
  held: Evaluation,
  sampled: Evaluation,
  seenCount: number,
): string {
  const c = model.config;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const command = ["deno task make-demo-model", ...Deno.args].join(" ");
  const item = (text: string) => wrap(text, "- ", "  ");
  return [
    `# ${basename(out)}`,
    wrap(
      role === "demo"
        ? "A tiny Qwen2-architecture model made by rlif itself (`scripts/make_demo_model.ts`): random init, " +
          "then supervised fine-tuning on two-operand addition, stopped while it is only partly right. It is " +
          "the starting point of the demo: GRPO on a CPU has room to raise its accuracy and its self-certainty."
        : "A tiny Qwen2-architecture model made by rlif itself (`scripts/make_demo_model.ts`): the same init, " +
          "data, split and seed as arith-tiny, with longer supervised fine-tuning, so it starts more accurate " +
          "and more certain. It is the instruct sibling of arith-tiny in `deno task compare:base-instruct` " +
          "(the RLIF study's base vs instruct models in miniature: both are supervised on the task, this one " +
          "for longer; neither is a pretrained or chat model).",
    ),
    [
      item(
        `Model: ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} query / ${c.numKvHeads} key-value ` +
          `heads, MLP ${c.intermediateSize}, context ${c.maxPositionEmbeddings}, vocabulary ${c.vocabSize} ` +
          `(the byte-level tokenizer of \`lib/model/tiny.ts\`), untied embeddings, ${paramCount} parameters, F32.`,
      ),
      item(
        "Task: prompt `{a}+{b}=` encoded without special tokens and without a chat template; target " +
          `completion \`\\boxed{a+b}\` followed by \`<|im_end|>\` (id ${EOS}). A correct rollout decodes to ` +
          "e.g. `\\boxed{15}`.",
      ),
      item(
        `Data: a, b in [${minOperand}, ${maxOperand}]: ${pairs.length} pairs, split by seed into ` +
          `${train.length} training pairs and ${heldout.length} held-out pairs (the prompts in \`split.json\`), ` +
          "which SFT never sees.",
      ),
      item(
        `SFT: ${steps} AdamW steps of ${batchSize} sequences, lr ${baseLr} (${warmup} warmup steps, then ` +
          `cosine down to ${minLrRatio} of it), betas (0.9, 0.98), weight decay ${weightDecay} on matrices, ` +
          `gradient clip ${maxGradNorm}; loss: mean cross-entropy over the completion tokens.`,
      ),
    ].join("\n"),
    "Made with:",
    "```\n" + command + "\n```",
    wrap(
      "The same command on the same WebGPU adapter rewrites these files byte for byte (they were made on " +
        "Mesa llvmpipe).",
    ),
    wrap(
      `Measured at the end of the script (greedy: temperature 0; sampled: temperature 1, ${samples} samples ` +
        `per problem, seed ${seed}; format: the completion is exactly \`\\boxed{digits}\` and ends with ` +
        "`<|im_end|>`):",
    ),
    table([
      ["metric", "value"],
      ["final SFT loss (mean over completion tokens, last batch)", loss.toFixed(4)],
      [`greedy accuracy, training pairs (the first ${seenCount} in shuffled order)`, pct(seen.accuracy)],
      [`greedy accuracy, held-out pairs (${heldout.length})`, pct(held.accuracy)],
      [
        "format-correct completions on held-out pairs, greedy / sampled",
        `${pct(held.format)} / ${pct(sampled.format)}`,
      ],
      ["held-out, sampled: mean accuracy", pct(sampled.accuracy)],
      [`held-out, sampled: pass@${samples}`, pct(sampled.passAtN)],
      ["held-out, sampled: problems with both right and wrong samples", pct(sampled.mixed)],
    ]),
  ].join("\n\n") + "\n";
}

/** Puts the finished temp folder at `out`, replacing an older one; a reader sees the old or the new folder. */
async function replaceFolder(tmp: string, out: string): Promise<void> {
  const old = join(dirname(out), `.${basename(out)}.${Deno.pid}.old.tmp`);
  let hadOld = false;
  try {
    await Deno.rename(out, old);
    hadOld = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.rename(tmp, out);
  if (hadOld) await Deno.remove(old, { recursive: true });
}

// ---- main ----------------------------------------------------------------------------------------------

const tmp = join(dirname(out), `.${basename(out)}.${Deno.pid}.tmp`);
await runMain(async () => {
  try {
    const gpu = await getDevice();
    const tiny = await writeTinyCheckpoint(tmp, { seed, arch: "qwen2", dtype: "f32", ...sizes });
    const model = await loadModel(tmp, { gpu, weights: "f32" }); // SFT trains the f32 masters
    const paramCount = [...tiny.tensors.values()].reduce((n, t) => n + t.data.length, 0);
    const c = model.config;
    console.log(
      `demo model: ${c.numLayers} layers, hidden ${c.hiddenSize}, heads ${c.numHeads}/${c.numKvHeads}, ` +
        `intermediate ${c.intermediateSize}, vocab ${c.vocabSize}, ${paramCount} parameters`,
    );
    console.log(
      `task: a+b with a, b in [${minOperand}, ${maxOperand}]: ${train.length} training pairs, ` +
        `${heldout.length} held out; SFT ${steps} steps x ${batchSize}, lr ${baseLr}, seed ${seed}`,
    );
    const started = performance.now();
    const loss = await sft(model);
    const sftSecs = (performance.now() - started) / 1000;

    const seenFinal = train.slice(0, Math.min(256, train.length));
    const seen = await evaluate(model, seenFinal, { temperature: 0, n: 1 });
    const held = await evaluate(model, heldout, { temperature: 0, n: 1 });
    const sampled = await evaluate(model, heldout, { temperature: 1, n: samples });
    console.log(
      `final: loss ${loss.toFixed(4)}; greedy accuracy seen ${seen.accuracy.toFixed(3)}, held-out ` +
        `${held.accuracy.toFixed(3)}; format ${held.format.toFixed(3)} greedy, ${
          sampled.format.toFixed(3)
        } T=1; ` +
        `held-out T=1: mean accuracy ${sampled.accuracy.toFixed(3)}, pass@${samples} ${
          sampled.passAtN.toFixed(3)
        }, ` +
        `mixed ${sampled.mixed.toFixed(3)}; SFT ${sftSecs.toFixed(0)}s, total ${
          ((performance.now() - started) / 1000).toFixed(0)
        }s`,
    );

    await model.save(tmp);
    const split = {
      task: "a+b",
      prompt: "{a}+{b}=",
      completion: "\\boxed{a+b}<|im_end|>",
      minOperand,
      maxOperand,
      seed,
      heldout: heldout.map((p) => p.prompt),
    };
    await writeFileAtomic(join(tmp, "split.json"), JSON.stringify(split, null, 2) + "\n");
    await writeFileAtomic(
      join(tmp, "README.md"),
      readme(model, paramCount, loss, seen, held, sampled, seenFinal.length),
    );
    model.release();
    await replaceFolder(tmp, out);
    console.log(`wrote ${out}`);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
});

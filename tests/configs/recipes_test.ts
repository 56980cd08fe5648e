/**
 * The papers' recipes in configs/: each file loads through the trainer's config loader and holds the
 * values its comments cite (Intuitor §4, the hidden-state thesis §5.2 / Table 1 / Listing 1, URLVR Table 7
 * and §5.2), so an edited value fails here; every header marks what its paper leaves unstated.
 */
import assert from "node:assert/strict";
import { loadPromptTemplate } from "../../lib/data/prompt_template.ts";
import { H100_LIMITS, planningGpu } from "../../lib/gpu/plan_device.ts";
import { generate } from "../../lib/generate/generate.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import type { ModelConfig } from "../../lib/model/config.ts";
import { halfWidthCopy, refreshHalfWidthCopy } from "../../lib/model/half_width.ts";
import { recordHeadStats } from "../../lib/model/head.ts";
import { createLoraAdapter } from "../../lib/model/lora.ts";
import { placeholderModel } from "../../lib/model/model.ts";
import { QWEN25_7B, QWEN3_4B_BASE } from "../../lib/model/paper_configs.ts";
import { sequencesPerPass } from "../../lib/model/pass_plan.ts";
import { createOptimizer, lossBackward, optimizerStep } from "../../lib/model/train_step.ts";
import { createGradients, forward } from "../../lib/model/transformer.ts";
import { LOGIT_STAT_COUNT } from "../../lib/ops/logit_stats.ts";
import { GRPO_CONFIG, type GrpoConfig, loadConfig, runGrader } from "../../lib/rl/config.ts";
import { loadTrainingExamples } from "../../lib/rl/prompts.ts";

/** Loads configs/<name>.yaml the way scripts do (relative to the repository root). */
async function recipe(name: string): Promise<GrpoConfig> {
  return (await loadConfig(GRPO_CONFIG, { file: `configs/${name}.yaml` })).config;
}

/** The values every recipe is checked on, in one comparable record. */
function cited(c: GrpoConfig) {
  return {
    model: c.model.path.split("/").at(-1),
    reward: c.reward.name,
    grader: runGrader(c),
    n: c.rollout.n,
    temperature: c.rollout.temperature,
    max_new_tokens: c.rollout.max_new_tokens,
    kl_coef: c.algorithm.kl_coef,
    lr: c.train.lr,
    prompts_per_step: c.train.prompts_per_step,
    mini_batch: c.train.mini_batch,
    steps: c.train.steps,
  };
}

const INTUITOR_MATH = {
  model: "Qwen2.5-1.5B",
  grader: "math_verify",
  n: 7,
  temperature: 0.9,
  max_new_tokens: 1024,
  kl_coef: 0.005,
  lr: 3e-6,
  prompts_per_step: 128,
  mini_batch: null,
  steps: 58,
};

const URLVR_TABLE_7 = {
  model: "Qwen3-1.7B-Base",
  grader: "dapo",
  n: 8,
  temperature: 1.0,
  max_new_tokens: 7168,
  kl_coef: 0,
  lr: 1e-6,
  prompts_per_step: 64,
  mini_batch: 64,
  steps: 265,
};

/** URLVR Figure 3's five intrinsic rewards, by rlif's registry names. */
const URLVR_REWARDS = ["self_certainty", "neg_entropy", "trajectory_entropy", "seq_prob", "majority_vote"];

const RECIPES = [
  "intuitor",
  "grpo",
  "grpo_pv",
  "intuitor_code",
  "coe",
  "ttt",
  ...URLVR_REWARDS.map((r) => `urlvr_${r}`),
  "intuitor_7b_lora",
  "urlvr_4b_lora",
];

Deno.test("recipes: Intuitor §4 — base Qwen2.5-1.5B, 128 prompts × 7 samples, β 0.005, lr 3e-6 cosine", async () => {
  for (
    const [name, reward] of [["intuitor", "self_certainty"], ["grpo", "math_accuracy"], [
      "grpo_pv",
      "majority_vote",
    ]]
  ) {
    const c = await recipe(name);
    assert.deepEqual(cited(c), { ...INTUITOR_MATH, reward }, name);
    assert.equal(c.train.schedule, "cosine", `${name}: schedule`);
    assert.equal(c.train.warmup_ratio, 0.1, `${name}: warmup_ratio`);
    assert.equal(c.data.chat_template, true, `${name}: §4's chat-based prompting`);
  }
  assert.equal((await recipe("intuitor")).reward.scorer, "online");
});

Deno.test("recipes: INTUITOR-Code §4 — 14 samples, lr 1e-5, β 0.01, 50 steps × 64 = 3,200 problems", async () => {
  const c = await recipe("intuitor_code");
  assert.deepEqual(cited(c), {
    ...INTUITOR_MATH,
    reward: "self_certainty",
    grader: "rlif",
    n: 14,
    kl_coef: 0.01,
    lr: 1e-5,
    prompts_per_step: 64,
    steps: 50,
  });
  assert.equal(c.train.steps * c.train.prompts_per_step, 3200);
  assert.equal(c.data.fields.answer, null);
});

Deno.test("recipes: CoE thesis §5.2 / Listing 1 — 512 rollout batch, 128 updates, r − mean, sequence ratio", async () => {
  const c = await recipe("coe");
  assert.deepEqual(cited(c), {
    model: "Qwen2.5-1.5B-Instruct",
    reward: "coe_d1_d2",
    grader: "mathruler",
    n: 5,
    temperature: 1.0,
    max_new_tokens: 2048,
    kl_coef: 0.01,
    lr: 1e-6,
    prompts_per_step: 512,
    mini_batch: 128,
    steps: 345,
  });
  assert.deepEqual(
    {
      top_p: c.rollout.top_p,
      shaping: c.reward.shaping.name,
      adv_std: c.algorithm.adv_std,
      ratio: c.algorithm.ratio,
      kl_estimator: c.algorithm.kl_estimator,
      weight_decay: c.train.weight_decay,
      grad_clip: c.train.grad_clip,
      seed: c.train.seed,
      micro_batch: c.train.micro_batch,
      template: c.data.template,
    },
    {
      top_p: 0.99,
      shaping: "minmax",
      adv_std: "none",
      ratio: "sequence",
      kl_estimator: "low_var_kl",
      weight_decay: 0.01,
      grad_clip: 1.0,
      seed: 1,
      micro_batch: 4,
      template: "configs/templates/coe_think_boxed.jinja",
    },
  );
  // 15 epochs of the 12,000 training problems at 512 per rollout batch, the last partial batch dropped.
  assert.equal(c.train.steps, 15 * Math.floor(12000 / c.train.prompts_per_step));
});

Deno.test("recipes: the CoE template is the thesis's §5.4 prompt, the problem trimmed", async () => {
  const t = await loadPromptTemplate("configs/templates/coe_think_boxed.jinja");
  assert.deepEqual(t.parts({ problem: "  What is 1+1?\n" }), {
    system: null,
    user: "What is 1+1?\nYou FIRST think about the reasoning process as an internal monologue and then\n" +
      "provide the final answer. The reasoning process MUST BE enclosed within <think> </think> tags.\n" +
      "The final answer MUST BE put in \\boxed{}.",
    prefill: "",
  });
});

Deno.test("recipes: URLVR Figure 3 — one Table 7 config per intrinsic reward", async () => {
  for (const reward of URLVR_REWARDS) {
    const c = await recipe(`urlvr_${reward}`);
    assert.deepEqual(cited(c), { ...URLVR_TABLE_7, reward }, reward);
    assert.equal(c.data.preset, "dapo17k", `${reward}: DAPO-17k`);
  }
});

Deno.test("recipes: URLVR §5.2 test-time training — majority vote on 40 AMC23 problems, batch 40", async () => {
  const c = await recipe("ttt");
  assert.deepEqual(cited(c), {
    ...URLVR_TABLE_7,
    reward: "majority_vote",
    prompts_per_step: 40,
    mini_batch: 40,
    steps: 300,
  });
  assert.equal(c.data.limit, 40);
  // The fixture has the local AMC23 file's layout (id, question, numeric answer).
  const examples = await loadTrainingExamples({ ...c.data, path: "tests/fixtures/data/amc23_layout.jsonl" });
  assert.deepEqual(
    examples.map((e) => [e.fields.problem, e.answer]),
    [
      ["What is $2 + 3 \\cdot 4$?", "14"],
      ["How many positive divisors does $12$ have?", "6"],
      ["What is the sum of the first $5$ positive odd integers?", "25"],
    ],
  );
  const prompt = (await loadPromptTemplate(c.data.template)).parts(examples[0].fields).user;
  assert.match(prompt, /Answer: \\boxed\{\$Answer\}[^]*What is \$2 \+ 3 \\cdot 4\$\?/);
});

Deno.test("recipes: every recipe loads, renders its template, and its header marks unstated values", async () => {
  for (const name of RECIPES) {
    const c = await recipe(name);
    const template = await loadPromptTemplate(c.data.template);
    assert.ok(template.parts({ problem: "What is 2+3?" }).user.includes("What is 2+3?"), `${name}: template`);
    const text = await Deno.readTextFile(`configs/${name}.yaml`);
    assert.match(text, /not stated in the paper/, `configs/${name}.yaml marks no unstated value`);
  }
});

/** The LoRA recipes: the model each trains, and the longest prompt it plans for (URLVR Table 7: 1,024). */
const LORA_RECIPES: { name: string; model: ModelConfig; prompt: number }[] = [
  { name: "intuitor_7b_lora", model: QWEN25_7B, prompt: 1024 },
  { name: "urlvr_4b_lora", model: QWEN3_4B_BASE, prompt: 1024 },
];

Deno.test("recipes: the LoRA recipes keep their paper's values and adapt every projection", async () => {
  const intuitor = await recipe("intuitor_7b_lora");
  assert.deepEqual(cited(intuitor), {
    ...INTUITOR_MATH,
    model: "Qwen2.5-7B",
    reward: "self_certainty",
    lr: 3e-5,
  });
  const urlvr = await recipe("urlvr_4b_lora");
  assert.deepEqual(cited(urlvr), {
    ...URLVR_TABLE_7,
    model: "Qwen3-4B-Base",
    reward: "majority_vote",
    lr: 1e-5,
  });
  for (const c of [intuitor, urlvr]) {
    assert.deepEqual(c.model.lora, {
      r: 64,
      alpha: 128,
      dropout: 0,
      target_modules: "all-linear",
      use_rslora: false,
    });
    assert.equal(c.rollout.weights, "bf16");
    assert.equal(c.train.recompute, true);
  }
});

// One step of each LoRA recipe recorded on the planning device at its real shapes, in the trainer's order
// (generation from the merged copy, the scoring passes, the micro-batches' training, the update and the
// copy's refresh): the buffer pool holds what a GPU would, so its peak is the step's memory.
for (const r of LORA_RECIPES) {
  Deno.test(`recipes: ${r.name} fits an 80 GB GPU (one step recorded on the planning device)`, async () => {
    const c = await recipe(r.name);
    const lora = c.model.lora!;
    const { gpu } = await planningGpu(H100_LIMITS);
    const base = placeholderModel(gpu, r.model, "bf16");
    const settings = {
      r: lora.r,
      alpha: lora.alpha,
      dropout: lora.dropout,
      targetModules: lora.target_modules,
      useRslora: lora.use_rslora,
    };
    const policy = base.withAdapter(createLoraAdapter(base, settings, c.train.seed));
    const sampler = halfWidthCopy(policy, "bf16");
    const completion = c.rollout.max_new_tokens, seqLen = r.prompt + completion;
    const tokens = (n: number, len: number) =>
      Array.from({ length: n }, (_, i) => Array.from({ length: len }, (_, j) => 1 + (i * 7 + j) % 1000));
    // Generation's largest batch, rollout.batch_size rows, into a cache for the whole completion (reads return zeros: token
    // 0 is the end id here, so decoding stops at its first check, after the cache and workspace exist).
    const rows = c.rollout.batch_size;
    await generate(sampler, tokens(rows, r.prompt), {
      maxNewTokens: completion,
      eosTokenIds: [0],
      batchSize: rows,
    });
    const perPass = sequencesPerPass(policy, seqLen, c.train.micro_batch);
    const batch = buildSequenceBatch(tokens(perPass, r.prompt), tokens(perPass, completion), 0);
    for (const scorer of c.algorithm.kl_coef > 0 ? [policy, base] : [policy]) {
      const inputs = uploadBatch(gpu, batch);
      const mask = gpu.zeros([batch.ids.length], "f32");
      const fwd = forward(scorer, inputs, { poolMask: mask });
      const stats = gpu.empty([batch.rows.length, LOGIT_STAT_COUNT], "f32");
      recordHeadStats(scorer, fwd.final, batch.rows, batch.targets, c.rollout.temperature, stats, 0);
      for (const t of [stats, mask]) t.release();
      fwd.release();
      inputs.release();
    }
    const grads = createGradients(policy);
    const optimizer = createOptimizer(policy, {
      betas: c.train.betas,
      eps: c.train.eps,
      weightDecay: c.train.weight_decay,
      maxGradNorm: c.train.grad_clip,
    });
    const weights = new Float32Array(batch.rows.length).fill(-1 / batch.rows.length);
    lossBackward(policy, batch, { kind: "weights", weights, temperature: 1 }, grads, {
      recompute: c.train.recompute,
    });
    optimizerStep(optimizer, [...grads.values()], c.train.lr);
    refreshHalfWidthCopy(sampler, policy);
    const { peakBytes } = gpu.pool.stats();
    const gib = (b: number) => (b / 2 ** 30).toFixed(1);
    const adapterBytes = [...policy.trainable.values()].reduce((n, t) => n + t.byteLength, 0);
    console.log(
      `${r.name}: peak ${gib(peakBytes)} GiB (${rows} rows decoded at once; bf16 base ${
        gib(base.names.reduce((n, k) => n + base.param(k).byteLength, 0))
      } GiB, ` +
        `adapter ${gib(adapterBytes)} GiB f32 ×4 with its gradient and moments, ${perPass} sequences of ` +
        `${seqLen} tokens per pass)`,
    );
    // An 80 GB card leaves about 78 GiB to a process.
    assert.ok(peakBytes <= 78 * 2 ** 30, `${r.name}: peak ${gib(peakBytes)} GiB`);
  });
}

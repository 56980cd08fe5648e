/**
 * The papers' recipes in configs/: each file loads through the trainer's config loader and holds the
 * values its comments cite (Intuitor §4, the hidden-state thesis §5.2 / Table 1 / Listing 1, URLVR Table 7,
 * §5.2 and §7), so an edited value fails here; every header marks what its paper leaves unstated.
 */
import assert from "node:assert/strict";
import { loadPromptTemplate } from "../../lib/data/prompt_template.ts";
import { planGrpoMemory, planModelConfig } from "../../lib/bench/memory_plan.ts";
import {
  GRPO_CONFIG,
  type GrpoConfig,
  loadConfig,
  runCountdownRule,
  runGrader,
} from "../../lib/rl/config.ts";
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
  "urlvr_countdown",
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

Deno.test("recipes: URLVR §7 Countdown — Trajectory-Level Entropy on Qwen3-4B-Base, 4k problems, TinyZero's scorer", async () => {
  const c = await recipe("urlvr_countdown");
  // Countdown rows have no answer to grade, so the run's grader is the unused default.
  assert.deepEqual(cited(c), {
    ...URLVR_TABLE_7,
    model: "Qwen3-4B-Base",
    reward: "trajectory_entropy",
    grader: "rlif",
    steps: 300,
  });
  assert.equal(runCountdownRule(c), "tinyzero", "correctness by TinyZero's countdown.py");
  assert.deepEqual(
    [c.data.preset, c.data.limit, c.data.template, c.data.chat_template],
    ["countdown", 4000, "configs/templates/countdown.jinja", false],
  );
  const examples = await loadTrainingExamples({
    ...c.data,
    path: "tests/fixtures/data/countdown_tasks_layout.jsonl",
  });
  assert.deepEqual(examples.map((e) => [e.fields.target, e.fields.nums, e.answer]), [
    [24, [3, 4, 2], null],
    [98, [44, 19, 35], null],
  ]);
  // Oracle Supervision, as the header writes it: the same run with TinyZero's score as the reward.
  const text = await Deno.readTextFile("configs/urlvr_countdown.yaml");
  const oracle = /^# {3}deno task grpo (--config configs\/urlvr_countdown\.yaml .*)$/m.exec(text)?.[1];
  assert.ok(oracle, "the header names the Oracle Supervision command");
  const o = (await loadConfig(GRPO_CONFIG, { args: oracle.split(" ") })).config;
  assert.deepEqual({ ...o.reward }, {
    name: "countdown",
    scorer: "online",
    shaping: { name: "none" },
    rule: "tinyzero",
  });
  assert.deepEqual({ ...o, reward: c.reward }, c);
  // Self-Verification (self_verify.yaml) trains over the same data and horizon, so the arms compare.
  const sv = await recipe("self_verify");
  for (const key of ["n", "temperature", "max_new_tokens"] as const) {
    assert.equal(sv.rollout[key], c.rollout[key], `rollout.${key}`);
  }
  for (const key of ["steps", "prompts_per_step", "lr", "schedule", "warmup_ratio"] as const) {
    assert.equal(sv.train[key], c.train[key], `train.${key}`);
  }
  assert.deepEqual(sv.data, c.data);
  assert.equal(runCountdownRule(sv), "tinyzero");
});

Deno.test("recipes: every recipe loads, renders its template, and its header marks unstated values", async () => {
  for (const name of RECIPES) {
    const c = await recipe(name);
    const template = await loadPromptTemplate(c.data.template);
    // A Countdown row has target and nums where a math row has its problem.
    const [row, shown] = c.data.preset === "countdown"
      ? [{ target: 24, nums: [3, 4, 2] }, "[3, 4, 2], create an equation that equals 24"]
      : [{ problem: "What is 2+3?" }, "What is 2+3?"];
    const prompt = c.data.chat_template ? template.parts(row).user : template.plain(row);
    assert.ok(prompt.includes(shown), `${name}: template`);
    const text = await Deno.readTextFile(`configs/${name}.yaml`);
    assert.match(text, /not stated in the paper/, `configs/${name}.yaml marks no unstated value`);
  }
});

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

// One step of each LoRA recipe planned on the planning device from its model's published config.json
// (lib/bench/memory_plan.ts): the frozen bf16 base, the f32 adapter with its gradients and moments, the
// merged sampling copy, and each phase at full length.
for (const name of ["intuitor_7b_lora", "urlvr_4b_lora"]) {
  Deno.test(`recipes: ${name} fits an 80 GB GPU (its step planned on the planning device)`, async () => {
    const c = await recipe(name);
    const { config: model } = await planModelConfig(c.model.path);
    const plan = await planGrpoMemory(c, model);
    const gib = (b: number) => (b / 2 ** 30).toFixed(1);
    console.log(
      `${name}: peak ${gib(plan.peakBytes)} GiB; ` +
        [...plan.resident, ...plan.phases].map((p) => `${p.name} ${gib(p.bytes)}`).join(", "),
    );
    const base = plan.resident.find((p) => p.name.startsWith("base weights"));
    assert.ok(
      base && !plan.resident.some((p) => p.name.includes("master")),
      `${name}: a frozen base, no masters`,
    );
    // An 80 GB card leaves about 78 GiB to a process.
    assert.ok(plan.peakBytes <= 78 * 2 ** 30, `${name}: peak ${gib(plan.peakBytes)} GiB`);
  });
}

import assert from "node:assert/strict";
import type { Example } from "../../lib/data/fields.ts";
import { gradeAnswer } from "../../lib/grading/grade.ts";
import { rewardFromConfig } from "../../lib/rewards/registry.ts";
import {
  ConfigError,
  GRPO_CONFIG,
  loadConfig,
  resolveConfig,
  runCountdownRule,
  runGrader,
} from "../../lib/rl/config.ts";
import { judge, judgeOptions } from "../../lib/rl/rollout.ts";
import { group } from "../rewards/fixtures.ts";

const MIN = "model: {path: m}\n";
const parse = (yaml: string) => resolveConfig(GRPO_CONFIG, MIN + yaml, "test.yaml").config;

function issuesOf(yaml: string): string {
  try {
    parse(yaml);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error(`expected a ConfigError for ${yaml}`);
}

// rlif compares the decimal as written; qwen_math within a relative 1e-4 (see grader_option_test.ts).
const RIGHT = "\\boxed{8}";
const GOLD = "8.0001";
const example: Example = { fields: { problem: "4+4=" }, answer: GOLD, origin: "row 1" };
const g = group([RIGHT], { groundTruth: GOLD });

/** What the trainer builds from a config: the reward within the run's grader, and the judging. */
function wiring(yaml: string) {
  const config = parse(yaml);
  const { reward } = rewardFromConfig(config.reward, { grader: runGrader(config) });
  return { config, reward: reward.fn(g)[0], correct: judge(example, RIGHT, judgeOptions(config)) };
}

Deno.test("grading: a reward's `grader` from YAML reaches the reward and the logged correctness", () => {
  assert.equal(gradeAnswer(RIGHT, GOLD, "rlif"), false);
  assert.equal(gradeAnswer(RIGHT, GOLD, "qwen_math"), true);
  const plain = wiring("reward: {name: math_accuracy}");
  assert.equal(runGrader(plain.config), "rlif");
  assert.deepEqual([plain.reward, plain.correct], [0, false]);
  const named = wiring("reward: {name: math_accuracy, grader: qwen_math}");
  assert.equal(runGrader(named.config), "qwen_math");
  assert.deepEqual([named.reward, named.correct], [1, true]);
});

Deno.test("grading: grading.grader grades rewards that name none and judges intrinsic runs", () => {
  const run = wiring("reward: {name: easyr1_math, format_weight: 0}\ngrading: {grader: qwen_math}");
  assert.deepEqual([run.reward, run.correct], [1, true]);
  const intrinsic = parse("reward: {name: self_certainty}\ngrading: {grader: qwen_math}");
  assert.equal(judge(example, RIGHT, judgeOptions(intrinsic)), true);
  assert.equal(judge(example, RIGHT, judgeOptions(parse("reward: {name: self_certainty}"))), false);
  const hybrid = wiring(
    "reward: {name: hybrid, components: [{name: math_accuracy, options: {grader: qwen_math}}]}",
  );
  assert.deepEqual([hybrid.reward, hybrid.correct], [1, true]);
});

Deno.test("grading: the same grader in both places is fine; different ones are a config error", () => {
  assert.equal(
    runGrader(parse("reward: {name: math_accuracy, grader: dapo}\ngrading: {grader: dapo}")),
    "dapo",
  );
  const clash = issuesOf("reward: {name: math_accuracy, grader: dapo}\ngrading: {grader: math_verify}");
  assert.match(clash, /grading\.grader is math_verify but the reward grades with dapo/);
  const two = issuesOf(
    "reward: {name: hybrid, components: [{name: math_accuracy, options: {grader: dapo}}, " +
      "{name: easyr1_math, options: {grader: mathruler}}]}",
  );
  assert.match(two, /name graders dapo, mathruler/);
  const bad = issuesOf("grading: {grader: sympy}");
  assert.match(bad, /grading\.grader/);
  assert.match(bad, /rlif, mathruler, math_verify, qwen_math, hendrycks, dapo, gsm8k_strict, gsm8k_flexible/);
  const badOption = issuesOf("reward: {name: math_accuracy, grader: sympy}");
  assert.match(badOption, /reward\.grader/);
  assert.match(badOption, /math_verify/);
});

Deno.test("grading: the countdown reward's rule is also the logged correctness's", () => {
  const countdown: Example = { fields: { target: 20, nums: [2, 5, 6] }, answer: null, origin: "row 1" };
  const text = "<answer>(6 - 2) * 5</answer>\n";
  assert.equal(judge(countdown, text, judgeOptions(parse("reward: {name: countdown}"))), true);
  const tinyzero = parse("reward: {name: countdown, rule: tinyzero}");
  assert.equal(judgeOptions(tinyzero).countdownRule, "tinyzero");
  assert.equal(judge(countdown, text, judgeOptions(tinyzero)), false);
  assert.match(
    issuesOf(
      "reward: {name: hybrid, components: [{name: countdown, options: {rule: tinyzero}}, {name: countdown}]}",
    ),
    /rules tinyzero, rlif/,
  );
});

Deno.test("grading: grading.countdown_rule judges a run whose reward reads no answer; a clash is refused", () => {
  const countdown: Example = { fields: { target: 20, nums: [2, 5, 6] }, answer: null, origin: "row 1" };
  // The answer is not on the last line: rlif reads it, TinyZero's scorer does not.
  const text = "<answer>(6 - 2) * 5</answer>\n";
  const intrinsic = parse("reward: {name: trajectory_entropy}");
  assert.equal(runCountdownRule(intrinsic), "rlif");
  assert.equal(judge(countdown, text, judgeOptions(intrinsic)), true);
  const tinyzero = parse("reward: {name: trajectory_entropy}\ngrading: {countdown_rule: tinyzero}");
  assert.equal(runCountdownRule(tinyzero), "tinyzero");
  assert.equal(judge(countdown, text, judgeOptions(tinyzero)), false);
  // self_verify reads the expression it asks about by its own rule (TinyZero's unless told), and so does
  // the logged correctness, also where only the config is at hand (the sweeps).
  assert.equal(runCountdownRule(parse("reward: {name: self_verify}")), "tinyzero");
  assert.equal(runCountdownRule(parse("reward: {name: self_verify, rule: rlif}")), "rlif");
  assert.equal(
    runCountdownRule(parse("reward: {name: countdown, rule: tinyzero}\ngrading: {countdown_rule: tinyzero}")),
    "tinyzero",
  );
  assert.match(
    issuesOf("reward: {name: countdown}\ngrading: {countdown_rule: tinyzero}"),
    /grading\.countdown_rule is tinyzero but the reward reads Countdown answers by rule rlif/,
  );
  assert.match(
    issuesOf("reward: {name: self_verify}\ngrading: {countdown_rule: rlif}"),
    /grading\.countdown_rule is rlif but the reward reads Countdown answers by rule tinyzero/,
  );
  const bad = issuesOf("grading: {countdown_rule: verl}");
  assert.match(bad, /grading\.countdown_rule/);
  assert.match(bad, /rlif, tinyzero/);
});

Deno.test("grading: the papers' configs name their graders", async () => {
  const graders: Record<string, string> = {};
  for (const name of ["intuitor", "grpo", "coe", "ttrl"]) {
    const { config } = await loadConfig(GRPO_CONFIG, { file: `configs/${name}.yaml` });
    graders[name] = runGrader(config);
  }
  assert.deepEqual(graders, { intuitor: "math_verify", grpo: "math_verify", coe: "mathruler", ttrl: "rlif" });
  const grpo = await loadConfig(GRPO_CONFIG, {
    args: ["--config", "configs/grpo.yaml", "--grading.grader", "rlif"],
  });
  assert.equal(runGrader(grpo.config), "rlif");
});

/** The tiny GRPO run the trainer tests share, and its metrics without the wall-clock fields. */
import { join } from "node:path";
import { GRPO_CONFIG, type GrpoConfig, resolveConfig } from "../../lib/rl/config.ts";

/** What a test changes in {@link tinyGrpoConfig}. */
export interface TinyGrpoOptions {
  /** Steps (default 3). */
  steps?: number;
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** log.save_every (default 10). */
  saveEvery?: number;
  /** Lines under `model:` besides its path, e.g. `lora: {r: 4}`. */
  model?: string;
  /** Further top-level YAML sections. */
  extra?: string;
}

/**
 * A self-certainty GRPO run of 2 prompts × 3 samples × 4 new tokens on synthetic arithmetic over the model
 * at `model`, logging under `runs`.
 */
export function tinyGrpoConfig(model: string, runs: string, o: TinyGrpoOptions = {}): GrpoConfig {
  const yaml = `
model:
  path: ${model}
${o.model ? `  ${o.model}\n` : ""}data:
  template: configs/templates/problem_only.jinja
  chat_template: false
  synthetic: {format: compact, max_operand: 9, count: 20}
rollout: {n: 3, max_new_tokens: 4}
reward: {name: self_certainty}
algorithm: {kl_coef: 0.01, ppo_epochs: 2}
train: {steps: ${o.steps ?? 3}, prompts_per_step: 2, micro_batch: 4, lr: ${o.lr ?? 1e-3}, warmup_ratio: 0}
log: {dir: ${runs}, save_every: ${o.saveEvery ?? 10}}
${o.extra ?? ""}`;
  return resolveConfig(GRPO_CONFIG, yaml, "test.yaml").config;
}

/** A run's metrics.jsonl lines without the wall-clock fields, which no two runs share. */
export async function metricsOf(runDir: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(runDir, "metrics.jsonl"));
  return text.trim().split("\n").map((l) => {
    const { step_seconds: _s, tokens_per_s: _t, ...rest } = JSON.parse(l);
    return JSON.stringify(rest);
  });
}

/**
 * The GRPO trainer: rollouts → one scoring pass → rewards → group advantages → clipped-surrogate update,
 * step after step. The policy trains as f32 master weights — or, with `model.lora`, as an f32 LoRA adapter
 * over the base frozen at its checkpoint width, the base with the adapter off being the reference — and a
 * half-width copy of them (`rollout.weights`, bf16 by default; a LoRA policy's merged weights), re-made on
 * the GPU after each update, does the sampling, with every intrinsic signal of every rollout logged (metrics.jsonl per step,
 * metadata.jsonl per prompt), checkpoints every `log.save_every` steps, exact resume, a progress bar,
 * SIGINT / SIGTERM that save and stop (see lib/rl/stop_request.ts), one writer per run directory
 * (lib/log/run_lock.ts), and a stop on NaN/Inf that keeps the last good checkpoint. The buffer pool is
 * trimmed after each phase (rollouts, scoring, update), so memory is the largest phase's rather than the
 * sum of every length a run has seen; each step's high-water mark is logged as `gpu/peak_mib`.
 *
 * @module
 */
import { DataError } from "../data/errors.ts";
import type { Example } from "../data/fields.ts";
import { getDevice } from "../gpu/device.ts";
import { Interrupted, RlifError } from "../errors.ts";
import { NonFiniteError } from "../gpu/errors.ts";
import type { MetadataEntry, ModelInfo } from "../log/metadata.ts";
import { loadPromptTemplate } from "../data/prompt_template.ts";
import { ProgressBar } from "../log/progress.ts";
import { checkOutput } from "../log/output_check.ts";
import { RunDir } from "../log/run_dir.ts";
import { RunLock } from "../log/run_lock.ts";
import { halfWidthCopy, refreshHalfWidthCopy } from "../model/half_width.ts";
import { loadModel, type Model } from "../model/model.ts";
import { createLoraAdapter, type LoraSettings } from "../model/lora.ts";
import { loadLoraAdapter } from "../model/peft_adapter.ts";
import { gpuMemoryLimitGiB, planRun, verdictText } from "../bench/memory_plan.ts";
import { createGradients } from "../model/transformer.ts";
import { rewardFromConfig } from "../rewards/registry.ts";
import type { CompletionStats } from "../rewards/types.ts";
import { groupAdvantages } from "./advantages.ts";
import {
  checkpointDir,
  latestCheckpoint,
  loadOptimizerState,
  removeStaleTemporaries,
  saveCheckpoint,
} from "./checkpoint.ts";
import { configToYaml, GRPO_CONFIG, type GrpoConfig, runGrader } from "./config.ts";
import { policyOptimizer, updatePolicy, type UpdateStats } from "./policy_update.ts";
import { buildPromptSet, loadTrainingExamples, type PromptSet, stepPromptIndices } from "./prompts.ts";
import { resumedConfig } from "./resume.ts";
import { collectRollouts, logprobMismatch, type RolloutBatch, rolloutDiagnostics } from "./rollout.ts";
import { rolloutEngine, type SyncTiming } from "./rollout_engine.ts";
import { learningRate, resolveWarmupSteps } from "./schedule.ts";
import { StopRequest } from "./stop_request.ts";

/** One line of metrics.jsonl. */
export type StepMetrics = Record<string, number | null> & { step: number };

/** Options of {@link trainGrpo}. */
export interface TrainOptions {
  /** Stop after this step even if train.steps is larger (to test resuming; the schedule still uses train.steps). */
  readonly stopAfter?: number;
  /** Print the progress bar (default true). */
  readonly progress?: boolean;
  /**
   * Called after each step with its metrics and the models as the step left them (the f32 policy and the
   * sampling weights, refreshed; the same model when `rollout.weights` is f32). Awaited; the models are
   * released when training ends, so do not keep them.
   */
  readonly onStep?: (metrics: StepMetrics, models: { policy: Model; sampler: Model }) => void | Promise<void>;
  /**
   * Dotted config keys the caller set explicitly (command-line overrides). On resume those that differ
   * from the run's saved config are applied when lib/rl/resume.ts allows it (`train.steps`, …) and
   * refused otherwise; every other key comes from the run's config.yaml.
   */
  readonly overrides?: readonly string[];
  /** How a stopped run is continued, completed with the run directory (default "--log.resume"). */
  readonly resumeCommand?: string;
}

/** Where a finished (or stopped by `stopAfter`) run is and what it logged. */
export interface TrainResult {
  /** The run directory. */
  readonly runDir: string;
  /** Metrics of the steps run by this call. */
  readonly metrics: StepMetrics[];
  /** Last completed step. */
  readonly step: number;
  /** Why the loop ended (SIGINT / SIGTERM throw an `Interrupted` error instead). */
  readonly stopped: "done" | "stop-after";
}

/** The step's generation seed: a function of the run seed and the step only, so resuming is exact. */
function stepSeed(seed: number, step: number): number {
  return (Math.imul(seed + 1, 0x27d4eb2d) ^ Math.imul(step, 0x165667b1)) >>> 0;
}

const SIGNALS = ["selfCertainty", "meanTokenEntropy", "trajectoryLogprob", "meanLogprob", "topGap"] as const;
const COE = ["d1", "d2", "mag", "ang", "r", "c"] as const;

function mean(xs: readonly number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

function signalsOf(s: CompletionStats) {
  return {
    selfCertainty: s.selfCertainty,
    meanTokenEntropy: s.meanTokenEntropy,
    trajectoryLogprob: s.trajectoryLogprob,
    meanLogprob: s.meanLogprob,
    topGap: s.topGap,
    coe: { ...s.coe },
  };
}

/**
 * Refuses, before the run directory exists, prompts that leave no room for `rollout.max_new_tokens` in
 * the model's context: generation would fail on them at whatever step first samples them.
 */
function checkPromptsFit(prompts: PromptSet, config: GrpoConfig, context: number): void {
  const maxNew = config.rollout.max_new_tokens;
  const { ids } = prompts;
  const longest = ids.reduce((best, p, i) => (p.length > ids[best].length ? i : best), 0);
  const length = ids[longest]?.length ?? 0;
  if (length + maxNew > context) {
    throw new DataError(
      `${prompts.examples[longest].origin}: the prompt is ${length} tokens; with rollout.max_new_tokens ` +
        `${maxNew} it needs ${length + maxNew} positions, more than the context of ${context} of ` +
        `${config.model.path} (max_position_embeddings). Use shorter prompts (data.template, data.limit) ` +
        `or a smaller rollout.max_new_tokens.`,
    );
  }
}

/**
 * Trains a policy with GRPO as the config says; resumes the run named by `log.resume` (with the
 * configuration saved in that run, so the continuation is exact, from its newest checkpoint that loads).
 * Holds the run directory's lock while it writes there. SIGINT or SIGTERM stop it after the current step
 * with a checkpoint saved, by throwing an `Interrupted` error (lib/errors.ts) that names the signal.
 *
 * @example
 * ```ts
 * import { GRPO_CONFIG, loadConfig, trainGrpo } from "./mod.ts";
 * const { config } = await loadConfig(GRPO_CONFIG, { args: ["--config", "configs/intuitor.yaml"] });
 * const { runDir } = await trainGrpo(config);
 * ```
 */
export async function trainGrpo(requested: GrpoConfig, options: TrainOptions = {}): Promise<TrainResult> {
  // Released however this function ends; a second signal releases the lock itself before exiting.
  using cleanup = new DisposableStack();
  let lock: RunLock | null = null;
  cleanup.defer(() => lock?.release());
  const stop = cleanup.use(new StopRequest(() => lock?.release()));
  // Resuming continues the saved run: its own config, its logs cut back to the checkpoint.
  let config = requested, startStep = 0, resumeFrom: string | null = null;
  let optimizerSteps = 0, configChanged = false;
  if (requested.log.resume !== null) {
    const dir = requested.log.resume;
    // Before anything in the directory is read or cleaned: a second writer stops here.
    lock = RunLock.acquire(dir);
    const resumed = await resumedConfig(dir, requested, options.overrides ?? []);
    config = resumed.config;
    configChanged = resumed.changed.length > 0;
    for (const p of await removeStaleTemporaries(dir)) {
      console.warn(`warning: removed ${p}, left by an interrupted write`);
    }
    const ckpt = await latestCheckpoint(dir, (m) => console.warn(`warning: ${m}`));
    if (ckpt) {
      startStep = ckpt.state.step;
      optimizerSteps = ckpt.state.optimizerSteps;
      resumeFrom = ckpt.dir;
    }
    if (config.train.steps < startStep) {
      throw new RlifError(
        "config.resume",
        `log.resume ${dir}: train.steps ${config.train.steps} is below step ${startStep}, which the run has reached`,
      );
    }
    if (startStep === config.train.steps) {
      console.warn(
        `${dir} has finished all ${startStep} steps; pass --train.steps N (N > ${startStep}) to train it further`,
      );
    }
  }
  // Everything that can be wrong with the config, the output or the data fails here, before any work or
  // any file.
  if (config.log.resume === null) await checkOutput(config.log.dir, "log.dir", { kind: "dir" });
  // Verifiable rewards that name no grader grade with the run's, which also judges the logged correctness.
  const { reward, shaping } = rewardFromConfig(config.reward, { grader: runGrader(config) });
  const examples: Example[] = await loadTrainingExamples(config.data);
  if (examples.length === 0) {
    throw new DataError(`${config.data.path ?? "data"}: no examples to train on; the dataset is empty`);
  }
  if (reward.needsGroundTruth && examples.some((e) => e.answer === null)) {
    throw new DataError(
      `reward ${config.reward.name} needs a ground-truth answer, and the dataset has rows without one`,
    );
  }
  await loadPromptTemplate(config.data.template);
  // A step that cannot fit the GPU is refused before any weight loads (gpu.memory_gb, else nvidia-smi's).
  if (await gpuMemoryLimitGiB(config.gpu.memory_gb) !== null) {
    const verdict = await planRun(config);
    if (verdict.fits === false) {
      throw new RlifError("plan.too_large", `${verdictText(verdict, config.model.path)}`);
    }
  }
  const usesReference = config.algorithm.kl_coef > 0 || config.log.kl_to_ref ||
    (config.reward.scorer === "offline" && reward.needsStats);
  const { policy, reference, base } = await loadPolicy(config, resumeFrom, usesReference);
  const { gpu } = policy;
  if (!policy.tokenizer) {
    throw new RlifError("model.tokenizer", `${config.model.path}: the model has no tokenizer.json`);
  }
  // Built from the (restored) masters, so a resumed run samples exactly as the uninterrupted one.
  const sampler = config.rollout.weights === "f32" ? policy : halfWidthCopy(policy, config.rollout.weights);
  const prompts = await buildPromptSet(config.data, examples, policy.tokenizer);
  checkPromptsFit(prompts, config, policy.config.maxPositionEmbeddings);

  const run = config.log.resume !== null
    ? await RunDir.resume(config.log.resume, startStep)
    : await RunDir.create({ root: config.log.dir, name: config.log.name });
  lock ??= RunLock.acquire(run.path);
  // A longer run resumed is recorded as such, so resuming it again continues to the new length.
  if (config.log.resume === null || configChanged) {
    await run.writeConfig(configToYaml(GRPO_CONFIG, { ...config, log: { ...config.log, resume: null } }));
  }

  const keys = [...policy.trainable.keys()];
  const grads = createGradients(policy);
  const { train } = config;
  const optimizer = policyOptimizer(policy, train);
  if (resumeFrom) await loadOptimizerState(resumeFrom, optimizer, keys, { step: startStep, optimizerSteps });
  const warmupSteps = resolveWarmupSteps({
    warmupSteps: train.warmup_steps,
    warmupRatio: train.warmup_ratio,
    totalSteps: train.steps,
  });

  const engine = rolloutEngine(config, sampler, policy);
  let synced: SyncTiming | null = null;
  const bar = options.progress === false
    ? null
    : new ProgressBar({ total: train.steps, initial: startStep, label: config.log.name });
  const out: StepMetrics[] = [];
  let step = startStep, savedStep = startStep;
  let stopped: TrainResult["stopped"] = "done";
  const save = async () => {
    await saveCheckpoint(run.path, policy, optimizer, keys, { step, optimizerSteps });
    await run.sync();
    savedStep = step;
  };
  stop.describe = () =>
    savedStep > 0
      ? `the last checkpoint is ${checkpointDir(run.path, savedStep)}`
      : "no checkpoint was saved yet";
  try {
    // External replicas start from the weights the local engine would sample from (a resumed run's too).
    const initial = await engine.sync(startStep);
    if (initial) logSync(startStep, initial);
    // Loading leaves free buffers; without them every step, the first and a resumed one too, starts from
    // the same resident memory.
    gpu.trim();
    while (step < train.steps) {
      // Between steps is the safe point: everything before it is logged, nothing after it has started.
      if (stop.signal !== null) break;
      if (options.stopAfter !== undefined && step >= options.stopAfter) {
        stopped = "stop-after";
        break;
      }
      const s = step + 1;
      const started = performance.now();
      // The step's high-water mark (metrics' gpu/peak_mib) counts from the resident memory it starts with.
      gpu.pool.resetPeak();
      const indices = stepPromptIndices(examples.length, train.prompts_per_step, s, train.seed);
      const lr = learningRate(s - 1, train.lr, {
        schedule: train.schedule,
        warmupSteps,
        totalSteps: train.steps,
        minLrRatio: train.min_lr_ratio,
      });
      let batch: RolloutBatch, update: UpdateStats;
      try {
        batch = await collectRollouts(
          { policy, sampler, reference, reward, shaping, config, engine },
          examples,
          prompts,
          indices,
          stepSeed(train.seed, s),
        );
        const advantages = groupAdvantages(batch.rewards, config.rollout.n, {
          stdScaling: config.algorithm.adv_std,
          eps: config.algorithm.adv_eps,
          mask: batch.keep,
        });
        update = await updatePolicy(policy, optimizer, grads, keys, batch, advantages, config, lr);
        // The next rollouts sample from the weights after this step's last optimiser update.
        if (sampler !== policy) refreshHalfWidthCopy(sampler, policy);
        // The update's activations are free now; the next step's rollouts start from resident memory.
        gpu.trim();
        synced = await engine.sync(s);
      } catch (e) {
        if (!(e instanceof NonFiniteError)) throw e;
        const last = await latestCheckpoint(run.path);
        throw new NonFiniteError(
          `step ${s}: ${e.message}; training stopped before applying the update. ` +
            (last ? `The last good checkpoint is ${last.dir}.` : "No checkpoint was saved yet.") +
            " Lower train.lr or check the model and data.",
        );
      }
      optimizerSteps += update.updates;
      const seconds = (performance.now() - started) / 1000;
      const metrics = stepMetrics(s, batch, update, lr, seconds, gpu.pool.stats().peakBytes, config);
      if (synced) {
        logSync(s, synced);
        metrics["rollout/sync_write_s"] = synced.writeSeconds;
        metrics["rollout/sync_reload_s"] = synced.reloadSeconds;
        metrics["rollout/sync_s"] = synced.writeSeconds + synced.reloadSeconds;
      }
      await run.appendMetrics(metrics);
      const model = s === 1 ? modelInfo(config, policy) : null;
      await run.appendMetadata(metadataEntries(s, batch, prompts.texts, examples, model));
      step = s;
      out.push(metrics);
      await options.onStep?.(metrics, { policy, sampler });
      bar?.update(step, {
        reward: metrics.reward_mean ?? 0,
        ...(metrics.accuracy !== null ? { acc: metrics.accuracy } : {}),
        sc: metrics["signal/selfCertainty"] ?? 0,
      });
      if (step % config.log.save_every === 0 || step === train.steps) await save();
    }
    if ((stopped === "stop-after" || stop.signal !== null) && step > savedStep) await save();
  } finally {
    bar?.finish();
    await run.close();
    for (const g of grads.values()) g.release();
    optimizer.release();
    if (sampler !== policy) sampler.release();
    policy.release();
    reference?.release();
    base?.release();
  }
  if (stop.signal !== null && step < train.steps) {
    const saved = savedStep > 0 ? `saved ${checkpointDir(run.path, savedStep)}` : "no step had completed";
    throw new Interrupted(
      stop.signal,
      `interrupted by ${stop.signal} at step ${step} of ${train.steps}; ${saved}. ` +
        `Continue with: ${options.resumeCommand ?? "--log.resume"} ${shellWord(run.path)}`,
      run.path,
    );
  }
  return { runDir: run.path, metrics: out, step, stopped };
}

/**
 * The policy and the reference (null when unused). Full fine-tuning: f32 masters from the checkpoint
 * resumed from or `model.path`, and the reference at the checkpoint's own width (frozen and only scored, a
 * bf16 checkpoint stays bf16, losslessly). LoRA: the base at its checkpoint width carrying the adapter
 * (PEFT's initialisation from `train.seed`, or the one the checkpoint saved), and the base itself as the
 * reference: one copy of the weights; `base` is then that model, released after the policy.
 */
async function loadPolicy(
  config: GrpoConfig,
  resumeFrom: string | null,
  usesReference: boolean,
): Promise<{ policy: Model; reference: Model | null; base: Model | null }> {
  const gpu = await getDevice();
  const lora = config.model.lora;
  if (lora === null) {
    const policy = await loadModel(resumeFrom ?? config.model.path, { gpu, weights: "f32" });
    const reference = usesReference ? await loadModel(config.model.path, { gpu }) : null;
    return { policy, reference, base: null };
  }
  const base = await loadModel(config.model.path, { gpu });
  try {
    const settings: LoraSettings = {
      r: lora.r,
      alpha: lora.alpha,
      dropout: lora.dropout,
      targetModules: lora.target_modules,
      useRslora: lora.use_rslora,
    };
    const adapter = resumeFrom
      ? await loadLoraAdapter(resumeFrom, base)
      : createLoraAdapter(base, settings, config.train.seed, "model.lora");
    return {
      policy: base.withAdapter(adapter),
      reference: usesReference ? base.withAdapter(null) : null,
      base,
    };
  } catch (e) {
    base.release();
    throw e;
  }
}

function logSync(step: number, t: SyncTiming): void {
  console.error(
    `rollout sync after step ${step}: wrote ${(t.bytes / 2 ** 20).toFixed(1)} MiB in ${
      t.writeSeconds.toFixed(2)
    } s, ` +
      `replicas reloaded in ${t.reloadSeconds.toFixed(2)} s`,
  );
}

/** `word` as one shell argument: as is when plain, single-quoted otherwise. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function stepMetrics(
  step: number,
  b: RolloutBatch,
  u: UpdateStats,
  lr: number,
  seconds: number,
  peakBytes: number,
  config: GrpoConfig,
): StepMetrics {
  const judged = b.correct.filter((c): c is boolean => c !== null);
  const lengths = b.completions.map((c) => c.completionIds.length);
  const m: StepMetrics = {
    step,
    reward_mean: mean(b.rewards),
    raw_reward_mean: mean(b.rawRewards),
    accuracy: judged.length ? judged.filter(Boolean).length / judged.length : null,
    format_rate: mean(b.answers.map((a) => (a === null ? 0 : 1))),
    ...rolloutDiagnostics(b),
    kl_to_ref: b.klToRef,
    loss: u.loss,
    pg_loss: u.pgLoss,
    kl: u.kl,
    clip_fraction: u.clipFraction,
    ratio_mean: u.ratioMean,
    grad_norm: u.gradNorm,
    lr,
    entropy: mean(b.stats.map((s) => s.meanTokenEntropy)),
    // Raw engine log-probabilities are the learner's only where the temperature changes nothing.
    "rollout/logprob_abs_diff":
      config.rollout.engine_logprobs === "processed" || config.rollout.temperature === 1
        ? logprobMismatch(b.completions, b.stats)
        : null,
    response_length: mean(lengths),
    tokens_per_s: lengths.reduce((a, x) => a + x, 0) / seconds,
    step_seconds: seconds,
    // The pool's high-water mark over the step's three phases, each trimmed after it: what the step
    // needed, not what earlier steps left behind, so it stays flat over a long run.
    "gpu/peak_mib": peakBytes / 2 ** 20,
  };
  for (const k of SIGNALS) m[`signal/${k}`] = mean(b.stats.map((s) => s[k]));
  for (const k of COE) m[`signal/coe.${k}`] = mean(b.stats.map((s) => s.coe[k]));
  return m;
}

/** Listing 2's `model_info` (hidden-state dynamics thesis, Appendix A) for the run's first record. */
function modelInfo(config: GrpoConfig, policy: Model): ModelInfo {
  const c = policy.config;
  return {
    path: config.model.path,
    arch: c.arch,
    num_layers: c.numLayers,
    hidden_size: c.hiddenSize,
    vocab_size: c.vocabSize,
    torch_dtype: c.torchDtype,
    rollout_weights: config.rollout.weights,
  };
}

/** One metadata.jsonl record per prompt of the step, laid out as lib/log/metadata.ts documents. */
function metadataEntries(
  step: number,
  b: RolloutBatch,
  texts: string[],
  examples: Example[],
  model: ModelInfo | null,
): MetadataEntry[] {
  const n = b.completions.length / b.examples.length;
  return b.examples.map((ex, p) => {
    const { answer, fields } = examples[ex];
    return {
      step,
      prompt_index: p,
      rollout_n: n,
      prompt: texts[ex],
      question: typeof fields.problem === "string" ? fields.problem : null,
      ground_truth: answer,
      ground_truth_available: answer !== null,
      ...(b.pseudoLabels[p] !== null ? { pseudo_label: b.pseudoLabels[p] } : {}),
      responses: b.completions.slice(p * n, (p + 1) * n).map((c, j) => {
        const k = p * n + j;
        return {
          response_index: j,
          text: c.text,
          answer: b.answers[k],
          correct: b.correct[k],
          format: b.answers[k] !== null,
          reward: b.rewards[k],
          raw_reward: b.rawRewards[k],
          length: c.completionIds.length,
          signals: signalsOf(b.stats[k]),
          rollout_logprob: c.logprobs,
        };
      }),
      ...(model !== null && p === 0 ? { model_info: model } : {}),
    };
  });
}

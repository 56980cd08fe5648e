/**
 * Trainer checkpoints: `RUN/checkpoints/step-000010/` holds the policy as a Hugging Face folder (loadable
 * by loadModel) — or, for a LoRA run, its adapter as a PEFT folder (adapter_config.json,
 * adapter_model.safetensors: what PEFT, vLLM and `--adapter` load) — `optimizer.safetensors` (AdamW
 * moments by parameter key: the adapter's factors by PEFT name) and `trainer_state.json`. The
 * folder is written under a temporary name (`step-000010.tmp-PID`) and renamed when complete, so a crash
 * never leaves a partial checkpoint behind the real name; {@link removeStaleTemporaries} clears what such a
 * crash leaves, and {@link latestCheckpoint} skips (with a warning) a folder damaged after it was written.
 *
 * @module
 */
import { join } from "node:path";
import { syncDir, writeFileAtomic } from "../log/atomic.ts";
import type { Model } from "../model/model.ts";
import { processIsDead } from "../log/run_lock.ts";
import {
  openCheckpoint,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from "../model/safetensors.ts";
import type { AdamW } from "../ops/adamw.ts";
import {
  ADAPTER_WEIGHTS,
  isLoraAdapterDir,
  readLoraAdapterConfig,
  saveLoraAdapter,
} from "../model/peft_adapter.ts";

/** What a checkpoint records besides weights and moments. */
export interface TrainerState {
  /** The last completed step. */
  step: number;
  /** AdamW steps taken (steps × optimisation epochs). */
  optimizerSteps: number;
}

const PREFIX = "step-";

/** Directory of the checkpoint of `step` inside a run directory. */
export function checkpointDir(runDir: string, step: number): string {
  return join(runDir, "checkpoints", `${PREFIX}${String(step).padStart(6, "0")}`);
}

/**
 * Saves the policy's weights (its adapter, when it carries one), optimizer moments and trainer state for
 * `state.step`.
 */
export async function saveCheckpoint(
  runDir: string,
  policy: Model,
  optimizer: AdamW,
  keys: readonly string[],
  state: TrainerState,
): Promise<string> {
  const final = checkpointDir(runDir, state.step);
  const tmp = `${final}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  if (policy.adapter) await saveLoraAdapter(policy, tmp);
  else await policy.save(tmp);
  const moments = new Map<string, { shape: number[]; data: Float32Array }>();
  for (let i = 0; i < keys.length; i++) {
    const shape = [...optimizer.m[i].shape];
    moments.set(`m.${keys[i]}`, { shape, data: (await optimizer.m[i].read()) as Float32Array });
    moments.set(`v.${keys[i]}`, { shape, data: (await optimizer.v[i].read()) as Float32Array });
  }
  await writeSafetensors(join(tmp, "optimizer.safetensors"), moments);
  await writeFileAtomic(join(tmp, "trainer_state.json"), JSON.stringify(state, null, 2) + "\n");
  await Deno.remove(final, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, final);
  await syncDir(join(runDir, "checkpoints"));
  return final;
}

/** A checkpoint found in a run directory. */
export interface FoundCheckpoint {
  /** Its folder. */
  dir: string;
  /** Its trainer_state.json. */
  state: TrainerState;
}

async function checkpointFolders(runDir: string): Promise<{ dir: string; step: number }[]> {
  const root = join(runDir, "checkpoints");
  const found: { dir: string; step: number }[] = [];
  try {
    for await (const e of Deno.readDir(root)) {
      const m = /^step-(\d+)$/.exec(e.name);
      if (e.isDirectory && m) found.push({ dir: join(root, e.name), step: Number(m[1]) });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return found.sort((a, b) => b.step - a.step);
}

/**
 * Checks that a checkpoint folder can be resumed from without reading its weights: trainer_state.json
 * parses and names the folder's step, config.json (a LoRA run's adapter_config.json) parses, and the
 * weights' and moments' safetensors headers are valid and fill their files exactly (a file cut short or
 * overwritten fails). Returns the state, or throws an Error saying what is wrong.
 */
async function checkCheckpoint(dir: string, step: number): Promise<TrainerState> {
  const statePath = join(dir, "trainer_state.json");
  let state: TrainerState;
  try {
    state = JSON.parse(await Deno.readTextFile(statePath));
  } catch (e) {
    throw new Error(`${statePath}: ${(e as Error).message}`);
  }
  if (
    state?.step !== step || !Number.isInteger(state.optimizerSteps) || state.optimizerSteps < 0
  ) {
    throw new Error(
      `${statePath}: ${JSON.stringify(state)} does not record step ${step} and its optimizer steps`,
    );
  }
  if (await isLoraAdapterDir(dir)) {
    await readLoraAdapterConfig(dir);
    await readSafetensorsHeader(join(dir, ADAPTER_WEIGHTS));
  } else {
    try {
      JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    } catch (e) {
      throw new Error(`${join(dir, "config.json")}: ${(e as Error).message}`);
    }
    (await openCheckpoint(dir)).close();
  }
  await readSafetensorsHeader(join(dir, "optimizer.safetensors"));
  return state;
}

/**
 * The newest checkpoint of a run that passes the checks of a resume (see the module docs), or null
 * when there is none. A newer folder that fails them is skipped, and `warn` is told which and why.
 *
 * @example
 * ```ts
 * const found = await latestCheckpoint("runs/x", (m) => console.warn(`warning: ${m}`));
 * ```
 */
export async function latestCheckpoint(
  runDir: string,
  warn: (message: string) => void = () => {},
): Promise<FoundCheckpoint | null> {
  const skipped: string[] = [];
  for (const { dir, step } of await checkpointFolders(runDir)) {
    try {
      const state = await checkCheckpoint(dir, step);
      for (const s of skipped) warn(`${s}; resuming from the older ${dir} instead`);
      return { dir, state };
    } catch (e) {
      skipped.push(`checkpoint ${dir} cannot be loaded (${(e as Error).message})`);
    }
  }
  for (const s of skipped) warn(`${s}; no older checkpoint loads either`);
  return null;
}

/**
 * Removes what interrupted checkpoint writes left in a run directory: `checkpoints/step-N.tmp-PID`
 * folders and `.NAME.PID-XXXX.tmp` files of atomic writes, whose writer process is dead. Call it while
 * holding the run's lock. Returns the paths removed.
 */
export async function removeStaleTemporaries(runDir: string): Promise<string[]> {
  const removed: string[] = [];
  const leftovers: [string, RegExp][] = [
    [join(runDir, "checkpoints"), /^step-\d+\.tmp-(\d+)$/], // saveCheckpoint's folders
    [runDir, /^\..+\.(\d+)-[0-9a-f]{8}\.tmp$/], // writeFileAtomic's files (config.yaml)
  ];
  for (const [dir, pattern] of leftovers) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    for (const e of entries) {
      const m = pattern.exec(e.name);
      if (!m || Number(m[1]) === Deno.pid || !processIsDead(Number(m[1]))) continue;
      await Deno.remove(join(dir, e.name), { recursive: true });
      removed.push(join(dir, e.name));
    }
  }
  return removed;
}

/** Restores AdamW moments and step count from a checkpoint folder. */
export async function loadOptimizerState(
  dir: string,
  optimizer: AdamW,
  keys: readonly string[],
  state: TrainerState,
): Promise<void> {
  const file = join(dir, "optimizer.safetensors");
  const saved = await readSafetensors(file);
  keys.forEach((key, i) => {
    for (const [kind, t] of [["m", optimizer.m[i]], ["v", optimizer.v[i]]] as const) {
      const entry = saved.get(`${kind}.${key}`);
      if (!entry || entry.shape.join() !== t.shape.join()) {
        throw new Error(
          `${file}: ${kind}.${key} is missing or has the wrong shape; the checkpoint is not this model's`,
        );
      }
      t.write(entry.data);
    }
  });
  optimizer.stepCount = state.optimizerSteps;
}

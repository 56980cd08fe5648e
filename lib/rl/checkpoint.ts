/**
 * Trainer checkpoints: `RUN/checkpoints/step-000010/` holds the policy as a Hugging Face folder (loadable
 * by loadModel), `optimizer.safetensors` (AdamW moments by parameter key) and `trainer_state.json`. The
 * folder is written under a temporary name and renamed when complete, so a crash never leaves a partial
 * checkpoint behind the real name.
 *
 * @module
 */
import { join } from "node:path";
import { syncDir, writeFileAtomic } from "../log/atomic.ts";
import type { Model } from "../model/model.ts";
import { readSafetensors, writeSafetensors } from "../model/safetensors.ts";
import type { AdamW } from "../ops/adamw.ts";

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

/** Saves policy weights, optimizer moments and trainer state for `state.step`. */
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
  await policy.save(tmp);
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

/** The newest complete checkpoint of a run, or null when it has none. */
export async function latestCheckpoint(runDir: string): Promise<{ dir: string; state: TrainerState } | null> {
  const root = join(runDir, "checkpoints");
  let best: { dir: string; step: number } | null = null;
  try {
    for await (const e of Deno.readDir(root)) {
      const m = /^step-(\d+)$/.exec(e.name);
      if (e.isDirectory && m && (!best || Number(m[1]) > best.step)) {
        best = { dir: join(root, e.name), step: Number(m[1]) };
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  if (!best) return null;
  const state = JSON.parse(await Deno.readTextFile(join(best.dir, "trainer_state.json"))) as TrainerState;
  if (state.step !== best.step) {
    throw new Error(`${best.dir}/trainer_state.json: step ${state.step} does not match the folder name`);
  }
  return { dir: best.dir, state };
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

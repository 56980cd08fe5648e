/**
 * Writing an interpolated model folder between a base model and a fine-tuned checkpoint. Only the model
 * weights are blended: the tensors `loadModel` would read (`model.safetensors`, or the shards
 * `model.safetensors.index.json` lists). A training checkpoint's `optimizer.safetensors` and
 * `trainer_state.json` are neither read nor copied, so a Hugging Face folder and a trainer checkpoint mix
 * as well as two of either, however each is sharded. The other files (config, tokenizer, index) come from
 * the base, and the output keeps the base's shard layout.
 *
 * @module
 */

import { basename, join } from "node:path";
import { RlifError } from "../errors.ts";
import {
  type Checkpoint,
  type LoadedTensor,
  openCheckpoint,
  type SafetensorsDtype,
  type TensorToWrite,
  type WritableDtype,
  writeSafetensors,
} from "./safetensors.ts";
import { interpolateWeights } from "./interpolate.ts";

/** Files of a trainer checkpoint that are not part of the model (see lib/rl/checkpoint.ts). */
const TRAINER_FILES = new Set(["trainer_state.json"]);

/**
 * The dtype a blended tensor is stored in: the wider of the two inputs', so that α = 1 reproduces an f32
 * training checkpoint exactly even when the base is bf16.
 */
function blendedDtype(base: SafetensorsDtype, tuned: SafetensorsDtype): WritableDtype {
  if (base === tuned && (base === "F32" || base === "BF16" || base === "F16")) return base;
  return "F32";
}

/**
 * Writes θ(α) = (1 − α)·base + α·tuned of the model weights into `outDir`. `tunedDir` may be a Hugging
 * Face folder or a trainer checkpoint (`RUN/checkpoints/step-N`); both must hold the same tensor names
 * with the same shapes. The caller owns `outDir`: on failure it may hold some of the files.
 *
 * @example
 * ```ts
 * import { writeInterpolatedCheckpoint } from "./mod.ts";
 * await writeInterpolatedCheckpoint("models/base", "runs/r1/checkpoints/step-000100", 0.5, "/tmp/mid");
 * ```
 */
export async function writeInterpolatedCheckpoint(
  baseDir: string,
  tunedDir: string,
  alpha: number,
  outDir: string,
): Promise<void> {
  using base = await openCheckpoint(baseDir);
  using tuned = await openCheckpoint(tunedDir);
  checkSameNames(base, tuned);
  await Deno.mkdir(outDir, { recursive: true });
  for await (const e of Deno.readDir(baseDir)) {
    if (e.isFile && !e.name.endsWith(".safetensors") && !TRAINER_FILES.has(e.name)) {
      await Deno.copyFile(join(baseDir, e.name), join(outDir, e.name));
    }
  }
  const byFile = new Map<string, string[]>();
  for (const name of base.names) {
    const file = base.info(name).file;
    byFile.set(file, [...(byFile.get(file) ?? []), name]);
  }
  // One base shard (and the matching tuned tensors) in memory at a time.
  for (const [file, names] of byFile) {
    const read = async (c: Checkpoint) => {
      const out = new Map<string, LoadedTensor>();
      for (const name of names) {
        const info = c.info(name);
        out.set(name, { dtype: info.dtype, shape: info.shape, data: await c.read(name), file: info.file });
      }
      return out;
    };
    const [a, b] = [await read(base), await read(tuned)];
    let mixed: Map<string, LoadedTensor>;
    try {
      mixed = interpolateWeights(a, b, alpha);
    } catch (e) {
      throw new RlifError(
        "checkpoint.mismatch",
        `interpolate: ${baseDir} and ${tunedDir} are not the same architecture: ${(e as Error).message}`,
      );
    }
    const out = new Map<string, TensorToWrite>();
    for (const [name, t] of mixed) {
      out.set(name, { shape: t.shape, data: t.data, dtype: blendedDtype(t.dtype, b.get(name)!.dtype) });
    }
    await writeSafetensors(join(outDir, basename(file)), out, { metadata: { format: "pt" } });
  }
}

function checkSameNames(base: Checkpoint, tuned: Checkpoint): void {
  const inTuned = new Set(tuned.names);
  const inBase = new Set(base.names);
  const onlyBase = base.names.filter((n) => !inTuned.has(n));
  const onlyTuned = tuned.names.filter((n) => !inBase.has(n));
  if (onlyBase.length === 0 && onlyTuned.length === 0) return;
  const list = (names: string[]) =>
    names.length === 0 ? "none" : names.slice(0, 5).join(", ") + (names.length > 5 ? ", …" : "");
  throw new RlifError(
    "checkpoint.mismatch",
    `interpolate: ${base.dir} and ${tuned.dir} hold different model weights (only in the base: ` +
      `${list(onlyBase)}; only in the tuned: ${list(onlyTuned)}); both must be the same architecture`,
  );
}

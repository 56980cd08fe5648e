/**
 * Writing an interpolated checkpoint directory between two Hugging Face checkpoints: every
 * safetensors shard is interpolated tensor by tensor (one shard in memory at a time) and the other
 * files (config, tokenizer, index) are copied from the base.
 *
 * @module
 */

import {
  type LoadedTensor,
  readSafetensors,
  type TensorToWrite,
  type WritableDtype,
  writeSafetensors,
} from "./safetensors.ts";
import { interpolateWeights } from "./interpolate.ts";

const WRITABLE = new Set<string>(["F32", "BF16", "F16"]);

async function listFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`interpolate: checkpoint directory ${dir} does not exist`);
    }
    throw e;
  }
  return names.sort();
}

/**
 * Writes θ(α) = (1 − α)·base + α·tuned into `outDir`. Both directories must hold the same
 * safetensors files with the same tensors; each tensor keeps the base's storage dtype.
 *
 * @example
 * ```ts
 * import { writeInterpolatedCheckpoint } from "./mod.ts";
 * await writeInterpolatedCheckpoint("models/base", "runs/r1/checkpoint-100", 0.5, "/tmp/mid");
 * ```
 */
export async function writeInterpolatedCheckpoint(
  baseDir: string,
  tunedDir: string,
  alpha: number,
  outDir: string,
): Promise<void> {
  const baseFiles = await listFiles(baseDir);
  const tunedFiles = new Set(await listFiles(tunedDir));
  const shards = baseFiles.filter((f) => f.endsWith(".safetensors"));
  if (shards.length === 0) throw new Error(`interpolate: ${baseDir} has no .safetensors files`);
  const missing = shards.filter((f) => !tunedFiles.has(f));
  const extra = [...tunedFiles].filter((f) => f.endsWith(".safetensors") && !shards.includes(f));
  if (missing.length || extra.length) {
    throw new Error(
      `interpolate: the checkpoints are sharded differently (only in base: ${
        missing.join(", ") || "none"
      }; ` +
        `only in tuned: ${extra.join(", ") || "none"}); both need the same safetensors files`,
    );
  }
  await Deno.mkdir(outDir, { recursive: true });
  for (const f of baseFiles) {
    if (!f.endsWith(".safetensors")) await Deno.copyFile(`${baseDir}/${f}`, `${outDir}/${f}`);
  }
  for (const shard of shards) {
    const base = await readSafetensors(`${baseDir}/${shard}`);
    const tuned = await readSafetensors(`${tunedDir}/${shard}`);
    let mixed: Map<string, LoadedTensor>;
    try {
      mixed = interpolateWeights(base, tuned, alpha);
    } catch (e) {
      throw new Error(`interpolate: ${shard}: ${(e as Error).message}`);
    }
    const out = new Map<string, TensorToWrite>();
    for (const [name, t] of mixed) {
      const dtype = WRITABLE.has(t.dtype) ? (t.dtype as WritableDtype) : "F32";
      out.set(name, { shape: t.shape, data: t.data, dtype });
    }
    await writeSafetensors(`${outDir}/${shard}`, out, { metadata: { format: "pt" } });
  }
}

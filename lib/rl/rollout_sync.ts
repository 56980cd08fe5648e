/**
 * `rollout.sync: disk`: the sampling weights written as a Hugging Face folder into `rollout.sync_dir`
 * (`step-000003/`: config.json, generation_config.json, model.safetensors, tokenizer files), complete
 * before its name appears, then every replica told to reload it. The safetensors hold the weights the
 * local engine would sample from, bit for bit: matrices at `rollout.weights` width, norm weights and
 * biases f32 (as a half-width model holds them), so a replica that loads the folder samples what the
 * in-process engine would. A LoRA policy's folder holds only its adapter, in PEFT's format
 * (adapter_config.json, adapter_model.safetensors), for replicas that load adapters over the base.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { syncDir, writeFileAtomic } from "../log/atomic.ts";
import { generationConfigToJson, modelConfigToJson } from "../model/config.ts";
import { type Model, takesWeightWidth } from "../model/model.ts";
import { type TensorToWrite, type WritableDtype, writeSafetensors } from "../model/safetensors.ts";
import { ADAPTER_WEIGHTS, saveLoraAdapter } from "../model/peft_adapter.ts";

/** Files copied from the model's own folder, when it has them. */
const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "chat_template.jinja",
  "special_tokens_map.json",
];

const STORED: Record<Model["weightDType"], WritableDtype> = { f32: "F32", bf16: "BF16", f16: "F16" };
const TORCH: Record<Model["weightDType"], string> = { f32: "float32", bf16: "bfloat16", f16: "float16" };

/** Folder name of the weights synced after `step` (0: before the first step). */
export function syncFolderName(step: number): string {
  return `step-${String(step).padStart(6, "0")}`;
}

/**
 * Writes `model`'s weights (its adapter alone, when it carries one) into `<root>/step-NNNNNN` under a
 * temporary name, renamed when complete, and points the link `<root>/current` at it (a new link renamed
 * over the old one, so the link always names a complete folder: what a replica started on
 * `<root>/current` reloads from); removes the folders of earlier steps (replicas hold what they loaded in
 * memory). Returns the folder's absolute path and its safetensors size in bytes.
 */
export async function writeSyncFolder(
  model: Model,
  root: string,
  step: number,
): Promise<{ dir: string; bytes: number }> {
  const final = resolve(root, syncFolderName(step));
  const tmp = `${final}.tmp-${Deno.pid}`;
  await Deno.mkdir(root, { recursive: true });
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp);
  const file = model.adapter ? ADAPTER_WEIGHTS : "model.safetensors";
  if (model.adapter) await saveLoraAdapter(model, tmp);
  else await writeModelFolder(model, tmp);
  await syncDir(tmp);
  await Deno.remove(final, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, final);
  const link = join(root, `current.tmp-${Deno.pid}`);
  await Deno.remove(link).catch(() => {});
  await Deno.symlink(syncFolderName(step), link);
  await Deno.rename(link, join(root, "current"));
  await syncDir(root);
  for await (const e of Deno.readDir(root)) {
    if (e.isDirectory && /^step-\d+$/.test(e.name) && e.name !== syncFolderName(step)) {
      await Deno.remove(join(root, e.name), { recursive: true });
    }
  }
  return { dir: final, bytes: (await Deno.stat(join(final, file))).size };
}

/** The sampling weights as a Hugging Face folder (see the module docs). */
async function writeModelFolder(model: Model, tmp: string): Promise<void> {
  const width = model.weightDType;
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of await model.readWeights()) {
    tensors.set(name, { ...t, dtype: takesWeightWidth(t.shape) ? STORED[width] : "F32" });
  }
  await writeSafetensors(join(tmp, "model.safetensors"), tensors, { metadata: { format: "pt" } });
  const config = { ...modelConfigToJson(model.config), torch_dtype: TORCH[width] };
  await writeFileAtomic(join(tmp, "config.json"), JSON.stringify(config, null, 2) + "\n");
  if (model.generationConfig) {
    const gen = generationConfigToJson(model.generationConfig);
    await writeFileAtomic(join(tmp, "generation_config.json"), JSON.stringify(gen, null, 2) + "\n");
  }
  for (const f of model.dir ? TOKENIZER_FILES : []) {
    try {
      await Deno.copyFile(join(model.dir!, f), join(tmp, f));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}

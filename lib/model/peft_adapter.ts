/**
 * LoRA adapters in PEFT's folder format, which PEFT (`PeftModel.from_pretrained`), vLLM (`--enable-lora`,
 * `/v1/load_lora_adapter`) and rlif all read: `adapter_config.json` (PEFT's `LoraConfig`: peft_type "LORA",
 * r, lora_alpha, lora_dropout, target_modules, use_rslora, bias "none", task_type "CAUSAL_LM", …) and
 * `adapter_model.safetensors` with the factors under PEFT's names
 * (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, f32).
 *
 * @module
 */
import { join } from "node:path";
import { RlifError } from "../errors.ts";
import { writeFileAtomic } from "../log/atomic.ts";
import type { Model } from "./model.ts";
import {
  LORA_PROJECTIONS,
  type LoraAdapter,
  loraAdapterFromTensors,
  loraModuleKeys,
  type LoraSettings,
} from "./lora.ts";
import { readSafetensors, writeSafetensors } from "./safetensors.ts";

/** The adapter's configuration file. */
export const ADAPTER_CONFIG = "adapter_config.json";
/** The adapter's factors. */
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";

/** What {@link readLoraAdapterConfig} returns: the settings and the base the adapter was made for. */
export interface LoraAdapterConfig {
  /** r, lora_alpha, lora_dropout, target_modules, use_rslora. */
  readonly settings: LoraSettings;
  /** base_model_name_or_path, or null. */
  readonly baseModel: string | null;
}

/** Whether `dir` holds a PEFT adapter (its adapter_config.json). */
export async function isLoraAdapterDir(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(join(dir, ADAPTER_CONFIG))).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
}

/**
 * Reads and checks `dir/adapter_config.json`. Refuses, naming the field, what rlif does not implement:
 * another peft_type than LORA, bias other than "none", DoRA, modules_to_save, fan_in_fan_out, and per-module
 * rank or alpha patterns.
 */
export async function readLoraAdapterConfig(dir: string): Promise<LoraAdapterConfig> {
  const file = join(dir, ADAPTER_CONFIG);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new RlifError("lora.adapter", `${dir}: no ${ADAPTER_CONFIG}; a LoRA adapter is a PEFT folder`);
    }
    throw new RlifError("lora.adapter", `${file}: ${(e as Error).message}`);
  }
  const fail = (field: string, detail: string): never => {
    throw new RlifError("lora.adapter", `${file}: field "${field}" ${detail}`);
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new RlifError("lora.adapter", `${file}: expected a JSON object`);
  }
  if (json.peft_type !== "LORA") {
    fail("peft_type", `is ${JSON.stringify(json.peft_type)}; rlif reads LoRA adapters ("LORA") only`);
  }
  const number = (field: string, fallback: number) => {
    const v = json[field] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      fail(field, `must be a number, got ${JSON.stringify(v)}`);
    }
    return v as number;
  };
  const empty = (v: unknown) =>
    v === undefined || v === null || (Array.isArray(v) && v.length === 0) ||
    (typeof v === "object" && Object.keys(v as object).length === 0);
  if ((json.bias ?? "none") !== "none") {
    fail("bias", `is ${JSON.stringify(json.bias)}; rlif adapts weights only ("none")`);
  }
  if (json.use_dora === true) fail("use_dora", "is true; rlif does not implement DoRA");
  if (json.fan_in_fan_out === true) {
    fail("fan_in_fan_out", "is true; rlif's projections are nn.Linear ([out, in])");
  }
  if (!empty(json.modules_to_save)) {
    fail(
      "modules_to_save",
      `is ${JSON.stringify(json.modules_to_save)}; rlif trains and loads LoRA factors only`,
    );
  }
  for (const field of ["rank_pattern", "alpha_pattern"]) {
    if (!empty(json[field])) {
      fail(field, `is ${JSON.stringify(json[field])}; rlif needs one r and one alpha for all modules`);
    }
  }
  const targets = json.target_modules;
  const targetModules =
    typeof targets === "string" || (Array.isArray(targets) && targets.every((t) => typeof t === "string"))
      ? targets as string[] | string
      : fail("target_modules", `must be a list of module names or a string, got ${JSON.stringify(targets)}`);
  const settings: LoraSettings = {
    r: number("r", 8),
    alpha: number("lora_alpha", 8),
    dropout: number("lora_dropout", 0),
    targetModules,
    useRslora: json.use_rslora === true,
  };
  const base = json.base_model_name_or_path;
  return { settings, baseModel: typeof base === "string" ? base : null };
}

/**
 * Loads the PEFT adapter in `dir` for `model`'s architecture (the factors read from
 * adapter_model.safetensors, BF16 or F16 files widened, uploaded as f32). Attach it with
 * `model.withAdapter(adapter)`.
 *
 * @example
 * ```ts
 * const base = await loadModel("models/Qwen2.5-7B");
 * const tuned = base.withAdapter(await loadLoraAdapter("runs/r1/checkpoints/step-000100", base));
 * ```
 */
export async function loadLoraAdapter(dir: string, model: Model): Promise<LoraAdapter> {
  const { settings, baseModel } = await readLoraAdapterConfig(dir);
  const file = join(dir, ADAPTER_WEIGHTS);
  let tensors;
  try {
    tensors = await readSafetensors(file);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    const pickle = await Deno.stat(join(dir, "adapter_model.bin")).then(() => true, () => false);
    throw new RlifError(
      "lora.adapter",
      `${dir}: no ${ADAPTER_WEIGHTS}` +
        (pickle
          ? "; rlif does not read adapter_model.bin (a pickle): save the adapter with safe_serialization=True"
          : ""),
    );
  }
  return loraAdapterFromTensors(model, settings, tensors, file, baseModel);
}

/**
 * The target_modules an adapter is saved with: its projections' names when it adapts them in every layer
 * (`["q_proj", "v_proj"]`, what PEFT writes), else a pattern PEFT matches against exactly its modules.
 */
function savedTargetModules(model: Model, adapter: LoraAdapter): string[] | string {
  const keys = new Set(adapter.modules.map((m) => m.key));
  const names = LORA_PROJECTIONS.map((p) => p.name).filter((n) =>
    adapter.modules.some((m) => m.key.endsWith(`.${n}`))
  );
  const everyLayer = loraModuleKeys(model.config).filter((k) => names.some((n) => k.endsWith(`.${n}`)));
  if (everyLayer.length === keys.size && everyLayer.every((k) => keys.has(k))) return names;
  return [...keys].map((k) => k.replaceAll(".", "\\.")).join("|");
}

/**
 * Writes `model`'s adapter into `dir` as PEFT saves one: adapter_config.json (base_model_name_or_path from
 * `options.baseModel`, else the adapter's, else the model's folder) and adapter_model.safetensors (f32),
 * each file written atomically.
 */
export async function saveLoraAdapter(
  model: Model,
  dir: string,
  options: { baseModel?: string } = {},
): Promise<void> {
  const adapter = model.adapter;
  if (!adapter) throw new Error("saveLoraAdapter: the model carries no adapter");
  const s = adapter.settings;
  const config = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: options.baseModel ?? adapter.baseModel ?? model.dir ?? null,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: s.alpha,
    lora_dropout: s.dropout,
    modules_to_save: null,
    peft_type: "LORA",
    r: s.r,
    rank_pattern: {},
    revision: null,
    target_modules: savedTargetModules(model, adapter),
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: s.useRslora,
  };
  await Deno.mkdir(dir, { recursive: true });
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const values = await model.gpu.readAll([...adapter.params.values()]);
  [...adapter.params].forEach(([name, t], i) =>
    tensors.set(name, { shape: [...t.shape], data: values[i] as Float32Array })
  );
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, { metadata: { format: "pt" } });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG), JSON.stringify(config, null, 2) + "\n");
}

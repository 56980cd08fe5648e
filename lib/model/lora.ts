/**
 * LoRA adapters on a model's decoder projections, as PEFT defines them: for each targeted linear layer
 * (q/k/v/o, gate/up/down), W stays frozen at the checkpoint's width and y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with f32
 * factors A [r, in] (kaiming-uniform at init, PEFT's `init_lora_weights=True`) and B [out, r] (zeros), s =
 * lora_alpha / r (lora_alpha / √r with rsLoRA). A model carrying an adapter ({@link Model.adapter}) trains
 * only the adapter; the same model without it (`model.withAdapter(null)`) is the base, the reference
 * policy, with no second copy of the weights. Tensors are named as PEFT saves them
 * (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`), which lib/model/peft_adapter.ts
 * reads and writes.
 *
 * @module
 */
import { RlifError } from "../errors.ts";
import { seededRandom } from "../data/rng.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type LoraFactors, loraMerge } from "../ops/lora.ts";
import type { ModelConfig } from "./config.ts";
import type { Model } from "./model.ts";

/**
 * A LoRA configuration: PEFT's `LoraConfig` fields rlif reads, under the names of the `model.lora` config
 * section (`alpha` is PEFT's `lora_alpha`, `dropout` its `lora_dropout`).
 */
export interface LoraSettings {
  /** Rank r of A and B. */
  readonly r: number;
  /** lora_alpha: the scale is alpha / r (alpha / √r with {@link useRslora}). */
  readonly alpha: number;
  /** lora_dropout on the adapter's input; rlif trains only with 0 (inference ignores it, as PEFT's eval does). */
  readonly dropout: number;
  /**
   * target_modules: module names matched as PEFT matches a list (a module whose dotted name equals the entry
   * or ends in `.entry`: `q_proj`, `mlp.down_proj`, `model.layers.0.self_attn.v_proj`), or one string:
   * `all-linear` (every decoder projection) or a regular expression the whole dotted name must match.
   */
  readonly targetModules: readonly string[] | string;
  /** use_rslora: scale by alpha / √r (rank-stabilised LoRA). */
  readonly useRslora: boolean;
}

/**
 * PEFT's defaults: r 8, lora_alpha 8, lora_dropout 0, and the target modules PEFT picks for Qwen2, Qwen3,
 * Llama and OLMo-2 when none are named (q_proj and v_proj).
 */
export const LORA_DEFAULTS: LoraSettings = {
  r: 8,
  alpha: 8,
  dropout: 0,
  targetModules: ["q_proj", "v_proj"],
  useRslora: false,
};

/** The decoder projections an adapter can target, by PEFT module name, with their sublayer. */
export const LORA_PROJECTIONS: readonly { readonly name: string; readonly parent: "self_attn" | "mlp" }[] = [
  { name: "q_proj", parent: "self_attn" },
  { name: "k_proj", parent: "self_attn" },
  { name: "v_proj", parent: "self_attn" },
  { name: "o_proj", parent: "self_attn" },
  { name: "gate_proj", parent: "mlp" },
  { name: "up_proj", parent: "mlp" },
  { name: "down_proj", parent: "mlp" },
];

/** The adapter of one projection: its factors and scale, and its names. */
export interface LoraModule extends LoraFactors {
  /** The module's dotted name (`model.layers.3.mlp.up_proj`). */
  readonly key: string;
  /** The base weight it adapts, by Hugging Face name (`model.layers.3.mlp.up_proj.weight`). */
  readonly weight: string;
  /** PEFT's name of A (`base_model.model.model.layers.3.mlp.up_proj.lora_A.weight`). */
  readonly aName: string;
  /** PEFT's name of B. */
  readonly bName: string;
}

/** PEFT's saved name of factor `factor` of module `key`. */
export function peftTensorName(key: string, factor: "A" | "B"): string {
  return `base_model.model.${key}.lora_${factor}.weight`;
}

/** The scale s of an adapter: alpha / r, or alpha / √r with rsLoRA. */
export function loraScale(alpha: number, r: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

/**
 * The adapters of a model's projections: f32 factors in exact-size buffers, one {@link LoraModule} per
 * targeted projection in model order. Attach it with `model.withAdapter(adapter)`.
 */
export class LoraAdapter {
  /** Every factor by PEFT name (A, then B, per module in model order): what trains and what is saved. */
  readonly params: ReadonlyMap<string, Tensor>;
  readonly #byWeight: ReadonlyMap<string, LoraModule>;

  /** An adapter over `modules`, made with `settings` for the model `baseModel` (its name or path, if known). */
  constructor(
    readonly settings: LoraSettings,
    readonly modules: readonly LoraModule[],
    readonly baseModel: string | null = null,
  ) {
    const params = new Map<string, Tensor>();
    for (const m of modules) params.set(m.aName, m.a).set(m.bName, m.b);
    this.params = params;
    this.#byWeight = new Map(modules.map((m) => [m.weight, m]));
  }

  /** The adapter of the base weight `weight` (Hugging Face name), if it has one. */
  module(weight: string): LoraModule | undefined {
    return this.#byWeight.get(weight);
  }

  /** Gives the factors' buffers back. */
  release(): void {
    for (const t of this.params.values()) t.release();
  }
}

/** Every projection of a config's decoder as PEFT names its module, layer by layer. */
export function loraModuleKeys(config: ModelConfig): string[] {
  const keys: string[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    for (const p of LORA_PROJECTIONS) keys.push(`model.layers.${l}.${p.parent}.${p.name}`);
  }
  return keys;
}

/**
 * The module keys `targetModules` selects among a config's projections, by PEFT's rules (see
 * {@link LoraSettings.targetModules}). Every entry of a list must select something, and so must a pattern:
 * an error names the entry (as `where`) and the names that would be valid.
 */
export function resolveTargetModules(
  config: ModelConfig,
  targetModules: readonly string[] | string,
  where = "target_modules",
): string[] {
  const keys = loraModuleKeys(config);
  const valid = `the projections ${LORA_PROJECTIONS.map((p) => p.name).join(", ")} (or "all-linear")`;
  if (typeof targetModules === "string") {
    if (targetModules === "all-linear") return keys;
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${targetModules})$`);
    } catch (e) {
      throw new RlifError(
        "config.lora",
        `${where}: ${JSON.stringify(targetModules)} is not a regular expression (${(e as Error).message})`,
      );
    }
    const hits = keys.filter((k) => pattern.test(k));
    if (hits.length === 0) {
      throw new RlifError(
        "config.lora",
        `${where}: the pattern ${JSON.stringify(targetModules)} matches no module (names look like ` +
          `${keys[0]}); name ${valid}`,
      );
    }
    return hits;
  }
  if (targetModules.length === 0) {
    throw new RlifError("config.lora", `${where} is empty; name ${valid}`);
  }
  const selected = new Set<string>();
  for (const t of targetModules) {
    const hits = keys.filter((k) => k === t || k.endsWith(`.${t}`));
    if (hits.length === 0) {
      throw new RlifError(
        "config.lora",
        `${where}: ${JSON.stringify(t)} names no module rlif can adapt; name ${valid}`,
      );
    }
    hits.forEach((k) => selected.add(k));
  }
  return keys.filter((k) => selected.has(k));
}

/** Throws unless `settings` describe an adapter rlif can build (and, with `training`, train). */
export function checkLoraSettings(settings: LoraSettings, where = "lora", training = false): void {
  const fail = (field: string, detail: string) => {
    throw new RlifError("config.lora", `${where}.${field} ${detail}`);
  };
  if (!Number.isInteger(settings.r) || settings.r < 1) {
    fail("r", `must be an integer >= 1, got ${settings.r}`);
  }
  if (!Number.isFinite(settings.alpha) || settings.alpha <= 0) {
    fail("alpha", `must be a number > 0, got ${settings.alpha}`);
  }
  if (!(settings.dropout >= 0 && settings.dropout < 1)) {
    fail("dropout", `must be in [0, 1), got ${settings.dropout}`);
  }
  if (training && settings.dropout !== 0) {
    fail(
      "dropout",
      `is ${settings.dropout}: rlif does not implement LoRA dropout; train with 0 (PEFT's default)`,
    );
  }
}

/**
 * A new adapter for `model` as `settings` describe it, initialised as PEFT does: A ~ U(−1/√in, 1/√in)
 * (kaiming-uniform with a = √5) from a generator seeded with `seed`, B = 0, so the adapted model starts equal
 * to its base. Refuses dropout (see {@link checkLoraSettings}); errors name the settings as `where`
 * (`model.lora` in a trainer config).
 */
export function createLoraAdapter(
  model: Model,
  settings: LoraSettings,
  seed: number,
  where = "lora",
): LoraAdapter {
  checkLoraSettings(settings, where, true);
  const { gpu } = model;
  const rand = seededRandom(seed);
  const scale = loraScale(settings.alpha, settings.r, settings.useRslora);
  const modules: LoraModule[] = [];
  try {
    for (const key of resolveTargetModules(model.config, settings.targetModules, `${where}.target_modules`)) {
      const weight = `${key}.weight`;
      const [outF, inF] = model.param(weight).shape;
      const bound = 1 / Math.sqrt(inF);
      const a = gpu.emptyExact([settings.r, inF], "f32", peftTensorName(key, "A"));
      const b = gpu.emptyExact([outF, settings.r], "f32", peftTensorName(key, "B"));
      modules.push({
        key,
        weight,
        a,
        b,
        scale,
        aName: peftTensorName(key, "A"),
        bName: peftTensorName(key, "B"),
      });
      a.write(Float32Array.from({ length: a.size }, () => (2 * rand() - 1) * bound));
      gpu.clear(b);
    }
  } catch (e) {
    for (const m of modules) [m.a, m.b].forEach((t) => t.release());
    throw e;
  }
  return new LoraAdapter(settings, modules, model.dir ?? null);
}

/**
 * Records W + s·B·A of every adapted projection of `model` into a new exact-size tensor at the base
 * weight's own width: the merged weights, by Hugging Face name. Nothing is read back.
 */
export function mergedLoraWeights(model: Model): Map<string, Tensor> {
  const adapter = model.adapter;
  if (!adapter) throw new Error("mergedLoraWeights: the model carries no adapter");
  const out = new Map<string, Tensor>();
  for (const m of adapter.modules) {
    const w = model.param(m.weight);
    const merged = model.gpu.emptyExact(w.shape, w.dtype, `merged.${m.weight}`);
    loraMerge(model.gpu, w, m, merged);
    out.set(m.weight, merged);
  }
  return out;
}

/**
 * `model` with its adapter merged in: a model without an adapter whose adapted projections hold
 * W + s·B·A (rounded once to each weight's width) and whose other parameters are `model`'s own buffers.
 * It owns only the merged tensors: release it before `model`'s parameters go.
 */
export function mergeLoraAdapter(model: Model): Model {
  const merged = mergedLoraWeights(model);
  const params = new Map(model.params);
  for (const [name, t] of merged) params.set(name, t);
  return model.sharing(params, [...merged.values()]);
}

/** PEFT's saved factor names: `base_model.model.<module>.lora_A.weight` / `lora_B.weight`. */
const PEFT_FACTOR = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;

/**
 * An adapter for `model` from host tensors under PEFT's names (what `adapter_model.safetensors` holds),
 * uploaded as f32. Every tensor must be a factor of a decoder projection of this model with rank
 * `settings.r` and the projection's widths; `source` names the file in errors. `baseModel` is recorded as
 * the adapter's base (default: the model's folder).
 */
export function loraAdapterFromTensors(
  model: Model,
  settings: LoraSettings,
  tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  source = "adapter",
  baseModel: string | null = model.dir ?? null,
): LoraAdapter {
  checkLoraSettings(settings, source);
  const known = new Set(loraModuleKeys(model.config));
  const fail = (detail: string) => {
    throw new RlifError("lora.adapter", `${source}: ${detail}`);
  };
  const factors = new Map<string, { A?: string; B?: string }>();
  for (const name of tensors.keys()) {
    const m = PEFT_FACTOR.exec(name);
    if (!m) {
      fail(
        `unexpected tensor ${name}; rlif reads LoRA factors of decoder projections only ` +
          `(base_model.model.<module>.lora_A.weight / lora_B.weight), not embedding adapters, DoRA magnitudes ` +
          "or modules_to_save",
      );
    }
    if (!known.has(m![1])) {
      fail(`tensor ${name} adapts ${m![1]}, which is not a projection of this ${model.config.arch} model`);
    }
    const entry = factors.get(m![1]) ?? {};
    entry[m![2] as "A" | "B"] = name;
    factors.set(m![1], entry);
  }
  if (factors.size === 0) fail("holds no LoRA factors");
  const scale = loraScale(settings.alpha, settings.r, settings.useRslora);
  const modules: LoraModule[] = [];
  try {
    for (const key of loraModuleKeys(model.config).filter((k) => factors.has(k))) {
      const { A, B } = factors.get(key)!;
      if (!A || !B) fail(`${key} has lora_${A ? "A" : "B"} but no lora_${A ? "B" : "A"}`);
      const weight = `${key}.weight`;
      const [outF, inF] = model.param(weight).shape;
      const a = tensors.get(A!)!, b = tensors.get(B!)!;
      const r = settings.r;
      for (const [name, t, want] of [[A!, a, [r, inF]], [B!, b, [outF, r]]] as const) {
        if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
          fail(
            `${name} has shape [${t.shape.join(", ")}], expected [${want.join(", ")}] (r = ${r}, ` +
              `${key} is [${outF}, ${inF}])`,
          );
        }
      }
      const upload = (name: string, t: { shape: readonly number[]; data: Float32Array }) => {
        const out = model.gpu.emptyExact(t.shape, "f32", name);
        out.write(t.data);
        return out;
      };
      const ta = upload(A!, a);
      let tb: Tensor;
      try {
        tb = upload(B!, b);
      } catch (e) {
        ta.release();
        throw e;
      }
      modules.push({ key, weight, a: ta, b: tb, scale, aName: A!, bName: B! });
    }
  } catch (e) {
    for (const m of modules) [m.a, m.b].forEach((t) => t.release());
    throw e;
  }
  return new LoraAdapter(settings, modules, baseModel);
}

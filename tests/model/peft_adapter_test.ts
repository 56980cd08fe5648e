/**
 * PEFT's adapter format (lib/model/peft_adapter.ts) and `deno task merge-adapter`: a folder written here in
 * PEFT's layout (adapter_config.json with the keys PEFT 0.1x writes, F32 and BF16 factors under PEFT's
 * names) loads, unmerged and merged, and scores as the merged reference (W + (alpha/r)·B·A formed in
 * float64, saved as a plain checkpoint); what saveLoraAdapter writes has PEFT's names and config and loads
 * back bit for bit; merge-adapter's output loads as a plain checkpoint with the same scores as the base
 * with the adapter merged at load; what rlif cannot read is refused naming the file and field.
 */
import { join } from "node:path";
import { generate } from "../../lib/generate/generate.ts";
import { getDevice } from "../../lib/gpu/device.ts";
import { bf16BitsToF32, f32ToBf16Bits } from "../../lib/gpu/dtype.ts";
import { LORA_DEFAULTS, peftTensorName, resolveTargetModules } from "../../lib/model/lora.ts";
import { loadModel } from "../../lib/model/model.ts";
import {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  loadLoraAdapter,
  readLoraAdapterConfig,
  saveLoraAdapter,
} from "../../lib/model/peft_adapter.ts";
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from "../../lib/model/safetensors.ts";
import { score } from "../../lib/model/score.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { assertClose, assertThrowsWith, randn, rng } from "../support/numeric.ts";
import { runScript } from "../support/scripts.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const ITEMS = [
  { promptIds: [5, 17, 100, 3], completionIds: [8, 9, 10] },
  { promptIds: [260, 1], completionIds: [77, 78, 79, 80] },
];

/** adapter_config.json as PEFT 0.13 writes it for a causal LM (keys rlif does not use included). */
function peftConfig(r: number, alpha: number, targets: string[]) {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: "tiny/base",
    bias: "none",
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: alpha,
    lora_bias: false,
    lora_dropout: 0.05,
    megatron_config: null,
    megatron_core: "megatron.core",
    modules_to_save: null,
    peft_type: "LORA",
    r,
    rank_pattern: {},
    revision: null,
    target_modules: targets,
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: false,
  };
}

/**
 * A base folder (`dtype` weights), a PEFT adapter folder over it (factors stored as `factorDtype`) and the
 * merged reference checkpoint, W + (alpha/r)·B·A in float64 rounded once to f32.
 */
async function fixture(root: string, dtype: "f32" | "bf16", factorDtype: "F32" | "BF16") {
  const options = {
    seed: 8,
    arch: "qwen2" as const,
    dtype,
    hidden: 32,
    heads: 4,
    kvHeads: 2,
    intermediate: 40,
  };
  const base = join(root, "base"), adapter = join(root, "adapter"), merged = join(root, "merged");
  await writeTinyCheckpoint(base, options);
  const sharp = sharpTinyCheckpoint(options);
  await writeSafetensors(join(base, "model.safetensors"), sharp.tensors, {
    dtype: dtype === "bf16" ? "BF16" : "F32",
  });
  const [r, alpha] = [6, 12];
  const targets = ["v_proj", "q_proj", "down_proj"]; // a set saved as a list: any order
  const g = rng(17);
  const factors = new Map<string, { shape: number[]; data: Float32Array }>();
  const reference = new Map(sharp.tensors);
  for (const key of resolveTargetModules(sharp.config, targets)) {
    const w = sharp.tensors.get(`${key}.weight`)!;
    const [outF, inF] = w.shape;
    const round = (x: Float64Array) =>
      factorDtype === "BF16" ? bf16BitsToF32(f32ToBf16Bits(x)) : Float32Array.from(x);
    const a = round(randn(g, r * inF, 0.3)), b = round(randn(g, outF * r, 0.3));
    factors.set(peftTensorName(key, "A"), { shape: [r, inF], data: a });
    factors.set(peftTensorName(key, "B"), { shape: [outF, r], data: b });
    const data = new Float32Array(w.data.length);
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        let d = 0;
        for (let j = 0; j < r; j++) d += b[o * r + j] * a[j * inF + i];
        data[o * inF + i] = w.data[o * inF + i] + (alpha / r) * d;
      }
    }
    reference.set(`${key}.weight`, { shape: w.shape, data });
  }
  await Deno.mkdir(adapter);
  await Deno.writeTextFile(
    join(adapter, ADAPTER_CONFIG),
    JSON.stringify(peftConfig(r, alpha, targets), null, 2),
  );
  await writeSafetensors(join(adapter, ADAPTER_WEIGHTS), factors, {
    dtype: factorDtype,
    metadata: { format: "pt" },
  });
  await writeTinyCheckpoint(merged, options);
  await writeSafetensors(join(merged, "model.safetensors"), reference, { dtype: "F32" });
  return { base, adapter, merged, factors };
}

async function logprobs(dir: string, options: Parameters<typeof loadModel>[1] = {}) {
  const model = await loadModel(dir, options);
  try {
    return (await score(model, ITEMS)).flatMap((s) => s.tokenLogprobs);
  } finally {
    model.release();
  }
}

for (const [dtype, factorDtype] of [["f32", "F32"], ["bf16", "BF16"]] as const) {
  Deno.test(`peft adapter: a PEFT folder (${factorDtype} factors) on a ${dtype} base scores as the merged reference`, async () => {
    const root = await Deno.makeTempDir({ prefix: "rlif-peft-" });
    try {
      const f = await fixture(root, dtype, factorDtype);
      const want = await logprobs(f.merged, { weights: "f32" });
      // Unmerged: the base at its width, the adapter's term in f32. Merged at load: W + s·B·A rounded once to
      // the base's width (bf16 rounding of the merged matrices is the only difference from the reference).
      const tight = { atol: 2e-5, rtol: 2e-5 };
      assertClose(
        await logprobs(f.base, { adapter: f.adapter, mergeAdapter: false }),
        want,
        tight,
        "unmerged",
      );
      // The sharpened tiny model's logits move by a few hundredths when its matrices are rounded to bf16.
      const rounded = dtype === "f32" ? tight : { atol: 1e-1, rtol: 0 };
      assertClose(await logprobs(f.base, { adapter: f.adapter }), want, rounded, "merged at load");
      assertClose(await logprobs(f.base, { adapter: f.adapter, weights: "f32" }), want, {
        atol: 2e-5,
        rtol: 2e-5,
      }, "merged in f32");
      // Generation from the unmerged adapter (the unfused decode path) and from the merged f32 weights.
      const greedy = async (options: Parameters<typeof loadModel>[1]) => {
        const model = await loadModel(f.base, options);
        const outs = await generate(model, ITEMS.map((i) => i.promptIds), {
          temperature: 0,
          maxNewTokens: 6,
          eosTokenIds: [],
        });
        model.release();
        return outs.map((o) => o.completionIds.join(" ")).join("|");
      };
      if (dtype === "f32") {
        const [unmerged, merged] = [
          await greedy({ adapter: f.adapter, mergeAdapter: false }),
          await greedy({ adapter: f.adapter }),
        ];
        if (unmerged !== merged) throw new Error(`greedy tokens: unmerged ${unmerged}, merged ${merged}`);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

Deno.test("peft adapter: saveLoraAdapter writes PEFT's config and names, and loads back bit for bit", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-peft-save-" });
  try {
    const f = await fixture(root, "bf16", "F32");
    const base = await loadModel(f.base);
    const tuned = base.withAdapter(await loadLoraAdapter(f.adapter, base));
    const out = join(root, "saved");
    await saveLoraAdapter(tuned, out);
    const config = JSON.parse(await Deno.readTextFile(join(out, ADAPTER_CONFIG)));
    const want = {
      peft_type: "LORA",
      r: 6,
      lora_alpha: 12,
      lora_dropout: 0.05,
      target_modules: ["q_proj", "v_proj", "down_proj"],
      bias: "none",
      task_type: "CAUSAL_LM",
      fan_in_fan_out: false,
      use_rslora: false,
      use_dora: false,
      base_model_name_or_path: "tiny/base",
      modules_to_save: null,
    };
    for (const [k, v] of Object.entries(want)) {
      if (JSON.stringify(config[k]) !== JSON.stringify(v)) {
        throw new Error(`${k}: ${JSON.stringify(config[k])}`);
      }
    }
    const header = await readSafetensorsHeader(join(out, ADAPTER_WEIGHTS));
    const names = [...header.tensors.keys()].sort();
    if (names.join() !== [...f.factors.keys()].sort().join()) throw new Error(`names ${names}`);
    if ([...header.tensors.values()].some((t) => t.dtype !== "F32")) throw new Error("factors are not F32");
    const saved = await readSafetensors(join(out, ADAPTER_WEIGHTS));
    for (const [name, t] of f.factors) {
      if (saved.get(name)!.data.join() !== t.data.join()) throw new Error(`${name} changed`);
    }
    // Modules in some layers only are saved as the pattern PEFT matches them by.
    const partial = base.withAdapter(
      await loadLoraAdapter(f.adapter, base).then((a) => {
        const keep = a.modules.filter((m) => m.key.startsWith("model.layers.1."));
        const tensors = new Map([...f.factors].filter(([n]) => n.includes(".layers.1.")));
        a.release();
        if (keep.length !== 3) throw new Error("fixture");
        return import("../../lib/model/lora.ts").then((m) =>
          m.loraAdapterFromTensors(base, { ...LORA_DEFAULTS, r: 6, alpha: 12 }, tensors)
        );
      }),
    );
    await saveLoraAdapter(partial, join(root, "partial"));
    const pattern = (await readLoraAdapterConfig(join(root, "partial"))).settings.targetModules as string;
    const re = new RegExp(`^(?:${pattern})$`);
    const matched = resolveTargetModules(base.config, "all-linear").filter((k) => re.test(k));
    if (matched.join() !== partial.adapter!.modules.map((m) => m.key).join()) {
      throw new Error(`pattern ${pattern}`);
    }
    partial.release();
    tuned.release();
    base.release();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("peft adapter: merge-adapter's folder loads as a plain checkpoint and scores as the base with the adapter", async () => {
  await getDevice();
  const root = await Deno.makeTempDir({ prefix: "rlif-merge-" });
  try {
    const f = await fixture(root, "bf16", "F32");
    const out = join(root, "out");
    const run = await runScript("merge_adapter.ts", [
      "--model",
      f.base,
      "--adapter",
      f.adapter,
      "--out",
      out,
    ]);
    if (run.code !== 0) throw new Error(`merge-adapter failed: ${run.stderr}`);
    const header = await readSafetensorsHeader(join(out, "model.safetensors"));
    if (header.tensors.get("model.layers.0.self_attn.q_proj.weight")!.dtype !== "BF16") {
      throw new Error("width");
    }
    for await (const e of Deno.readDir(root)) if (e.name.includes(".tmp-")) throw new Error(`left ${e.name}`);
    const merged = await logprobs(out);
    const atLoad = await logprobs(f.base, { adapter: f.adapter });
    if (merged.join() !== atLoad.join()) {
      throw new Error("merged folder scores differ from the adapter merged at load");
    }
    const again = await runScript("merge_adapter.ts", [
      "--model",
      f.base,
      "--adapter",
      f.adapter,
      "--out",
      out,
    ]);
    if (again.code !== 2 || !again.stderr.includes("--out") || !again.stderr.includes("model.safetensors")) {
      throw new Error(`a second merge into ${out}: ${again.code} ${again.stderr}`);
    }
    const bad = await runScript("merge_adapter.ts", [
      "--model",
      f.base,
      "--adapter",
      f.base,
      "--out",
      join(root, "x"),
    ]);
    if (bad.code !== 1 || !bad.stderr.includes("adapter_config.json")) throw new Error(bad.stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("peft adapter: what rlif cannot read is refused, naming the file and the field", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-peft-bad-" });
  try {
    const f = await fixture(root, "f32", "F32");
    const base = await loadModel(f.base);
    const file = join(f.adapter, ADAPTER_CONFIG);
    const good = JSON.parse(await Deno.readTextFile(file));
    const cases: [Record<string, unknown>, string][] = [
      [{ peft_type: "IA3" }, `"peft_type"`],
      [{ bias: "all" }, `"bias"`],
      [{ use_dora: true }, "DoRA"],
      [{ modules_to_save: ["lm_head"] }, `"modules_to_save"`],
      [{ rank_pattern: { q_proj: 4 } }, `"rank_pattern"`],
      [{ r: 4 }, "expected [4, 32]"],
      [{ lora_alpha: "big" }, `"lora_alpha"`],
    ];
    for (const [patch, fragment] of cases) {
      await Deno.writeTextFile(file, JSON.stringify({ ...good, ...patch }));
      await assertThrowsWith(() => loadLoraAdapter(f.adapter, base), f.adapter, fragment);
    }
    await Deno.writeTextFile(file, JSON.stringify(good));
    await Deno.rename(join(f.adapter, ADAPTER_WEIGHTS), join(f.adapter, "adapter_model.bin"));
    await assertThrowsWith(() => loadLoraAdapter(f.adapter, base), "adapter_model.bin", "safe_serialization");
    await assertThrowsWith(() => loadModel(f.base, { adapter: f.base }), "no adapter_config.json");
    await assertThrowsWith(
      () => loadModel(f.adapter),
      "is a LoRA adapter",
      "tiny/base",
      `--adapter ${f.adapter}`,
    );
    base.release();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

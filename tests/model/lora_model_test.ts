/**
 * LoRA through the whole decoder (lib/model/lora.ts wired into lib/model/transformer.ts) against the float64
 * PyTorch reference (tests/support/torch_reference.py with W + (alpha/r)·B·A on the adapted projections):
 * logits and every adapter factor's gradient of a weighted log-probability loss, for Qwen2 (biases), Qwen3
 * (q/k norms, a bf16 base kept at its width, rsLoRA) and OLMo-2 (output norms), with odd ranks and
 * different target sets; finite differences of factor entries through the scoring pass; a frozen base (no
 * gradient buffer for any base parameter); PEFT's initialisation leaving the model as it was. The PyTorch
 * checks skip themselves when /usr/bin/python3 has no torch.
 */
import { getDevice } from "../../lib/gpu/device.ts";
import type { ModelArch } from "../../lib/model/config.ts";
import { buildSequenceBatch, uploadBatch } from "../../lib/model/batch.ts";
import { headBackward, headLogits } from "../../lib/model/head.ts";
import { loadModel, type Model } from "../../lib/model/model.ts";
import {
  createLoraAdapter,
  LORA_DEFAULTS,
  loraAdapterFromTensors,
  loraModuleKeys,
  type LoraSettings,
  peftTensorName,
  resolveTargetModules,
} from "../../lib/model/lora.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";
import { score } from "../../lib/model/score.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { backward, createGradients, forward } from "../../lib/model/transformer.ts";
import { createOptimizer } from "../../lib/model/train_step.ts";
import { assertClose, assertThrowsWith, randn, rng } from "../support/numeric.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";

const python = await findPython("torch");
if (python === null) skipNote("lora_model_test", "torch");

const PROMPTS = [[5, 17, 100, 3], [260, 1], [42, 42, 7, 9, 11]];
const COMPLETIONS = [[8, 9, 10], [77, 78, 79, 80, 81], [1]];
const TEMPERATURE = 0.9;

interface Variant {
  arch: ModelArch;
  dtype: "f32" | "bf16";
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim?: number;
  lora: LoraSettings;
}

const VARIANTS: Variant[] = [
  {
    arch: "qwen2",
    dtype: "f32",
    hidden: 36,
    heads: 3,
    kvHeads: 1,
    lora: { ...LORA_DEFAULTS, r: 3, alpha: 7, targetModules: "all-linear" },
  },
  {
    arch: "qwen3",
    dtype: "bf16",
    hidden: 40,
    heads: 4,
    kvHeads: 2,
    headDim: 14,
    lora: {
      ...LORA_DEFAULTS,
      r: 5,
      alpha: 16,
      useRslora: true,
      targetModules: ["q_proj", "v_proj", "down_proj"],
    },
  },
  {
    arch: "olmo2",
    dtype: "f32",
    hidden: 40,
    heads: 4,
    kvHeads: 2,
    lora: { ...LORA_DEFAULTS, r: 2, alpha: 4, targetModules: ".*\\.layers\\.1\\..*(o_proj|up_proj|k_proj)" },
  },
];

function label(v: Variant): string {
  const t = v.lora.targetModules;
  return `${v.arch} ${v.dtype}, r ${v.lora.r}, alpha ${v.lora.alpha}${v.lora.useRslora ? " rsLoRA" : ""}, ` +
    (typeof t === "string" ? t : t.join("+"));
}

/** A tiny model folder for `v` with sharpened weights, and PEFT-named factors with B far from zero. */
async function writeVariant(dir: string, v: Variant, seed: number) {
  const options = {
    seed,
    arch: v.arch,
    dtype: v.dtype,
    hidden: v.hidden,
    heads: v.heads,
    kvHeads: v.kvHeads,
    headDim: v.headDim,
    intermediate: 44,
  };
  await writeTinyCheckpoint(dir, options);
  const sharp = sharpTinyCheckpoint(options);
  await writeSafetensors(`${dir}/model.safetensors`, sharp.tensors, {
    dtype: v.dtype === "bf16" ? "BF16" : "F32",
  });
  const g = rng(seed + 5);
  const factors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const key of resolveTargetModules(sharp.config, v.lora.targetModules)) {
    const [outF, inF] = sharp.tensors.get(`${key}.weight`)!.shape;
    const r = v.lora.r;
    factors.set(peftTensorName(key, "A"), {
      shape: [r, inF],
      data: Float32Array.from(randn(g, r * inF, 0.3)),
    });
    factors.set(peftTensorName(key, "B"), {
      shape: [outF, r],
      data: Float32Array.from(randn(g, outF * r, 0.3)),
    });
  }
  return factors;
}

/** The PEFT folder the PyTorch reference reads (adapter_config.json's fields it uses, the factors). */
async function writeReferenceAdapter(dir: string, lora: LoraSettings, factors: Map<string, unknown>) {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/adapter_config.json`,
    JSON.stringify({ peft_type: "LORA", r: lora.r, lora_alpha: lora.alpha, use_rslora: lora.useRslora }),
  );
  await writeSafetensors(
    `${dir}/adapter_model.safetensors`,
    factors as Map<string, { shape: number[]; data: Float32Array }>,
  );
}

/** Σ weights · logp of the completion tokens at TEMPERATURE, through score(). */
async function weightedLoss(model: Model, weights: Float64Array[]): Promise<number> {
  const items = PROMPTS.map((p, b) => ({ promptIds: p, completionIds: COMPLETIONS[b] }));
  const stats = await score(model, items, { temperature: TEMPERATURE });
  let loss = 0;
  stats.forEach((s, b) => s.tokenLogprobs.forEach((lp, j) => loss += weights[b][j] * lp));
  return loss;
}

for (const [index, variant] of VARIANTS.entries()) {
  Deno.test({
    name: `lora model: ${
      label(variant)
    } matches PyTorch float64 (logits, adapter gradients, finite differences)`,
    ignore: python === null,
    fn: async () => {
      const gpu = await getDevice();
      const dir = await Deno.makeTempDir({ prefix: "rlif-lora-model-" });
      try {
        const factors = await writeVariant(dir, variant, 70 + index);
        await writeReferenceAdapter(`${dir}/adapter`, variant.lora, factors);
        // The base at its stored width: a bf16 base stays bf16 under an f32 adapter.
        const base = await loadModel(dir);
        if (base.weightDType !== variant.dtype) throw new Error(`base loaded as ${base.weightDType}`);
        const policy = base.withAdapter(loraAdapterFromTensors(base, variant.lora, factors));
        const batch = buildSequenceBatch(PROMPTS, COMPLETIONS, 0);
        const lossWeights = randn(rng(9 + index), batch.rows.length);
        const inputs = uploadBatch(gpu, batch);
        const fwd = forward(policy, inputs, { saveForBackward: true });
        const s = batch.seqLen;
        const allRows = Int32Array.from({ length: batch.batch * s }, (_, i) => i);
        const logits = await headLogits(policy, fwd.final, allRows).read();
        const grads = createGradients(policy);
        const names = [...grads.keys()];
        if (names.length !== factors.size || names.some((n) => !factors.has(n))) {
          throw new Error(`gradient buffers for ${names.join(", ")}: the base must get none`);
        }
        const dFinal = headBackward(
          policy,
          fwd.final,
          batch.rows,
          batch.targets,
          Float32Array.from(lossWeights),
          TEMPERATURE,
          grads,
        );
        backward(policy, fwd, inputs, batch.ids, dFinal, grads);
        const weights = PROMPTS.map((_, b) =>
          lossWeights.subarray(batch.rowOffsets[b], batch.rowOffsets[b + 1])
        );
        const ref = await runPythonJson(python!, new URL("../support/torch_reference.py", import.meta.url), {
          model_dir: dir,
          adapter_dir: `${dir}/adapter`,
          sequences: PROMPTS.map((p, b) => [...p, ...COMPLETIONS[b]]),
          weights: PROMPTS.map((p, b) => [...Array(p.length - 1).fill(0), ...weights[b]]),
          temperature: TEMPERATURE,
        }) as { logits: number[][]; grads: Record<string, number[]> };
        const v = policy.config.vocabSize;
        PROMPTS.forEach((p, b) => {
          const len = p.length + COMPLETIONS[b].length;
          const off = b * s * v;
          assertClose(
            logits.subarray(off, off + len * v),
            ref.logits[b],
            { atol: 3e-4, rtol: 3e-4 },
            `logits ${b}`,
          );
        });
        let worst = 0;
        for (const name of names) {
          const g = await grads.get(name)!.read();
          const want = ref.grads[name];
          if (!want) throw new Error(`torch returned no gradient for ${name}`);
          const scale = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
          for (let i = 0; i < want.length; i++) {
            worst = Math.max(worst, Math.abs(g[i] - want[i]) / (scale || 1));
          }
          assertClose(g, want, { atol: 3e-4 * scale + 1e-7, rtol: 3e-3 }, `gradient of ${name}`);
        }
        console.log(
          `${label(variant)}: adapter gradients within ${worst.toExponential(1)} of each tensor's largest`,
        );
        // Finite differences of one entry of the first module's A and the last module's B, through score().
        const modules = policy.adapter!.modules;
        for (
          const [t, name] of [[modules[0].a, modules[0].aName], [
            modules.at(-1)!.b,
            modules.at(-1)!.bName,
          ]] as const
        ) {
          const g = await grads.get(name)!.read();
          const host = factors.get(name)!.data;
          const entry = (index * 5 + 3) % host.length;
          const eps = 1e-2;
          const shifted = async (delta: number) => {
            const probe = host.slice();
            probe[entry] += delta;
            t.write(probe);
            return await weightedLoss(policy, weights);
          };
          const fd = ((await shifted(eps)) - (await shifted(-eps))) / (2 * eps);
          t.write(host);
          assertClose([g[entry]], [fd], { atol: 3e-3, rtol: 2e-2 }, `finite difference of ${name}[${entry}]`);
        }
        fwd.release();
        inputs.release();
        grads.forEach((t) => t.release());
        policy.release();
        base.release();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test("lora model: PEFT's initialisation (B = 0) scores bitwise as the base; A is U(±1/√in), seeded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-lora-init-" });
  try {
    await writeTinyCheckpoint(dir, { seed: 3, arch: "qwen3", dtype: "bf16" });
    const base = await loadModel(dir);
    const settings = { ...LORA_DEFAULTS, targetModules: "all-linear" };
    const policy = base.withAdapter(createLoraAdapter(base, settings, 11));
    const items = PROMPTS.map((p, b) => ({ promptIds: p, completionIds: COMPLETIONS[b] }));
    const [a, b] = [await score(base, items), await score(policy, items)];
    a.forEach((s, i) => {
      if (s.tokenLogprobs.join() !== b[i].tokenLogprobs.join()) {
        throw new Error(`sequence ${i} scores differently`);
      }
    });
    const modules = policy.adapter!.modules;
    if (modules.length !== 7 * base.config.numLayers) throw new Error(`${modules.length} modules`);
    for (const m of modules) {
      const bound = 1 / Math.sqrt(m.a.shape[1]);
      const av = await m.a.read(), bv = await m.b.read();
      if (av.some((x) => Math.abs(x) > bound) || new Set(av).size < av.length / 2) {
        throw new Error(`${m.aName} init`);
      }
      if (bv.some((x) => x !== 0)) throw new Error(`${m.bName} is not zero`);
    }
    const again = createLoraAdapter(base, settings, 11);
    if ((await again.modules[3].a.read()).join() !== (await modules[3].a.read()).join()) {
      throw new Error("the same seed drew another A");
    }
    again.release();
    // The optimizer holds the adapter's factors only, in PEFT's names.
    const opt = createOptimizer(policy, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maxGradNorm: 1 });
    if (opt.params.length !== 2 * modules.length || opt.params[0] !== modules[0].a) {
      throw new Error("optimizer params");
    }
    opt.release();
    policy.release();
    // Releasing the adapted view leaves the base intact.
    await score(base, items);
    base.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lora model: target modules resolve by PEFT's rules, and bad settings or tensors are refused by name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-lora-bad-" });
  try {
    await writeTinyCheckpoint(dir, { seed: 4, layers: 2 });
    const base = await loadModel(dir);
    const cfg = base.config;
    const keys = (t: string[] | string) => resolveTargetModules(cfg, t).join(" ");
    if (keys(["q_proj"]) !== "model.layers.0.self_attn.q_proj model.layers.1.self_attn.q_proj") {
      throw new Error(keys(["q_proj"]));
    }
    if (keys(["model.layers.1.mlp.down_proj", "v_proj"]).split(" ").length !== 3) {
      throw new Error("suffix match");
    }
    if (keys("all-linear").split(" ").length !== 14 || loraModuleKeys(cfg).length !== 14) {
      throw new Error("all-linear");
    }
    if (
      keys(".*layers\\.0\\.mlp\\..*") !==
        "model.layers.0.mlp.gate_proj model.layers.0.mlp.up_proj model.layers.0.mlp.down_proj"
    ) {
      throw new Error("regex");
    }
    await assertThrowsWith(
      () => resolveTargetModules(cfg, ["q_proj", "lm_head"]),
      `"lm_head"`,
      "q_proj, k_proj",
    );
    await assertThrowsWith(() => resolveTargetModules(cfg, "nothing"), "matches no module");
    await assertThrowsWith(() => resolveTargetModules(cfg, []), "is empty");
    await assertThrowsWith(
      () => createLoraAdapter(base, { ...LORA_DEFAULTS, dropout: 0.05 }, 1),
      "lora.dropout",
      "0.05",
    );
    await assertThrowsWith(() => createLoraAdapter(base, { ...LORA_DEFAULTS, r: 0 }, 1), "lora.r", ">= 1");
    const a = { shape: [4, 64], data: new Float32Array(256) };
    const named = (entries: [string, typeof a][]) => new Map(entries);
    const qA = peftTensorName("model.layers.0.self_attn.q_proj", "A");
    const qB = peftTensorName("model.layers.0.self_attn.q_proj", "B");
    await assertThrowsWith(
      () => loraAdapterFromTensors(base, { ...LORA_DEFAULTS, r: 4 }, named([[qA, a]]), "x.safetensors"),
      "x.safetensors",
      "has lora_A but no lora_B",
    );
    await assertThrowsWith(
      () =>
        loraAdapterFromTensors(
          base,
          { ...LORA_DEFAULTS, r: 8 },
          named([[qA, a], [qB, { shape: [64, 8], data: new Float32Array(512) }]]),
        ),
      qA,
      "[8, 64]",
    );
    await assertThrowsWith(
      () =>
        loraAdapterFromTensors(base, LORA_DEFAULTS, named([["base_model.model.lm_head.lora_A.weight", a]])),
      "lm_head",
      "not a projection",
    );
    await assertThrowsWith(
      () =>
        loraAdapterFromTensors(
          base,
          LORA_DEFAULTS,
          named([["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", a]]),
        ),
      "lora_magnitude_vector",
      "DoRA",
    );
    await assertThrowsWith(
      () => base.withAdapter(createLoraAdapter(base, LORA_DEFAULTS, 1)).save(dir),
      "saveLoraAdapter",
    );
    base.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

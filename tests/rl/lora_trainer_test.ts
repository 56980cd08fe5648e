/**
 * GRPO with `model.lora`: the base stays frozen at its checkpoint width (bf16 here) while the f32 adapter
 * trains; the reference is the base with the adapter off (the KL term runs); checkpoints are PEFT folders
 * with the adapter's AdamW moments beside them; the sampling copy is the merged weights, sharing every
 * frozen bf16 tensor with the base; a run stopped after step 1 and resumed ends bit for bit where the
 * uninterrupted run does; and a checkpoint loads as `--adapter` would load it.
 */
import { join } from "node:path";
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from "../../lib/model/safetensors.ts";
import { loadModel, type Model } from "../../lib/model/model.ts";
import { score } from "../../lib/model/score.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { GRPO_CONFIG, type GrpoConfig, resolveConfig } from "../../lib/rl/config.ts";
import { trainGrpo } from "../../lib/rl/trainer.ts";
import { assertThrowsWith } from "../support/numeric.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";
import { metricsOf, tinyGrpoConfig } from "../support/grpo_runs.ts";

async function tinyModelDir(root: string): Promise<string> {
  const dir = join(root, "model");
  await writeTinyCheckpoint(dir, { seed: 4, dtype: "bf16" });
  await writeSafetensors(
    join(dir, "model.safetensors"),
    sharpTinyCheckpoint({ seed: 4, dtype: "bf16" }).tensors,
    {
      dtype: "BF16",
    },
  );
  return dir;
}

function config(model: string, runs: string, extra = ""): GrpoConfig {
  const model_ = "lora: {r: 4, alpha: 16, target_modules: all-linear}";
  return tinyGrpoConfig(model, runs, { lr: 1e-2, saveEvery: 1, model: model_, extra });
}

Deno.test("lora trainer: a frozen bf16 base, an f32 adapter, PEFT checkpoints, a merged sampler, exact resume", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-lora-trainer-" });
  try {
    const model = await tinyModelDir(root);
    const frozen: string[] = [];
    const onStep = async (_m: unknown, { policy, sampler }: { policy: Model; sampler: Model }) => {
      const q = "model.layers.0.self_attn.q_proj.weight", norm = "model.layers.0.input_layernorm.weight";
      if (policy.param(q).dtype !== "bf16" || !policy.adapter) {
        throw new Error("the policy is not a bf16 base + adapter");
      }
      // The sampler merges the adapted projections and shares everything else with the base.
      if (sampler.param(q) === policy.param(q) || sampler.param(q).dtype !== "bf16") {
        throw new Error("q_proj not merged");
      }
      if (sampler.param(norm) !== policy.param(norm) || sampler.adapter) {
        throw new Error("the sampler copies frozen tensors");
      }
      frozen.push((await policy.param(q).read()).join());
    };
    const full = await trainGrpo(config(model, join(root, "a")), { progress: false, onStep });
    if (new Set(frozen).size !== 1) throw new Error("the base moved");
    const part = await trainGrpo(config(model, join(root, "b")), { progress: false, stopAfter: 1 });
    const again = config(model, join(root, "b"));
    const resumed = await trainGrpo({ ...again, log: { ...again.log, resume: part.runDir } }, {
      progress: false,
    });
    if (resumed.step !== 3 || resumed.metrics[0].step !== 2) {
      throw new Error("resume did not continue at step 2");
    }
    const [a, b] = [await metricsOf(full.runDir), await metricsOf(part.runDir)];
    if (a.length !== 3 || a.join("\n") !== b.join("\n")) {
      throw new Error(`metrics differ:\n${a.join("\n")}\n---\n${b.join("\n")}`);
    }
    const kl = JSON.parse(a[2]).kl;
    if (!(typeof kl === "number" && kl > 0)) throw new Error(`the KL to the base is ${kl} after two steps`);
    const last = (dir: string) => join(dir, "checkpoints", "step-000003");
    const names = [];
    for await (const e of Deno.readDir(last(full.runDir))) names.push(e.name);
    if (
      names.sort().join() !==
        "adapter_config.json,adapter_model.safetensors,optimizer.safetensors,trainer_state.json"
    ) {
      throw new Error(`checkpoint holds ${names}`);
    }
    const wa = await readSafetensors(join(last(full.runDir), "adapter_model.safetensors"));
    const wb = await readSafetensors(join(last(part.runDir), "adapter_model.safetensors"));
    let trained = false;
    for (const [name, t] of wa) {
      if (
        !/^base_model\.model\.model\.layers\.\d+\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/.test(name)
      ) {
        throw new Error(`not a PEFT name: ${name}`);
      }
      if (t.dtype !== "F32" || t.data.join() !== wb.get(name)!.data.join()) {
        throw new Error(`${name} differs`);
      }
      if (name.endsWith("lora_B.weight") && t.data.some((x) => x !== 0)) trained = true;
    }
    if (!trained || wa.size !== 2 * 7 * 2) throw new Error(`${wa.size} factors, trained ${trained}`);
    const moments = [
      ...(await readSafetensorsHeader(join(last(full.runDir), "optimizer.safetensors"))).tensors.keys(),
    ];
    if (moments.length !== 2 * wa.size || moments.some((m) => !wa.has(m.slice(2)))) {
      throw new Error(`moments ${moments}`);
    }
    const cfg = JSON.parse(await Deno.readTextFile(join(last(full.runDir), "adapter_config.json")));
    if (
      cfg.r !== 4 || cfg.lora_alpha !== 16 || cfg.base_model_name_or_path !== model ||
      cfg.target_modules.length !== 7
    ) {
      throw new Error(`adapter_config.json: ${JSON.stringify(cfg)}`);
    }
    // The checkpoint is what --adapter applies on top of --model: it changes the base's scores.
    const items = [{ promptIds: [5, 6, 7], completionIds: [8, 9] }];
    const tuned = await loadModel(model, { adapter: last(full.runDir), mergeAdapter: false });
    const plain = await loadModel(model);
    const [t, p] = [await score(tuned, items), await score(plain, items)];
    if (t[0].tokenLogprobs.join() === p[0].tokenLogprobs.join()) {
      throw new Error("the adapter changed nothing");
    }
    tuned.release();
    plain.release();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lora trainer: bad model.lora settings are refused before the run directory exists", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-lora-trainer-bad-" });
  try {
    const model = await tinyModelDir(root);
    const runs = join(root, "runs");
    await assertThrowsWith(
      () => {
        const c = config(model, runs);
        return trainGrpo({
          ...c,
          model: { path: model, lora: { ...c.model.lora!, target_modules: ["lm_head"] } },
        }, {
          progress: false,
        });
      },
      "model.lora.target_modules",
      `"lm_head"`,
    );
    await assertThrowsWith(
      () => {
        const c = config(model, runs);
        return trainGrpo({ ...c, rollout: { ...c.rollout, weights: "f16" } }, { progress: false });
      },
      "rollout.weights bf16",
    );
    if (await Deno.stat(runs).then(() => true, () => false)) throw new Error("a run directory was made");
    await assertThrowsWith(
      () => resolveConfig(GRPO_CONFIG, `model: {path: ${model}, lora: {dropout: 0.05}}`, "x.yaml"),
      "model.lora.dropout",
      "does not implement LoRA dropout",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

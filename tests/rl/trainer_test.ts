import { join } from "node:path";
import { bf16BitsToF32, f32ToBf16Bits } from "../../lib/gpu/dtype.ts";
import { type MetadataEntry, parseMetadataEntry } from "../../lib/log/metadata.ts";
import { readSafetensors, writeSafetensors } from "../../lib/model/safetensors.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { GRPO_CONFIG, type GrpoConfig, resolveConfig } from "../../lib/rl/config.ts";
import { trainGrpo } from "../../lib/rl/trainer.ts";
import { assertThrowsWith } from "../support/numeric.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";
import { metricsOf, tinyGrpoConfig } from "../support/grpo_runs.ts";

/** A tiny sharp model (varied self-certainty, so advantages are nonzero) in a temp folder. */
async function tinyModelDir(root: string): Promise<string> {
  const dir = join(root, "model");
  await writeTinyCheckpoint(dir, { seed: 4 });
  await writeSafetensors(join(dir, "model.safetensors"), sharpTinyCheckpoint({ seed: 4 }).tensors);
  return dir;
}

function config(model: string, runs: string, extra = ""): GrpoConfig {
  return tinyGrpoConfig(model, runs, { extra });
}

/**
 * The per-rollout fields of the thesis's Listing 2 (Appendix A): model_info in the run's first record only,
 * prompt_index counting each step's prompts, rollout_n = rollout.n, response_index counting each prompt's
 * samples, the raw question beside the rendered prompt, the ground truth's availability, the format verdict.
 */
function assertListing2Fields(entries: MetadataEntry[], c: GrpoConfig, model: string): void {
  const { n } = c.rollout, perStep = c.train.prompts_per_step;
  if (entries.length !== perStep * c.train.steps) throw new Error(`${entries.length} records`);
  const info = entries[0].model_info;
  if (
    info?.path !== model || info.arch !== "qwen2" || !(info.num_layers > 0) || info.rollout_weights !== "bf16"
  ) {
    throw new Error(`first record's model_info: ${JSON.stringify(info)}`);
  }
  entries.forEach((e, i) => {
    if (i > 0 && "model_info" in e) throw new Error(`record ${i} repeats model_info`);
    if (e.step !== Math.floor(i / perStep) + 1 || e.prompt_index !== i % perStep || e.rollout_n !== n) {
      throw new Error(
        `record ${i}: step ${e.step}, prompt_index ${e.prompt_index}, rollout_n ${e.rollout_n}`,
      );
    }
    // compact arithmetic: the template renders the problem as is, so the raw question is the prompt.
    if (typeof e.question !== "string" || !/^\d+[-+*]\d+=$/.test(e.question) || e.prompt !== e.question) {
      throw new Error(
        `record ${i}: question ${JSON.stringify(e.question)}, prompt ${JSON.stringify(e.prompt)}`,
      );
    }
    if (e.ground_truth_available !== (e.ground_truth !== null) || e.ground_truth === null) {
      throw new Error(`record ${i}: ground truth ${e.ground_truth}, available ${e.ground_truth_available}`);
    }
    if (e.responses.length !== n) throw new Error(`record ${i}: ${e.responses.length} responses`);
    e.responses.forEach((r, j) => {
      if (r.response_index !== j || r.format !== (r.answer !== null) || typeof r.raw_reward !== "number") {
        throw new Error(`record ${i} response ${j}: ${JSON.stringify(r)}`);
      }
    });
  });
}

Deno.test("trainer: a run stopped after step 1 and resumed reproduces the uninterrupted run exactly", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-trainer-" });
  try {
    const model = await tinyModelDir(root);
    const full = await trainGrpo(config(model, join(root, "a")), { progress: false });
    const part = await trainGrpo(config(model, join(root, "b")), { progress: false, stopAfter: 1 });
    if (part.stopped !== "stop-after" || part.step !== 1) {
      throw new Error(`stopped ${part.stopped} at ${part.step}`);
    }
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
    const [ma, mb] = await Promise.all(
      [full.runDir, part.runDir].map((d) => Deno.readTextFile(join(d, "metadata.jsonl"))),
    );
    if (ma !== mb) throw new Error("metadata.jsonl differs");
    // The learning actually moved the weights, and both runs moved them identically.
    const wa = await readSafetensors(join(full.runDir, "checkpoints/step-000003/model.safetensors"));
    const wb = await readSafetensors(join(part.runDir, "checkpoints/step-000003/model.safetensors"));
    const w0 = await readSafetensors(join(model, "model.safetensors"));
    let moved = false;
    for (const [name, t] of wa) {
      if (t.data.join() !== wb.get(name)!.data.join()) throw new Error(`${name} differs between the runs`);
      if (t.data.join() !== w0.get(name)!.data.join()) moved = true;
    }
    if (!moved) throw new Error("three GRPO steps left every weight unchanged");
    const lines = (await Deno.readTextFile(join(part.runDir, "metrics.jsonl"))).trim().split("\n");
    const first = JSON.parse(lines[0]);
    for (
      const key of [
        "reward_mean",
        "kl",
        "grad_norm",
        "clip_fraction",
        "signal/selfCertainty",
        "signal/coe.d1",
        "entropy",
      ]
    ) {
      if (!(key in first)) throw new Error(`metrics.jsonl lacks ${key}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("trainer: a bad dataset field or reward fails before any file is written, naming it", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-trainer-" });
  try {
    const data = join(root, "d.jsonl");
    await Deno.writeTextFile(data, '{"question": "1+1=", "solution": "2"}\n');
    const runs = join(root, "runs");
    const bad = config(join(root, "none"), runs, "");
    await assertThrowsWith(
      () =>
        trainGrpo({
          ...bad,
          data: { ...bad.data, path: data, fields: { problem: "problem", answer: "solution" } },
        }),
      "d.jsonl",
      "problem",
    );
    await assertThrowsWith(
      () =>
        trainGrpo({
          ...bad,
          reward: { ...bad.reward, name: "math_accuracy" },
          data: { ...bad.data, synthetic: { ...bad.data.synthetic, task: "countdown" } },
        }),
      "math_accuracy",
      "ground-truth",
    );
    const made = await Array.fromAsync(Deno.readDir(root));
    if (made.some((e) => e.name === "runs")) {
      throw new Error("a run directory was created for a config that cannot run");
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("trainer: NaN weights stop training with a clear message and no update", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-trainer-" });
  try {
    const model = await tinyModelDir(root);
    const tensors = await readSafetensors(join(model, "model.safetensors"));
    tensors.get("model.norm.weight")!.data[3] = NaN;
    await writeSafetensors(
      join(model, "model.safetensors"),
      new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }])),
    );
    await assertThrowsWith(
      () => trainGrpo(config(model, join(root, "runs")), { progress: false }),
      "step 1",
      "NaN",
      "stopped before applying the update",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

for (const width of ["bf16", "f16", "f32"] as const) {
  Deno.test(`trainer: after each update the ${width} sampling weights equal ${width}(f32 masters)`, async () => {
    const root = await Deno.makeTempDir({ prefix: "rlif-trainer-" });
    try {
      const model = await tinyModelDir(root);
      const cfg = config(model, join(root, "runs"));
      const seen: string[] = [];
      const train = { ...cfg.train, steps: 2, prompts_per_step: 1 };
      await trainGrpo({ ...cfg, train, rollout: { ...cfg.rollout, weights: width } }, {
        progress: false,
        onStep: async (m, { policy, sampler }) => {
          if (policy.weightDType !== "f32") {
            throw new Error(`the policy trains ${policy.weightDType} weights`);
          }
          if (width === "f32" ? sampler !== policy : sampler.weightDType !== width) {
            throw new Error(`step ${m.step}: sampling weights are ${sampler.weightDType}, want ${width}`);
          }
          const [masters, copy] = [await policy.readWeights(), await sampler.readWeights()];
          for (const [name, t] of masters) {
            const want = t.shape.length === 1 || width === "f32"
              ? t.data
              : width === "bf16"
              ? bf16BitsToF32(f32ToBf16Bits(t.data))
              : Float32Array.from(Float16Array.from(t.data));
            if (copy.get(name)!.data.join() !== want.join()) {
              throw new Error(`step ${m.step}: ${name} of the sampling weights is not ${width}(master)`);
            }
          }
          seen.push(masters.get("model.layers.0.mlp.up_proj.weight")!.data.slice(0, 4).join());
        },
      });
      if (seen.length !== 2 || seen[0] === seen[1]) throw new Error(`the masters did not move: ${seen}`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

Deno.test("trainer: rollout.weights accepts bf16, f16, f32 and names them when refused", async () => {
  await assertThrowsWith(
    () => resolveConfig(GRPO_CONFIG, "model: {path: m}\nrollout: {weights: fp8}", "test.yaml"),
    "rollout.weights",
    "bf16, f16, f32",
  );
  if (config("m", "r").rollout.weights !== "bf16") {
    throw new Error("rollout.weights does not default to bf16");
  }
});

Deno.test("trainer: log.kl_to_ref loads the reference with kl_coef 0 and logs KL to it and the pseudo-label diagnostics", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-trainer-" });
  try {
    const model = await tinyModelDir(root);
    const c = config(model, join(root, "a"), "");
    const run = await trainGrpo({
      ...c,
      algorithm: { ...c.algorithm, kl_coef: 0 },
      train: { ...c.train, steps: 2 },
      log: { ...c.log, kl_to_ref: true },
    }, { progress: false });
    const [first, second] = run.metrics;
    // Step 1 scores the weights the reference was loaded from; step 2 follows an update.
    if (first.kl_to_ref !== 0 || !(second.kl_to_ref! > 0)) {
      throw new Error(`kl_to_ref ${first.kl_to_ref}, ${second.kl_to_ref}; want 0, then > 0`);
    }
    for (const key of ["label_accuracy", "p_maj"]) {
      if (!(key in first)) throw new Error(`metrics lack ${key}`);
    }
    const lines = (await Deno.readTextFile(join(run.runDir, "metadata.jsonl"))).trim().split("\n");
    const entries = lines.map((l, i) => parseMetadataEntry(JSON.parse(l), `metadata.jsonl:${i + 1}`));
    if (typeof entries[0].responses[0].raw_reward !== "number") {
      throw new Error("metadata.jsonl lacks raw_reward");
    }
    assertListing2Fields(entries, { ...c, train: { ...c.train, steps: 2 } }, model);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

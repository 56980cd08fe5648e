/**
 * Every recipe in configs/ whose model is a Qwen3 checkpoint takes one real GRPO step on a tiny random
 * Qwen3 written by `deno task make-tiny --arch qwen3`, with only the model, the data file and the sizes
 * overridden: the recipe's reward, template, grading and objective run on the family they name. The runs go
 * through `runExperiment` as `deno task grpo --config FILE` does (ttt and self-verify are that same call with
 * their own YAML), in this process, so the device and its compiled kernels serve every recipe.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseMetadataEntry } from "../../lib/log/metadata.ts";
import { readSafetensors } from "../../lib/model/safetensors.ts";
import { checkpointDir } from "../../lib/rl/checkpoint.ts";
import { resolveReward } from "../../lib/rewards/registry.ts";
import { GRPO_CONFIG, loadConfig } from "../../lib/rl/config.ts";
import { runExperiment } from "../../lib/rl/experiment.ts";
import { runScript } from "../support/scripts.ts";

/** A small file in the layout of each dataset a Qwen3 recipe reads (keyed by the recipe's data.path). */
const FIXTURES: Record<string, string> = {
  "data/dapo17k/train.parquet": "tests/fixtures/data/dapo17k_layout.jsonl",
  "data/amc23/test.jsonl": "tests/fixtures/data/amc23_layout.jsonl",
  "data/countdown/train.parquet": "tests/fixtures/data/countdown_tasks_layout.jsonl",
};

/** The recipes under configs/ whose model.path names a Qwen3 checkpoint, by file name without .yaml. */
async function qwen3Recipes(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir("configs")) {
    if (!entry.isFile || !entry.name.endsWith(".yaml")) continue;
    const name = entry.name.slice(0, -".yaml".length);
    const { config } = await loadConfig(GRPO_CONFIG, { file: `configs/${entry.name}` });
    if (/qwen3/i.test(config.model.path)) names.push(name);
  }
  return names.sort();
}

// One per-layer tensor only Qwen3's attention has: it must exist in the run's checkpoint, and move when the
// step had a learning signal.
const Q_NORM = "model.layers.0.self_attn.q_norm.weight";

Deno.test("every recipe naming Qwen3 takes one GRPO step on a tiny Qwen3 from make-tiny", async (t) => {
  const recipes = await qwen3Recipes();
  // The scan is what covers a new recipe; these are the ones it must at least find.
  for (
    const name of [
      "self_verify",
      "ttt",
      "urlvr_countdown",
      "urlvr_majority_vote",
      "urlvr_neg_entropy",
      "urlvr_self_certainty",
      "urlvr_seq_prob",
      "urlvr_trajectory_entropy",
    ]
  ) assert.ok(recipes.includes(name), `${name} is not found as a Qwen3 recipe`);

  const root = await Deno.makeTempDir({ prefix: "rlif-recipes-qwen3-" });
  try {
    const model = join(root, "qwen3");
    // Self-verification's Prompt 2 around a Countdown answer is ~1,400 byte-level tokens.
    const made = await runScript("make_tiny.ts", [
      ...["--out", model, "--arch", "qwen3", "--head-dim", "24", "--max-positions", "1536"],
    ]);
    assert.equal(made.code, 0, made.stderr);
    const initial = (await readSafetensors(join(model, "model.safetensors"))).get(Q_NORM);
    assert.ok(initial, `make-tiny --arch qwen3 wrote no ${Q_NORM}`);

    for (const name of recipes) {
      await t.step(name, async () => {
        const file = `configs/${name}.yaml`;
        const { config: recipe } = await loadConfig(GRPO_CONFIG, { file });
        const data = FIXTURES[recipe.data.path ?? ""];
        assert.ok(data, `${file}: add a fixture in the layout of ${recipe.data.path} to FIXTURES`);
        const result = await runExperiment("grpo", "configs/grpo.yaml", [
          ...["--config", file, "--model.path", model, "--data.path", data, "--log.dir", join(root, name)],
          ...["--train.steps", "1", "--train.prompts_per_step", "2", "--train.mini_batch", "2"],
          ...["--train.micro_batch", "4", "--rollout.n", "2", "--rollout.max_new_tokens", "4"],
          ...(recipe.reward.name === "self_verify" ? ["--reward.max_new_tokens", "4"] : []),
        ]);
        const dir = result.runDir;
        assert.equal(result.step, 1);

        const metrics = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n").map((l) =>
          JSON.parse(l)
        );
        assert.deepEqual(metrics.map((m) => m.step), [1], "metrics.jsonl");
        const [m] = metrics;
        assert.ok(Number.isFinite(m.loss) && Number.isFinite(m.grad_norm), JSON.stringify(m));

        const config = await Deno.readTextFile(join(dir, "config.yaml"));
        assert.ok(config.includes(`path: ${model}\n`), "config.yaml does not record the tiny model");
        assert.ok(config.includes(`name: ${recipe.reward.name}\n`), "config.yaml does not record the reward");
        const entries = (await Deno.readTextFile(join(dir, "metadata.jsonl"))).trim().split("\n").map((
          l,
          i,
        ) => parseMetadataEntry(JSON.parse(l), `metadata.jsonl:${i + 1}`));
        assert.equal(entries.length, 2, "one record per prompt");
        assert.equal(entries[0].model_info?.arch, "qwen3");
        assert.equal(entries[0].model_info?.path, model);

        // GRPO learns from a group whose rewards differ. A random tiny model's votes and verdicts may all
        // be 0, and then the step must leave the weights alone; an intrinsic reward always differs between
        // two sampled completions, so its step must move them.
        const signal = entries.some((e) => new Set(e.responses.map((r) => r.reward)).size > 1);
        if (resolveReward(recipe.reward.name).kind === "intrinsic") {
          assert.ok(signal, "an intrinsic reward gave a group equal rewards");
        }
        let moved: boolean;
        if (recipe.model.lora) {
          // A LoRA run trains only the adapter (B starts at zero) and checkpoints it as a PEFT folder.
          const adapter = await readSafetensors(join(checkpointDir(dir, 1), "adapter_model.safetensors"));
          const bs = [...adapter].filter(([n]) => n.endsWith("lora_B.weight"));
          assert.ok(bs.length > 0, "the checkpoint holds no lora_B factors");
          moved = bs.some(([, t]) => t.data.some((v) => v !== 0));
        } else {
          const after = (await readSafetensors(join(checkpointDir(dir, 1), "model.safetensors"))).get(Q_NORM);
          assert.ok(after, `the checkpoint lacks ${Q_NORM}`);
          moved = after.data.some((v, i) => v !== initial.data[i]);
        }
        assert.equal(moved, signal, `weights moved: ${moved}; rewards differed within a group: ${signal}`);
        assert.equal(m.grad_norm > 0, signal, `grad_norm ${m.grad_norm}`);
      });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

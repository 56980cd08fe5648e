/**
 * Every recipe in configs/ against one 80 GB GPU, by its memory plan (`deno task plan`): each fits 80 GiB
 * at its own model, or says in `gpu.memory_gb` that it needs a larger GPU and fits that one. Recipes whose
 * plans cannot differ (same model, sampling, batch and optimisation keys: the reward is not planned) are
 * planned once.
 */
import assert from "node:assert/strict";
import { planGrpoMemory, planModelConfig } from "../../lib/bench/memory_plan.ts";
import { GRPO_CONFIG, type GrpoConfig, loadConfig } from "../../lib/rl/config.ts";

const files = [...Deno.readDirSync(new URL("../../configs/", import.meta.url))]
  .filter((e) => e.name.endsWith(".yaml")).map((e) => `configs/${e.name}`).sort();

/** The keys a plan reads. */
function planKey(c: GrpoConfig): string {
  const { model, rollout, train, algorithm, log, gpu } = c;
  return JSON.stringify([model, rollout, train, algorithm.kl_coef, algorithm.ppo_epochs, log.kl_to_ref, gpu]);
}

const planned = new Map<string, number>();

for (const file of files) {
  Deno.test(`recipes: ${file} fits its GPU by its memory plan`, async () => {
    const { config } = await loadConfig(GRPO_CONFIG, { file });
    const key = planKey(config);
    if (!planned.has(key)) {
      const { config: model } = await planModelConfig(config.model.path);
      planned.set(key, (await planGrpoMemory(config, model)).peakBytes);
    }
    const peakGiB = planned.get(key)! / 2 ** 30;
    const limit = config.gpu.memory_gb ?? 80;
    console.log(`${file}: ${peakGiB.toFixed(1)} GiB of ${limit}`);
    assert.ok(peakGiB <= limit, `${file} plans to ${peakGiB.toFixed(1)} GiB, over ${limit} GiB`);
    // A recipe that asks for a larger GPU needs it: over 80 GiB.
    if (config.gpu.memory_gb !== null) assert.ok(peakGiB > 80, `${file} fits 80 GiB; drop gpu.memory_gb`);
  });
}

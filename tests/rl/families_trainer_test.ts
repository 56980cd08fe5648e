/**
 * GRPO on the Qwen3 and OLMo-2 families end to end: rollouts on the fused decode step at half width, the
 * scoring pass, the update through every family norm's backward, checkpoints that load as the family, and a
 * resumed run equal to the uninterrupted one.
 */
import { join } from "node:path";
import type { ModelArch } from "../../lib/model/config.ts";
import { loadModel } from "../../lib/model/model.ts";
import { readSafetensors, writeSafetensors } from "../../lib/model/safetensors.ts";
import { score } from "../../lib/model/score.ts";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { trainGrpo } from "../../lib/rl/trainer.ts";
import { sharpTinyCheckpoint } from "../support/tiny_models.ts";
import { metricsOf, tinyGrpoConfig } from "../support/grpo_runs.ts";

for (const family of [{ arch: "qwen3" as ModelArch, headDim: 24 }, { arch: "olmo2" as ModelArch }]) {
  Deno.test(`trainer: GRPO on ${family.arch} trains, checkpoints and resumes exactly`, async () => {
    const root = await Deno.makeTempDir({ prefix: `rlif-train-${family.arch}-` });
    try {
      const model = join(root, "model");
      await writeTinyCheckpoint(model, { seed: 4, ...family });
      await writeSafetensors(
        join(model, "model.safetensors"),
        sharpTinyCheckpoint({ seed: 4, ...family }).tensors,
      );
      const full = await trainGrpo(tinyGrpoConfig(model, join(root, "a"), { steps: 2 }), { progress: false });
      const part = await trainGrpo(tinyGrpoConfig(model, join(root, "b"), { steps: 2 }), {
        progress: false,
        stopAfter: 1,
      });
      const again = tinyGrpoConfig(model, join(root, "b"), { steps: 2 });
      await trainGrpo({ ...again, log: { ...again.log, resume: part.runDir } }, { progress: false });
      const [a, b] = [await metricsOf(full.runDir), await metricsOf(part.runDir)];
      if (a.length !== 2 || a.join("\n") !== b.join("\n")) {
        throw new Error(`metrics differ:\n${a.join("\n")}\n---\n${b.join("\n")}`);
      }
      const first = JSON.parse(a[0]);
      if (!Number.isFinite(first.grad_norm) || !(first.grad_norm > 0)) {
        throw new Error(`grad_norm ${first.grad_norm}`);
      }
      const meta = JSON.parse((await Deno.readTextFile(join(full.runDir, "metadata.jsonl"))).split("\n")[0]);
      if (meta.model_info?.arch !== family.arch) {
        throw new Error(`model_info ${JSON.stringify(meta.model_info)}`);
      }
      const ckpt = join(full.runDir, "checkpoints/step-000002");
      const [wa, wb, w0] = await Promise.all([
        readSafetensors(join(ckpt, "model.safetensors")),
        readSafetensors(join(part.runDir, "checkpoints/step-000002/model.safetensors")),
        readSafetensors(join(model, "model.safetensors")),
      ]);
      // Every family norm learns: q/k norms (and OLMo-2's output norms) get gradients and move.
      const norms = [...wa.keys()].filter((n) => /[qk]_norm|post_feedforward/.test(n));
      if (norms.length === 0) throw new Error("the checkpoint holds no family norms");
      for (const [name, t] of wa) {
        if (t.data.join() !== wb.get(name)!.data.join()) throw new Error(`${name} differs between the runs`);
      }
      for (const name of norms) {
        if (wa.get(name)!.data.join() === w0.get(name)!.data.join()) throw new Error(`${name} did not move`);
      }
      const tuned = await loadModel(ckpt);
      if (tuned.config.arch !== family.arch) throw new Error(`checkpoint loads as ${tuned.config.arch}`);
      const [s] = await score(tuned, [{ promptIds: [5, 6, 7], completionIds: [8, 9] }]);
      if (!Number.isFinite(s.selfCertainty)) throw new Error("the checkpoint scores non-finite");
      tuned.release();
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

import assert from "node:assert/strict";
import { join } from "node:path";
import { configToYaml, GRPO_CONFIG, type GrpoConfig, resolveConfig } from "../../lib/rl/config.ts";
import { resumedConfig } from "../../lib/rl/resume.ts";

const YAML = `model: {path: m}
data: {synthetic: {count: 4}, template: configs/templates/problem_only.jinja}
reward: {name: self_certainty}
train: {steps: 12}
log: {save_every: 4}
`;

function loaded(args: string[] = []) {
  return resolveConfig(GRPO_CONFIG, YAML, "a.yaml", args);
}

/** The keys set on the command line, as runExperiment passes them. */
function flags(sources: Record<string, string>): string[] {
  return Object.keys(sources).filter((k) => sources[k].startsWith("--"));
}

async function withRun(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "rlif-resume-" });
  try {
    await Deno.writeTextFile(join(dir, "config.yaml"), configToYaml(GRPO_CONFIG, loaded().config));
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("resume: --train.steps and --log.save_every change the run; keys not set explicitly come from the run", async () => {
  await withRun(async (dir) => {
    // The experiment's YAML now says something else; only flags count on resume.
    const other = resolveConfig(GRPO_CONFIG, YAML.replace("steps: 12", "steps: 99"), "b.yaml", [
      "--log.resume",
      dir,
      "--train.steps",
      "14",
      "--log.save_every",
      "1",
    ]);
    const { config, changed } = await resumedConfig(dir, other.config, flags(other.sources));
    assert.equal(config.train.steps, 14);
    assert.equal(config.log.save_every, 1);
    assert.equal(config.log.resume, dir);
    assert.deepEqual(changed.sort(), ["log.save_every", "train.steps"]);
    const plain = resolveConfig(GRPO_CONFIG, YAML.replace("steps: 12", "steps: 99"), "b.yaml", [
      "--log.resume",
      dir,
    ]);
    const same = await resumedConfig(dir, plain.config, flags(plain.sources));
    assert.equal(same.config.train.steps, 12);
    assert.deepEqual(same.changed, []);
  });
});

Deno.test("resume: an override that would change the experiment is refused naming every such key", async () => {
  await withRun(async (dir) => {
    const args = [
      "--log.resume",
      dir,
      "--reward.name",
      "neg_entropy",
      "--model.path",
      "n",
      "--train.lr",
      "1e-6",
    ];
    const other = resolveConfig(GRPO_CONFIG, YAML, "a.yaml", args);
    await assert.rejects(
      () => resumedConfig(dir, other.config as GrpoConfig, flags(other.sources)),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "config.resume");
        assert.match(e.message, /cannot change .*model\.path \("n"; the run has "m"\)/);
        assert.match(e.message, /reward\.name \("neg_entropy"; the run has "self_certainty"\)/);
        assert.match(e.message, /train\.lr/);
        assert.match(e.message, /may change only train\.steps, log\.save_every, log\.every/);
        return true;
      },
    );
    // The same value as the run's is no change.
    const same = resolveConfig(GRPO_CONFIG, YAML, "a.yaml", ["--log.resume", dir, "--model.path", "m"]);
    assert.equal((await resumedConfig(dir, same.config, flags(same.sources))).config.model.path, "m");
  });
});

Deno.test("resume: a directory without config.yaml is refused as not a run directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => resumedConfig(dir, loaded().config, []),
      /has no readable config\.yaml.*run directory/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

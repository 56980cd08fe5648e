import assert from "node:assert/strict";
import { GRPO_CONFIG, schemaFields } from "../../lib/rl/config.ts";
import { runScript } from "../support/scripts.ts";

const DENO_JSON = new URL("../../deno.json", import.meta.url);

/** Every task of deno.json a user runs, with its script under scripts/. */
async function userTasks(): Promise<[string, string][]> {
  const { tasks } = JSON.parse(await Deno.readTextFile(DENO_JSON)) as { tasks: Record<string, string> };
  const out: [string, string][] = [];
  for (const [task, command] of Object.entries(tasks)) {
    const script = /scripts\/(\w+\.ts)/.exec(command)?.[1];
    if (script) out.push([task, script]);
  }
  return out;
}

const EXPERIMENTS = ["intuitor", "grpo", "coe", "ttrl", "entropy", "hybrid", "ttt", "self-verify", "demo"];

Deno.test("every deno task has --help: synopsis, every flag with its default, an example; exit 0", async () => {
  const tasks = await userTasks();
  assert.ok(tasks.length >= 20, `${tasks.length} tasks`);
  // Two at a time: the machine has two cores.
  for (let i = 0; i < tasks.length; i += 2) {
    await Promise.all(
      tasks.slice(i, i + 2).map(async ([task, script]) => {
        const run = await runScript(script, ["--help"]);
        assert.equal(run.code, 0, `${task}: ${run.stderr}`);
        assert.equal(run.stderr, "", task);
        assert.match(run.stdout, new RegExp(`^deno task ${task}: \\S`), task);
        assert.match(run.stdout, new RegExp(`\\nusage: deno task ${task}[ \\n]`), task);
        assert.match(run.stdout, new RegExp(`\\nexamples?:\\n {2}deno task ${task}`), task);
        assert.match(run.stdout, /\n {2}-h, --help +print this help and exit\n/, task);
        for (const line of run.stdout.split("\n")) {
          if (!/^ {2}(e\.g\.|deno task) /.test(line)) assert.ok(line.length <= 110, `${task}: ${line}`);
        }
        if (EXPERIMENTS.includes(task)) {
          // Every config key is listed with the experiment's value, and the reference is named.
          for (const [key] of schemaFields(GRPO_CONFIG.fields)) {
            assert.ok(run.stdout.includes(`--${key} `), `${task} --help lacks --${key}`);
          }
          assert.match(run.stdout, /--train\.steps N +[^\n]*\n?[^\n]*\(default \d+\)/, task);
          assert.ok(run.stdout.includes("configs/README.md"), task);
        }
      }),
    );
  }
});

Deno.test("--help of the file-reading tasks describes the input with an example line", async () => {
  for (const [script, from] of [["score.ts", "--input"], ["eval.ts", "--data"], ["analyze.ts", "RUN"]]) {
    const run = await runScript(script, ["--help"]);
    const section = run.stdout.split(`\ninput (${from}):\n`)[1];
    assert.ok(section, `${script}: no input section`);
    const example = /\n {2}e\.g\. (\{.*\})\n/.exec(`\n${section}`)?.[1];
    assert.ok(example, `${script}: no example line`);
    JSON.parse(example);
  }
  const score = await runScript("score.ts", ["--help"]);
  assert.match(score.stdout, /--temperature T +[^\n]*\(default 1\)/);
  assert.match(score.stdout, /--batch-size N +[^\n]*\(default 8\)/);
  assert.match(score.stdout, /prompt_ids/);
});

Deno.test("--help with --config FILE shows that recipe's values (URLVR §7 Countdown under deno task grpo)", async () => {
  const run = await runScript("grpo.ts", ["--config", "configs/urlvr_countdown.yaml", "--help"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  // Help wraps long lines, so a value may go on after a line break and indentation wherever it has a space;
  // a key's text ends where the next key's line begins.
  const pattern = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replaceAll(" ", "\\s+");
  const shows = (key: string, value: string) =>
    assert.match(
      run.stdout,
      new RegExp(
        `\\n {2}${pattern(`--${key}`)} [A-Z]+\\s(?:(?!\\n {2}--)[^])*?${pattern(`(default ${value})`)}`,
      ),
      `--${key} (default ${value})`,
    );
  assert.match(
    run.stdout,
    new RegExp(pattern("Defaults shown are the values of configs/urlvr_countdown.yaml;")),
  );
  shows("model.path", "models/Qwen3-4B-Base");
  shows("reward", "{name: trajectory_entropy, scorer: online, shaping: {name: none}}");
  shows("grading.countdown_rule", "tinyzero");
  shows("data.limit", "4000");
  shows("train.steps", "300");
});

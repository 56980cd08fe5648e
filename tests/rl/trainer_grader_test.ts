import assert from "node:assert/strict";
import { join } from "node:path";
import { gradeAnswer } from "../../lib/grading/grade.ts";
import { GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import { trainGrpo } from "../../lib/rl/trainer.ts";

// The bundled demo model answers "a+b=" with "\boxed{a+b}", often rightly. Against the gold "S.0001"
// the graders disagree: rlif compares the decimal as written (wrong), qwen_math within a relative 1e-4
// (right). So a run that ignored the configured grader would log and reward differently.
const PAIRS = [[3, 4], [5, 6], [7, 2], [8, 8]];

async function run(root: string, name: string, yaml: string) {
  const data = join(root, "data.jsonl");
  await Deno.writeTextFile(
    data,
    PAIRS.map(([a, b]) => JSON.stringify({ problem: `${a}+${b}=`, answer: `${a + b}.0001` })).join("\n"),
  );
  const config = resolveConfig(
    GRPO_CONFIG,
    `model: {path: scripts/assets/arith-tiny}
data: {path: ${data}, fields: {problem: problem, answer: answer}, template: configs/templates/problem_only.jinja, chat_template: false}
rollout: {n: 4, max_new_tokens: 12, temperature: 0.7}
algorithm: {kl_coef: 0}
train: {steps: 1, prompts_per_step: 4, micro_batch: 16, lr: 1e-6, warmup_ratio: 0}
log: {dir: ${join(root, "runs")}, name: ${name}, save_every: 0}
${yaml}`,
    "test.yaml",
  ).config;
  const { runDir } = await trainGrpo(config, { progress: false });
  const lines = (await Deno.readTextFile(join(runDir, "metadata.jsonl"))).trim().split("\n");
  return lines.flatMap((l) => {
    const e = JSON.parse(l);
    return e.responses.map((r: { text: string; correct: boolean; reward: number }) => ({
      ...r,
      gold: e.ground_truth as string,
    }));
  });
}

Deno.test({
  name: "trainer: the grader from YAML decides the reward and the correctness logged in metadata.jsonl",
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "rlif-grader-" });
    try {
      const verifiable = await run(root, "verifiable", "reward: {name: math_accuracy, grader: qwen_math}");
      assert.equal(verifiable.length, 16);
      const differ = verifiable.filter((r) =>
        gradeAnswer(r.text, r.gold, "rlif") !== gradeAnswer(r.text, r.gold, "qwen_math")
      );
      assert.ok(differ.length > 0, "no response on which rlif and qwen_math disagree; the test sees nothing");
      for (const r of verifiable) {
        const right = gradeAnswer(r.text, r.gold, "qwen_math");
        assert.equal(r.correct, right, `logged correct of ${JSON.stringify(r.text)}`);
        assert.equal(r.reward, right ? 1 : 0, `reward of ${JSON.stringify(r.text)}`);
      }
      // Named once for the run: the reward that names no grader and the logged correctness both use it.
      const inherited = await run(
        root,
        "inherited",
        "reward: {name: math_accuracy}\ngrading: {grader: qwen_math}",
      );
      assert.ok(inherited.some((r) => r.correct));
      for (const r of inherited) {
        const right = gradeAnswer(r.text, r.gold, "qwen_math");
        assert.equal(r.correct, right, `logged correct of ${JSON.stringify(r.text)}`);
        assert.equal(r.reward, right ? 1 : 0, `reward of ${JSON.stringify(r.text)}`);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

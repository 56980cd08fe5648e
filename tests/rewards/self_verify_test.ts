import assert from "node:assert/strict";
import { loadPromptTemplate } from "../../lib/data/prompt_template.ts";
import { resolveReward } from "../../lib/rewards/registry.ts";
import { parseVerdict, selfVerifyReward } from "../../lib/rewards/self_verify.ts";
import type { AskOptions, PolicyAsk } from "../../lib/rewards/types.ts";
import { judge } from "../../lib/rl/rollout.ts";
import { assertThrowsWith } from "../support/numeric.ts";
import { group } from "./fixtures.ts";

const P2 = "configs/templates/self_verify_p2.jinja";
const P1 = "configs/templates/self_verify_p1.jinja";
const META = { target: 20, nums: [2, 5, 6] };

/** A policy that answers prompt i with answers[i] and records what it was asked. */
function scriptedPolicy(answers: string[], chat?: PolicyAsk["applyChatTemplate"]) {
  const calls: { prompts: string[]; options: AskOptions }[] = [];
  const ask: PolicyAsk = {
    generate: (prompts, options) => {
      calls.push({ prompts: [...prompts], options });
      return Promise.resolve(prompts.map((_, i) => answers[i]));
    },
    applyChatTemplate: chat,
  };
  return { ask, calls };
}

const OPTIONS = { template: P2, rule: "tinyzero" as const, max_new_tokens: 32, temperature: 0 };

Deno.test("self_verify: parse rule — the last \\boxed{} content, trimmed, True in any case is 1, else 0", () => {
  assert.equal(parseVerdict("All checks pass, so \\boxed{True}"), 1);
  assert.equal(parseVerdict("\\boxed{ true }"), 1);
  assert.equal(parseVerdict("\\boxed{TRUE}."), 1);
  assert.equal(parseVerdict("\\boxed{False}"), 0);
  assert.equal(parseVerdict("first \\boxed{False}, on reflection \\boxed{True}"), 1);
  assert.equal(parseVerdict("first \\boxed{True}, on reflection \\boxed{False}"), 0);
  assert.equal(parseVerdict("True"), 0, "no box");
  assert.equal(parseVerdict("\\boxed{Yes}"), 0, "another word");
  assert.equal(parseVerdict("\\boxed{True"), 0, "unbalanced");
  assert.equal(parseVerdict(""), 0);
});

Deno.test("self_verify: each rollout's expression goes into Prompt 2, the policy's verdict is the reward", async () => {
  const texts = [
    "<think>6-2=4, 4*5=20</think>\n<answer>(6 - 2) * 5</answer>",
    "<think>guess</think>\n<answer>6 * 5 - 2</answer>",
    "<think>no idea</think>",
    // An answer that is not on the last line: TinyZero's rule does not see it.
    "<answer>(6 - 2) * 5</answer>\ntrailing words",
  ];
  const g = group(texts, { meta: META });
  const template = await loadPromptTemplate(P2);
  const expected = ["(6 - 2) * 5", "6 * 5 - 2", "", ""].map((expr) => template.render({ expr, ...META }));
  const reward = selfVerifyReward(OPTIONS);
  // The verdicts, not the answers' correctness, decide: the wrong answer is called right and vice versa.
  const a = scriptedPolicy(["\\boxed{False}", "\\boxed{True}", "\\boxed{True}", "I cannot tell"]);
  assert.deepEqual(await reward([g], a.ask), [[0, 1, 1, 0]]);
  const b = scriptedPolicy(["\\boxed{True}", "\\boxed{False}", "\\boxed{False}", "\\boxed{True}"]);
  assert.deepEqual(await reward([g], b.ask), [[1, 0, 0, 1]]);
  assert.equal(a.calls.length, 1, "one generation call");
  assert.deepEqual(a.calls[0].prompts, expected);
  assert.deepEqual(a.calls[0].options, { maxNewTokens: 32, temperature: 0 });
  assert.match(expected[0], /evaluate the provided expression "\(6 - 2\) \* 5"/);
  assert.match(expected[0], /only uses numbers from \[2, 5, 6\]/);
  assert.match(expected[0], /equals 20 \(within a tolerance of 1e-6\)/);
  assert.match(expected[2], /the provided expression ""\./);
});

Deno.test("self_verify: Prompt 1, the rlif rule, and the chat template of the run", async () => {
  const g = group(["<answer>(6 - 2) * 5</answer>\ntrailing words"], { meta: META });
  const chat = (messages: { role: string; content: string }[], o: { addGenerationPrompt: boolean }) =>
    `<chat gen=${o.addGenerationPrompt}>${messages.map((m) => `${m.role}: ${m.content}`).join("|")}</chat>`;
  const p = scriptedPolicy(["\\boxed{True}"], chat);
  const reward = selfVerifyReward({ ...OPTIONS, template: P1, rule: "rlif", temperature: 0.7 });
  assert.deepEqual(await reward([g], p.ask), [[1]]);
  const p1 = (await loadPromptTemplate(P1)).render({ expr: "(6 - 2) * 5", ...META });
  assert.equal(p.calls[0].prompts[0], `<chat gen=true>user: ${p1}</chat>`);
  assert.equal(p.calls[0].options.temperature, 0.7);
  assert.match(p1, /^Verify:\n1\. "\(6 - 2\) \* 5" only contains numbers from \[2, 5, 6\]\./);
  assert.match(p1, /4\. "\(6 - 2\) \* 5" equals 20\.\nIf all checks pass, return \\boxed\{True\}/);
});

Deno.test("self_verify: the verification prompt gets the run's chat template variables", async () => {
  const g = group(["<answer>(6 - 2) * 5</answer>"], { meta: META });
  const seen: (Record<string, unknown> | undefined)[] = [];
  const p = scriptedPolicy(["\\boxed{True}"], (messages, o) => {
    seen.push(o.variables);
    return messages.map((m) => m.content).join("|");
  });
  const ask: PolicyAsk = { ...p.ask, chatTemplateKwargs: { enable_thinking: false } };
  assert.deepEqual(await selfVerifyReward({ ...OPTIONS, template: P1 })([g], ask), [[1]]);
  assert.deepEqual(seen, [{ enable_thinking: false }]);
});

Deno.test("self_verify: the registry entry asks the policy, judges Countdown by TinyZero's rule, refuses misuse", async () => {
  const spec = resolveReward("self_verify");
  assert.equal(spec.kind, "external");
  assert.equal(spec.needsGroundTruth, false);
  assert.equal(spec.countdownRule, "tinyzero");
  assert.ok(spec.ask);
  await assertThrowsWith(() => spec.fn(group(["x"], { meta: META })), "self_verify asks the policy");
  const p = scriptedPolicy(["\\boxed{True}"]);
  assert.deepEqual(await spec.ask([group(["<answer>1</answer>"], { meta: META })], p.ask), [[1]]);
  assert.equal(p.calls[0].options.maxNewTokens, 256);
  await assertThrowsWith(() => resolveReward("self_verify", { temprature: 0 }), "temprature");
  await assertThrowsWith(() => resolveReward("self_verify", { rule: "python" }), "rule");
  await assertThrowsWith(
    () => resolveReward("hybrid", { components: [{ name: "self_verify" }] }),
    "component self_verify asks the policy",
  );
  await assertThrowsWith(() => spec.ask!([group(["x"], { meta: {} })], p.ask), "group.meta.target");
  // Correctness as the paper's scorer reads it: an answer not on the last line does not count.
  const example = { fields: META, answer: null, origin: "t" };
  const late = "<answer>(6 - 2) * 5</answer>\nmore";
  assert.equal(judge(example, late), true);
  assert.equal(judge(example, late, { countdownRule: "tinyzero" }), false);
  assert.equal(
    judge(example, "<think>.</think>\n<answer>(6 - 2) * 5</answer>", { countdownRule: "tinyzero" }),
    true,
  );
});

Deno.test("self_verify: a step's groups are asked in one call, each with its own numbers, verdicts split back by group", async () => {
  const groups = [
    group(["<answer>(6 - 2) * 5</answer>", "<answer>6 + 5 + 2</answer>"], { meta: META }),
    group(["<answer>3 + 4</answer>", "<answer>4 - 3</answer>", "none"], {
      meta: { target: 7, nums: [3, 4] },
    }),
  ];
  const p = scriptedPolicy([
    "\\boxed{True}",
    "\\boxed{False}",
    "\\boxed{False}",
    "\\boxed{True}",
    "\\boxed{True}",
  ]);
  assert.deepEqual(await selfVerifyReward(OPTIONS)(groups, p.ask), [[1, 0], [0, 1, 1]]);
  assert.equal(p.calls.length, 1);
  const template = await loadPromptTemplate(P2);
  assert.deepEqual(p.calls[0].prompts, [
    template.render({ expr: "(6 - 2) * 5", ...META }),
    template.render({ expr: "6 + 5 + 2", ...META }),
    template.render({ expr: "3 + 4", target: 7, nums: [3, 4] }),
    template.render({ expr: "4 - 3", target: 7, nums: [3, 4] }),
    template.render({ expr: "", target: 7, nums: [3, 4] }),
  ]);
});

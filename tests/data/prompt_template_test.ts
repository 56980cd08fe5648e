import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ApplyChatTemplate,
  loadPromptTemplate,
  type PromptMessage,
  PromptTemplate,
} from "../../lib/data/prompt_template.ts";
import { assertThrowsWith } from "../support/numeric.ts";

const TEMPLATES = new URL("../../configs/templates/", import.meta.url).pathname;

/** ChatML, as Qwen's chat template renders it, recording what it was given. */
function chatml(seen: { messages?: PromptMessage[]; addGenerationPrompt?: boolean }): ApplyChatTemplate {
  return (messages, { addGenerationPrompt }) => {
    seen.messages = messages;
    seen.addGenerationPrompt = addGenerationPrompt;
    return messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join("") +
      (addGenerationPrompt ? "<|im_start|>assistant\n" : "");
  };
}

const COUNTDOWN_TASK =
  "Using the numbers [3, 4, 2], create an equation that equals 24. You can use basic arithmetic " +
  "operations (+, -, *, /) and each number can only be used once. Show your work in <think> </think> tags. And " +
  "return the final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>.";

Deno.test("templates: countdown.jinja renders TinyZero's base and qwen-instruct prompts", async () => {
  const t = await loadPromptTemplate(join(TEMPLATES, "countdown.jinja"));
  const fields = { target: 24, nums: [3, 4, 2] };
  assert.equal(
    t.render(fields),
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The " +
      "assistant first thinks about the reasoning process in the mind and then provides the user with the answer.\n" +
      `User: ${COUNTDOWN_TASK}\nAssistant: Let me solve this step by step.\n<think>`,
  );
  const seen: { messages?: PromptMessage[]; addGenerationPrompt?: boolean } = {};
  const text = t.render(fields, { applyChatTemplate: chatml(seen) });
  const system =
    "You are a helpful assistant. You first thinks about the reasoning process in the mind and then " +
    "provides the user with the answer.";
  assert.deepEqual(seen.messages, [{ role: "system", content: system }, {
    role: "user",
    content: COUNTDOWN_TASK,
  }]);
  assert.equal(seen.addGenerationPrompt, true);
  assert.equal(
    text,
    `<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\n${COUNTDOWN_TASK}<|im_end|>\n` +
      "<|im_start|>assistant\nLet me solve this step by step.\n<think>",
  );
});

Deno.test("templates: intuitor_boxed.jinja carries Intuitor's system prompt", async () => {
  const t = await loadPromptTemplate(join(TEMPLATES, "intuitor_boxed.jinja"));
  const parts = t.parts({ problem: "What is $2+3$?" });
  assert.equal(
    parts.system,
    "You are a helpful AI Assistant, designed to provided well-reasoned and detailed responses. You FIRST think " +
      "about the reasoning process step by step and then provide the user with the answer. Please enclose your final " +
      "answer in the box: \\boxed{Your Answer}. Please stop generation immediately after outputing the box.",
  );
  assert.equal(parts.user, "What is $2+3$?");
  assert.equal(parts.prefill, "");
  const plain = t.render({ problem: "What is $2+3$?" });
  assert.ok(plain.startsWith(`System: ${parts.system}\nUser: What is $2+3$?`));
  assert.ok(plain.endsWith("\nAssistant:"));
});

Deno.test("templates: think_boxed.jinja asks for <think> then \\boxed{} in both modes", async () => {
  const t = await loadPromptTemplate(join(TEMPLATES, "think_boxed.jinja"));
  const parts = t.parts({ problem: "Compute $6 \\cdot 7$." });
  assert.match(parts.system!, /<think> <\/think>/);
  assert.match(parts.system!, /\\boxed\{\}/);
  assert.equal(parts.user, "Compute $6 \\cdot 7$.");
  const plain = t.render({ problem: "Compute $6 \\cdot 7$." });
  assert.equal(plain, `${parts.system}\nUser: Compute $6 \\cdot 7$.\nAssistant:`);
});

Deno.test("templates: a template without role is the user message, and one trailing newline is dropped", async () => {
  const t = await loadPromptTemplate(join(TEMPLATES, "problem_only.jinja"));
  assert.equal(t.usesRoles, false);
  assert.equal(t.render({ problem: "37+48=" }), "37+48=");
  const seen: { messages?: PromptMessage[] } = {};
  assert.equal(
    t.render({ problem: "37+48=" }, { applyChatTemplate: chatml(seen) }),
    "<|im_start|>user\n37+48=<|im_end|>\n<|im_start|>assistant\n",
  );
  assert.deepEqual(seen.messages, [{ role: "user", content: "37+48=" }]);
  assert.equal(new PromptTemplate("Q: {{ problem }}\n\n").render({ problem: "x" }), "Q: x\n");
  // "role" in text or comments is not code.
  assert.equal(new PromptTemplate("{# role #}Your role: {{ problem }}").usesRoles, false);
});

Deno.test("templates: unknown variables are errors unless guarded", async () => {
  const t = new PromptTemplate("{{ problem }} ({{ hint }})", "inline.jinja");
  await assertThrowsWith(() => t.render({ problem: "p" }), "inline.jinja", '"hint"', "its fields: problem");
  // Inside a loop the lookup runs in a child scope; it is caught all the same.
  const loop = new PromptTemplate("{% for n in nums %}{{ n }}{{ sep }}{% endfor %}");
  await assertThrowsWith(() => loop.render({ nums: [1, 2] }), '"sep"');
  assert.equal(loop.render({ nums: [1, 2], sep: "," }), "1,2,");
  const guarded = new PromptTemplate("{{ problem }}{% if hint is defined %} Hint: {{ hint }}{% endif %}");
  assert.equal(guarded.render({ problem: "p" }), "p");
  assert.equal(guarded.render({ problem: "p", hint: "h" }), "p Hint: h");
  assert.equal(new PromptTemplate("{{ level | default(1) }}").render({}), "1");
});

Deno.test("templates: reserved names, empty parts and bad syntax are reported", async () => {
  await assertThrowsWith(
    () => new PromptTemplate("{{ problem }}").render({ problem: "p", role: "x" }),
    '"role"',
    "reserve",
  );
  await assertThrowsWith(
    () => new PromptTemplate("{% if x %}", "broken.jinja"),
    "broken.jinja",
    "cannot parse",
  );
  const chatOnly = new PromptTemplate('{% if role == "user" %}{{ problem }}{% endif %}', "chat_only.jinja");
  await assertThrowsWith(
    () => chatOnly.render({ problem: "p" }),
    "chat_only.jinja",
    "empty plain prompt",
    'role == "plain"',
  );
  assert.equal(
    chatOnly.render({ problem: "p" }, { applyChatTemplate: chatml({}) }),
    "<|im_start|>user\np<|im_end|>\n<|im_start|>assistant\n",
  );
  const noUser = new PromptTemplate('{% if role == "system" %}S{% endif %}', "no_user.jinja");
  await assertThrowsWith(() => noUser.parts({}), "no_user.jinja", "empty user message");
  await assertThrowsWith(() => new PromptTemplate('{{ raise_exception("bad row") }}').render({}), "bad row");
  await assertThrowsWith(
    () => loadPromptTemplate(join(TEMPLATES, "missing.jinja")),
    "missing.jinja",
    "cannot read",
  );
});

Deno.test("chatTemplateKwargs reach the chat template as its variables, before the prefill", () => {
  const t = new PromptTemplate(
    '{% if role == "user" %}{{ problem }}{% elif role == "assistant" %}Let me think.{% endif %}',
  );
  const calls: { addGenerationPrompt: boolean; variables?: Record<string, unknown> }[] = [];
  const applyChatTemplate: ApplyChatTemplate = (messages, options) => {
    calls.push(options);
    const noThink = options.variables?.enable_thinking === false ? "<think>\n\n</think>\n\n" : "";
    return `[${messages.map((m) => m.content).join("|")}]${noThink}`;
  };
  assert.equal(
    t.render({ problem: "1+1?" }, { applyChatTemplate, chatTemplateKwargs: { enable_thinking: false } }),
    "[1+1?]<think>\n\n</think>\n\nLet me think.",
  );
  assert.equal(t.render({ problem: "1+1?" }, { applyChatTemplate }), "[1+1?]Let me think.");
  assert.deepEqual(calls, [
    { addGenerationPrompt: true, variables: { enable_thinking: false } },
    { addGenerationPrompt: true },
  ]);
});

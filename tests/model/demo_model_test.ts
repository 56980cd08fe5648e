/**
 * The bundled demo model (scripts/assets/arith-tiny, made by `deno task make-demo-model`): it loads, its
 * tokenizer is the tiny byte-level one, and it answers addition prompts in the trained `\boxed{…}` format,
 * partly right — what the GRPO demo starts from. The SFT itself is not re-run here.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { extractBoxed } from "../../lib/grading/extract.ts";
import { generate } from "../../lib/generate/generate.ts";
import { loadModel } from "../../lib/model/model.ts";
import { TINY_TOKEN_IDS } from "../../lib/model/tiny.ts";

const DIR = fileURLToPath(new URL("../../scripts/assets/arith-tiny", import.meta.url));

interface Split {
  minOperand: number;
  maxOperand: number;
  heldout: string[];
}

async function readSplit(): Promise<Split> {
  return JSON.parse(await Deno.readTextFile(`${DIR}/split.json`)) as Split;
}

Deno.test("demo model: the folder is small and its config and tokenizer are the tiny byte-level ones", async () => {
  const bytes = (await Deno.stat(`${DIR}/model.safetensors`)).size;
  assert.ok(bytes < 2_000_000, `model.safetensors is ${bytes} bytes; the bundled model must stay under 2 MB`);
  const model = await loadModel(DIR);
  try {
    const c = model.config;
    assert.equal(c.arch, "qwen2");
    assert.equal(c.vocabSize, 268); // 267 tokenizer tokens rounded up to a multiple of 4
    assert.equal(c.hiddenSize % c.numHeads, 0);
    assert.ok(c.maxPositionEmbeddings >= 17, "a prompt (≤ 6 tokens) plus its completion (11) must fit");
    const tok = model.tokenizer!;
    // Bytes are ids: "1" 49, "2" 50, "+" 43, "7" 55, "=" 61.
    assert.deepEqual(tok.encode("12+7=", { addSpecialTokens: false }), [49, 50, 43, 55, 61]);
    assert.deepEqual(tok.encode("\\boxed{19}", { addSpecialTokens: false }), [
      92,
      98,
      111,
      120,
      101,
      100,
      123,
      49,
      57,
      125,
    ]);
    assert.ok(tok.eosTokenIds.includes(TINY_TOKEN_IDS.imEnd), `EOS ids ${tok.eosTokenIds} lack <|im_end|>`);
    assert.equal(tok.decode([TINY_TOKEN_IDS.imEnd]), "<|im_end|>");
  } finally {
    model.release();
  }
});

Deno.test("demo model: split.json lists held-out prompts inside the operand range", async () => {
  const split = await readSplit();
  const pairs = (split.maxOperand - split.minOperand + 1) ** 2;
  assert.ok(split.heldout.length > 0 && split.heldout.length < pairs);
  assert.equal(new Set(split.heldout).size, split.heldout.length, "held-out prompts repeat");
  for (const p of split.heldout) {
    const m = /^(\d+)\+(\d+)=$/.exec(p);
    assert.ok(m, `held-out prompt ${JSON.stringify(p)} is not "{a}+{b}="`);
    for (const v of [Number(m[1]), Number(m[2])]) {
      assert.ok(v >= split.minOperand && v <= split.maxOperand, `${p}: operand outside the range`);
    }
  }
});

Deno.test("demo model: greedy answers are \\boxed{digits} ended by <|im_end|>, partly right", async () => {
  const split = await readSplit();
  const heldout = new Set(split.heldout);
  const training: { prompt: string; answer: number }[] = [];
  for (let a = split.minOperand; a <= split.maxOperand && training.length < 16; a += 3) {
    for (let b = split.maxOperand; b >= split.minOperand && training.length < 16; b -= 5) {
      if (!heldout.has(`${a}+${b}=`)) training.push({ prompt: `${a}+${b}=`, answer: a + b });
    }
  }
  const model = await loadModel(DIR);
  try {
    const outs = await generate(model, training.map((t) => t.prompt), {
      temperature: 0,
      maxNewTokens: 12,
      eosTokenIds: [TINY_TOKEN_IDS.imEnd, TINY_TOKEN_IDS.endOfText],
    });
    let correct = 0;
    outs.forEach((o, i) => {
      const what = `${training[i].prompt} → ${JSON.stringify(o.text)} (ids ${o.completionIds})`;
      assert.match(o.text, /^\\boxed\{\d+\}$/, what);
      assert.equal(o.finishReason, "eos", what);
      assert.equal(o.completionIds.at(-1), TINY_TOKEN_IDS.imEnd, what);
      if (extractBoxed(o.text) === String(training[i].answer)) correct++;
    });
    // A random init gets none right; the SFT stops near half right on training pairs (see the README).
    assert.ok(correct >= 3, `only ${correct} of ${outs.length} training prompts answered right`);
    assert.ok(correct < outs.length, "every training prompt answered right: no room left for the RL demo");
  } finally {
    model.release();
  }
});

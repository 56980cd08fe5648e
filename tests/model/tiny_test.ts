import assert from "node:assert/strict";
import { join } from "node:path";
import { seededRandom } from "../../lib/data/rng.ts";
import { loadGenerationConfig, loadModelConfig, type ModelArch } from "../../lib/model/config.ts";
import { loadModel } from "../../lib/model/model.ts";
import { readCheckpoint, readSafetensorsHeader } from "../../lib/model/safetensors.ts";
import {
  byteLevelAlphabet,
  makeTinyCheckpoint,
  normalSampler,
  TINY_TOKEN_IDS,
  writeTinyCheckpoint,
} from "../../lib/model/tiny.ts";
import { validateCheckpointTensors } from "../../lib/model/weights.ts";
import { loadTokenizer } from "../../lib/tokenizer/tokenizer.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rlif-tiny-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function stats(data: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of data) sum += v;
  const mean = sum / data.length;
  let sq = 0;
  for (const v of data) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / data.length) };
}

Deno.test("seeded PRNGs are deterministic and well spread", () => {
  const a = seededRandom(7), b = seededRandom(7), c = seededRandom(8);
  const xs = Array.from({ length: 5 }, a);
  assert.deepEqual(xs, Array.from({ length: 5 }, b));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, c));
  const normal = normalSampler(3);
  const samples = Float32Array.from({ length: 20000 }, normal);
  const { mean, std } = stats(samples);
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.03, `std ${std}`);
});

Deno.test("byte-level alphabet: 256 distinct symbols, printable ASCII maps to itself, space to Ġ", () => {
  const table = byteLevelAlphabet();
  assert.equal(new Set(table).size, 256);
  assert.equal(table[0x41], "A");
  assert.equal(table[0x20], "Ġ");
  assert.equal(table[0x0a], "Ċ");
});

Deno.test("default tiny model: sizes, HF-like init, deterministic by seed", () => {
  const tiny = makeTinyCheckpoint();
  const c = tiny.config;
  assert.equal(c.arch, "qwen2");
  assert.equal(c.vocabSize, 268);
  assert.equal(c.vocabSize % 4, 0);
  assert.ok(c.vocabSize >= TINY_TOKEN_IDS.tokenizerVocabSize);
  assert.deepEqual(
    [c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.intermediateSize, c.maxPositionEmbeddings],
    [64, 2, 4, 2, 128, 512],
  );
  const embed = tiny.tensors.get("model.embed_tokens.weight")!;
  assert.deepEqual(embed.shape, [268, 64]);
  const { std } = stats(embed.data);
  assert.ok(Math.abs(std - 0.02) < 0.002, `embedding std ${std}`);
  assert.ok(tiny.tensors.get("model.norm.weight")!.data.every((v) => v === 1));
  assert.ok(tiny.tensors.get("model.layers.1.input_layernorm.weight")!.data.every((v) => v === 1));
  const bias = tiny.tensors.get("model.layers.0.self_attn.q_proj.bias")!.data;
  assert.ok(bias.some((v) => v !== 0) && bias.every((v) => Math.abs(v) < 0.2));
  assert.ok(tiny.tensors.has("lm_head.weight"));

  const again = makeTinyCheckpoint();
  for (const [name, t] of tiny.tensors) assert.deepEqual(again.tensors.get(name)!.data, t.data, name);
  const other = makeTinyCheckpoint({ seed: 1 });
  assert.notDeepEqual(other.tensors.get("model.embed_tokens.weight")!.data, embed.data);
});

Deno.test("tiny options: tied, llama, custom sizes; invalid sizes refused", () => {
  assert.equal(makeTinyCheckpoint({ tied: true }).tensors.has("lm_head.weight"), false);
  const llama = makeTinyCheckpoint({
    arch: "llama",
    layers: 1,
    hidden: 32,
    heads: 2,
    kvHeads: 1,
    intermediate: 48,
  });
  assert.equal(llama.config.arch, "llama");
  assert.equal([...llama.tensors.keys()].some((n) => n.endsWith(".bias")), false);
  assert.deepEqual(llama.tensors.get("model.layers.0.self_attn.k_proj.weight")!.shape, [16, 32]);
  assert.throws(() => makeTinyCheckpoint({ heads: 3 }), /heads \(3\) must divide hidden \(64\)/);
  assert.throws(() => makeTinyCheckpoint({ kvHeads: 3 }), /kvHeads \(3\) must divide heads \(4\)/);
  assert.throws(() => makeTinyCheckpoint({ vocabSize: 100 }), /below the tiny tokenizer's 267 tokens/);
  assert.throws(() => makeTinyCheckpoint({ layers: 0 }), /layers must be a positive integer/);
});

Deno.test("writeTinyCheckpoint output loads: config, weights, tokenizer, chat template", async () => {
  await withTempDir(async (dir) => {
    const tiny = await writeTinyCheckpoint(dir, { seed: 5 });
    const config = await loadModelConfig(dir);
    assert.deepEqual(config, tiny.config);
    const generation = await loadGenerationConfig(dir);
    assert.deepEqual(generation?.eosTokenIds, [TINY_TOKEN_IDS.imEnd, TINY_TOKEN_IDS.endOfText]);
    const weights = await readCheckpoint(dir);
    validateCheckpointTensors(config, weights, dir);
    for (const [name, t] of tiny.tensors) assert.deepEqual(weights.get(name)!.data, t.data, name);
    assert.deepEqual((await readSafetensorsHeader(join(dir, "model.safetensors"))).metadata, {
      format: "pt",
    });

    const tok = await loadTokenizer(dir);
    assert.equal(tok.vocabSize, TINY_TOKEN_IDS.tokenizerVocabSize);
    assert.deepEqual(tok.eosTokenIds, [TINY_TOKEN_IDS.imEnd, TINY_TOKEN_IDS.endOfText]);
    assert.equal(tok.padTokenId, TINY_TOKEN_IDS.endOfText);
    const prompt = tok.applyChatTemplate([{ role: "user", content: "the cat" }], {
      addGenerationPrompt: true,
    });
    assert.equal(prompt, "<|im_start|>user\nthe cat<|im_end|>\n<|im_start|>assistant\n");
    const ids = tok.encodeChat([{ role: "user", content: "the cat" }], { addGenerationPrompt: true });
    assert.equal(ids[0], TINY_TOKEN_IDS.imStart);
    assert.ok(ids.every((id) => id < config.vocabSize));
    assert.equal(tok.decode(ids), prompt);
  });
});

Deno.test("bf16 tiny checkpoints hold exactly the values the file stores", async () => {
  await withTempDir(async (dir) => {
    const tiny = await writeTinyCheckpoint(dir, { dtype: "bf16", tied: true });
    assert.equal(tiny.config.torchDtype, "bfloat16");
    const weights = await readCheckpoint(dir);
    assert.equal(weights.get("model.embed_tokens.weight")!.dtype, "BF16");
    assert.equal(weights.has("lm_head.weight"), false);
    for (const [name, t] of tiny.tensors) assert.deepEqual(weights.get(name)!.data, t.data, name);
  });
});

Deno.test("same seed writes byte-identical files", async () => {
  await withTempDir(async (dir) => {
    await writeTinyCheckpoint(join(dir, "a"), { seed: 9 });
    await writeTinyCheckpoint(join(dir, "b"), { seed: 9 });
    for (const f of ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"]) {
      assert.deepEqual(await Deno.readFile(join(dir, "a", f)), await Deno.readFile(join(dir, "b", f)), f);
    }
  });
});

Deno.test("scripts/make_tiny.ts writes a loadable checkpoint from flags", async () => {
  await withTempDir(async (dir) => {
    const script = new URL("../../scripts/make_tiny.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        script,
        "--out",
        dir,
        "--tied",
        "--dtype",
        "bf16",
        "--seed",
        "3",
        "--layers",
        "1",
        "--hidden",
        "32",
        "--heads",
        "2",
        "--kv-heads",
        "1",
        "--intermediate",
        "40",
      ],
      env: { XDG_RUNTIME_DIR: "/tmp" },
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.match(
      new TextDecoder().decode(out.stdout),
      new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
    );
    const config = await loadModelConfig(dir);
    assert.deepEqual(
      [config.numLayers, config.hiddenSize, config.numHeads, config.numKvHeads, config.intermediateSize],
      [1, 32, 2, 1, 40],
    );
    assert.equal(config.tieWordEmbeddings, true);
    assert.equal(config.torchDtype, "bfloat16");
    const expected = makeTinyCheckpoint({
      seed: 3,
      tied: true,
      dtype: "bf16",
      layers: 1,
      hidden: 32,
      heads: 2,
      kvHeads: 1,
      intermediate: 40,
    });
    const weights = await readCheckpoint(dir);
    for (const [name, t] of expected.tensors) assert.deepEqual(weights.get(name)!.data, t.data, name);

    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", script, "--out", dir, "--dtype", "f64"],
      env: { XDG_RUNTIME_DIR: "/tmp" },
    }).output();
    assert.equal(bad.success, false);
    assert.match(
      new TextDecoder().decode(bad.stderr),
      /^error: --dtype f64 is unknown; choose one of f32, bf16 \(see deno task make-tiny --help\)\n$/,
    );
  });
});

/**
 * The config.json fields transformers' config class of each family takes (Qwen3Config, Olmo2Config), less
 * the token ids and rope_scaling, which may be null: a field left out would take transformers' default
 * (head_dim 128 for Qwen3), not the checkpoint's value.
 */
const TRANSFORMERS_FIELDS: Partial<Record<ModelArch, string[]>> = {
  qwen3: [
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "use_cache",
    "tie_word_embeddings",
    "rope_theta",
    "attention_bias",
    "use_sliding_window",
    "max_window_layers",
    "attention_dropout",
  ],
  olmo2: [
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "use_cache",
    "tie_word_embeddings",
    "rope_theta",
    "attention_bias",
    "attention_dropout",
    "rms_norm_eps",
  ],
};

Deno.test("scripts/make_tiny.ts --arch qwen3 --head-dim 24 and --arch olmo2 write folders that load as their family", async () => {
  const script = new URL("../../scripts/make_tiny.ts", import.meta.url).pathname;
  const makeTiny = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", script, ...args],
      env: { XDG_RUNTIME_DIR: "/tmp" },
    }).output();
  await withTempDir(async (dir) => {
    const cases = [
      {
        arch: "qwen3" as const,
        flags: ["--head-dim", "24", "--hidden", "40", "--heads", "4", "--kv-heads", "2"],
        options: { headDim: 24, hidden: 40, heads: 4, kvHeads: 2 },
        // Per head: head_dim values each, whatever the head count.
        qNorm: [24],
        kNorm: [24],
        qProj: [96, 40],
      },
      {
        arch: "olmo2" as const,
        flags: ["--hidden", "48", "--heads", "4", "--kv-heads", "2", "--tied"],
        options: { hidden: 48, heads: 4, kvHeads: 2, tied: true },
        // Over the whole projections: heads · head_dim and KV heads · head_dim, head_dim 48 / 4.
        qNorm: [48],
        kNorm: [24],
        qProj: [48, 48],
      },
    ];
    for (const c of cases) {
      const out = join(dir, c.arch);
      const run = await makeTiny([
        "--out",
        out,
        "--arch",
        c.arch,
        "--seed",
        "4",
        "--layers",
        "2",
        ...c.flags,
      ]);
      assert.ok(run.success, new TextDecoder().decode(run.stderr));
      const headDim = c.options.headDim ?? c.options.hidden / c.options.heads;
      assert.match(
        new TextDecoder().decode(run.stdout),
        new RegExp(`: ${c.arch}, 2 layers, hidden ${c.options.hidden}, heads 4/2 of ${headDim},`),
      );

      // config.json as transformers reads it: the family's architecture and model_type, and every field its
      // config class takes.
      const json = JSON.parse(await Deno.readTextFile(join(out, "config.json")));
      assert.deepEqual(json.architectures, [c.arch === "qwen3" ? "Qwen3ForCausalLM" : "Olmo2ForCausalLM"]);
      assert.equal(json.model_type, c.arch);
      for (const field of TRANSFORMERS_FIELDS[c.arch]!) {
        assert.ok(json[field] !== undefined && json[field] !== null, `${c.arch}: config.json lacks ${field}`);
      }
      // transformers falls back to hidden_size / num_attention_heads where head_dim is absent (OLMo-2).
      assert.equal(json.head_dim ?? json.hidden_size / json.num_attention_heads, headDim, c.arch);
      assert.equal(json.attention_bias, false);
      assert.equal(json.tie_word_embeddings, c.arch === "olmo2");
      if (c.arch === "qwen3") assert.equal(json.use_sliding_window, false);

      // rlif loads it as the family, with the family's tensors.
      const model = await loadModel(out);
      try {
        const config = model.config;
        assert.equal(config.arch, c.arch);
        assert.equal(config.headDim, headDim);
        assert.equal(config.qkNorm, c.arch === "qwen3" ? "head" : "projection");
        assert.equal(config.postNorms, c.arch === "olmo2");
        assert.deepEqual(
          config,
          makeTinyCheckpoint({ arch: c.arch, seed: 4, layers: 2, ...c.options }).config,
        );
        for (const l of [0, 1]) {
          const shape = (name: string) => model.params.get(`model.layers.${l}.${name}.weight`)?.shape;
          assert.deepEqual(shape("self_attn.q_norm"), c.qNorm, `${c.arch} layer ${l} q_norm`);
          assert.deepEqual(shape("self_attn.k_norm"), c.kNorm, `${c.arch} layer ${l} k_norm`);
          assert.deepEqual(shape("self_attn.q_proj"), c.qProj, `${c.arch} layer ${l} q_proj`);
          // OLMo-2 normalizes each sublayer's output instead of its input.
          assert.equal(shape("input_layernorm") !== undefined, c.arch === "qwen3");
          assert.equal(shape("post_feedforward_layernorm") !== undefined, c.arch === "olmo2");
          assert.deepEqual(shape("post_attention_layernorm"), [c.options.hidden]);
          assert.equal(model.params.has(`model.layers.${l}.self_attn.q_proj.bias`), false);
        }
        assert.equal(model.params.has("lm_head.weight"), c.arch === "qwen3");
      } finally {
        model.release();
      }
      // The same flags, the same weights.
      const expected = makeTinyCheckpoint({ arch: c.arch, seed: 4, layers: 2, ...c.options });
      const weights = await readCheckpoint(out);
      assert.deepEqual([...weights.keys()].sort(), [...expected.tensors.keys()].sort());
      for (const [name, t] of expected.tensors) assert.deepEqual(weights.get(name)!.data, t.data, name);
    }

    // RoPE rotates pairs: an odd head width is refused before anything is written.
    const odd = await makeTiny(["--out", join(dir, "odd"), "--arch", "qwen3", "--head-dim", "23"]);
    assert.equal(odd.code, 2);
    assert.match(
      new TextDecoder().decode(odd.stderr),
      /headDim must be a positive even integer for RoPE, got 23/,
    );
    assert.equal(await Deno.stat(join(dir, "odd")).then(() => true, () => false), false);
  });
});

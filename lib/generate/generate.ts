/**
 * Batched generation that stays on the GPU: prefill, then one recorded decode step after another —
 * sampling, KV-cache append and position bookkeeping all happen in kernels — with a readback of the
 * finished flags kept in flight every few steps instead of one per token.
 *
 * @module
 */
import { RlifError } from "../errors.ts";
import { NonFiniteError } from "../gpu/errors.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type DecodeState, recordStep } from "../ops/decode.ts";
import { sampleTokens, type SamplingOptions, seedWords } from "../ops/sampling.ts";
import { lmHeadLogits } from "../model/head.ts";
import type { Model } from "../model/model.ts";
import { createKvCache, forward, releaseKvCache } from "../model/transformer.ts";
import { prefillLastHidden } from "./prefill.ts";
import {
  createDecodeWorkspace,
  decodeCacheDType,
  decodeStep,
  type DecodeWorkspace,
  fusedDecodeSupported,
  releaseDecodeWorkspace,
} from "../model/decode_step.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** Completions per prompt (default 1). */
  readonly n?: number;
  /** Softmax temperature; 0 decodes greedily (default 1). */
  readonly temperature?: number;
  /** Nucleus mass kept (default 1: off). */
  readonly topP?: number;
  /** Most likely tokens kept (default 0: off). */
  readonly topK?: number;
  /**
   * Most tokens to generate per completion (default 256); fewer when the longest prompt leaves less room
   * in the model's context ({@link contextMaxNewTokens}).
   */
  readonly maxNewTokens?: number;
  /** Seed of the counter-based sampler: same seed, same completions (default 0). */
  readonly seed?: number;
  /**
   * One seed per prompt, in place of `seed`: sample j of prompt i draws from (seeds[i], stream j), so
   * prompts of different seeds decode in one batch and each draws as it would alone.
   */
  readonly seeds?: readonly number[];
  /** Strings that end a completion; the text is cut before them (default none). */
  readonly stop?: readonly string[];
  /** Render text prompts as one user message through the model's chat template (default false). */
  readonly chat?: boolean;
  /** Extra variables of the chat template when `chat` (e.g. `{ enable_thinking: false }` for Qwen3). */
  readonly chatTemplateKwargs?: Readonly<Record<string, unknown>>;
  /** Rows (prompt × sample) decoded together (default 64). */
  readonly batchSize?: number;
  /** Decode steps between checks of the finished flags (default 8). */
  readonly checkEvery?: number;
  /** End ids (default: the tokenizer's EOS ids, else the config's). */
  readonly eosTokenIds?: readonly number[];
}

/** One completion. */
export interface Completion {
  /** Index of its prompt in the call. */
  readonly promptIndex: number;
  /** Which of the prompt's `n` samples this is. */
  readonly sampleIndex: number;
  /** The prompt's token ids (after the chat template, when used). */
  readonly promptIds: number[];
  /** Generated ids, the EOS id included when generation ended on one. */
  readonly completionIds: number[];
  /** Decoded completion (special tokens skipped; cut before a stop string). */
  readonly text: string;
  /** Log-probability of each generated id under the temperature-scaled distribution. */
  readonly logprobs: number[];
  /** Why it ended: an EOS id, a stop string, or the token limit. */
  readonly finishReason: "eos" | "stop" | "length";
}

/**
 * Token ids of each prompt: text through the tokenizer (and, when `chat`, the chat template with
 * `chatTemplateKwargs` as its extra variables), or ids as given.
 */
export function promptIds(
  model: Model,
  prompts: readonly (string | readonly number[])[],
  chat: boolean,
  chatTemplateKwargs?: Readonly<Record<string, unknown>>,
): number[][] {
  return prompts.map((p, i) => {
    if (typeof p !== "string") return [...p];
    const tok = requireTokenizer(model.tokenizer, `prompt ${i} is text`);
    if (chat) {
      return tok.encodeChat([{ role: "user", content: p }], {
        addGenerationPrompt: true,
        variables: chatTemplateKwargs === undefined ? undefined : { ...chatTemplateKwargs },
      });
    }
    return tok.encode(p, { addSpecialTokens: false });
  });
}

/**
 * The new tokens every prompt of `ids` has room for: `maxNewTokens`, or fewer when the longest prompt
 * plus that many would pass the model's context (max_position_embeddings), since positions past it have
 * no meaning to the model. A prompt that fills the context by itself is refused with an
 * {@link RlifError} naming its length and the context.
 *
 * @example
 * ```ts
 * // A 64-token model and a 5-token prompt: 59 new tokens at most.
 * contextMaxNewTokens(model, [[1, 2, 3, 4, 5]], 128); // 59
 * ```
 */
export function contextMaxNewTokens(
  model: Model,
  ids: readonly (readonly number[])[],
  maxNewTokens: number,
): number {
  const limit = model.config.maxPositionEmbeddings;
  let longest = 0;
  ids.forEach((p, i) => {
    if (p.length === 0) throw new RangeError(`generate: prompt ${i} has no tokens`);
    if (p.length >= limit) {
      throw new RlifError(
        "generate.context",
        `prompt ${i} has ${p.length} tokens, which leaves no room for new tokens in the model's context ` +
          `of ${limit} (max_position_embeddings); shorten the prompt`,
      );
    }
    longest = Math.max(longest, p.length);
  });
  return Math.min(maxNewTokens, limit - longest);
}

function requireTokenizer(tok: Tokenizer | undefined, why: string): Tokenizer {
  if (!tok) throw new Error(`generate: ${why}, but the model was loaded without a tokenizer`);
  return tok;
}

/**
 * Generates `n` completions for each prompt. Returns them prompt-major: prompt i's samples are at
 * i·n … i·n + n − 1. Sample j of prompt i draws its randomness from (seed, i·n + j, step) — or
 * (seeds[i], j, step) with `seeds` — so it does not depend on batch size or on the other prompts.
 *
 * @example
 * ```ts
 * import { loadModel } from "../model/model.ts";
import { generate } from "./generate.ts";
 * const model = await loadModel("path/to/Qwen2.5-0.5B-Instruct");
 * const outs = await generate(model, ["What is 2+3?"], { chat: true, n: 4, temperature: 0.7, maxNewTokens: 64, seed: 1 });
 * for (const o of outs) console.log(o.finishReason, o.text);
 * ```
 */
export async function generate(
  model: Model,
  prompts: readonly (string | readonly number[])[],
  options: GenerateOptions = {},
): Promise<Completion[]> {
  const n = options.n ?? 1;
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`generate: option n = ${n} is out of range`);
  const { seeds } = options;
  if (seeds && seeds.length !== prompts.length) {
    throw new RangeError(`generate: option seeds has ${seeds.length} seeds for ${prompts.length} prompts`);
  }
  if (seeds) seedWords(seeds);
  const ids = promptIds(model, prompts, options.chat ?? false, options.chatTemplateKwargs);
  const seed = options.seed ?? 0;
  const rows = ids.flatMap((p, i) =>
    Array.from({ length: n }, (_, j) => ({
      promptIndex: i,
      sampleIndex: j,
      ids: p,
      seed: seeds ? seeds[i] : seed,
      stream: seeds ? j : i * n + j,
    }))
  );
  return await generateRows(model, rows, seeds !== undefined, options);
}

/** One row of {@link generateSeeded}: prompt ids and the key of its sampler's draws. */
export interface SeededPrompt {
  /** The prompt's token ids. */
  readonly ids: readonly number[];
  /** Sampler seed, an integer in [0, 2^53). */
  readonly seed: number;
  /** Sampler stream: the row draws from (seed, stream, step). */
  readonly stream: number;
}

/**
 * Generates one completion per row, each drawing from its own (seed, stream, step), in batches of
 * `options.batchSize` rows (its `n`, `seed`, `seeds` and `chat` do not apply). For callers that mix
 * requests of different seeds in one batch; completion i has promptIndex i and sampleIndex 0.
 */
export async function generateSeeded(
  model: Model,
  prompts: readonly SeededPrompt[],
  options: GenerateOptions = {},
): Promise<Completion[]> {
  seedWords(prompts.map((p) => p.seed));
  const rows = prompts.map((p, i) => ({
    promptIndex: i,
    sampleIndex: 0,
    ids: [...p.ids],
    seed: p.seed,
    stream: p.stream,
  }));
  return await generateRows(model, rows, true, options);
}

async function generateRows(
  model: Model,
  rows: Row[],
  perRowSeeds: boolean,
  options: GenerateOptions,
): Promise<Completion[]> {
  const maxNew = options.maxNewTokens ?? 256;
  const temperature = options.temperature ?? 1;
  const batchSize = options.batchSize ?? 64;
  for (
    const [name, value, ok] of [
      ["maxNewTokens", maxNew, Number.isInteger(maxNew) && maxNew >= 1],
      ["temperature", temperature, temperature >= 0 && Number.isFinite(temperature)],
      ["topP", options.topP ?? 1, (options.topP ?? 1) > 0 && (options.topP ?? 1) <= 1],
      ["topK", options.topK ?? 0, Number.isInteger(options.topK ?? 0) && (options.topK ?? 0) >= 0],
      ["batchSize", batchSize, Number.isInteger(batchSize) && batchSize >= 1],
    ] as const
  ) {
    if (!ok) throw new RangeError(`generate: option ${name} = ${value} is out of range`);
  }
  // One row per prompt (its first sample), in prompt order, so a refusal names the prompt's index.
  const maxNewTokens = contextMaxNewTokens(
    model,
    rows.filter((r) => r.sampleIndex === 0).map((r) => r.ids),
    maxNew,
  );
  const eos = options.eosTokenIds ?? model.tokenizer?.eosTokenIds ?? model.config.eosTokenIds;
  const out: Completion[] = [];
  for (let start = 0; start < rows.length; start += batchSize) {
    out.push(
      ...await generateBatch(
        model,
        rows.slice(start, start + batchSize),
        perRowSeeds,
        eos,
        maxNewTokens,
        temperature,
        options,
      ),
    );
  }
  return out;
}

interface Row {
  promptIndex: number;
  sampleIndex: number;
  ids: number[];
  seed: number;
  stream: number;
}

async function generateBatch(
  model: Model,
  rows: Row[],
  perRowSeeds: boolean,
  eos: readonly number[],
  maxNew: number,
  temperature: number,
  options: GenerateOptions,
): Promise<Completion[]> {
  const { gpu } = model;
  const batch = rows.length;
  const lengths = rows.map((r) => r.ids.length);
  const promptLen = Math.max(...lengths);
  // The fused decode step keeps the cache at the weights' width and every per-step buffer in one
  // workspace; devices or models it does not cover decode through the unfused forward with an f32 cache.
  const fused = fusedDecodeSupported(model);
  const cache = createKvCache(model, batch, promptLen + maxNew, decodeCacheDType(model, fused));
  const ws = fused ? createDecodeWorkspace(model, batch, promptLen + maxNew) : null;
  const owned: Tensor[] = [];
  const keep = (t: Tensor) => (owned.push(t), t);
  const padId = model.tokenizer?.padTokenId ?? eos[0] ?? 0;
  const sampler = {
    temperature,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
    // One seed for the batch keeps the dispatch of callers that never mix seeds as it always was.
    seed: perRowSeeds ? undefined : rows[0].seed,
    seeds: perRowSeeds
      ? keep(gpu.fromArray(seedWords(rows.map((r) => r.seed)), [batch, 2], "u32", "gen.seeds"))
      : undefined,
    streams: keep(gpu.fromArray(rows.map((r) => r.stream), [batch], "u32", "gen.streams")),
  };
  const state: DecodeState = {
    outIds: keep(gpu.zeros([batch, maxNew], "i32", "gen.outIds")),
    outLogprob: keep(gpu.zeros([batch, maxNew], "f32", "gen.outLogprob")),
    done: keep(gpu.zeros([batch], "u32", "gen.done")),
    // The prefill's sample sits at index length; recordStep advances these from length − 1.
    positions: keep(gpu.fromArray(lengths.map((l) => l - 1), [batch], "i32", "gen.positions")),
    kvLen: keep(gpu.fromArray(lengths, [batch], "i32", "gen.kvLen")),
    eos: keep(gpu.fromArray(eos.length > 0 ? eos : [-1], [Math.max(1, eos.length)], "i32", "gen.eos")),
  };
  try {
    const last = prefillLastHidden(model, rows.map((r) => r.ids), cache, state.kvLen, padId, keep);
    let tokens = sampleStep(model, last, sampler, 0, state, padId, ws);
    last.release();

    const finished = new Array<Completion["finishReason"] | null>(batch).fill(null);
    const stopAt = new Array<number>(batch).fill(-1);
    const checkEvery = options.checkEvery ?? 8;
    let recordedSteps = 1;
    let inFlight: Promise<[Uint32Array, Int32Array | null, number]> | null = null;
    // One readback per check: with stop strings the ids are needed anyway, and a row's EOS flag is
    // whether an EOS id is among them.
    const eosSet = new Set(eos);
    const check = async (recorded: number): Promise<[Uint32Array, Int32Array | null, number]> => {
      if (!options.stop?.length) return [await state.done.read() as Uint32Array, null, recorded];
      const ids = await state.outIds.read() as Int32Array;
      const done = Uint32Array.from(rows, (_, b) => {
        for (let i = 0; i < recorded; i++) if (eosSet.has(ids[b * maxNew + i])) return 1;
        return 0;
      });
      return [done, ids, recorded];
    };
    for (let step = 1; step < maxNew; step++) {
      if (ws) {
        // Reads ws.tokens and samples into it: dispatches run in order, so in place is safe.
        sampleStep(
          model,
          decodeStep(model, ws, cache, tokens, state.positions, state.kvLen),
          sampler,
          step,
          state,
          padId,
          ws,
        );
      } else {
        const dec = {
          batch,
          rowsPerSeq: 1,
          ids: tokens,
          positions: state.positions,
          pastLen: state.positions,
          kvLen: state.kvLen,
        };
        const f = forward(model, dec, { cache });
        const next = sampleStep(model, f.final, sampler, step, state, padId, null);
        f.release();
        tokens.release();
        tokens = next;
      }
      recordedSteps = step + 1;
      if (step % checkEvery === 0) {
        // The new check's readback goes out in the same submit as the steps recorded since the last
        // one (one submit and one readback per checkEvery steps), and the GPU works on them while the
        // previous check resolves. A check is only awaited at the next check step, and ending the loop
        // there saves steps only if some remain after it: otherwise the final readback answers as well,
        // and the steps are merely submitted.
        const previous = inFlight;
        if (step + checkEvery < maxNew - 1) inFlight = check(step + 1);
        else {
          inFlight = null;
          gpu.flush();
        }
        if (previous) {
          const [done, outIds, recorded] = await previous;
          if (outIds) markStops(model, outIds, maxNew, recorded, options.stop!, finished, stopAt, state);
          if (done.every((d, b) => d !== 0 || finished[b] !== null)) break;
        }
      }
    }
    if (!ws) tokens.release();
    if (inFlight) await inFlight;
    const [outIds, outLogprob, done] = await gpu.readAll([state.outIds, state.outLogprob, state.done]);
    const vocab = model.config.vocabSize;
    const bad = (outIds as Int32Array).findIndex((t) => t < 0 ? t !== padId : t >= vocab);
    if (bad >= 0) {
      throw new NonFiniteError(
        `generate: sampling returned token id ${outIds[bad]} for row ${
          Math.floor(bad / maxNew)
        }: the logits are ` +
          `not finite (NaN or Inf in the model's weights or activations)`,
      );
    }
    if (options.stop?.length) {
      markStops(model, outIds as Int32Array, maxNew, recordedSteps, options.stop, finished, stopAt, null);
    }
    return rows.map((r, b) =>
      finish(
        model,
        r,
        b,
        outIds as Int32Array,
        outLogprob as Float32Array,
        done[b] !== 0,
        eos,
        maxNew,
        stopAt[b],
        options.stop,
      )
    );
  } finally {
    releaseKvCache(cache);
    if (ws) releaseDecodeWorkspace(ws);
    owned.forEach((t) => t.release());
  }
}

/**
 * LM head over one row per sequence, then a sample recorded at `step`. Returns the sampled ids [B]:
 * `ws.tokens` with a workspace (whose buffers take logits and samples), else a new tensor.
 */
function sampleStep(
  model: Model,
  hidden: Tensor,
  sampler: SamplingOptions & { streams: Tensor },
  step: number,
  state: DecodeState,
  padId: number,
  ws: DecodeWorkspace | null,
): Tensor {
  const { gpu } = model;
  const logits = lmHeadLogits(model, hidden, ws?.logits);
  // Row positions key the sampler's counter: distinct per step, and advanced on the GPU.
  const { tokens, logprobs } = sampleTokens(
    gpu,
    logits,
    sampler.streams,
    state.positions.bitcast("u32"),
    sampler,
    ws ? { tokens: ws.tokens, logprobs: ws.logprobs } : {},
  );
  recordStep(gpu, state, tokens, logprobs, step, padId);
  if (!ws) {
    logits.release();
    logprobs.release();
  }
  return tokens;
}

/**
 * Finds rows whose first `recorded` generated ids decode to text containing a stop string, records the
 * shortest such prefix, and marks the rows done on the GPU so the loop can end early.
 */
function markStops(
  model: Model,
  outIds: Int32Array,
  maxNew: number,
  recorded: number,
  stop: readonly string[],
  finished: (Completion["finishReason"] | null)[],
  stopAt: number[],
  state: DecodeState | null,
): void {
  const tok = requireTokenizer(model.tokenizer, "stop strings need decoding");
  let changed = false;
  const flags = new Uint32Array(finished.length);
  finished.forEach((f, b) => {
    if (f !== null) {
      flags[b] = 1;
      return;
    }
    const ids = Array.from(outIds.subarray(b * maxNew, b * maxNew + recorded));
    const hit = (k: number) => {
      const text = tok.decode(ids.slice(0, k), { skipSpecialTokens: true });
      return stop.some((s) => text.includes(s));
    };
    if (!hit(ids.length)) return;
    // Containing a stop string is monotone in the prefix length: bisect for the shortest prefix.
    let [lo, hi] = [1, ids.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (hit(mid)) hi = mid;
      else lo = mid + 1;
    }
    finished[b] = "stop";
    stopAt[b] = lo;
    flags[b] = 1;
    changed = true;
  });
  if (changed && state) state.done.write(flags);
}

function finish(
  model: Model,
  row: Row,
  b: number,
  outIds: Int32Array,
  outLogprob: Float32Array,
  sawEos: boolean,
  eos: readonly number[],
  maxNew: number,
  stopAt: number,
  stop: readonly string[] | undefined,
): Completion {
  const ids = Array.from(outIds.subarray(b * maxNew, (b + 1) * maxNew));
  const lps = Array.from(outLogprob.subarray(b * maxNew, (b + 1) * maxNew));
  let end = maxNew;
  let reason: Completion["finishReason"] = "length";
  const eosAt = sawEos ? ids.findIndex((t) => eos.includes(t)) : -1;
  if (stopAt > 0 && (eosAt < 0 || stopAt <= eosAt)) {
    end = stopAt;
    reason = "stop";
  } else if (eosAt >= 0) {
    end = eosAt + 1;
    reason = "eos";
  }
  const completionIds = ids.slice(0, end);
  let text = model.tokenizer ? model.tokenizer.decode(completionIds, { skipSpecialTokens: true }) : "";
  if (reason === "stop" && stop) {
    const cut = Math.min(...stop.map((s) => text.indexOf(s)).filter((i) => i >= 0));
    if (Number.isFinite(cut)) text = text.slice(0, cut);
  }
  return {
    promptIndex: row.promptIndex,
    sampleIndex: row.sampleIndex,
    promptIds: row.ids,
    completionIds,
    text,
    logprobs: lps.slice(0, end),
    finishReason: reason,
  };
}

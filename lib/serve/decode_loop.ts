/**
 * Continuous batching: a decode loop over slots (rows of one KV cache, grown with demand up to a bound),
 * where a row that finishes frees its slot and a queued row is prefilled into that slot's cache rows and
 * joins the next decode step — no waiting for the rest of the batch. Every row keeps its own position, cache length
 * and sampler key (seed, stream, position), so it samples exactly what `generate` samples for it alone.
 *
 * The loop runs recorded decode steps and syncs with the host every few steps (never past a row's token
 * budget): one readback brings the new tokens, finished rows leave, new rows are prefilled, and the
 * per-row state is written back. Needs the fused decode step ({@link fusedDecodeSupported}).
 *
 * @module
 */
import { NonFiniteError } from "../gpu/errors.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type DecodeState, recordStep } from "../ops/decode.ts";
import { sampleTokens, seedWords } from "../ops/sampling.ts";
import { lmHeadLogits } from "../model/head.ts";
import type { Model } from "../model/model.ts";
import {
  createDecodeWorkspace,
  decodeCacheDType,
  decodeStep,
  type DecodeWorkspace,
  fusedDecodeSupported,
  releaseDecodeWorkspace,
} from "../model/decode_step.ts";
import { createKvCache, type KvCache, releaseKvCache } from "../model/transformer.ts";
import { prefillLastHidden } from "../generate/prefill.ts";

/** A row the loop decodes: its prompt, sampler key, budget, and where its tokens go. */
export interface LoopRow {
  /** Prompt ids. */
  readonly ids: readonly number[];
  /** Sampler seed and stream: the row draws from (seed, stream, position). */
  readonly seed: number;
  /** Sampler stream. */
  readonly stream: number;
  /** Most new tokens. */
  readonly maxNew: number;
  /** Whether the row may end now given its tokens so far (a stop string) or must go (client gone). */
  readonly shouldEnd: (ids: readonly number[]) => boolean;
  /**
   * Receives the generated ids (an ending EOS id included) once the row is done. The loop waits for it
   * with the GPU idle, so it may run GPU work of its own (scoring).
   */
  readonly finish: (ids: number[], endedOnEos: boolean) => Promise<void>;
  /** Receives an error that ended the row. */
  readonly fail: (e: unknown) => void;
}

/** What the loop is asked to run. */
export interface LoopOptions {
  /** Rows decoded together at most. */
  readonly slots: number;
  /** Positions per slot (prompt + completion); rows must fit. */
  readonly capacity: number;
  /** One sampling setting for every row of the loop (one sampler dispatch per step). */
  readonly temperature: number;
  /** Top-p of every row. */
  readonly topP: number;
  /** Top-k of every row. */
  readonly topK: number;
  /** Decode steps between host syncs at most (default 8). */
  readonly syncEvery?: number;
  /** Up to `room` queued rows (fewer or none when none may join); called at every sync. */
  readonly take: (room: number) => LoopRow[];
}

/** Counters of one loop run. */
export interface LoopCounters {
  /** Decode steps recorded. */
  steps: number;
  /** Most rows active in one step. */
  largest: number;
  /** Rows admitted after the loop's first step (into a slot a finished row freed or left idle). */
  refills: number;
}

/** Whether {@link decodeContinuously} runs for this model (the fused decode step is available). */
export function continuousSupported(model: Model): boolean {
  return fusedDecodeSupported(model);
}

interface Active {
  readonly row: LoopRow;
  readonly ids: number[];
}

// Slot capacity rounded up so that every slot's cache rows start at a storage-offset-aligned byte.
function slotCapacity(model: Model, capacity: number): number {
  const align = model.gpu.limits.minStorageBufferOffsetAlignment;
  const width = model.config.numKvHeads * model.config.headDim;
  let l = capacity;
  while ((l * width * 2) % align !== 0) l++;
  return l;
}

/** The loop's GPU buffers for B slots. */
interface SlotBuffers {
  readonly slots: number;
  readonly cache: KvCache;
  readonly ws: DecodeWorkspace;
  readonly state: DecodeState;
  readonly streams: Tensor;
  readonly seeds: Tensor;
}

function allocate(
  model: Model,
  slots: number,
  capacity: number,
  window: number,
  eos: readonly number[],
): SlotBuffers {
  const { gpu } = model;
  return {
    slots,
    cache: createKvCache(model, slots, capacity, decodeCacheDType(model, true)),
    ws: createDecodeWorkspace(model, slots, capacity),
    state: {
      outIds: gpu.zeros([slots, window], "i32", "loop.outIds"),
      outLogprob: gpu.zeros([slots, window], "f32", "loop.outLogprob"),
      done: gpu.zeros([slots], "u32", "loop.done"),
      positions: gpu.zeros([slots], "i32", "loop.positions"),
      kvLen: gpu.zeros([slots], "i32", "loop.kvLen"),
      eos: gpu.fromArray(eos.length > 0 ? eos : [-1], [Math.max(1, eos.length)], "i32", "loop.eos"),
    },
    streams: gpu.zeros([slots], "u32", "loop.streams"),
    seeds: gpu.zeros([slots, 2], "u32", "loop.seeds"),
  };
}

function release(b: SlotBuffers): void {
  releaseKvCache(b.cache);
  releaseDecodeWorkspace(b.ws);
  const { outIds, outLogprob, done, positions, kvLen, eos } = b.state;
  for (const t of [outIds, outLogprob, done, positions, kvLen, eos, b.streams, b.seeds]) t.release();
}

/**
 * Decodes rows from `options.take` until it gives none and every admitted row has finished. The slots
 * grow with demand (powers of two up to `options.slots`; the cache rows of running rows are copied
 * over), so a lone request does not pay for a full batch. Returns the loop's counters. A failure of the
 * loop itself (non-finite logits) fails its active rows and is rethrown.
 */
export async function decodeContinuously(model: Model, options: LoopOptions): Promise<LoopCounters> {
  const { gpu } = model;
  const L = slotCapacity(model, options.capacity);
  const W = options.syncEvery ?? 8;
  const vocab = model.config.vocabSize;
  const width = model.config.numKvHeads * model.config.headDim;
  const eos = model.tokenizer?.eosTokenIds ?? model.config.eosTokenIds;
  const eosSet = new Set(eos);
  const padId = model.tokenizer?.padTokenId ?? eos[0] ?? 0;
  const dtype = decodeCacheDType(model, true);
  let buf: SlotBuffers | null = null;
  // Host copies of the per-row state, written to the GPU at every sync: free slots are done (never
  // advanced) with one cached key.
  const host = {
    tokens: [] as number[],
    positions: [] as number[],
    kvLen: [] as number[],
    done: [] as number[],
    streams: [] as number[],
    seeds: [] as number[],
  };
  const slots: (Active | null)[] = [];
  const counters: LoopCounters = { steps: 0, largest: 0, refills: 0 };
  const sampling = { temperature: options.temperature, topK: options.topK, topP: options.topP };

  const grow = (wanted: number) => {
    let n = Math.max(1, buf?.slots ?? 0);
    while (n < wanted) n *= 2;
    n = Math.min(n, options.slots);
    if (buf && n === buf.slots) return;
    const next = allocate(model, n, L, W, eos);
    if (buf) {
      // Slot b's cache rows are elements [b·L·width, (b + 1)·L·width) of each layer's tensor.
      for (let l = 0; l < next.cache.k.length; l++) {
        gpu.copy(buf.cache.k[l], next.cache.k[l]);
        gpu.copy(buf.cache.v[l], next.cache.v[l]);
      }
      release(buf);
    }
    for (let b = slots.length; b < n; b++) {
      slots.push(null);
      host.tokens.push(0);
      host.positions.push(0);
      host.kvLen.push(1);
      host.done.push(1);
      host.streams.push(0);
      host.seeds.push(0, 0);
    }
    buf = next;
  };

  const end = async (b: number, endedOnEos: boolean) => {
    const a = slots[b]!;
    slots[b] = null;
    host.done[b] = 1;
    await a.row.finish(a.ids, endedOnEos);
  };

  // Prefills the rows together (right-padded, as generate does) into a cache of their own, copies each
  // row's cache rows into its slot, and samples every first token at position len − 1 in one dispatch.
  const admit = async (cache: KvCache, rows: LoopRow[], free: number[]) => {
    const k = rows.length;
    const lengths = rows.map((r) => r.ids.length);
    const temps: Tensor[] = [];
    const temp = (t: Tensor) => (temps.push(t), t);
    const staging = createKvCache(model, k, L, dtype);
    const kvLen = temp(gpu.fromArray(lengths, [k], "i32", "loop.prefillKvLen"));
    const last = prefillLastHidden(model, rows.map((r) => r.ids), staging, kvLen, padId, temp);
    const logits = temp(lmHeadLogits(model, last));
    last.release();
    // Row i's cache rows are elements [i·L·width, (i + 1)·L·width) of each layer's tensor; L keeps such
    // offsets storage-aligned, so they can be copied as views.
    const slotSize = L * width;
    for (let l = 0; l < cache.k.length; l++) {
      for (const [i, b] of free.slice(0, k).entries()) {
        gpu.copy(staging.k[l].view([slotSize], i * slotSize), cache.k[l], b * slotSize);
        gpu.copy(staging.v[l].view([slotSize], i * slotSize), cache.v[l], b * slotSize);
      }
    }
    const { tokens, logprobs } = sampleTokens(
      gpu,
      logits,
      temp(gpu.fromArray(rows.map((r) => r.stream), [k], "u32", "loop.streams")),
      temp(gpu.fromArray(lengths.map((l) => l - 1), [k], "u32", "loop.steps")),
      {
        ...sampling,
        seeds: temp(gpu.fromArray(seedWords(rows.map((r) => r.seed)), [k, 2], "u32", "loop.seeds")),
      },
    );
    temps.push(tokens, logprobs);
    const [first] = await gpu.readAll([tokens]);
    temps.forEach((t) => t.release());
    releaseKvCache(staging);
    for (const [i, row] of rows.entries()) {
      const b = free[i];
      const t = first[i];
      if (t < 0 || t >= vocab) {
        row.fail(new NonFiniteError(`serve: sampling returned token id ${t}: the logits are not finite`));
        continue;
      }
      if (counters.steps > 0) counters.refills++;
      slots[b] = { row, ids: [t] };
      if (eosSet.has(t) || row.maxNew === 1 || row.shouldEnd([t])) {
        await end(b, eosSet.has(t));
        continue;
      }
      const len = row.ids.length;
      const [lo, hi] = seedWords([row.seed]);
      host.tokens[b] = t;
      host.positions[b] = len;
      host.kvLen[b] = len + 1;
      host.done[b] = 0;
      host.streams[b] = row.stream;
      [host.seeds[2 * b], host.seeds[2 * b + 1]] = [lo, hi];
    }
  };

  try {
    for (;;) {
      const activeBefore = slots.filter((s) => s !== null).length;
      const rows = options.take(options.slots - activeBefore);
      if (rows.length > 0) grow(activeBefore + rows.length);
      const free = slots.flatMap((s, b) => (s === null ? [b] : []));
      if (rows.length > 0) await admit(buf!.cache, rows, free);
      const active = slots.flatMap((s, b) => (s === null ? [] : [b]));
      if (active.length === 0) {
        if (rows.length > 0) continue; // every admitted row ended at its first token: ask again
        break;
      }
      const { ws, state, streams, seeds, cache } = buf!;
      ws.tokens.write(host.tokens);
      state.positions.write(host.positions);
      state.kvLen.write(host.kvLen);
      state.done.write(host.done);
      streams.write(host.streams);
      seeds.write(host.seeds);
      // Steps until the next sync: never past the budget of any active row, so none overruns its slot.
      const steps = Math.min(W, ...active.map((b) => slots[b]!.row.maxNew - slots[b]!.ids.length));
      for (let s = 0; s < steps; s++) {
        const final = decodeStep(model, ws, cache, ws.tokens, state.positions, state.kvLen);
        const logits = lmHeadLogits(model, final, ws.logits);
        sampleTokens(gpu, logits, streams, state.positions.bitcast("u32"), { ...sampling, seeds }, {
          tokens: ws.tokens,
          logprobs: ws.logprobs,
        });
        recordStep(gpu, state, ws.tokens, ws.logprobs, s, padId);
      }
      counters.steps += steps;
      counters.largest = Math.max(counters.largest, active.length);
      const [outIds, positions, kvLen] = await gpu.readAll([state.outIds, state.positions, state.kvLen]);
      host.positions = Array.from(positions);
      host.kvLen = Array.from(kvLen);
      for (const b of active) {
        const a = slots[b]!;
        let endedOnEos = false;
        for (let s = 0; s < steps && !endedOnEos; s++) {
          const t = outIds[b * W + s];
          if (t < 0 || t >= vocab) {
            throw new NonFiniteError(`serve: sampling returned token id ${t}: the logits are not finite`);
          }
          a.ids.push(t);
          endedOnEos = eosSet.has(t);
        }
        host.tokens[b] = a.ids[a.ids.length - 1];
        if (endedOnEos || a.ids.length >= a.row.maxNew || a.row.shouldEnd(a.ids)) await end(b, endedOnEos);
      }
    }
  } catch (e) {
    for (const s of slots) s?.row.fail(e);
    throw e;
  } finally {
    if (buf) release(buf);
  }
  return counters;
}

/**
 * The batcher between HTTP requests and the GPU: every request becomes rows (prompt × sample) in one FIFO
 * queue. With the fused decode step, rows are decoded by continuous batching ({@link decodeContinuously}):
 * a loop of `maxRows` slots takes rows from the head of the queue whenever slots are free — a row that
 * finishes is replaced at the next sync, without waiting for the others. One loop serves one sampling
 * setting (one temperature / top-k / top-p per sampler dispatch): a queued row of another setting ends
 * admission, and the next loop serves it. Without the fused step (or with `continuous: false`), batches
 * form at batch boundaries: as many queued rows of one setting as fit, decoded to the end by `generate`.
 * Weight swaps wait until the running loop or batch is over.
 *
 * @module
 */
import { generateSeeded } from "../generate/generate.ts";
import type { Model } from "../model/model.ts";
import { continuousSupported, decodeContinuously, type LoopRow } from "./decode_loop.ts";
import { sequenceLogprobs, type TokenLogprob } from "./logprobs.ts";
import type { GenerationRequest } from "./requests.ts";

/** One finished completion, cut to its request's own budget and stop strings. */
export interface RowResult {
  /** Generated ids (an ending EOS id included). */
  readonly ids: readonly number[];
  /** Decoded text, special tokens skipped, cut before a stop string. */
  readonly text: string;
  /** "stop": an EOS id or a stop string; "length": the token budget. */
  readonly finishReason: "stop" | "length";
  /** The stop string that ended it, if one did. */
  readonly stopString: string | null;
  /** Per-token log-probabilities of the prompt (when echoed) and completion, when the request asks. */
  readonly promptLogprobs: readonly TokenLogprob[] | null;
  /** Per-token log-probabilities of the completion ids, when the request asks. */
  readonly logprobs: readonly TokenLogprob[] | null;
}

/** Counters of the decode loop, for tests and the benchmark. */
export interface SchedulerStats {
  /** Requests submitted. */
  requests: number;
  /** Decode batches run: continuous loops, or batches formed at batch boundaries. */
  batches: number;
  /** Rows decoded. */
  rows: number;
  /** Most rows decoded together in one step. */
  largestBatch: number;
  /** Decode steps recorded by continuous loops. */
  steps: number;
  /** Rows a continuous loop admitted after its first step, into a slot another row left. */
  refills: number;
  /** Requests whose client went away before their answer: their queued rows were dropped. */
  abandoned: number;
  /** Weight swaps applied. */
  swaps: number;
}

interface Job {
  readonly request: GenerationRequest;
  readonly results: (RowResult | null)[];
  left: number;
  readonly signal?: AbortSignal;
  readonly resolve: (r: RowResult[]) => void;
  readonly reject: (e: unknown) => void;
}

interface QueuedRow {
  readonly job: Job;
  /** Choice index: prompt-major, p·n + j. */
  readonly index: number;
  readonly prompt: readonly number[];
  readonly maxNew: number;
}

/** Raised for a request whose client disconnected before its rows were decoded. */
export class RequestAbandoned extends Error {
  /** Creates the error. */
  constructor() {
    super("the client disconnected");
    this.name = "RequestAbandoned";
  }
}

/** Queues requests' rows and decodes them on one model, swapping weights between batches. */
export class Scheduler {
  /** Counters since start. */
  readonly stats: SchedulerStats = {
    requests: 0,
    batches: 0,
    rows: 0,
    largestBatch: 0,
    steps: 0,
    refills: 0,
    abandoned: 0,
    swaps: 0,
  };
  #model: Model;
  #queue: QueuedRow[] = [];
  #swaps: { model: Model; done: () => void }[] = [];
  #running = false;

  /**
   * A scheduler over `model` decoding at most `maxRows` rows of at most `context` positions together
   * (requests are checked against it before they come here), by continuous batching unless
   * `continuous` is false or the model's device lacks the fused decode step.
   */
  constructor(model: Model, readonly maxRows: number, readonly context: number, readonly continuous = true) {
    this.#model = model;
  }

  /** The model requests are decoded with now. */
  get model(): Model {
    return this.#model;
  }

  /**
   * Decodes a request's rows; resolves with one result per choice (index p·n + j). When `signal` aborts
   * before the rows are decoded, they leave the queue and the promise rejects with {@link RequestAbandoned}.
   */
  submit(request: GenerationRequest, signal?: AbortSignal): Promise<RowResult[]> {
    this.stats.requests++;
    return new Promise((resolve, reject) => {
      const count = request.prompts.length * request.n;
      const job: Job = {
        request,
        results: new Array(count).fill(null),
        left: count,
        signal,
        resolve,
        reject,
      };
      request.prompts.forEach((prompt, p) => {
        for (let j = 0; j < request.n; j++) {
          this.#queue.push({ job, index: p * request.n + j, prompt, maxNew: request.maxTokens[p] });
        }
      });
      this.#pump();
    });
  }

  /** Serves `next` from the next batch on; resolves once the swap is done and the old weights freed. */
  replaceModel(next: Model): Promise<void> {
    return new Promise((done) => {
      this.#swaps.push({ model: next, done });
      this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#swaps.length > 0 || this.#queue.length > 0) {
        const swap = this.#swaps.shift();
        if (swap) {
          this.#model.release();
          this.#model = swap.model;
          this.stats.swaps++;
          swap.done();
        } else if (this.continuous && continuousSupported(this.#model)) {
          await this.#loop();
        } else {
          await this.#batch();
        }
      }
    } finally {
      this.#running = false;
    }
  }

  // Drops the queued rows of requests whose client is gone.
  #dropAbandoned(): void {
    this.#queue = this.#queue.filter((row) => {
      if (!row.job.signal?.aborted) return true;
      if (row.job.left > 0) {
        row.job.left = 0;
        this.stats.abandoned++;
        row.job.reject(new RequestAbandoned());
      }
      return false;
    });
  }

  // One continuous loop for the head row's sampling setting: it takes rows from the head of the queue
  // while they share the setting and no weight swap waits.
  async #loop(): Promise<void> {
    this.#dropAbandoned();
    const head = this.#queue[0]?.job.request;
    if (!head) return;
    const model = this.#model;
    this.stats.batches++;
    const take = (free: number): LoopRow[] => {
      if (this.#swaps.length > 0) return [];
      this.#dropAbandoned();
      const rows: LoopRow[] = [];
      while (rows.length < free && this.#queue.length > 0 && sameSampling(this.#queue[0].job.request, head)) {
        rows.push(this.#loopRow(model, this.#queue.shift()!));
      }
      this.stats.rows += rows.length;
      return rows;
    };
    try {
      const counters = await decodeContinuously(model, {
        slots: this.maxRows,
        capacity: this.context,
        temperature: head.temperature,
        topP: head.topP,
        topK: head.topK,
        take,
      });
      this.stats.steps += counters.steps;
      this.stats.refills += counters.refills;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, counters.largest);
    } catch (e) {
      // The loop has failed its active rows with `e`; queued rows go to the next loop.
      console.error(e);
    }
  }

  #loopRow(model: Model, row: QueuedRow): LoopRow {
    const { job } = row;
    const tok = model.tokenizer;
    const { stop } = job.request;
    const hitsStop = (ids: readonly number[]) =>
      stop.length > 0 && tok !== undefined &&
      stop.some((s) => tok.decode(ids, { skipSpecialTokens: true }).includes(s));
    return {
      ids: row.prompt,
      seed: job.request.seed,
      stream: row.index,
      maxNew: row.maxNew,
      shouldEnd: (ids) => job.left === 0 || job.signal?.aborted === true || hitsStop(ids),
      finish: (ids, endedOnEos) => this.#deliver(model, row, ids, endedOnEos),
      fail: (e) => this.#fail(job, e),
    };
  }

  // Queued rows of the head row's sampling setting, FIFO, as long as they fit the row bound and the
  // context (the batch decodes its longest prompt's length plus its largest budget), decoded to the end.
  async #batch(): Promise<void> {
    this.#dropAbandoned();
    const head = this.#queue[0]?.job.request;
    if (!head) return;
    const model = this.#model;
    const batch: QueuedRow[] = [];
    let longest = 0, budget = 0;
    for (const row of this.#queue) {
      if (batch.length === this.maxRows) break;
      if (!sameSampling(row.job.request, head)) continue;
      const l = Math.max(longest, row.prompt.length), b = Math.max(budget, row.maxNew);
      if (l + b > this.context) continue;
      [longest, budget] = [l, b];
      batch.push(row);
    }
    const taken = new Set(batch);
    this.#queue = this.#queue.filter((r) => !taken.has(r));
    this.stats.batches++;
    this.stats.rows += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    let outs: Awaited<ReturnType<typeof generateSeeded>>;
    try {
      outs = await generateSeeded(
        model,
        batch.map((r) => ({ ids: r.prompt, seed: r.job.request.seed, stream: r.index })),
        {
          temperature: head.temperature,
          topP: head.topP,
          topK: head.topK,
          maxNewTokens: budget,
          batchSize: batch.length,
        },
      );
    } catch (e) {
      for (const job of new Set(batch.map((r) => r.job))) this.#fail(job, e);
      return;
    }
    for (const [i, row] of batch.entries()) {
      await this.#deliver(model, row, outs[i].completionIds, outs[i].finishReason === "eos");
    }
  }

  async #deliver(model: Model, row: QueuedRow, ids: readonly number[], endedOnEos: boolean): Promise<void> {
    const { job } = row;
    if (job.left === 0) return; // failed or abandoned meanwhile
    try {
      job.results[row.index] = await finishRow(model, row, ids, endedOnEos);
    } catch (e) {
      this.#fail(job, e);
      return;
    }
    if (--job.left === 0) {
      if (job.signal?.aborted) this.stats.abandoned++;
      job.resolve(job.results as RowResult[]);
    }
  }

  #fail(job: Job, e: unknown): void {
    if (job.left === 0) return;
    job.left = 0;
    this.#queue = this.#queue.filter((r) => r.job !== job);
    job.reject(e);
  }
}

function sameSampling(a: GenerationRequest, b: GenerationRequest): boolean {
  return a.temperature === b.temperature && a.topP === b.topP && a.topK === b.topK;
}

// Cuts generated ids (decoded to a budget that may exceed the row's, without stop strings) to the row's
// own budget and its request's stop strings, then scores them when the request asks for log-probabilities.
async function finishRow(
  model: Model,
  row: QueuedRow,
  generated: readonly number[],
  endedOnEos: boolean,
): Promise<RowResult> {
  const req = row.job.request;
  const tok = model.tokenizer;
  const decode = (ids: readonly number[]) => tok ? tok.decode(ids, { skipSpecialTokens: true }) : "";
  let ids = generated.slice(0, row.maxNew);
  let finishReason: RowResult["finishReason"] = endedOnEos && ids.length === generated.length
    ? "stop"
    : "length";
  let text = decode(ids);
  let stopString: string | null = null;
  const hit = (k: number) => req.stop.find((s) => decode(ids.slice(0, k)).includes(s));
  if (req.stop.length > 0 && hit(ids.length) !== undefined) {
    // Containing a stop string is monotone in the prefix length: bisect for the shortest prefix.
    let [lo, hi] = [1, ids.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (hit(mid) !== undefined) hi = mid;
      else lo = mid + 1;
    }
    ids = ids.slice(0, lo);
    stopString = hit(lo)!;
    text = decode(ids);
    text = text.slice(0, text.indexOf(stopString));
    finishReason = "stop";
  }
  let promptLogprobs: TokenLogprob[] | null = null, logprobs: TokenLogprob[] | null = null;
  if (req.logprobs !== null) {
    // Every row has at least one generated id, so the sequence has at least two tokens.
    const scored = await sequenceLogprobs(model, [...row.prompt, ...ids], req.logprobs);
    promptLogprobs = scored.slice(0, row.prompt.length - 1);
    logprobs = scored.slice(row.prompt.length - 1);
  }
  return { ids, text, finishReason, stopString, promptLogprobs, logprobs };
}

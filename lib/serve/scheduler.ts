/**
 * The batcher between HTTP requests and the GPU: every request becomes rows (prompt × sample), rows wait
 * in one FIFO queue, and the decode loop takes as many queued rows as fit — up to `maxRows`, of the same
 * sampling settings (one temperature / top-k / top-p per dispatch) and within the context — into its next
 * batch. Requests that arrive while a batch decodes are decoded together in the next one; batching is at
 * batch boundaries (a finished row's slot is not refilled mid-batch). Weight swaps happen between batches.
 *
 * @module
 */
import { type Completion, generateSeeded } from "../generate/generate.ts";
import type { Model } from "../model/model.ts";
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
  /** Decode batches run. */
  batches: number;
  /** Rows decoded. */
  rows: number;
  /** Rows in the largest batch. */
  largestBatch: number;
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

/** Queues requests' rows and decodes them in batches on one model, swapping weights between batches. */
export class Scheduler {
  /** Counters since start. */
  readonly stats: SchedulerStats = {
    requests: 0,
    batches: 0,
    rows: 0,
    largestBatch: 0,
    abandoned: 0,
    swaps: 0,
  };
  #model: Model;
  #queue: QueuedRow[] = [];
  #swaps: { model: Model; done: () => void }[] = [];
  #running = false;

  /** A scheduler over `model` decoding at most `maxRows` rows per batch. */
  constructor(model: Model, readonly maxRows: number) {
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
          continue;
        }
        const batch = this.#nextBatch();
        if (batch.length > 0) await this.#run(batch);
      }
    } finally {
      this.#running = false;
    }
  }

  // Queued rows of the head row's sampling settings, FIFO, as long as they fit the row bound and the
  // context (the batch decodes its longest prompt's length plus its largest budget).
  #nextBatch(): QueuedRow[] {
    this.#queue = this.#queue.filter((row) => {
      if (!row.job.signal?.aborted) return true;
      if (row.job.left > 0) {
        row.job.left = 0;
        this.stats.abandoned++;
        row.job.reject(new RequestAbandoned());
      }
      return false;
    });
    const head = this.#queue[0];
    if (!head) return [];
    const context = this.#model.config.maxPositionEmbeddings;
    const same = (r: GenerationRequest) =>
      r.temperature === head.job.request.temperature && r.topP === head.job.request.topP &&
      r.topK === head.job.request.topK;
    const batch: QueuedRow[] = [];
    let longest = 0, budget = 0;
    for (const row of this.#queue) {
      if (batch.length === this.maxRows) break;
      if (!same(row.job.request)) continue;
      const l = Math.max(longest, row.prompt.length), b = Math.max(budget, row.maxNew);
      if (l + b > context) continue;
      [longest, budget] = [l, b];
      batch.push(row);
    }
    const taken = new Set(batch);
    this.#queue = this.#queue.filter((r) => !taken.has(r));
    return batch;
  }

  async #run(batch: QueuedRow[]): Promise<void> {
    const model = this.#model;
    const { temperature, topP, topK } = batch[0].job.request;
    this.stats.batches++;
    this.stats.rows += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    let outs: Completion[];
    try {
      outs = await generateSeeded(
        model,
        batch.map((r) => ({ ids: r.prompt, seed: r.job.request.seed, stream: r.index })),
        {
          temperature,
          topP,
          topK,
          maxNewTokens: Math.max(...batch.map((r) => r.maxNew)),
          batchSize: batch.length,
        },
      );
    } catch (e) {
      for (const job of new Set(batch.map((r) => r.job))) this.#fail(job, e);
      return;
    }
    for (const [i, row] of batch.entries()) {
      const { job } = row;
      if (job.left === 0) continue; // failed or abandoned meanwhile
      try {
        job.results[row.index] = await finishRow(model, row, outs[i]);
      } catch (e) {
        this.#fail(job, e);
        continue;
      }
      if (--job.left === 0) {
        if (job.signal?.aborted) this.stats.abandoned++;
        job.resolve(job.results as RowResult[]);
      }
    }
  }

  #fail(job: Job, e: unknown): void {
    if (job.left === 0) return;
    job.left = 0;
    this.#queue = this.#queue.filter((r) => r.job !== job);
    job.reject(e);
  }
}

// Cuts a batch completion (decoded to the batch's largest budget, without stop strings) to the row's own
// budget and its request's stop strings, then scores it when the request asks for log-probabilities.
async function finishRow(model: Model, row: QueuedRow, out: Completion): Promise<RowResult> {
  const req = row.job.request;
  const tok = model.tokenizer;
  const decode = (ids: readonly number[]) => tok ? tok.decode(ids, { skipSpecialTokens: true }) : "";
  let ids = out.completionIds.slice(0, row.maxNew);
  let finishReason: RowResult["finishReason"] =
    out.finishReason === "eos" && ids.length === out.completionIds.length ? "stop" : "length";
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
  if (req.logprobs !== null && ids.length > 0) {
    const scored = await sequenceLogprobs(model, [...row.prompt, ...ids], req.logprobs);
    promptLogprobs = scored.slice(0, row.prompt.length - 1);
    logprobs = scored.slice(row.prompt.length - 1);
  } else if (req.logprobs !== null) {
    [promptLogprobs, logprobs] = [await sequenceLogprobs(model, row.prompt, req.logprobs), []];
  }
  return { ids, text, finishReason, stopString, promptLogprobs, logprobs };
}

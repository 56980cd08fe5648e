/**
 * Rollouts from OpenAI-compatible completion servers (vLLM, SGLang, `deno task serve`): one
 * `POST /v1/completions` per prompt group — its token ids as the prompt, `n` samples, the group's seed —
 * spread round-robin over the replicas with a bound on the requests in flight, a failed or timed-out
 * request retried on the next replica. Completions come back as token ids (`choices[i].token_ids`, or
 * `logprobs.tokens` written `token_id:N`), so the learner scores exactly the tokens that were sampled,
 * with the engine's log-probability of each.
 *
 * @module
 */
import { RlifError } from "../errors.ts";
import type { Completion } from "../generate/generate.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";

/** Where and how to reach the replicas. */
export interface OpenAIClientOptions {
  /** Base URLs of the replicas (`http://host:8000`; a trailing `/v1` is accepted). */
  readonly endpoints: readonly string[];
  /** The `model` field of each request. */
  readonly model: string;
  /** Bearer token, when the replicas want one. */
  readonly apiKey?: string | null;
  /** Milliseconds one request may take. */
  readonly timeoutMs: number;
  /** Further attempts of a failed request, each on the next replica. */
  readonly retries: number;
  /** Requests in flight per replica (default 16): enough for a server's continuous batching to fill. */
  readonly perReplica?: number;
}

/** The sampling of one step's groups: the same options for every group, one seed per group. */
export interface GroupSampling {
  readonly n: number;
  readonly temperature: number;
  readonly topP: number;
  readonly topK: number;
  readonly maxNewTokens: number;
  readonly stop: readonly string[];
}

/** One choice as read from a response: the sampled ids, the engine's log-probabilities, the finish reason. */
export interface ParsedChoice {
  /** Generated token ids. */
  readonly ids: number[];
  /** The engine's log-probability of each generated id. */
  readonly logprobs: number[];
  /** The server's finish reason. */
  readonly finishReason: "stop" | "length";
}

/** The base URL without a trailing slash or `/v1`, so paths can be appended. */
export function endpointBase(url: string): string {
  return url.replace(/\/+$/, "").replace(/\/v1$/, "");
}

/** The body of one group's completion request. */
export function completionRequest(
  model: string,
  promptIds: readonly number[],
  seed: number,
  s: GroupSampling,
): Record<string, unknown> {
  return {
    model,
    prompt: promptIds,
    n: s.n,
    max_tokens: s.maxNewTokens,
    temperature: s.temperature,
    top_p: s.topP,
    // vLLM and SGLang read -1 as "off"; 0 is rejected by some versions.
    top_k: s.topK > 0 ? s.topK : -1,
    seed,
    ...(s.stop.length ? { stop: s.stop } : {}),
    logprobs: 1,
    // vLLM ≥ 0.10.2 and SGLang: choices[i].token_ids; older vLLM: logprobs.tokens as "token_id:N".
    return_token_ids: true,
    return_tokens_as_token_ids: true,
  };
}

const TOKEN_ID = /^token_id:(\d+)$/;

/**
 * The `n` choices of a completion response, in sample order. Throws a plain Error saying what is missing
 * or malformed (the caller names the replica).
 */
export function parseChoices(body: unknown, n: number): ParsedChoice[] {
  const choices = (body as { choices?: unknown })?.choices;
  if (!Array.isArray(choices)) throw new Error("the response has no choices list");
  if (choices.length !== n) {
    throw new Error(`the response has ${choices.length} choices; ${n} were asked for`);
  }
  const out = new Array<ParsedChoice>(n);
  for (const [k, c] of choices.entries()) {
    const where = `choices[${k}]`;
    const index = typeof c?.index === "number" ? c.index : k;
    if (!Number.isInteger(index) || index < 0 || index >= n || out[index]) {
      throw new Error(`${where}.index ${JSON.stringify(c?.index)} is not a distinct sample index below ${n}`);
    }
    const lp = c?.logprobs;
    let ids: unknown = c?.token_ids;
    if (!Array.isArray(ids) && Array.isArray(lp?.tokens)) {
      ids = lp.tokens.map((t: unknown) => {
        const m = typeof t === "string" ? TOKEN_ID.exec(t) : null;
        if (!m) {
          throw new Error(
            `${where}.logprobs.tokens holds ${JSON.stringify(t)}, not "token_id:N": ask for token ids ` +
              `(vLLM ≥ 0.10.2 or SGLang: return_token_ids; older vLLM: --return-tokens-as-token-ids)`,
          );
        }
        return Number(m[1]);
      });
    }
    if (!Array.isArray(ids) || !ids.every((t) => Number.isInteger(t) && t >= 0)) {
      throw new Error(
        `${where} carries no token ids (token_ids, or logprobs.tokens as "token_id:N"); start vLLM with ` +
          `--return-tokens-as-token-ids or use a server that honours return_token_ids`,
      );
    }
    const lps: unknown = lp?.token_logprobs;
    if (!Array.isArray(lps) || lps.length !== ids.length || !lps.every((x) => typeof x === "number")) {
      throw new Error(
        `${where}.logprobs.token_logprobs must be one number per generated token (${ids.length})`,
      );
    }
    const reason = c?.finish_reason;
    if (reason !== "stop" && reason !== "length") {
      throw new Error(`${where}.finish_reason is ${JSON.stringify(reason)}, not "stop" or "length"`);
    }
    out[index] = { ids: ids as number[], logprobs: lps as number[], finishReason: reason };
  }
  return out;
}

/**
 * A choice as a {@link Completion}: text decoded here (special tokens skipped, cut before the first stop
 * string, as local generation does), finish reason `eos` when the last id is an end id.
 */
export function choiceToCompletion(
  choice: ParsedChoice,
  promptIndex: number,
  sampleIndex: number,
  promptIds: readonly number[],
  tokenizer: Tokenizer,
  eos: readonly number[],
  stop: readonly string[],
): Completion {
  let text = tokenizer.decode(choice.ids, { skipSpecialTokens: true });
  const last = choice.ids[choice.ids.length - 1];
  let finishReason: Completion["finishReason"] = choice.finishReason;
  if (finishReason === "stop" && last !== undefined && eos.includes(last)) finishReason = "eos";
  else if (finishReason === "stop") {
    const cuts = stop.map((s) => text.indexOf(s)).filter((i) => i >= 0);
    if (cuts.length) text = text.slice(0, Math.min(...cuts));
  }
  return {
    promptIndex,
    sampleIndex,
    promptIds: [...promptIds],
    completionIds: choice.ids,
    text,
    logprobs: choice.logprobs,
    finishReason,
  };
}

/** Runs `tasks` with at most `limit` in flight, results in task order. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

/** A client of a set of OpenAI-compatible replicas. */
export class OpenAIRolloutClient {
  readonly #o: OpenAIClientOptions;
  readonly #bases: string[];
  #model: string;
  /** The LoRA adapter {@link loadLoraAdapter} last loaded, which the next load unloads. */
  #adapter: string | null = null;
  /** Requests sent to each replica, failed ones included (what tests and logs read the spread from). */
  readonly sent: number[];

  /** A client of `options.endpoints`; nothing is sent until {@link sample}. */
  constructor(options: OpenAIClientOptions) {
    if (options.endpoints.length === 0) throw new RlifError("rollout.engine", "rollout.endpoints is empty");
    this.#o = options;
    this.#model = options.model;
    this.#bases = options.endpoints.map(endpointBase);
    this.sent = this.#bases.map(() => 0);
  }

  /** The `model` field requests carry: the configured name, or the LoRA adapter loaded last. */
  get model(): string {
    return this.#model;
  }

  /** POSTs `body` to `path` of replica `r`; the parsed JSON, or a thrown Error naming status and body. */
  async post(r: number, path: string, body: unknown, timeoutMs = this.#o.timeoutMs): Promise<unknown> {
    const text = await this.postText(r, path, body, timeoutMs);
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`the answer is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
    }
  }

  /** POSTs `body` to `path` of replica `r`; the answer's text, or a thrown Error naming status and body. */
  async postText(r: number, path: string, body: unknown, timeoutMs = this.#o.timeoutMs): Promise<string> {
    this.sent[r]++;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.#o.apiKey) headers.authorization = `Bearer ${this.#o.apiKey}`;
    let res: Response;
    try {
      res = await fetch(`${this.#bases[r]}${path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const err = e as Error;
      if (err.name === "TimeoutError") throw new Error(`no answer within ${timeoutMs / 1000} s`);
      throw new Error(err.message);
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
    return text;
  }

  /**
   * Samples `s.n` completions of each prompt, group p with `seeds[p]`, prompt-major as local generation
   * returns them. Group p goes first to replica p mod R, then on failure to the next ones, `retries`
   * times; when every attempt fails, an {@link RlifError} names the replicas tried and the last error.
   */
  async sample(
    prompts: readonly (readonly number[])[],
    seeds: readonly number[],
    s: GroupSampling,
    tokenizer: Tokenizer,
    eos: readonly number[],
  ): Promise<Completion[]> {
    const R = this.#bases.length;
    const tasks = prompts.map((ids, p) => async () => {
      const body = completionRequest(this.#model, ids, seeds[p], s);
      const tried: string[] = [];
      let last = "";
      for (let attempt = 0; attempt <= this.#o.retries; attempt++) {
        const r = (p + attempt) % R;
        tried.push(this.#bases[r]);
        try {
          const choices = parseChoices(await this.post(r, "/v1/completions", body), s.n);
          return choices.map((c, j) => choiceToCompletion(c, p, j, ids, tokenizer, eos, s.stop));
        } catch (e) {
          last = `${this.#bases[r]}: ${(e as Error).message}`;
        }
      }
      throw new RlifError(
        "rollout.engine",
        `rollout.engine openai: prompt group ${p} failed ${tried.length} time(s) on ${
          [...new Set(tried)].join(", ")
        }; last error: ${last}`,
      );
    });
    const groups = await pool(tasks, R * (this.#o.perReplica ?? 16));
    return groups.flat();
  }

  /**
   * Tells every replica, all at once, to load the weights in `dir`: SGLang's `POST
   * /update_weights_from_disk {"model_path": dir}` (answered `{"success": true}`), or vLLM's dev-mode
   * `POST /collective_rpc {"method": "reload_weights"}` (which re-reads the folder the replica was started
   * on: `<sync_dir>/current`, now linking to `dir`; answered with status 200). Throws an
   * {@link RlifError} naming each replica that did not reload, since a replica left on old weights would
   * sample from a stale policy.
   */
  async reload(
    dir: string,
    how: "update_weights_from_disk" | "collective_rpc" = "update_weights_from_disk",
  ): Promise<void> {
    const failures = (await Promise.all(this.#bases.map(async (base, r) => {
      try {
        if (how === "collective_rpc") {
          await this.post(r, "/collective_rpc", { method: "reload_weights" });
          return null;
        }
        const body = await this.post(r, "/update_weights_from_disk", { model_path: dir });
        const ok = (body as { success?: unknown })?.success === true;
        return ok ? null : `${base}: ${JSON.stringify(body).slice(0, 300)}`;
      } catch (e) {
        return `${base}: ${(e as Error).message}`;
      }
    }))).filter((f): f is string => f !== null);
    if (failures.length) {
      throw new RlifError(
        "rollout.sync",
        `rollout.sync disk: ${failures.length} of ${this.#bases.length} replica(s) did not reload ${dir}: ` +
          failures.join("; "),
      );
    }
  }

  /**
   * Tells every replica to load the LoRA adapter in `dir` under `name` — vLLM's `POST /v1/load_lora_adapter
   * {"lora_name", "lora_path"}`, which `deno task serve` takes too — then makes requests name it, and
   * unloads the adapter loaded before (`POST /v1/unload_lora_adapter`), so replicas hold one adapter of the
   * run at a time. Throws an {@link RlifError} naming each replica that failed either.
   */
  async loadLoraAdapter(name: string, dir: string): Promise<void> {
    const each = async (path: string, body: unknown, what: string) => {
      const failures = (await Promise.all(this.#bases.map(async (base, r) => {
        try {
          await this.postText(r, path, body);
          return null;
        } catch (e) {
          return `${base}: ${(e as Error).message}`;
        }
      }))).filter((f): f is string => f !== null);
      if (failures.length) {
        throw new RlifError(
          "rollout.sync",
          `rollout.sync disk: ${failures.length} of ${this.#bases.length} replica(s) did not ${what}: ` +
            failures.join("; "),
        );
      }
    };
    await each("/v1/load_lora_adapter", { lora_name: name, lora_path: dir }, `load the LoRA adapter ${dir}`);
    const previous = this.#adapter;
    this.#model = name;
    this.#adapter = name;
    if (previous !== null && previous !== name) {
      await each("/v1/unload_lora_adapter", { lora_name: previous }, `unload the LoRA adapter ${previous}`);
    }
  }
}

/**
 * The HTTP front of the server: routes, the optional API key, body parsing, the weight reload and LoRA
 * adapters. Every failure is answered (OpenAI-style error body, never a crash): a bad request with a 400
 * naming the field, anything unexpected with a 500.
 *
 * @module
 */
import { RlifError } from "../errors.ts";
import { loadModel, type Model } from "../model/model.ts";
import { mergeLoraAdapter } from "../model/lora.ts";
import { loadLoraAdapter } from "../model/peft_adapter.ts";
import { modelConfigToJson } from "../model/config.ts";
import { ApiError, badRequest, errorResponse } from "./errors.ts";
import { parseChatRequest, parseCompletionRequest } from "./requests.ts";
import { chatResponse, completionResponse } from "./responses.ts";
import { RequestAbandoned, Scheduler } from "./scheduler.ts";

/** Largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Options of {@link createHandler}. */
export interface ServeOptions {
  /** Name `/v1/models` lists and requests may give as `model`. */
  readonly servedName: string;
  /** Most rows (prompt × sample) decoded in one batch. */
  readonly maxRows: number;
  /** When set, every route but `/health` needs `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /**
   * Most positions (prompt + completion) of one sequence, at most the model's context (its default). It
   * sizes the continuous loop's cache: slots × maxModelLen positions.
   */
  readonly maxModelLen?: number;
  /** Continuous batching where the device allows it (default true); false batches at batch boundaries. */
  readonly continuous?: boolean;
}

/** A request handler over one model, and the scheduler behind it. */
export interface ServeHandler {
  /** Answers one HTTP request. */
  readonly handle: (req: Request) => Promise<Response>;
  /** The batcher, for its model and counters. */
  readonly scheduler: Scheduler;
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

// Compares digests, so the time taken depends neither on where the key differs nor on its length.
async function keyMatches(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// Reads the body as it streams in and stops past the bound, whatever Content-Length claims.
async function readJson(req: Request): Promise<unknown> {
  const tooLarge = () => new ApiError(413, `the request body is over ${MAX_BODY_BYTES} bytes`);
  if (Number(req.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    for await (const chunk of req.body) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) throw tooLarge();
      chunks.push(chunk);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) (bytes.set(c, at), at += c.byteLength);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}

function sameArchitecture(a: Model, b: Model): string | null {
  const [ja, jb] = [modelConfigToJson(a.config), modelConfigToJson(b.config)];
  for (const key of new Set([...Object.keys(ja), ...Object.keys(jb)])) {
    if (key === "torch_dtype") continue;
    if (JSON.stringify(ja[key]) !== JSON.stringify(jb[key])) {
      return `${key} is ${JSON.stringify(jb[key])}, the served model's is ${JSON.stringify(ja[key])}`;
    }
  }
  return null;
}

/**
 * Routes: `GET /health`, `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions`,
 * `POST /update_weights_from_disk` with `{"model_path": DIR}` (SGLang's request and answer shape), which
 * loads DIR — a model of the same architecture — and swaps it in between decode batches, and vLLM's
 * `POST /v1/load_lora_adapter` `{"lora_name", "lora_path"}` and `POST /v1/unload_lora_adapter`
 * `{"lora_name"}`. The server holds one set of weights: a loaded adapter is merged into a copy of the
 * adapted projections (the base's other tensors shared) and served under its `lora_name` — requests then
 * name it or no model — until another is loaded over it, or it is unloaded and the base serves again.
 * The handler owns `model` from here on.
 */
export function createHandler(model: Model, options: ServeOptions): ServeHandler {
  const context = Math.min(model.config.maxPositionEmbeddings, options.maxModelLen ?? Infinity);
  // The scheduler serves views of the base (or merged copies over it), so swapping one out never frees
  // the base's weights; the base goes when update_weights_from_disk replaces it.
  let base = model;
  const scheduler = new Scheduler(
    base.withAdapter(null),
    options.maxRows,
    context,
    options.continuous ?? true,
  );
  let adapter: { name: string; path: string } | null = null;
  // Adapters a later load replaced: already gone, so unloading one succeeds (a client that holds one
  // adapter at a time on vLLM unloads the previous after loading the next).
  const replaced = new Set<string>();
  const limits = () => ({ servedName: adapter?.name ?? options.servedName, context });
  let reloads: Promise<unknown> = Promise.resolve();
  /** Runs weight changes one after another, each after the ones asked before it. */
  const serialized = (change: () => Promise<Response>): Promise<Response> => {
    const done = reloads.then(change);
    reloads = done.catch(() => {});
    return done;
  };
  const userError = (e: unknown) =>
    e instanceof RlifError || e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied;

  const reload = async (body: unknown): Promise<Response> => {
    const path = (body as { model_path?: unknown } | null)?.model_path;
    if (typeof path !== "string" || path === "") {
      throw badRequest("model_path: expected the path of a model folder", "model_path");
    }
    const answer = (success: boolean, message: string) =>
      Response.json({ success, message, num_paused_requests: 0 }, { status: success ? 200 : 400 });
    const width = base.vocabShards("model.embed_tokens.weight")[0].tensor.dtype;
    let next: Model;
    try {
      next = await loadModel(path, { gpu: base.gpu, weights: width as "f32" | "bf16" | "f16" });
    } catch (e) {
      if (userError(e)) return answer(false, `Failed to load ${path}: ${(e as Error).message}`);
      throw e;
    }
    const mismatch = sameArchitecture(base, next);
    if (mismatch) {
      next.release();
      return answer(false, `Failed to update weights: ${path} has another architecture (${mismatch})`);
    }
    await scheduler.replaceModel(next.withAdapter(null));
    base.release();
    base = next;
    adapter = null;
    replaced.clear();
    return answer(true, `Succeeded to update model weights from ${path}`);
  };

  const field = (body: unknown, name: string): string => {
    const v = (body as Record<string, unknown> | null)?.[name];
    if (typeof v !== "string" || v === "") throw badRequest(`${name}: expected a non-empty string`, name);
    return v;
  };

  // vLLM's answers: plain text on success, an OpenAI error body otherwise.
  const loadAdapter = async (body: unknown): Promise<Response> => {
    const name = field(body, "lora_name"), path = field(body, "lora_path");
    let merged: Model;
    try {
      const view = base.withAdapter(await loadLoraAdapter(path, base));
      merged = mergeLoraAdapter(view);
      view.release();
    } catch (e) {
      if (userError(e)) {
        throw badRequest(`Failed to load LoRA adapter ${path}: ${(e as Error).message}`, "lora_path");
      }
      throw e;
    }
    await scheduler.replaceModel(merged);
    if (adapter && adapter.name !== name) replaced.add(adapter.name);
    replaced.delete(name);
    adapter = { name, path };
    return new Response(`Success: LoRA adapter '${name}' added successfully.`, { status: 200 });
  };

  const unloadAdapter = async (body: unknown): Promise<Response> => {
    const name = field(body, "lora_name");
    if (replaced.delete(name)) {
      return new Response(`Success: LoRA adapter '${name}' removed successfully.`, { status: 200 });
    }
    if (adapter?.name !== name) {
      throw new ApiError(
        404,
        `The lora adapter '${name}' cannot be found.`,
        "lora_name",
        "invalid_request_error",
      );
    }
    await scheduler.replaceModel(base.withAdapter(null));
    adapter = null;
    return new Response(`Success: LoRA adapter '${name}' removed successfully.`, { status: 200 });
  };

  const route = async (req: Request): Promise<Response> => {
    const { pathname } = new URL(req.url);
    if (pathname === "/health") return new Response(null, { status: 200 });
    if (options.apiKey !== undefined) {
      const auth = req.headers.get("authorization") ?? "";
      const given = auth.startsWith("Bearer ") ? auth.slice(7) : "";
      if (!await keyMatches(given, options.apiKey)) {
        throw new ApiError(
          401,
          "invalid or missing API key (Authorization: Bearer <key>)",
          null,
          "authentication_error",
          "invalid_api_key",
        );
      }
    }
    const post = (): void => {
      if (req.method !== "POST") throw new ApiError(405, `${pathname} takes POST, not ${req.method}`);
    };
    switch (pathname) {
      case "/v1/models": {
        const entry = (id: string, root: string, parent: string | null) => ({
          id,
          object: "model",
          created: 0,
          owned_by: "rlif",
          root,
          parent,
          max_model_len: context,
        });
        const data = [entry(options.servedName, base.dir ?? options.servedName, null)];
        if (adapter) data.push(entry(adapter.name, adapter.path, options.servedName));
        return Response.json({ object: "list", data });
      }
      case "/v1/completions":
      case "/v1/chat/completions": {
        post();
        const body = await readJson(req);
        const chat = pathname === "/v1/chat/completions";
        const m = scheduler.model;
        const served = limits();
        const request = chat ? parseChatRequest(m, body, served) : parseCompletionRequest(m, body, served);
        const results = await scheduler.submit(request, req.signal);
        const ctx = { model: served.servedName, tokenizer: scheduler.model.tokenizer };
        return Response.json(
          chat ? chatResponse(ctx, request, results) : completionResponse(ctx, request, results),
        );
      }
      case "/update_weights_from_disk": {
        post();
        const body = await readJson(req);
        return await serialized(() => reload(body));
      }
      case "/v1/load_lora_adapter": {
        post();
        const body = await readJson(req);
        return await serialized(() => loadAdapter(body));
      }
      case "/v1/unload_lora_adapter": {
        post();
        const body = await readJson(req);
        return await serialized(() => unloadAdapter(body));
      }
      default:
        throw new ApiError(404, `no route ${req.method} ${pathname}`);
    }
  };

  const handle = async (req: Request): Promise<Response> => {
    try {
      return await route(req);
    } catch (e) {
      if (e instanceof ApiError) return errorResponse(e);
      if (e instanceof RequestAbandoned) return errorResponse(new ApiError(499, e.message));
      console.error(e);
      return errorResponse(new ApiError(500, `internal error: ${(e as Error)?.message ?? e}`));
    }
  };
  return { handle, scheduler };
}

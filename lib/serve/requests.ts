/**
 * Request bodies of the OpenAI-compatible endpoints, checked and resolved against the served model into
 * one {@link GenerationRequest}: token ids per prompt, a token budget per prompt, and the sampling
 * fields. Any problem is a 400 naming the field.
 *
 * @module
 */
import { z } from "zod";
import type { Model } from "../model/model.ts";
import { issueText, pathText } from "../schema.ts";
import { type ChatMessage, RESERVED_CHAT_TEMPLATE_VARIABLES } from "../tokenizer/chat_template.ts";
import { ApiError, badRequest } from "./errors.ts";

/** Most samples per prompt one request may ask for. */
export const MAX_N = 128;
/** Most rows (prompts × n) one request may ask for. */
export const MAX_REQUEST_ROWS = 1024;
/** Most alternatives per position in `logprobs` / `top_logprobs` (vLLM's default bound). */
export const MAX_LOGPROBS = 20;
/** The `max_tokens` of a completion request that gives none (OpenAI's default). */
export const DEFAULT_MAX_TOKENS = 16;

const tokenId = z.number().int().min(0);
const common = {
  model: z.string().nullish(),
  n: z.number().int().min(1).max(MAX_N).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(16)]).nullish(),
  stream: z.boolean().nullish(),
  return_tokens_as_token_ids: z.boolean().nullish(),
  return_token_ids: z.boolean().nullish(),
};
const COMPLETION = z.object({
  ...common,
  prompt: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(tokenId).min(1),
    z.array(z.array(tokenId).min(1)).min(1),
  ]),
  logprobs: z.number().int().min(0).max(MAX_LOGPROBS).nullish(),
  echo: z.boolean().nullish(),
});
const CHAT = z.object({
  ...common,
  messages: z.array(
    z.looseObject({
      role: z.enum(["system", "user", "assistant", "tool", "developer"]),
      content: z.union([z.string(), z.array(z.object({ type: z.literal("text"), text: z.string() }))]),
    }),
  ).min(1),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(MAX_LOGPROBS).nullish(),
  // vLLM's extension: extra chat template variables, e.g. {"enable_thinking": false} for Qwen3.
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
});

/** What requests are checked against besides the model. */
export interface RequestLimits {
  /** The served model's name: a request's `model`, when given, must be it. */
  readonly servedName: string;
  /** Most positions (prompt + completion) of one sequence: the model's context or less. */
  readonly context: number;
}

/** A request resolved against the model: what the scheduler decodes and the response builder reports. */
export interface GenerationRequest {
  /** Token ids of each prompt. */
  readonly prompts: readonly (readonly number[])[];
  /** Most new tokens of each prompt's samples. */
  readonly maxTokens: readonly number[];
  /** Samples per prompt. */
  readonly n: number;
  /** Softmax temperature; 0 is greedy. */
  readonly temperature: number;
  /** Nucleus mass (1: off). */
  readonly topP: number;
  /** Most likely tokens kept (0: off). */
  readonly topK: number;
  /** Sampler seed: sample j of prompt p draws from (seed, p·n + j). */
  readonly seed: number;
  /** Strings that end a completion (cut before them). */
  readonly stop: readonly string[];
  /** Alternatives per position to report, or null for no log-probabilities. */
  readonly logprobs: number | null;
  /** Whether the prompt is reported before the completion (completions API only). */
  readonly echo: boolean;
  /** Tokens in `logprobs` as "token_id:N" (vLLM's `return_tokens_as_token_ids`). */
  readonly tokensAsIds: boolean;
  /** Whether choices carry `token_ids` and `prompt_token_ids` (vLLM's `return_token_ids`). */
  readonly returnTokenIds: boolean;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("the request body must be a JSON object");
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  // The top-level field is the OpenAI `param`; the message gives the full path.
  const where = pathText(issue.path);
  throw badRequest(
    `${where || "body"}: ${issueText(issue)}`,
    issue.path.length ? String(issue.path[0]) : null,
  );
}

/** A seed for a request that gives none: random in [0, 2^53). */
export function randomSeed(): number {
  const [hi, lo] = crypto.getRandomValues(new Uint32Array(2));
  return (hi & 0x1fffff) * 2 ** 32 + lo;
}

function resolve(
  model: Model,
  body: z.infer<typeof COMPLETION> | z.infer<typeof CHAT>,
  prompts: number[][],
  maxTokens: number | null,
  defaultMaxTokens: (promptLength: number, room: number) => number,
  logprobs: number | null,
  echo: boolean,
  limits: RequestLimits,
): GenerationRequest {
  const { servedName, context } = limits;
  if (body.model != null && body.model !== servedName) {
    throw new ApiError(
      404,
      `The model \`${body.model}\` does not exist; this server serves ${servedName}`,
      "model",
      "invalid_request_error",
      "model_not_found",
    );
  }
  if (body.stream) {
    throw badRequest("stream: streaming responses are not supported; send stream: false", "stream");
  }
  const n = body.n ?? 1;
  if (prompts.length * n > MAX_REQUEST_ROWS) {
    throw badRequest(
      `n: ${prompts.length} prompts × n ${n} asks for more than ${MAX_REQUEST_ROWS} completions`,
      "n",
    );
  }
  const vocab = model.config.vocabSize;
  const budgets = prompts.map((ids, p) => {
    const bad = ids.find((t) => t >= vocab);
    if (bad !== undefined) {
      throw badRequest(`prompt ${p}: token id ${bad} is outside the vocabulary [0, ${vocab})`, "prompt");
    }
    if (ids.length === 0) throw badRequest(`prompt ${p} has no tokens`, "prompt");
    const room = context - ids.length;
    if (room < 1) {
      throw badRequest(
        `This model's maximum context length is ${context} tokens; prompt ${p} has ${ids.length}, leaving no room for a completion`,
        "prompt",
      );
    }
    if (maxTokens === null) return defaultMaxTokens(ids.length, room);
    if (maxTokens > room) {
      throw badRequest(
        `max_tokens: this model's maximum context length is ${context} tokens; you requested ${
          ids.length + maxTokens
        } ` +
          `(${ids.length} in the prompt, ${maxTokens} for the completion)`,
        "max_tokens",
      );
    }
    return maxTokens;
  });
  return {
    prompts,
    maxTokens: budgets,
    n,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    topK: Math.max(0, body.top_k ?? 0),
    seed: body.seed ?? randomSeed(),
    stop: body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop,
    logprobs,
    echo,
    tokensAsIds: body.return_tokens_as_token_ids ?? false,
    returnTokenIds: body.return_token_ids ?? false,
  };
}

/** A `/v1/completions` body resolved against `model`, or a 400 naming the field. */
export function parseCompletionRequest(
  model: Model,
  body: unknown,
  limits: RequestLimits,
): GenerationRequest {
  const req = parse(COMPLETION, body);
  const raw = typeof req.prompt === "string" ? [req.prompt] : req.prompt;
  const prompts = (raw as (string | number | number[])[]).every((p) => typeof p === "number")
    ? [raw as number[]]
    : (raw as (string | number[])[]).map((p) => {
      if (typeof p !== "string") return p;
      if (!model.tokenizer) {
        throw badRequest("prompt: text prompts need a tokenizer, and this model has none", "prompt");
      }
      return model.tokenizer.encode(p, { addSpecialTokens: false });
    });
  return resolve(
    model,
    req,
    prompts,
    req.max_tokens ?? null,
    (_, room) => Math.min(DEFAULT_MAX_TOKENS, room),
    req.logprobs ?? null,
    req.echo ?? false,
    limits,
  );
}

/** A `/v1/chat/completions` body resolved against `model` (through its chat template), or a 400. */
export function parseChatRequest(model: Model, body: unknown, limits: RequestLimits): GenerationRequest {
  const req = parse(CHAT, body);
  const tok = model.tokenizer;
  if (!tok) {
    throw badRequest(
      "messages: chat needs a tokenizer with a chat template, and this model has none",
      "messages",
    );
  }
  const messages: ChatMessage[] = req.messages.map((m) => ({
    ...m,
    content: typeof m.content === "string" ? m.content : m.content.map((c) => c.text).join(""),
  }));
  const variables = req.chat_template_kwargs ?? undefined;
  const reserved = Object.keys(variables ?? {}).filter((k) => RESERVED_CHAT_TEMPLATE_VARIABLES.includes(k));
  if (reserved.length > 0) {
    throw badRequest(
      `chat_template_kwargs: may not set ${reserved.join(", ")}; the server sets ` +
        `${RESERVED_CHAT_TEMPLATE_VARIABLES.join(" and ")} from the request itself`,
      "chat_template_kwargs",
    );
  }
  let ids: number[];
  try {
    ids = tok.encodeChat(messages, { addGenerationPrompt: true, variables });
  } catch (e) {
    throw badRequest(`messages: the chat template failed: ${(e as Error).message}`, "messages");
  }
  const logprobs = req.logprobs ? req.top_logprobs ?? 0 : null;
  // A chat request without a budget may use the rest of the context (vLLM's behaviour).
  return resolve(
    model,
    { ...req, max_tokens: undefined },
    [ids],
    req.max_completion_tokens ?? req.max_tokens ?? null,
    (_, room) => room,
    logprobs,
    false,
    limits,
  );
}

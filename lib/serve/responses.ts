/**
 * Response bodies of the completions and chat completions endpoints, in the shape of OpenAI's API with
 * vLLM's extensions: `return_tokens_as_token_ids` (tokens written "token_id:N") and `return_token_ids`
 * (`token_ids` per choice and the prompt's `prompt_token_ids`).
 *
 * @module
 */
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import type { TokenLogprob } from "./logprobs.ts";
import type { GenerationRequest } from "./requests.ts";
import type { RowResult } from "./scheduler.ts";

/** What a response names besides the results. */
export interface ResponseContext {
  /** Served model name. */
  readonly model: string;
  /** The model's tokenizer, for token strings and echoed prompts. */
  readonly tokenizer?: Tokenizer;
}

function tokenText(ctx: ResponseContext, req: GenerationRequest, id: number): string {
  if (req.tokensAsIds || !ctx.tokenizer) return `token_id:${id}`;
  return ctx.tokenizer.decode([id], { skipSpecialTokens: false });
}

function decode(ctx: ResponseContext, ids: readonly number[]): string {
  return ctx.tokenizer ? ctx.tokenizer.decode(ids, { skipSpecialTokens: true }) : "";
}

function usage(req: GenerationRequest, results: readonly RowResult[]) {
  const prompt = req.prompts.reduce((a, p) => a + p.length, 0);
  const completion = results.reduce((a, r) => a + r.ids.length, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function id(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().replaceAll("-", "")}`;
}

// The completions API's logprobs object over `ids`; `scored[i]` scores ids[i] (null for the first
// prompt token, which nothing predicts). Offsets are character offsets into the choice's text.
function completionLogprobs(
  ctx: ResponseContext,
  req: GenerationRequest,
  ids: readonly number[],
  scored: readonly (TokenLogprob | null)[],
) {
  const tokens = ids.map((t) => tokenText(ctx, req, t));
  const offsets: number[] = [];
  for (let i = 0; i < ids.length; i++) offsets.push(decode(ctx, ids.slice(0, i)).length);
  return {
    tokens,
    token_logprobs: scored.map((s) => s?.logprob ?? null),
    top_logprobs: req.logprobs! > 0
      ? scored.map((s) => s ? Object.fromEntries(s.top.map(([t, lp]) => [tokenText(ctx, req, t), lp])) : null)
      : null,
    text_offset: offsets,
  };
}

/** The body of a `/v1/completions` answer: choices prompt-major (index p·n + j). */
export function completionResponse(
  ctx: ResponseContext,
  req: GenerationRequest,
  results: readonly RowResult[],
) {
  return {
    id: id("cmpl"),
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: ctx.model,
    choices: results.map((r, index) => {
      const prompt = req.prompts[Math.floor(index / req.n)];
      const shownIds = req.echo ? [...prompt, ...r.ids] : r.ids;
      const scored = req.echo ? [null, ...r.promptLogprobs ?? [], ...r.logprobs ?? []] : r.logprobs ?? [];
      return {
        index,
        text: (req.echo ? decode(ctx, prompt) : "") + r.text,
        logprobs: req.logprobs === null ? null : completionLogprobs(ctx, req, shownIds, scored),
        finish_reason: r.finishReason,
        stop_reason: r.stopString,
        ...(req.returnTokenIds ? { prompt_token_ids: prompt, token_ids: r.ids } : {}),
      };
    }),
    usage: usage(req, results),
  };
}

function chatEntry(ctx: ResponseContext, req: GenerationRequest, id: number, logprob: number) {
  const token = tokenText(ctx, req, id);
  return { token, logprob, bytes: Array.from(new TextEncoder().encode(token)) };
}

/** The body of a `/v1/chat/completions` answer. */
export function chatResponse(ctx: ResponseContext, req: GenerationRequest, results: readonly RowResult[]) {
  return {
    id: id("chatcmpl"),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: ctx.model,
    choices: results.map((r, index) => ({
      index,
      message: { role: "assistant", content: r.text },
      logprobs: req.logprobs === null ? null : {
        content: r.ids.map((t, i) => ({
          ...chatEntry(ctx, req, t, r.logprobs![i].logprob),
          top_logprobs: r.logprobs![i].top.map(([alt, lp]) => chatEntry(ctx, req, alt, lp)),
        })),
      },
      finish_reason: r.finishReason,
      stop_reason: r.stopString,
      ...(req.returnTokenIds ? { token_ids: r.ids } : {}),
    })),
    usage: usage(req, results),
    ...(req.returnTokenIds ? { prompt_token_ids: req.prompts[0] } : {}),
  };
}

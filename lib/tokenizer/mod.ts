/**
 * Tokenizers from a model folder's `tokenizer.json`, chat templates and streaming decoding.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./mod.ts";
 * const tokenizer = await loadTokenizer("models/Qwen2.5-0.5B-Instruct");
 * tokenizer.decode(tokenizer.encode("hello")); // "hello"
 * ```
 *
 * @module
 */

export {
  createTokenizer,
  type DecodeOptions,
  type EncodeOptions,
  loadTokenizer,
  type LoadTokenizerOptions,
  type ModelSpecialIds,
  Tokenizer,
  type TokenizerSources,
} from "./tokenizer.ts";
export {
  type ChatMessage,
  ChatTemplate,
  type ChatTemplateOptions,
  RESERVED_CHAT_TEMPLATE_VARIABLES,
} from "./chat_template.ts";
export { StreamDecoder } from "./stream_decoder.ts";
export { TokenizerError } from "./errors.ts";

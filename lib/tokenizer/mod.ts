/**
 * Tokenizers and chat templates: `tokenizer.json` through `@huggingface/tokenizers`, templates through
 * `@huggingface/jinja`.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./lib/tokenizer/mod.ts";
 * const tok = await loadTokenizer("models/Qwen2.5-0.5B-Instruct");
 * tok.encode("Hello world"); // [9707, 1879]
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
  selectChatTemplate,
} from "./chat_template.ts";
export { type DecodeFn, StreamDecoder } from "./stream_decoder.ts";
export { TokenizerError } from "./errors.ts";

/**
 * Loads a Hugging Face tokenizer directory (`tokenizer.json`, `tokenizer_config.json`, optional
 * `chat_template.jinja`, and the EOS / pad ids from `config.json` and `generation_config.json`).
 *
 * @module
 */

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { join } from "node:path";
import {
  type ChatMessage,
  ChatTemplate,
  type ChatTemplateOptions,
  selectChatTemplate,
} from "./chat_template.ts";
import { TokenizerError } from "./errors.ts";
import { StreamDecoder } from "./stream_decoder.ts";

/** Options for {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** Add the special tokens the tokenizer's post-processor adds (e.g. Llama's BOS). Default true. */
  addSpecialTokens?: boolean;
}

/** Options for {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Leave special tokens (`<|im_end|>`, ...) out of the text. Default false. */
  skipSpecialTokens?: boolean;
}

/** Token ids a model directory declares outside the tokenizer files. */
export interface ModelSpecialIds {
  /** `eos_token_id` (a single id or a list). */
  eosTokenIds?: readonly number[];
  /** `pad_token_id`. */
  padTokenId?: number;
  /** `bos_token_id`. */
  bosTokenId?: number;
}

/** Everything {@link createTokenizer} needs; {@link loadTokenizer} reads these from a directory. */
export interface TokenizerSources {
  /** Parsed `tokenizer.json`. */
  tokenizerJson: unknown;
  /** Parsed `tokenizer_config.json` (empty when the model has none). */
  tokenizerConfig?: Record<string, unknown>;
  /** Contents of `chat_template.jinja`, which takes precedence over `tokenizer_config.json`'s template. */
  chatTemplateJinja?: string;
  /** Ids from `generation_config.json` (searched first for EOS). */
  generationConfig?: ModelSpecialIds;
  /** Ids from `config.json`. */
  modelConfig?: ModelSpecialIds;
  /** Where the files came from, for error messages. */
  source?: string;
  /** Name of the template to use when `chat_template` is a list (default "default"). */
  chatTemplateName?: string;
}

/** Turns a special-token entry (a string or an AddedToken object) into its text. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "object" && v !== null && typeof (v as { content?: unknown }).content === "string") {
    return (v as { content: string }).content;
  }
  return undefined;
}

const SPECIAL_TOKEN_FIELDS = [
  "bos_token",
  "eos_token",
  "unk_token",
  "sep_token",
  "pad_token",
  "cls_token",
  "mask_token",
] as const;

/**
 * A text tokenizer with the model's chat template and stop ids.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./mod.ts";
 * const tokenizer = await loadTokenizer("scripts/assets/arith-tiny");
 * const ids = tokenizer.encode("12+7=");
 * console.log(ids, tokenizer.decode(ids));
 * ```
 */
export class Tokenizer {
  /** Ids that end generation: generation_config.json, then config.json, then tokenizer_config's eos_token. */
  readonly eosTokenIds: readonly number[];
  /** Padding id: tokenizer_config's pad_token, else the configs' pad_token_id, else the first EOS id. */
  readonly padTokenId: number;
  /** Beginning-of-sequence id, when the model has one. */
  readonly bosTokenId: number | undefined;
  /** Number of token ids the tokenizer can produce (largest id + 1); the model's vocabSize may be larger. */
  readonly vocabSize: number;
  /** Ids of special tokens (those {@link DecodeOptions.skipSpecialTokens} removes). */
  readonly specialTokenIds: ReadonlySet<number>;
  /** Special-token strings by role (`bos_token`, `eos_token`, `pad_token`, ...), as the template sees them. */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** The chat template, when the model ships one. */
  readonly chatTemplate: ChatTemplate | undefined;
  /** Where the tokenizer was loaded from. */
  readonly source: string;

  private readonly hf: HfTokenizer;

  /** Builds a tokenizer from already-parsed files (see {@link loadTokenizer} for directories). */
  constructor(sources: TokenizerSources) {
    const source = sources.source ?? "tokenizer";
    this.source = source;
    const config = sources.tokenizerConfig ?? {};
    try {
      this.hf = new HfTokenizer(sources.tokenizerJson as object, config);
    } catch (e) {
      throw new TokenizerError(`${source}: cannot build the tokenizer: ${(e as Error).message}`, {
        cause: e,
      });
    }

    const vocab = this.hf.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    const special = new Set<number>();
    for (const [id, token] of this.hf.get_added_tokens_decoder()) if (token.special) special.add(id);
    const extra = config.additional_special_tokens;
    if (Array.isArray(extra)) {
      for (const t of extra) {
        const id = this.lookup(tokenText(t));
        if (id !== undefined) special.add(id);
      }
    }
    this.specialTokenIds = special;

    const specialTokens: Record<string, string> = {};
    for (const field of SPECIAL_TOKEN_FIELDS) {
      const text = tokenText(config[field]);
      if (text !== undefined) specialTokens[field] = text;
    }
    this.specialTokens = specialTokens;

    const configTokenId = (field: string): number | undefined => {
      const text = specialTokens[field];
      if (text === undefined) return undefined;
      const id = this.lookup(text);
      if (id === undefined) {
        throw new TokenizerError(
          `${source}: tokenizer_config.json ${field} "${text}" is not in the vocabulary`,
        );
      }
      return id;
    };

    const eos: number[] = [];
    for (
      const id of [
        ...(sources.generationConfig?.eosTokenIds ?? []),
        ...(sources.modelConfig?.eosTokenIds ?? []),
        configTokenId("eos_token"),
      ]
    ) {
      if (id !== undefined && !eos.includes(id)) eos.push(id);
    }
    if (eos.length === 0) {
      throw new TokenizerError(
        `${source}: no end-of-sequence token: set eos_token_id in generation_config.json or config.json, ` +
          `or eos_token in tokenizer_config.json`,
      );
    }
    this.eosTokenIds = eos;
    this.padTokenId = configTokenId("pad_token") ?? sources.generationConfig?.padTokenId ??
      sources.modelConfig?.padTokenId ?? eos[0];
    this.bosTokenId = configTokenId("bos_token") ?? sources.generationConfig?.bosTokenId ??
      sources.modelConfig?.bosTokenId;

    const templateSource = selectChatTemplate(
      config.chat_template,
      sources.chatTemplateJinja,
      source,
      sources.chatTemplateName,
    );
    this.chatTemplate = templateSource === undefined
      ? undefined
      : new ChatTemplate(templateSource, specialTokens, `${source} chat template`);
  }

  /** Id of a token text (undefined text or unknown token: undefined). */
  private lookup(text: string | undefined): number | undefined {
    return text === undefined ? undefined : this.hf.token_to_id(text);
  }

  /** Token ids of `text`. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const { ids } = this.hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true });
    const bad = ids.findIndex((id) => typeof id !== "number");
    if (bad >= 0) {
      throw new TokenizerError(
        `${this.source}: cannot encode ${JSON.stringify(text)}: piece ${bad} has no id`,
      );
    }
    return ids;
  }

  /**
   * Text of `ids`. Ids past the tokenizer's vocabulary (the padding rows of a model's embedding) decode to
   * nothing, as in transformers; negative or fractional ids throw.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const list = Array.from(ids);
    for (const id of list) {
      if (!Number.isInteger(id) || id < 0) throw new TokenizerError(`${this.source}: invalid token id ${id}`);
    }
    if (list.length === 0) return "";
    return this.hf.decode(list, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** A {@link StreamDecoder} that emits text as ids arrive. */
  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    return new StreamDecoder((ids) => this.decode(ids, options));
  }

  /** The prompt text for a conversation, rendered with the model's chat template. */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (!this.chatTemplate) {
      throw new TokenizerError(
        `${this.source}: the model ships no chat template (no chat_template in tokenizer_config.json and no ` +
          `chat_template.jinja); format prompts yourself or add one`,
      );
    }
    return this.chatTemplate.render(messages, options);
  }

  /**
   * Token ids of a conversation. The template already writes any BOS text, so no special tokens are added
   * on top (as transformers' `apply_chat_template(tokenize=True)` does).
   */
  encodeChat(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, options), { addSpecialTokens: false });
  }

  /** Id of a token string, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** Token string of an id, or undefined when the id is past the vocabulary. */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** Whether `id` is a special token. */
  isSpecial(id: number): boolean {
    return this.specialTokenIds.has(id);
  }
}

/** Builds a tokenizer from already-parsed files. */
export function createTokenizer(sources: TokenizerSources): Tokenizer {
  return new Tokenizer(sources);
}

/** Options for {@link loadTokenizer}. */
export interface LoadTokenizerOptions {
  /** Name of the template to use when `chat_template` is a list (default "default"). */
  chatTemplateName?: string;
}

async function readOptionalText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function readOptionalJson(path: string): Promise<Record<string, unknown> | undefined> {
  const text = await readOptionalText(path);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${path}: is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TokenizerError(`${path}: must contain a JSON object`);
  }
  return json as Record<string, unknown>;
}

function isTokenId(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

/** Reads eos/pad/bos ids from a config object, naming the file when a field has the wrong type. */
function specialIdsOf(json: Record<string, unknown> | undefined, path: string): ModelSpecialIds | undefined {
  if (!json) return undefined;
  const one = (field: string): number | undefined => {
    const v = json[field];
    if (v === undefined || v === null) return undefined;
    if (!isTokenId(v)) {
      throw new TokenizerError(`${path}: field "${field}" must be a token id, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const eos = json.eos_token_id;
  let eosTokenIds: number[] = [];
  if (isTokenId(eos)) eosTokenIds = [eos];
  else if (Array.isArray(eos) && eos.every(isTokenId)) eosTokenIds = eos;
  else if (eos !== undefined && eos !== null) {
    throw new TokenizerError(
      `${path}: field "eos_token_id" must be a token id or a list of ids, got ${JSON.stringify(eos)}`,
    );
  }
  return { eosTokenIds, padTokenId: one("pad_token_id"), bosTokenId: one("bos_token_id") };
}

/**
 * Loads the tokenizer of a model directory.
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer("models/Qwen2.5-0.5B-Instruct");
 * const prompt = tok.applyChatTemplate([{ role: "user", content: "Hi" }], { addGenerationPrompt: true });
 * const ids = tok.encode(prompt, { addSpecialTokens: false });
 * ```
 */
export async function loadTokenizer(dir: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  const tokenizerPath = join(dir, "tokenizer.json");
  const tokenizerJson = await readOptionalJson(tokenizerPath);
  if (!tokenizerJson) {
    throw new TokenizerError(
      `${tokenizerPath}: not found; rlif needs a fast-tokenizer tokenizer.json (vocab.json/merges.txt or ` +
        `sentencepiece .model files alone are not enough)`,
    );
  }
  const configPath = join(dir, "config.json");
  const generationPath = join(dir, "generation_config.json");
  return new Tokenizer({
    tokenizerJson,
    tokenizerConfig: await readOptionalJson(join(dir, "tokenizer_config.json")),
    chatTemplateJinja: await readOptionalText(join(dir, "chat_template.jinja")),
    generationConfig: specialIdsOf(await readOptionalJson(generationPath), generationPath),
    modelConfig: specialIdsOf(await readOptionalJson(configPath), configPath),
    source: dir,
    chatTemplateName: options.chatTemplateName,
  });
}

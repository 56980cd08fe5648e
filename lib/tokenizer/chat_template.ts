/**
 * Chat templates: the Jinja program a model ships to turn a conversation into its prompt text.
 *
 * @module
 */

import { Template } from "@huggingface/jinja";
import { TokenizerError } from "./errors.ts";

/** One conversation turn; extra fields (tool calls, reasoning_content, ...) pass through to the template. */
export interface ChatMessage {
  /** Speaker: "system", "user", "assistant" or "tool". */
  role: string;
  /** Text of the turn. */
  content: string;
  /** Template-specific fields. */
  [field: string]: unknown;
}

/**
 * Variables {@link ChatTemplate.render} sets itself; extra variables may not replace them (transformers'
 * `apply_chat_template(**kwargs)` refuses them as duplicate arguments).
 */
export const RESERVED_CHAT_TEMPLATE_VARIABLES: readonly string[] = ["messages", "add_generation_prompt"];

/** Options for {@link ChatTemplate.render}. */
export interface ChatTemplateOptions {
  /** Append the header that opens the assistant's turn (default false, like transformers). */
  addGenerationPrompt?: boolean;
  /** Extra template variables, e.g. `{ enable_thinking: false }` for Qwen3 or `{ tools: [...] }`. */
  variables?: Record<string, unknown>;
}

/** A parsed chat template plus the special-token strings transformers puts in its context. */
export class ChatTemplate {
  private readonly template: Template;

  /**
   * Parses `source`; `specialTokens` (bos_token, eos_token, ...) become template variables and `origin`
   * names where the template came from in error messages.
   */
  constructor(
    /** The Jinja source. */
    readonly source: string,
    private readonly specialTokens: Record<string, string> = {},
    private readonly origin = "chat template",
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new TokenizerError(`${origin}: cannot parse the Jinja template: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /**
   * Renders a conversation to prompt text.
   *
   * @example
   * ```ts
   * template.render([{ role: "user", content: "2+2?" }], { addGenerationPrompt: true });
   * // "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n" for ChatML models
   * ```
   */
  render(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (messages.length === 0) {
      throw new TokenizerError(`${this.origin}: cannot render an empty conversation`);
    }
    for (const [i, m] of messages.entries()) {
      if (typeof m.role !== "string" || typeof m.content !== "string") {
        throw new TokenizerError(
          `${this.origin}: message ${i} must have string "role" and "content", got ${JSON.stringify(m)}`,
        );
      }
    }
    const reserved = Object.keys(options.variables ?? {}).filter((k) =>
      RESERVED_CHAT_TEMPLATE_VARIABLES.includes(k)
    );
    if (reserved.length > 0) {
      throw new TokenizerError(
        `${this.origin}: the template variables may not set ${reserved.join(", ")}; pass the conversation ` +
          `as messages and addGenerationPrompt instead`,
      );
    }
    try {
      return this.template.render({
        ...this.specialTokens,
        ...options.variables,
        messages,
        add_generation_prompt: options.addGenerationPrompt ?? false,
      });
    } catch (e) {
      throw new TokenizerError(`${this.origin}: rendering failed: ${(e as Error).message}`, { cause: e });
    }
  }
}

/**
 * Picks the template source from what a model directory ships: a `chat_template.jinja` file wins over
 * `tokenizer_config.json`'s `chat_template`, which may be a string or a list of named templates (`name`
 * chooses one, default "default"). Returns undefined when the model has no template.
 */
export function selectChatTemplate(
  fromConfig: unknown,
  fromJinjaFile: string | undefined,
  origin: string,
  name?: string,
): string | undefined {
  if (fromJinjaFile !== undefined) return fromJinjaFile;
  if (fromConfig === undefined || fromConfig === null) return undefined;
  if (typeof fromConfig === "string") {
    if (name !== undefined && name !== "default") {
      throw new TokenizerError(`${origin}: has a single chat_template, no template named "${name}"`);
    }
    return fromConfig;
  }
  if (Array.isArray(fromConfig)) {
    const named = new Map<string, string>();
    for (const entry of fromConfig) {
      const e = entry as { name?: unknown; template?: unknown } | null;
      if (typeof e?.name !== "string" || typeof e.template !== "string") {
        throw new TokenizerError(`${origin}: chat_template list entries must be {name, template} strings`);
      }
      named.set(e.name, e.template);
    }
    const want = name ?? "default";
    const found = named.get(want);
    if (found === undefined) {
      throw new TokenizerError(
        `${origin}: no chat template named "${want}"; available: ${[...named.keys()].join(", ")}`,
      );
    }
    return found;
  }
  throw new TokenizerError(`${origin}: chat_template must be a string or a list of {name, template}`);
}

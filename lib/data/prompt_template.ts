/**
 * Prompt templates: a Jinja file (rendered by `@huggingface/jinja`) that turns an example's fields into
 * the prompt, either as plain text for a base model or as chat messages that the model's own chat
 * template wraps.
 *
 * A template sees the example's fields (`problem`, `target`, `nums`, ...) and two variables:
 * - `chat`: true when the prompt goes through the model's chat template;
 * - `role`: in chat mode the template is rendered three times, with `role` = `"system"`, `"user"` and
 *   `"assistant"`; the outputs become the system message (omitted when empty), the user message, and a
 *   prefill appended after the assistant header (the start of the model's answer, e.g. `<think>`).
 *   Without a chat template it is rendered once with `role` = `"plain"`, and the output is the whole
 *   prompt.
 *
 * A template whose code (inside `{{ }}` / `{% %}`) never mentions `role` is just the user message (chat) or the prompt (plain). The
 * system and user messages are trimmed; the prefill and the plain prompt are kept exactly, since their
 * whitespace is what the model continues from. As in Jinja's default, one trailing newline of the file
 * is dropped. Using a variable the example does not have is an error, unless the template tests it with
 * `is defined` / `is undefined` / `is none` or gives it a `| default(...)`.
 *
 * @module
 */

import { Environment, Interpreter, Template } from "@huggingface/jinja";
import { DataError } from "./errors.ts";

/**
 * One chat message handed to the model's chat template (a type literal rather than an interface, so it
 * passes where the tokenizer takes messages with extra fields).
 */
export type PromptMessage = {
  /** "system" or "user". */
  role: string;
  /** The message text. */
  content: string;
};

/**
 * The model's chat template, as a callback so data code does not depend on the tokenizer: it gets the
 * messages and must return the prompt text (with the assistant header when `addGenerationPrompt`),
 * rendered with `variables` as extra template variables (`Tokenizer.applyChatTemplate` takes both).
 */
export type ApplyChatTemplate = (
  messages: PromptMessage[],
  options: { addGenerationPrompt: boolean; variables?: Record<string, unknown> },
) => string;

/** The pieces of a chat-mode prompt. */
export interface PromptParts {
  /** System message, or null when the template renders none. */
  system: string | null;
  /** User message. */
  user: string;
  /** Text that opens the assistant's turn ("" for none). */
  prefill: string;
}

/** Options for {@link PromptTemplate.render}. */
export interface RenderPromptOptions {
  /** Wrap the prompt in the model's chat template; without it the template's plain form is used. */
  applyChatTemplate?: ApplyChatTemplate;
  /**
   * Extra variables of the chat template (`data.chat_template_kwargs`, e.g. `{ enable_thinking: false }`
   * for Qwen3), handed to `applyChatTemplate` as its `variables`; unused without it.
   */
  chatTemplateKwargs?: Record<string, unknown>;
}

/** Names the template context reserves; dataset fields may not use them. */
export const RESERVED_TEMPLATE_NAMES: readonly string[] = ["role", "chat"];

const GLOBALS: Record<string, unknown> = {
  true: true,
  false: false,
  none: null,
  True: true,
  False: false,
  None: null,
  raise_exception: (message: unknown) => {
    throw new Error(String(message));
  },
};

/** Names the template guards itself (`x is defined`, `x | default(...)`), so their absence is fine. */
function guardedNames(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(/\b([A-Za-z_]\w*)\s+is\s+(?:not\s+)?(?:defined|undefined|none)\b/g)) {
    names.add(m[1]);
  }
  for (const m of source.matchAll(/\b([A-Za-z_]\w*)\s*\|\s*(?:default|d)\b/g)) names.add(m[1]);
  return names;
}

/** A parsed prompt template. */
export class PromptTemplate {
  private readonly template: Template;
  private readonly guarded: Set<string>;
  /** Whether the template mentions `role`, i.e. renders system / user / assistant parts separately. */
  readonly usesRoles: boolean;

  /**
   * Parses `source`; `origin` (usually the file path) names the template in errors.
   *
   * @example
   * ```ts
   * import { PromptTemplate } from "./mod.ts";
   * new PromptTemplate("{{ problem }} Put the answer in \\boxed{}.").render({ problem: "1+1?" });
   * // "1+1? Put the answer in \\boxed{}."
   * ```
   */
  constructor(readonly source: string, readonly origin = "prompt template") {
    // @huggingface/jinja drops one trailing newline itself, as Jinja does by default.
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new DataError(`${origin}: cannot parse the Jinja template: ${(e as Error).message}`, {
        cause: e,
      });
    }
    // Only what sits inside {{ }} and {% %} is code; comments and literal text may say "role" freely.
    const code = [...source.matchAll(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g)].map((m) => m[0]).join("\n");
    this.guarded = guardedNames(code);
    this.usesRoles = /\brole\b/.test(code);
  }

  /** Renders the template once with `role` and `chat` set, failing on variables the example lacks. */
  private run(fields: Record<string, unknown>, role: string, chat: boolean): string {
    for (const name of RESERVED_TEMPLATE_NAMES) {
      if (Object.hasOwn(fields, name)) {
        throw new DataError(
          `${this.origin}: the example has a field "${name}", a name templates reserve; rename it`,
        );
      }
    }
    const env = new Environment();
    for (const [k, v] of Object.entries(GLOBALS)) env.set(k, v);
    for (const [k, v] of Object.entries(fields)) env.set(k, v);
    env.set("role", role);
    env.set("chat", chat);
    // Every variable lookup, from any scope, ends at the root's resolve when nothing declares the name;
    // recording those names is how an unknown field is caught instead of rendering as "".
    const missing = new Set<string>();
    const root = env as unknown as { resolve?: (name: string) => unknown };
    const resolve = root.resolve;
    if (typeof resolve === "function") {
      root.resolve = function (this: unknown, name: string) {
        try {
          return resolve.call(this, name);
        } catch (e) {
          missing.add(name);
          throw e;
        }
      };
    }
    let out: string;
    try {
      out = String(new Interpreter(env).run(this.template.parsed).value);
    } catch (e) {
      throw new DataError(`${this.origin}: rendering failed (role "${role}"): ${(e as Error).message}`, {
        cause: e,
      });
    }
    const unknown = [...missing].filter((n) => !this.guarded.has(n));
    if (unknown.length > 0) {
      throw new DataError(
        `${this.origin}: the template uses ${
          unknown.map((n) => `"${n}"`).join(", ")
        }, which the example does not ` +
          `have (its fields: ${Object.keys(fields).join(", ") || "none"})`,
      );
    }
    return out;
  }

  /**
   * The chat-mode pieces for `fields`.
   *
   * @example
   * ```ts
   * const parts = template.parts({ problem: "1+1?" });
   * // { system: "You are a helpful AI Assistant ...", user: "1+1?", prefill: "" }
   * ```
   */
  parts(fields: Record<string, unknown>): PromptParts {
    if (!this.usesRoles) return { system: null, user: this.run(fields, "user", true).trim(), prefill: "" };
    const system = this.run(fields, "system", true).trim();
    const user = this.run(fields, "user", true).trim();
    if (user === "") throw new DataError(`${this.origin}: renders an empty user message (role "user")`);
    return { system: system === "" ? null : system, user, prefill: this.run(fields, "assistant", true) };
  }

  /** The plain-text prompt for `fields` (no chat template), rendered with `role` = "plain". */
  plain(fields: Record<string, unknown>): string {
    const text = this.run(fields, this.usesRoles ? "plain" : "user", false);
    if (text.trim() === "") {
      throw new DataError(
        `${this.origin}: renders an empty plain prompt; add a {% if role == "plain" %} branch or use a chat template`,
      );
    }
    return text;
  }

  /**
   * The prompt text: through `applyChatTemplate` (messages, generation prompt, then the prefill) when
   * given, with `chatTemplateKwargs` as the chat template's variables; else the plain form.
   *
   * @example
   * ```ts
   * import { loadPromptTemplate } from "./mod.ts";
   * const t = await loadPromptTemplate("configs/templates/countdown.jinja");
   * t.render({ target: 24, nums: [3, 4, 2] }); // "A conversation between User and Assistant. ..."
   * t.render({ target: 24, nums: [3, 4, 2] }, { applyChatTemplate: (m, o) => tokenizer.applyChatTemplate(m, o) });
   * // Qwen3 without its thinking block:
   * t.render({ target: 24, nums: [3, 4, 2] }, {
   *   applyChatTemplate: (m, o) => tokenizer.applyChatTemplate(m, o),
   *   chatTemplateKwargs: { enable_thinking: false },
   * });
   * ```
   */
  render(fields: Record<string, unknown>, options: RenderPromptOptions = {}): string {
    if (!options.applyChatTemplate) return this.plain(fields);
    const { system, user, prefill } = this.parts(fields);
    const messages: PromptMessage[] = system === null ? [] : [{ role: "system", content: system }];
    messages.push({ role: "user", content: user });
    const variables = options.chatTemplateKwargs;
    return options.applyChatTemplate(messages, {
      addGenerationPrompt: true,
      ...(variables === undefined ? {} : { variables }),
    }) + prefill;
  }
}

/**
 * Reads and parses a template file.
 *
 * @example
 * ```ts
 * import { loadPromptTemplate } from "./mod.ts";
 * const t = await loadPromptTemplate("configs/templates/intuitor_boxed.jinja");
 * t.render({ problem: "What is 2+3?" });
 * ```
 */
export async function loadPromptTemplate(path: string): Promise<PromptTemplate> {
  let source: string;
  try {
    source = await Deno.readTextFile(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read the prompt template: ${(e as Error).message}`, { cause: e });
  }
  return new PromptTemplate(source, path);
}

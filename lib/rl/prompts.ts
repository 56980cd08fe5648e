/**
 * The trainer's prompts: dataset rows (or a generated task) mapped to examples, rendered through the
 * Jinja prompt template (and the model's chat template when asked), and tokenized once.
 *
 * @module
 */
import { type Example, loadExamples } from "../data/fields.ts";
import { loadPromptTemplate, type RenderPromptOptions } from "../data/prompt_template.ts";
import { seededRandom, shuffled } from "../data/rng.ts";
import { type ArithmeticOp, arithmeticTask, countdownTask } from "../data/synthetic.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import type { GrpoConfig } from "./config.ts";

/** Examples with their rendered prompt text and token ids, index-aligned. */
export interface PromptSet {
  /** Mapped rows: template fields and ground truth. */
  readonly examples: Example[];
  /** Rendered prompt text. */
  readonly texts: string[];
  /** Prompt token ids. */
  readonly ids: number[][];
}

/** Examples of the config's dataset file, or of its synthetic task when `data.path` is null. */
export async function loadTrainingExamples(data: GrpoConfig["data"]): Promise<Example[]> {
  if (data.path !== null) {
    const fields: Record<string, string> = {};
    if (data.fields.problem !== null) fields.problem = data.fields.problem;
    if (data.fields.answer !== null) fields.answer = data.fields.answer;
    return await loadExamples(data.path, {
      preset: data.preset ?? undefined,
      fields: Object.keys(fields).length > 0 ? fields : undefined,
      limit: data.limit ?? undefined,
    });
  }
  const s = data.synthetic;
  const count = Math.min(s.count, data.limit ?? Infinity);
  if (s.task === "countdown") {
    return countdownTask({ count, seed: s.seed, numCount: s.num_count }).map((row, i) => ({
      fields: { target: row.target, nums: row.nums },
      answer: null,
      origin: `synthetic countdown #${i}`,
    }));
  }
  return arithmeticTask({
    count,
    seed: s.seed,
    minOperand: s.min_operand,
    maxOperand: s.max_operand,
    ops: s.ops as ArithmeticOp[],
    format: s.format,
  }).map((row, i) => ({
    fields: { problem: row.problem },
    answer: row.answer,
    origin: `synthetic arithmetic #${i}`,
  }));
}

/**
 * Renders and tokenizes every example with the config's template (through the tokenizer's chat template,
 * with `data.chat_template_kwargs` as its variables, when `data.chat_template`).
 */
export async function buildPromptSet(
  data: GrpoConfig["data"],
  examples: Example[],
  tokenizer: Tokenizer,
): Promise<PromptSet> {
  const template = await loadPromptTemplate(data.template);
  const chat: RenderPromptOptions = data.chat_template
    ? {
      applyChatTemplate: (messages, o) => tokenizer.applyChatTemplate(messages, o),
      chatTemplateKwargs: data.chat_template_kwargs,
    }
    : {};
  const texts = examples.map((e) => template.render(e.fields, chat));
  return { examples, texts, ids: texts.map((t) => tokenizer.encode(t, { addSpecialTokens: false })) };
}

/**
 * Indices of the prompts of step `step` (1-based): epochs walk the examples in an order shuffled by
 * (seed, epoch), so any step's batch follows from the seed alone — what makes resuming exact.
 */
export function stepPromptIndices(count: number, perStep: number, step: number, seed: number): number[] {
  const out: number[] = [];
  for (let k = (step - 1) * perStep; k < step * perStep; k++) {
    const epoch = Math.floor(k / count);
    out.push(epochOrder(count, seed, epoch)[k % count]);
  }
  return out;
}

const orders = new Map<string, number[]>();

function epochOrder(count: number, seed: number, epoch: number): number[] {
  const key = `${count}:${seed}:${epoch}`;
  let order = orders.get(key);
  if (!order) {
    const rand = seededRandom((Math.imul(seed, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
    order = shuffled(rand, Array.from({ length: count }, (_, i) => i));
    orders.set(key, order);
  }
  return order;
}

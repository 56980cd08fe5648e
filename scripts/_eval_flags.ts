/**
 * The flags every benchmark-evaluating script takes (scripts/eval.ts, scripts/interpolate.ts): which
 * benchmark, how many samples per problem and how to draw them, how many problems, how many per batch,
 * how the prompt is written and which grader judges the answers.
 *
 * Decoding is greedy unless the flags say otherwise, as Intuitor evaluates (§4, "Evaluation": greedy
 * decoding for all completions). URLVR's avg@32 is `--n 32 --temperature 0.6 --top-p 0.95` (§4.1.1).
 *
 * @module
 */
import { z } from "zod";
import type { Flag, Flags, ScriptCli } from "./_cli.ts";
import { RESERVED_CHAT_TEMPLATE_VARIABLES } from "../lib/tokenizer/chat_template.ts";
import { type BenchmarkName, BENCHMARKS } from "../lib/bench/benchmarks.ts";
import { type GraderName, GRADERS } from "../lib/grading/grade.ts";

/**
 * `--chat-template-kwargs`: extra variables of the model's chat template, as transformers'
 * `apply_chat_template(**kwargs)` takes them (the scripts' form of a config's `data.chat_template_kwargs`).
 */
export const CHAT_TEMPLATE_KWARGS_FLAG = {
  arg: "JSON",
  doc: `extra chat template variables as a JSON object, e.g. '{"enable_thinking": false}' for Qwen3 ` +
    "without its thinking block",
  defaultText: "none",
} as const satisfies Flag;

/**
 * The `--chat-template-kwargs` object of a parsed `cli` (undefined when absent); a value that is not a
 * JSON object, or that sets a variable the renderer sets itself, is a usage failure naming the flag.
 */
export function readChatTemplateKwargs(cli: ScriptCli): Record<string, unknown> | undefined {
  const kwargs = cli.jsonObject("chat-template-kwargs", `'{"enable_thinking": false}'`);
  const reserved = Object.keys(kwargs ?? {}).filter((k) => RESERVED_CHAT_TEMPLATE_VARIABLES.includes(k));
  if (reserved.length > 0) {
    cli.fail(
      `--chat-template-kwargs may not set ${reserved.join(", ")}: the prompt renderer sets ` +
        `${RESERVED_CHAT_TEMPLATE_VARIABLES.join(" and ")} itself`,
    );
  }
  return kwargs;
}

/** The flag table of those flags, to spread into a script's own (`--out` is the script's). */
export const EVAL_FLAGS = {
  data: {
    arg: "FILE",
    doc: "benchmark file: MATH-500 .jsonl (problem, answer), GSM8K or MATH-12k .parquet",
    required: true,
  },
  benchmark: {
    arg: "NAME",
    doc: `${BENCHMARKS.join(" | ")}`,
    defaultText: "detected from the file's fields",
  },
  n: {
    arg: "N",
    doc: "samples per problem; avg@N is reported, and pass@k and maj@k when N > 1 (URLVR's avg@32: " +
      "--n 32 --temperature 0.6 --top-p 0.95)",
    default: "1",
  },
  temperature: {
    arg: "T",
    doc: "sampling temperature",
    default: "0",
    defaultNote: "greedy, as Intuitor evaluates",
  },
  "top-p": { arg: "P", doc: "nucleus sampling mass, in (0, 1]", default: "1" },
  "max-new-tokens": {
    arg: "M",
    doc: "generation limit per sample; fewer when the model's context has less room after the prompt",
    default: "1024",
  },
  limit: { arg: "K", doc: "evaluate the first K problems only", defaultText: "all problems" },
  seed: { arg: "S", doc: "sampling seed", default: "0" },
  "batch-size": { arg: "B", doc: "prompts per generation call", default: "32" },
  template: { arg: "STR", doc: "prompt with a {question} placeholder", defaultText: "the benchmark's" },
  "no-chat": { doc: "send the prompt as raw text instead of through the chat template" },
  "chat-template-kwargs": CHAT_TEMPLATE_KWARGS_FLAG,
  grader: {
    arg: "NAME",
    doc: `grader of accuracy, pass@k and maj@k: ${GRADERS.join(" | ")} (GSM8K also reports the ` +
      `harness's strict and flexible matches)`,
    default: "rlif",
  },
} as const satisfies Flags;

/** The `--data` file both scripts read, for their help. */
export const EVAL_INPUT = {
  from: "--data",
  format: "one problem per JSON line (MATH-500: problem, answer) or a Parquet file (GSM8K: question, " +
    "answer with a final '#### N' line; MATH-12k: problem, answer)",
  example: '{"problem": "What is 12+7?", "answer": "19", "unique_id": "p1"}',
};

/** The evaluation settings the flags give, with their defaults filled in. */
export interface EvalFlags {
  /** The benchmark named by `--benchmark`; undefined to detect it from the file's fields. */
  benchmark: BenchmarkName | undefined;
  /** Samples per problem (default 1). */
  n: number;
  /** Sampling temperature (default 0: greedy). */
  temperature: number;
  /** Nucleus sampling mass in (0, 1] (default 1: the whole distribution). */
  topP: number;
  /** Generation limit per sample (default 1024). */
  maxNewTokens: number;
  /** How many problems from the start of the file to evaluate (default all: Infinity). */
  limit: number;
  /** Sampling seed (default 0). */
  seed: number;
  /** Prompts per generation call (default 32). */
  batchSize: number;
  /** `--template`: the prompt with a {question} placeholder; undefined for the benchmark's own. */
  template: string | undefined;
  /** Whether prompts go through the chat template (false with `--no-chat`). */
  chat: boolean;
  /** `--chat-template-kwargs`: extra variables of the chat template; undefined for none. */
  chatTemplateKwargs: Record<string, unknown> | undefined;
  /** The grader of accuracy, pass@k and maj@k (default rlif). */
  grader: GraderName;
}

/** Reads the evaluation flags of a parsed `cli`; a value out of range is a usage failure naming the flag. */
export function readEvalFlags(cli: ScriptCli): EvalFlags {
  const positiveInteger = z.number().int().min(1);
  const template = cli.string("template");
  const chat = !cli.switchedOn("no-chat");
  const chatTemplateKwargs = readChatTemplateKwargs(cli);
  if (chatTemplateKwargs !== undefined && !chat) {
    cli.fail("--chat-template-kwargs only reaches the chat template, which --no-chat turns off; drop one");
  }
  return {
    benchmark: cli.oneOf("benchmark", BENCHMARKS),
    n: cli.number("n", positiveInteger),
    temperature: cli.number("temperature", z.number().min(0)),
    topP: cli.number("top-p", z.number().gt(0).max(1)),
    maxNewTokens: cli.number("max-new-tokens", positiveInteger),
    limit: cli.number("limit", positiveInteger, Infinity),
    seed: cli.number("seed", z.number().int()),
    batchSize: cli.number("batch-size", positiveInteger),
    template: template !== undefined && !template.includes("{question}")
      ? cli.fail(`--template ${JSON.stringify(template)} must contain the placeholder {question}`)
      : template,
    chat,
    chatTemplateKwargs,
    grader: cli.oneOf("grader", GRADERS) ?? "rlif",
  };
}

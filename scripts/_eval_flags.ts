/**
 * The flags every benchmark-evaluating script takes (scripts/eval.ts, scripts/interpolate.ts): which
 * benchmark, how many samples per problem and how to draw them, how many problems, how many per batch.
 *
 * Decoding is greedy unless the flags say otherwise, as Intuitor evaluates (§4, "Evaluation": greedy
 * decoding for all completions). URLVR's avg@32 is `--n 32 --temperature 0.6 --top-p 0.95` (§4.1.1).
 *
 * @module
 */
import { z } from "zod";
import type { ScriptCli } from "./_cli.ts";
import { type BenchmarkName, BENCHMARKS } from "../lib/bench/benchmarks.ts";
import { type GraderName, GRADERS } from "../lib/grading/grade.ts";

/** The `parseArgs` options of those flags, to spread into a script's own. */
export const EVAL_FLAG_OPTIONS = {
  data: { type: "string" },
  benchmark: { type: "string" },
  n: { type: "string" },
  temperature: { type: "string" },
  "top-p": { type: "string" },
  "max-new-tokens": { type: "string" },
  limit: { type: "string" },
  seed: { type: "string" },
  "batch-size": { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
  template: { type: "string" },
  "no-chat": { type: "boolean" },
  grader: { type: "string" },
} as const;

/** The usage lines of the prompt and grading flags, shared so that both scripts describe them alike. */
export const PROMPT_FLAG_USAGE =
  `  --template STR         prompt with a {question} placeholder (default: the benchmark's)
  --no-chat              send the prompt as raw text instead of through the chat template
  --grader NAME          grader of accuracy, pass@k and maj@k: ${GRADERS.join(" | ")}
                         (default rlif; GSM8K also reports the harness's strict and flexible matches)`;

/** The flags' values as `parseArgs` returns them. */
export interface EvalFlagValues {
  /** `--benchmark`. */
  benchmark?: string;
  /** `--n`. */
  n?: string;
  /** `--temperature`. */
  temperature?: string;
  /** `--top-p`. */
  "top-p"?: string;
  /** `--max-new-tokens`. */
  "max-new-tokens"?: string;
  /** `--limit`. */
  limit?: string;
  /** `--seed`. */
  seed?: string;
  /** `--batch-size`. */
  "batch-size"?: string;
  /** `--template`. */
  template?: string;
  /** `--no-chat`. */
  "no-chat"?: boolean;
  /** `--grader`. */
  grader?: string;
}

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
  /** Prompt template with a `{question}` placeholder; undefined for the benchmark's. */
  template: string | undefined;
  /** Whether prompts go through the model's chat template (default true; false with `--no-chat`). */
  chat: boolean;
  /** Grader of accuracy, pass@k and maj@k (default "rlif"). */
  grader: GraderName;
}

/** Reads the evaluation flags; a value out of range is a usage failure of `cli` naming the flag. */
export function readEvalFlags(cli: ScriptCli, values: EvalFlagValues): EvalFlags {
  const positiveInteger = z.number().int().min(1);
  return {
    benchmark: cli.oneOf(values.benchmark, "benchmark", BENCHMARKS),
    n: cli.number(values.n, "n", 1, positiveInteger),
    temperature: cli.number(values.temperature, "temperature", 0, z.number().min(0)),
    topP: cli.number(values["top-p"], "top-p", 1, z.number().gt(0).max(1)),
    maxNewTokens: cli.number(values["max-new-tokens"], "max-new-tokens", 1024, positiveInteger),
    limit: cli.number(values.limit, "limit", Infinity, positiveInteger),
    seed: cli.number(values.seed, "seed", 0, z.number().int()),
    batchSize: cli.number(values["batch-size"], "batch-size", 32, positiveInteger),
    template: values.template !== undefined && !values.template.includes("{question}")
      ? cli.fail(`--template must contain the {question} placeholder; got "${values.template}"`)
      : values.template,
    chat: !values["no-chat"],
    grader: cli.oneOf(values.grader, "grader", GRADERS) ?? "rlif",
  };
}

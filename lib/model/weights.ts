/**
 * The Hugging Face parameter names and shapes a Qwen2, Qwen3, Llama or OLMo-2 config implies, and a validator that compares
 * a checkpoint against them before any weight reaches the GPU.
 *
 * @module
 */

import { RlifError } from "../errors.ts";
import type { ModelConfig } from "./config.ts";

/** Embedding matrix name. */
export const EMBED_TOKENS = "model.embed_tokens.weight";
/** Final RMSNorm weight name. */
export const FINAL_NORM = "model.norm.weight";
/** Untied LM head name. */
export const LM_HEAD = "lm_head.weight";

/**
 * Names of layer `i`'s parameters; a checkpoint holds only those its config implies
 * ({@link expectedTensorShapes}): biases with `attention_bias`, q/k norms for Qwen3 and OLMo-2, no input
 * norm and a post-feedforward norm for OLMo-2 (whose `post_attention_layernorm` scales the attention output,
 * not the MLP input).
 */
export function layerTensorNames(i: number): {
  inputNorm: string;
  qProj: string;
  kProj: string;
  vProj: string;
  oProj: string;
  qBias: string;
  kBias: string;
  vBias: string;
  oBias: string;
  qNorm: string;
  kNorm: string;
  postAttentionNorm: string;
  postFeedforwardNorm: string;
  gateProj: string;
  upProj: string;
  downProj: string;
} {
  const p = `model.layers.${i}`;
  return {
    inputNorm: `${p}.input_layernorm.weight`,
    qProj: `${p}.self_attn.q_proj.weight`,
    kProj: `${p}.self_attn.k_proj.weight`,
    vProj: `${p}.self_attn.v_proj.weight`,
    oProj: `${p}.self_attn.o_proj.weight`,
    qBias: `${p}.self_attn.q_proj.bias`,
    kBias: `${p}.self_attn.k_proj.bias`,
    vBias: `${p}.self_attn.v_proj.bias`,
    oBias: `${p}.self_attn.o_proj.bias`,
    qNorm: `${p}.self_attn.q_norm.weight`,
    kNorm: `${p}.self_attn.k_norm.weight`,
    postAttentionNorm: `${p}.post_attention_layernorm.weight`,
    postFeedforwardNorm: `${p}.post_feedforward_layernorm.weight`,
    gateProj: `${p}.mlp.gate_proj.weight`,
    upProj: `${p}.mlp.up_proj.weight`,
    downProj: `${p}.mlp.down_proj.weight`,
  };
}

/**
 * Every parameter a config implies, HF name → shape (PyTorch `nn.Linear` layout: [out, in]), in model order.
 *
 * @example
 * ```ts
 * expectedTensorShapes(config).get("model.embed_tokens.weight"); // [vocabSize, hiddenSize]
 * ```
 */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  const h = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  const inter = config.intermediateSize;
  const out = new Map<string, number[]>();
  out.set(EMBED_TOKENS, [config.vocabSize, h]);
  const qkNorm = { none: null, head: [config.headDim, config.headDim], projection: [q, kv] }[config.qkNorm];
  for (let i = 0; i < config.numLayers; i++) {
    const n = layerTensorNames(i);
    if (!config.postNorms) out.set(n.inputNorm, [h]);
    out.set(n.qProj, [q, h]);
    if (config.attentionBias) out.set(n.qBias, [q]);
    out.set(n.kProj, [kv, h]);
    if (config.attentionBias) out.set(n.kBias, [kv]);
    out.set(n.vProj, [kv, h]);
    if (config.attentionBias) out.set(n.vBias, [kv]);
    out.set(n.oProj, [h, q]);
    if (config.outputProjBias) out.set(n.oBias, [h]);
    if (qkNorm) {
      out.set(n.qNorm, [qkNorm[0]]);
      out.set(n.kNorm, [qkNorm[1]]);
    }
    out.set(n.postAttentionNorm, [h]);
    out.set(n.gateProj, [inter, h]);
    out.set(n.upProj, [inter, h]);
    out.set(n.downProj, [h, inter]);
    if (config.postNorms) out.set(n.postFeedforwardNorm, [h]);
  }
  out.set(FINAL_NORM, [h]);
  if (!config.tieWordEmbeddings) out.set(LM_HEAD, [config.vocabSize, h]);
  return out;
}

/** What the validator needs to know about a checkpoint tensor. */
export interface TensorShapeSource {
  /** Dimensions found in the checkpoint. */
  shape: readonly number[];
  /** File the tensor lives in (for messages). */
  file?: string;
}

/** One disagreement between a checkpoint and its config. */
export interface CheckpointProblem {
  /** `missing`: the config needs it; `unexpected`: the model has no such parameter; `shape`: wrong shape. */
  kind: "missing" | "unexpected" | "shape";
  /** HF parameter name. */
  name: string;
  /** File holding the tensor, when known. */
  file?: string;
  /** Shape the config implies (missing / shape). */
  expected?: number[];
  /** Shape found (unexpected / shape). */
  actual?: number[];
}

/** Buffers transformers keeps in some checkpoints that rlif recomputes. */
const IGNORED = /^model\.(layers\.\d+\.self_attn\.)?rotary_emb\.inv_freq$/;

/**
 * Compares checkpoint tensors with the shapes a config implies. A tied model may still ship `lm_head.weight`
 * (a copy of the embeddings): it is accepted when its shape is [vocab, hidden], and ignored.
 */
export function findCheckpointProblems(
  config: ModelConfig,
  tensors: Iterable<[string, TensorShapeSource]>,
): CheckpointProblem[] {
  const expected = expectedTensorShapes(config);
  if (config.tieWordEmbeddings) expected.set(LM_HEAD, [config.vocabSize, config.hiddenSize]);
  const seen = new Set<string>();
  const problems: CheckpointProblem[] = [];
  for (const [name, t] of tensors) {
    if (IGNORED.test(name)) continue;
    seen.add(name);
    const want = expected.get(name);
    const file = t.file !== undefined ? { file: t.file } : {};
    if (!want) {
      problems.push({ kind: "unexpected", name, actual: [...t.shape], ...file });
    } else if (want.length !== t.shape.length || want.some((d, i) => d !== t.shape[i])) {
      problems.push({ kind: "shape", name, expected: want, actual: [...t.shape], ...file });
    }
  }
  for (const [name, shape] of expected) {
    if (!seen.has(name) && !(name === LM_HEAD && config.tieWordEmbeddings)) {
      problems.push({ kind: "missing", name, expected: shape });
    }
  }
  return problems;
}

/** Raised when a checkpoint's tensors do not match its config; `problems` lists every disagreement. */
export class CheckpointMismatchError extends RlifError {
  /** Creates the error; the message lists up to 20 problems and counts the rest. */
  constructor(readonly source: string, readonly problems: CheckpointProblem[]) {
    super("checkpoint.mismatch", formatProblems(source, problems));
    this.name = "CheckpointMismatchError";
  }
}

function shapeText(shape: readonly number[] | undefined): string {
  return shape ? `[${shape.join(", ")}]` : "?";
}

function hintFor(problems: CheckpointProblem[]): string {
  const names = problems.map((p) => p.name);
  if (problems.some((p) => p.kind === "unexpected" && /\.self_attn\.[qk]_norm\./.test(p.name))) {
    return `hint: q_norm/k_norm weights belong to Qwen3 or OLMo-2; config.json should say "model_type": ` +
      `"qwen3" or "olmo2"`;
  }
  if (problems.some((p) => p.kind === "shape" && /\.self_attn\.[qk]_norm\./.test(p.name))) {
    return "hint: Qwen3's q_norm/k_norm hold head_dim values, OLMo-2's one per projection output";
  }
  if (problems.some((p) => p.kind === "missing" && p.name === LM_HEAD)) {
    return `hint: if the LM head shares the embeddings, config.json should say "tie_word_embeddings": true`;
  }
  if (names.some((n) => !n.startsWith("model.") && n !== LM_HEAD)) {
    return `hint: rlif expects Hugging Face causal-LM names ("model.layers.0...", "lm_head.weight")`;
  }
  return "";
}

function formatProblems(source: string, problems: CheckpointProblem[]): string {
  const shown = problems.slice(0, 20).map((p) => {
    const where = p.file !== undefined ? ` in ${p.file}` : "";
    switch (p.kind) {
      case "missing":
        return `missing ${p.name} (expected ${shapeText(p.expected)})`;
      case "unexpected":
        return `unexpected ${p.name}${where} ${shapeText(p.actual)}`;
      case "shape":
        return `wrong shape ${p.name}${where}: expected ${shapeText(p.expected)}, found ${
          shapeText(p.actual)
        }`;
    }
  });
  const hint = hintFor(problems);
  // One problem reads as one line (the hint after it); more are listed one per line.
  if (problems.length === 1) {
    return `${source}: checkpoint does not match config.json: ${shown[0]}${hint ? `; ${hint}` : ""}`;
  }
  const more = problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : "";
  return `${source}: checkpoint does not match config.json (${problems.length} problems):\n` +
    shown.map((l) => `  ${l}`).join("\n") + more + (hint ? `\n${hint}` : "");
}

/** Throws a {@link CheckpointMismatchError} naming every missing, unexpected or wrong-shape tensor. */
export function validateCheckpointTensors(
  config: ModelConfig,
  tensors: Iterable<[string, TensorShapeSource]>,
  source = "checkpoint",
): void {
  const problems = findCheckpointProblems(config, tensors);
  if (problems.length > 0) throw new CheckpointMismatchError(source, problems);
}

/**
 * The shapes of Qwen2.5-0.5B-Instruct, the model the project's recipes train, as its `config.json` states
 * them: the one definition that cost models, benchmarks and tests of full-size shapes use.
 *
 * @module
 */

import type { ModelConfig } from "./config.ts";

/**
 * Qwen2.5-0.5B-Instruct's configuration (hidden 896, 24 layers, 14 query and 2 KV heads of 64, MLP 4864,
 * vocabulary 151,936, tied embeddings).
 *
 * @example
 * ```ts
 * import { expectedTensorShapes, QWEN25_05B } from "./mod.ts";
 * expectedTensorShapes(QWEN25_05B).get("model.embed_tokens.weight"); // [151936, 896]
 * ```
 */
export const QWEN25_05B: Readonly<ModelConfig> = Object.freeze({
  arch: "qwen2",
  qkNorm: "none",
  postNorms: false,
  vocabSize: 151936,
  hiddenSize: 896,
  intermediateSize: 4864,
  numLayers: 24,
  numHeads: 14,
  numKvHeads: 2,
  headDim: 64,
  ropeTheta: 1000000,
  rmsNormEps: 1e-6,
  maxPositionEmbeddings: 32768,
  tieWordEmbeddings: true,
  attentionBias: true,
  outputProjBias: false,
  mlpBias: false,
  torchDtype: "bfloat16",
  bosTokenId: 151643,
  eosTokenIds: [151645],
});

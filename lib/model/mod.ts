export * from "./io.ts";
export {
  loadModel,
  type LoadModelOptions,
  Model,
  modelFromTensors,
  takesWeightWidth,
  type VocabShard,
  vocabShardRows,
  WEIGHT_WIDTHS,
} from "./model.ts";
export { type HalfWidth, halfWidthCopy, refreshHalfWidthCopy } from "./half_width.ts";
export { score, type ScoreItem, type ScoreOptions } from "./score.ts";
export { chainOfEmbedding } from "./coe.ts";
export { buildSequenceBatch, type SequenceBatch, uploadBatch } from "./batch.ts";
export { headBackward, headLogits, headStats, lmHeadLogits, logitChunkRows } from "./head.ts";
export {
  backward,
  createGradients,
  createKvCache,
  forward,
  type ForwardInputs,
  type ForwardOptions,
  type ForwardResult,
  type Gradients,
  type KvCache,
  type LayerActivations,
  modelWeightDType,
  releaseKvCache,
  type SavedActivations,
} from "./transformer.ts";
export {
  createDecodeWorkspace,
  decodeCacheDType,
  decodeStep,
  type DecodeWorkspace,
  fusedDecodeSupported,
  releaseDecodeWorkspace,
} from "./decode_step.ts";

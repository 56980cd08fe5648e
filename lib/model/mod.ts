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
export { score, scoreAll, type ScoreItem, type ScoreJob, type ScoreOptions } from "./score.ts";
export { chainOfEmbedding } from "./coe.ts";
export { buildSequenceBatch, type SequenceBatch, uploadBatch } from "./batch.ts";
export {
  headBackward,
  type HeadChunk,
  headLogits,
  headLossBackward,
  type HeadLossGradient,
  headStats,
  lmHeadLogits,
  logitChunkRows,
  logitChunks,
  recordHeadStats,
} from "./head.ts";
export {
  createOptimizer,
  lossBackward,
  type OptimizerOptions,
  optimizerStep,
  type StepReport,
  takesWeightDecay,
  type TokenLoss,
} from "./train_step.ts";
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

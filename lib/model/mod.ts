/**
 * Models: loading Hugging Face checkpoints (config, safetensors, tokenizer), the transformer's forward and
 * backward passes, LoRA adapters, scoring completions, the shared training step, and checkpoint
 * interpolation.
 *
 * @example
 * ```ts
 * import { loadModel, score } from "./mod.ts";
 * const model = await loadModel("models/Qwen2.5-0.5B-Instruct");
 * const [stats] = await score(model, [{ promptIds: [1, 2, 3], completionIds: [4, 5] }]);
 * console.log(stats.selfCertainty);
 * ```
 *
 * @module
 */
export {
  ARCH_TRAITS,
  type ArchTraits,
  type GenerationConfig,
  loadGenerationConfig,
  loadModelConfig,
  type ModelArch,
  type ModelConfig,
  ModelConfigError,
  parseModelConfig,
  type QkNorm,
  type TorchDtype,
} from "./config.ts";
export {
  LLAMA31_8B,
  LLAMA31_8B_JSON,
  OLMO2_7B,
  OLMO2_7B_JSON,
  QWEN25_15B,
  QWEN25_15B_JSON,
  QWEN25_7B,
  QWEN25_7B_JSON,
  QWEN3_17B_BASE,
  QWEN3_17B_BASE_JSON,
  QWEN3_4B_BASE,
  QWEN3_4B_BASE_JSON,
} from "./paper_configs.ts";
export {
  Checkpoint,
  type CheckpointTensorInfo,
  type LoadedTensor,
  openCheckpoint,
  readCheckpoint,
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsDtype,
  SafetensorsError,
  type SafetensorsHeader,
  type StoredValues,
  type TensorInfo,
  type TensorToWrite,
  type WritableDtype,
  writeSafetensors,
  type WriteSafetensorsOptions,
} from "./safetensors.ts";
export {
  CheckpointMismatchError,
  type CheckpointProblem,
  EMBED_TOKENS,
  expectedTensorShapes,
  LM_HEAD,
  type TensorShapeSource,
  validateCheckpointTensors,
} from "./weights.ts";
export {
  makeTinyCheckpoint,
  type TinyCheckpoint,
  type TinyModelOptions,
  writeTinyCheckpoint,
} from "./tiny.ts";
export { interpolateWeights, parseAlphas, type WeightTensor } from "./interpolate.ts";
export type { Llama3RopeScaling } from "../ops/rope.ts";
export type { DecodeAttentionScratch } from "../ops/decode_layer.ts";
export type { GrpoKernelConfig } from "../ops/grpo_loss.ts";
export type { AdamW, AdamWOptions } from "../ops/adamw.ts";
export { writeInterpolatedCheckpoint } from "./interpolate_checkpoint.ts";
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
export {
  checkLoraSettings,
  createLoraAdapter,
  LORA_DEFAULTS,
  LORA_PROJECTIONS,
  LoraAdapter,
  loraAdapterFromTensors,
  type LoraModule,
  loraModuleKeys,
  loraScale,
  type LoraSettings,
  mergedLoraWeights,
  mergeLoraAdapter,
  peftTensorName,
  resolveTargetModules,
} from "./lora.ts";
export type { LoraFactors } from "../ops/lora.ts";
export {
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  isLoraAdapterDir,
  loadLoraAdapter,
  type LoraAdapterConfig,
  readLoraAdapterConfig,
  saveLoraAdapter,
} from "./peft_adapter.ts";
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

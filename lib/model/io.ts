/**
 * Checkpoint and config I/O: Hugging Face `config.json`, safetensors (single and sharded), the parameter
 * names a config implies, and tiny random checkpoints for tests.
 *
 * @example
 * ```ts
 * import { loadModelConfig, openCheckpoint, validateCheckpointTensors } from "./lib/model/io.ts";
 * const config = await loadModelConfig("models/Qwen2.5-0.5B-Instruct");
 * using ckpt = await openCheckpoint("models/Qwen2.5-0.5B-Instruct");
 * validateCheckpointTensors(config, ckpt.names.map((n) => [n, ckpt.info(n)]));
 * const embeddings = await ckpt.read("model.embed_tokens.weight");
 * ```
 *
 * @module
 */

export {
  type GenerationConfig,
  generationConfigToJson,
  loadGenerationConfig,
  loadModelConfig,
  type ModelArch,
  type ModelConfig,
  ModelConfigError,
  modelConfigToJson,
  parseGenerationConfig,
  parseModelConfig,
  readJsonFile,
  type TorchDtype,
} from "./config.ts";
export {
  bf16BitsToFloat32,
  Checkpoint,
  type CheckpointTensorInfo,
  decodeToFloat32,
  describeTensor,
  float32ToBf16Bits,
  float32ToF16Bits,
  type LoadedTensor,
  MAX_HEADER_BYTES,
  openCheckpoint,
  parseSafetensorsHeader,
  readCheckpoint,
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsDtype,
  SafetensorsError,
  SafetensorsFile,
  type SafetensorsHeader,
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
  FINAL_NORM,
  findCheckpointProblems,
  layerTensorNames,
  LM_HEAD,
  type TensorShapeSource,
  validateCheckpointTensors,
} from "./weights.ts";
export {
  byteLevelAlphabet,
  makeTinyCheckpoint,
  makeTinyTokenizerFiles,
  normalSampler,
  TINY_CHAT_TEMPLATE,
  TINY_MERGES,
  TINY_SPECIAL_TOKENS,
  TINY_TOKEN_IDS,
  type TinyCheckpoint,
  type TinyModelOptions,
  writeTinyCheckpoint,
} from "./tiny.ts";

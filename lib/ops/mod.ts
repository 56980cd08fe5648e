export { add, axpy, scale } from "./elementwise.ts";
export { convertToHalf } from "./convert.ts";
export { copyColumns, gatherRows, maskedMeanRows, scatterAddRows } from "./rows.ts";
export { type DecodeState, recordStep } from "./decode.ts";
export {
  DECODE_ATTENTION_CHUNK,
  DECODE_MAX_HEAD_DIM,
  decodeAttention,
  type DecodeAttentionScratch,
  decodeAttentionScratch,
  decodeAttentionSplits,
  decodeFusedSupported,
  decodeGateUp,
  type DecodeHeads,
  decodeProjResidual,
  decodeQkv,
  decodeRopeKv,
  kvWrite,
} from "./decode_layer.ts";
export {
  ATTENTION_MAX_HEAD_DIM,
  attentionBackward,
  type AttentionBackwardResult,
  attentionForward,
  type AttentionForwardResult,
  type AttentionOptions,
} from "./attention.ts";
export {
  DEFAULT_MATMUL_TILES,
  linear,
  linearBackward,
  type LinearBackwardOptions,
  type LinearGrads,
  matmul,
  type MatmulOptions,
  type MatmulTiles,
  matmulTiles,
} from "./matmul.ts";
export {
  adapterKey,
  chooseMatmulTiles,
  defaultMatmulTiles,
  LARGE_MATMUL_TILES,
  type MatmulCandidate,
  matmulCandidates,
  type MatmulShape,
  matmulShapeClass,
  type MatmulTuning,
  matmulTuning,
  type MatmulTuningEntry,
  type MatmulTuningFile,
  matmulTuningPath,
  readMatmulTuning,
  setMatmulTuning,
  tilesName,
  writeMatmulTuning,
} from "./matmul_tiles.ts";
export { syncLatencyMs, timeGpuCall, tuneMatmul, type TuneResult, type TuneTiming } from "./matmul_tuner.ts";
export {
  embeddingBackward,
  embeddingForward,
  type EmbeddingGradPlan,
  embeddingGradPlan,
} from "./embedding.ts";
export { rmsnormBackward, rmsnormForward, type RmsNormOutputs } from "./rmsnorm.ts";
export {
  llama3InvFreq,
  type Llama3RopeScaling,
  ropeBackward,
  ropeForward,
  ropeInvFreq,
  type RopeOptions,
  type RopeResult,
} from "./rope.ts";
export { swigluBackward, swigluBackwardFused, swigluForward, swigluForwardFused } from "./swiglu.ts";
export { LOGIT_STAT, LOGIT_STAT_COUNT, logitStats, logitStatsBackward } from "./logit_stats.ts";
export {
  GRPO_REPORT_NORM,
  GRPO_REPORT_SIZE,
  GRPO_STAT,
  GRPO_STAT_COUNT,
  GRPO_TOKEN_INPUT,
  GRPO_TOKEN_INPUT_COUNT,
  type GrpoKernelConfig,
  grpoLossBackward,
  grpoLossReduce,
} from "./grpo_loss.ts";
export {
  philox4x32,
  type SampledTokens,
  sampleTokens,
  samplingBits,
  type SamplingOptions,
} from "./sampling.ts";
export { AdamW, type AdamWHyper, type AdamWOptions, adamwUpdate, type GradNorm, gradNorm } from "./adamw.ts";

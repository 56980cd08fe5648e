/**
 * What a transformer step costs in arithmetic and memory traffic, and the time an ideal GPU would need for
 * it (a roofline: the larger of FLOPs at peak FMA rate and bytes at peak bandwidth). Measured times on the
 * CPU adapter say nothing about a GPU; these formulas say what a GPU could at best do with the same work.
 *
 * @module
 */
import type { ModelConfig } from "../model/config.ts";
import { EMBED_TOKENS } from "../model/weights.ts";

/** Peak rates of a device, for {@link roofline}. */
export interface RooflineDevice {
  /** What the rates describe. */
  readonly name: string;
  /** Peak arithmetic rate, FLOP/s. */
  readonly flopsPerSecond: number;
  /** Peak memory bandwidth, bytes/s. */
  readonly bytesPerSecond: number;
}

/**
 * An H100 SXM as WGSL sees it: f32 vector FMA (no tensor cores: ~67 TF/s) and HBM3 at 3.35 TB/s.
 */
export const H100: RooflineDevice = {
  name: "H100 SXM: 67 TF/s f32 vector FMA, 3.35 TB/s HBM3",
  flopsPerSecond: 67e12,
  bytesPerSecond: 3.35e12,
};

/** The sizes the cost formulas read. */
export type CostConfig = Pick<
  ModelConfig,
  | "vocabSize"
  | "hiddenSize"
  | "intermediateSize"
  | "numLayers"
  | "numHeads"
  | "numKvHeads"
  | "headDim"
  | "tieWordEmbeddings"
>;

/**
 * Weights every token multiplies through: each layer's q, k, v, o, gate, up and down projections, and the
 * LM head (the embedding matrix when tied). The embedding lookup is a gather, not a matmul.
 */
export function matmulParams(config: CostConfig): number {
  const { hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim } = config;
  const q = numHeads * headDim, kv = numKvHeads * headDim;
  const perLayer = h * q + 2 * h * kv + q * h + 3 * h * inter;
  return config.numLayers * perLayer + config.vocabSize * h;
}

/**
 * Forward FLOPs of one token that attends to `context` keys: 2 per matmul weight (multiply and add) plus
 * attention's scores (q·k) and weighted sum (p·v), 2·headDim each per head and key, in every layer.
 */
export function forwardFlopsPerToken(config: CostConfig, context: number): number {
  const attention = 4 * config.numHeads * config.headDim * context * config.numLayers;
  return 2 * matmulParams(config) + attention;
}

/** Training FLOPs of one token: the forward, then a backward that costs twice as much (dx and dW). */
export function trainFlopsPerToken(config: CostConfig, context: number): number {
  return 3 * forwardFlopsPerToken(config, context);
}

/** One parameter tensor, as the byte count needs it. */
export interface ParamSize {
  /** Hugging Face name; a row block of a split vocabulary matrix may carry an `@i` suffix. */
  readonly name: string;
  /** Number of elements. */
  readonly elements: number;
  /** Bytes per stored element (4 for f32, 2 for bf16 / f16). */
  readonly bytesPerElement: number;
}

/**
 * Weight bytes one forward pass over `rows` token rows reads, each weight once: every parameter at its
 * stored width, except that an untied embedding matrix is only gathered (`rows` rows of it). A tied
 * embedding is read whole, as the LM head.
 */
export function weightBytesPerForward(
  config: CostConfig,
  params: Iterable<ParamSize>,
  rows: number,
): number {
  let bytes = 0;
  for (const p of params) {
    const base = p.name.replace(/@\d+$/, "");
    if (base === EMBED_TOKENS && !config.tieWordEmbeddings) continue;
    bytes += p.elements * p.bytesPerElement;
  }
  if (!config.tieWordEmbeddings) {
    const embed = [...params].find((p) => p.name.replace(/@\d+$/, "") === EMBED_TOKENS);
    bytes += Math.min(rows, config.vocabSize) * config.hiddenSize * (embed?.bytesPerElement ?? 4);
  }
  return bytes;
}

/**
 * Bytes one forward + backward over `rows` rows moves for the weights: the weights read twice (forward,
 * and the backward's dx products) and every f32 gradient accumulator read and written once.
 */
export function trainBytesPerStep(config: CostConfig, params: Iterable<ParamSize>, rows: number): number {
  const list = [...params];
  const gradients = list.reduce((n, p) => n + p.elements, 0) * 4 * 2;
  return 2 * weightBytesPerForward(config, list, rows) + gradients;
}

/**
 * KV-cache bytes one decode step reads: keys and values of `context` positions in every layer, for each
 * of `batch` sequences.
 */
export function kvCacheBytesPerStep(
  config: CostConfig,
  batch: number,
  context: number,
  bytesPerElement = 4,
): number {
  return batch * config.numLayers * 2 * config.numKvHeads * config.headDim * context * bytesPerElement;
}

/** The ideal time of a piece of work on `device`, and which limit sets it. */
export interface RooflineEstimate {
  /** max(FLOPs / peak FLOP/s, bytes / peak bandwidth). */
  readonly seconds: number;
  /** Whether arithmetic or memory traffic takes longer. */
  readonly bound: "compute" | "memory";
}

/** The roofline time of `flops` FLOPs that move `bytes` bytes on `device` (default {@link H100}). */
export function roofline(flops: number, bytes: number, device: RooflineDevice = H100): RooflineEstimate {
  const compute = flops / device.flopsPerSecond, memory = bytes / device.bytesPerSecond;
  return compute >= memory ? { seconds: compute, bound: "compute" } : { seconds: memory, bound: "memory" };
}

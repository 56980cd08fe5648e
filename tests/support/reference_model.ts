/**
 * Float64 reference of the Hugging Face Qwen2 / Qwen3 / Llama / OLMo-2 decoders (modeling_qwen2.py,
 * modeling_qwen3.py, modeling_olmo2.py), one sequence at a time,
 * written straight from the math with no GPU code shared, so GPU results can be checked against it.
 */
import type { ModelConfig } from "../../lib/model/config.ts";
import { EMBED_TOKENS, FINAL_NORM, layerTensorNames, LM_HEAD } from "../../lib/model/weights.ts";

/** Parameters by HF name. */
export type RefWeights = Map<string, { shape: readonly number[]; data: ArrayLike<number> }>;

/** Logits [S, V] and `output_hidden_states` (L + 1 states of [S, H], the last after the final norm). */
export interface RefOutput {
  logits: Float64Array;
  hidden: Float64Array[];
}

function w(weights: RefWeights, name: string): ArrayLike<number> {
  const t = weights.get(name);
  if (!t) throw new Error(`reference model: missing weight ${name}`);
  return t.data;
}

/** y[S, N] = x[S, K] · W[N, K]ᵀ (+ b) */
function linear(
  x: Float64Array,
  s: number,
  k: number,
  W: ArrayLike<number>,
  n: number,
  b?: ArrayLike<number>,
) {
  const y = new Float64Array(s * n);
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < n; j++) {
      let acc = b ? b[j] : 0;
      for (let q = 0; q < k; q++) acc += x[i * k + q] * W[j * k + q];
      y[i * n + j] = acc;
    }
  }
  return y;
}

function rmsnorm(x: Float64Array, s: number, h: number, g: ArrayLike<number>, eps: number): Float64Array {
  const y = new Float64Array(s * h);
  for (let i = 0; i < s; i++) {
    let ss = 0;
    for (let q = 0; q < h; q++) ss += x[i * h + q] ** 2;
    const r = 1 / Math.sqrt(ss / h + eps);
    for (let q = 0; q < h; q++) y[i * h + q] = x[i * h + q] * r * g[q];
  }
  return y;
}

/** Rotate-half RoPE in place on [S, heads·D] with positions 0..S-1. */
function rope(x: Float64Array, s: number, heads: number, d: number, theta: number, start: number): void {
  const half = d / 2;
  for (let i = 0; i < s; i++) {
    for (let hd = 0; hd < heads; hd++) {
      const base = i * heads * d + hd * d;
      for (let j = 0; j < half; j++) {
        const ang = (start + i) * theta ** (-(2 * j) / d);
        const c = Math.cos(ang), sn = Math.sin(ang);
        const a = x[base + j], b = x[base + j + half];
        x[base + j] = a * c - b * sn;
        x[base + j + half] = b * c + a * sn;
      }
    }
  }
}

/**
 * Causal GQA attention over one sequence. Rows from `cached.from` on read keys and values `cached.k` /
 * `cached.v` instead (what a KV cache holds), rows before it the exact ones.
 */
function attention(
  q: Float64Array,
  keys: Float64Array,
  values: Float64Array,
  s: number,
  cfg: ModelConfig,
  cached?: { from: number; k: Float64Array; v: Float64Array },
): Float64Array {
  const { numHeads: nh, numKvHeads: nkv, headDim: d } = cfg;
  const group = nh / nkv;
  const out = new Float64Array(s * nh * d);
  const scale = 1 / Math.sqrt(d);
  for (let h = 0; h < nh; h++) {
    const kh = Math.floor(h / group);
    for (let i = 0; i < s; i++) {
      const [k, v] = cached && i >= cached.from ? [cached.k, cached.v] : [keys, values];
      const scores = new Float64Array(i + 1);
      let m = -Infinity;
      for (let j = 0; j <= i; j++) {
        let dotp = 0;
        for (let e = 0; e < d; e++) dotp += q[i * nh * d + h * d + e] * k[j * nkv * d + kh * d + e];
        scores[j] = dotp * scale;
        m = Math.max(m, scores[j]);
      }
      let z = 0;
      for (let j = 0; j <= i; j++) z += scores[j] = Math.exp(scores[j] - m);
      for (let j = 0; j <= i; j++) {
        const p = scores[j] / z;
        for (let e = 0; e < d; e++) out[i * nh * d + h * d + e] += p * v[j * nkv * d + kh * d + e];
      }
    }
  }
  return out;
}

/** How {@link referenceForward} models a KV cache held at a lower width than the arithmetic. */
export interface RefKvCache {
  /** Rows from this position on are decode steps: they attend over the cache (the prompt's prefill before it). */
  readonly from: number;
  /** The rounding the cache applies to a stored key or value (after RoPE), e.g. to bf16. */
  readonly round: (x: number) => number;
}

/**
 * Forward of one sequence of token ids through the reference decoder. With `kvCache`, rows from
 * `kvCache.from` on see keys and values rounded as a half-width KV cache stores them, as generation does:
 * the prefill attends over its own exact keys, every decode step over the cache.
 */
export function referenceForward(
  cfg: ModelConfig,
  weights: RefWeights,
  ids: readonly number[],
  kvCache?: RefKvCache,
): RefOutput {
  const s = ids.length, h = cfg.hiddenSize, d = cfg.headDim, inter = cfg.intermediateSize;
  const emb = w(weights, EMBED_TOKENS);
  let x: Float64Array = new Float64Array(s * h);
  for (let i = 0; i < s; i++) for (let q = 0; q < h; q++) x[i * h + q] = emb[ids[i] * h + q];
  const hidden: Float64Array[] = [x.slice()];
  for (let l = 0; l < cfg.numLayers; l++) {
    const n = layerTensorNames(l);
    const bias = (name: string) => (cfg.attentionBias ? w(weights, name) : undefined);
    const h1 = cfg.postNorms ? x : rmsnorm(x, s, h, w(weights, n.inputNorm), cfg.rmsNormEps);
    let q: Float64Array = linear(h1, s, h, w(weights, n.qProj), cfg.numHeads * d, bias(n.qBias));
    let k: Float64Array = linear(h1, s, h, w(weights, n.kProj), cfg.numKvHeads * d, bias(n.kBias));
    const v = linear(h1, s, h, w(weights, n.vProj), cfg.numKvHeads * d, bias(n.vBias));
    if (cfg.qkNorm !== "none") {
      // Qwen3: over each head's d values (rows of [s·heads, d]); OLMo-2: over the whole projection.
      const [qRows, qWidth] = cfg.qkNorm === "head" ? [s * cfg.numHeads, d] : [s, cfg.numHeads * d];
      const [kRows, kWidth] = cfg.qkNorm === "head" ? [s * cfg.numKvHeads, d] : [s, cfg.numKvHeads * d];
      q = rmsnorm(q, qRows, qWidth, w(weights, n.qNorm), cfg.rmsNormEps);
      k = rmsnorm(k, kRows, kWidth, w(weights, n.kNorm), cfg.rmsNormEps);
    }
    rope(q, s, cfg.numHeads, d, cfg.ropeTheta, 0);
    rope(k, s, cfg.numKvHeads, d, cfg.ropeTheta, 0);
    const cached = kvCache && { from: kvCache.from, k: k.map(kvCache.round), v: v.map(kvCache.round) };
    const o = attention(q, k, v, s, cfg, cached);
    let a: Float64Array = linear(
      o,
      s,
      cfg.numHeads * d,
      w(weights, n.oProj),
      h,
      cfg.outputProjBias ? w(weights, n.oBias) : undefined,
    );
    if (cfg.postNorms) a = rmsnorm(a, s, h, w(weights, n.postAttentionNorm), cfg.rmsNormEps);
    for (let i = 0; i < x.length; i++) a[i] += x[i];
    const h2 = cfg.postNorms ? a : rmsnorm(a, s, h, w(weights, n.postAttentionNorm), cfg.rmsNormEps);
    const g = linear(h2, s, h, w(weights, n.gateProj), inter);
    const u = linear(h2, s, h, w(weights, n.upProj), inter);
    for (let i = 0; i < g.length; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
    let dn: Float64Array = linear(g, s, inter, w(weights, n.downProj), h);
    if (cfg.postNorms) dn = rmsnorm(dn, s, h, w(weights, n.postFeedforwardNorm), cfg.rmsNormEps);
    for (let i = 0; i < dn.length; i++) dn[i] += a[i];
    x = dn;
    if (l < cfg.numLayers - 1) hidden.push(x.slice());
  }
  const final = rmsnorm(x, s, h, w(weights, FINAL_NORM), cfg.rmsNormEps);
  hidden.push(final);
  const head = cfg.tieWordEmbeddings ? emb : w(weights, LM_HEAD);
  return { logits: linear(final, s, h, head, cfg.vocabSize), hidden };
}

/** Per-row statistics of logits / temperature: the definitions rlif's scoring documents. */
export function referenceRowStats(logits: ArrayLike<number>, target: number, temperature = 1) {
  const v = logits.length;
  let m = -Infinity, mean = 0;
  for (let j = 0; j < v; j++) {
    m = Math.max(m, logits[j] / temperature);
    mean += logits[j] / temperature;
  }
  mean /= v;
  let z = 0;
  for (let j = 0; j < v; j++) z += Math.exp(logits[j] / temperature - m);
  const lse = m + Math.log(z);
  let ent = 0;
  const probs: number[] = [];
  for (let j = 0; j < v; j++) {
    const p = Math.exp(logits[j] / temperature - lse);
    probs.push(p);
    ent -= p * (logits[j] / temperature - lse);
  }
  probs.sort((a, b) => b - a);
  return {
    logprob: logits[target] / temperature - lse,
    entropy: ent,
    selfCertainty: lse - mean - Math.log(v),
    topGap: probs[0] - (probs[1] ?? 0),
  };
}

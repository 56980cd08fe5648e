/**
 * The GRPO loss: its definition, and the per-token aggregation weights the GPU loss kernels
 * (kernels/grpo_loss.wgsl, lib/ops/grpo_loss.ts) receive from the host. The kernels compute the loss
 * and its gradient to the logits over the LM head's logit chunks; this module's formulas are their spec.
 *
 * Per valid token `t` of sequence `i` (verl's `compute_policy_loss_vanilla`, core_algos.py):
 *
 * ```
 * ratio_t  = exp(clamp(logp_new − logp_old, −20, 20))
 * pg_t     = max(−A_i·ratio_t, −A_i·clamp(ratio_t, 1 − clip_low, 1 + clip_high))   // = −min(r·A, clip(r)·A)
 * pg_t     = min(pg_t, −A_i·c)   only where A_i < 0 and dual-clip c is set
 * loss_t   = pg_t + kl_coef · KL_t(logp_new, logp_ref)
 * loss     = Σ_t w_t · loss_t      (w_t from the aggregation mode, see {@link aggregationWeights})
 * ```
 *
 * `clip_high > clip_low` is DAPO's clip-higher. The derivative follows torch.autograd's conventions so
 * it equals what PyTorch would backpropagate through the same formulas:
 * - `torch.clamp`: gradient passes where `min <= input <= max` (inclusive), 0 outside;
 * - `torch.maximum` / `torch.minimum`: on a tie each argument gets half the gradient (so inside the
 *   clip range, where both branches are equal, the full `−A·ratio` flows), else the larger / smaller
 *   argument gets all of it.
 * Hence dL/dlogp_new is 0 exactly where the clipped branch is strictly active (the tokens counted by
 * the clip fraction) and where dual-clip is strictly active.
 *
 * Micro-batching: the aggregation weights depend on batch-wide counts (valid tokens for `token-mean`,
 * non-empty sequences for the `seq-mean-*` modes). The weights come from the {@link LossNormalizer} of the
 * whole mini-batch ({@link lossNormalizer}); each micro-batch's loss is then its share
 * of the mini-batch loss and the micro-batch gradients sum to the mini-batch gradient exactly (verl's
 * `agg_loss` with `batch_num_tokens` / `global_batch_size`). Sequences must not be split across
 * micro-batches in the `seq-mean-token-mean` mode (its per-sequence mean needs the whole sequence).
 *
 * @module
 */

/** Loss aggregation modes, as verl's `agg_loss`. */
export type LossAgg = "token-mean" | "seq-mean-token-mean" | "seq-mean-token-sum" | "seq-mean-token-sum-norm";

/** The allowed {@link LossAgg} values. */
export const LOSS_AGGS: readonly LossAgg[] = [
  "token-mean",
  "seq-mean-token-mean",
  "seq-mean-token-sum",
  "seq-mean-token-sum-norm",
];

/**
 * Where each sequence's tokens lie in a flat per-token array. Give exactly one of:
 * - `mask`: padded layout, `sequences × width` row-major (`width = tokens / sequences`); 1 marks a token
 *   that counts (a completion token), 0 one that does not (prompt, padding);
 * - `lengths`: packed layout, sequence `i`'s `lengths[i]` tokens follow sequence `i − 1`'s; all count.
 */
export interface TokenLayoutSpec {
  /** Number of sequences. */
  sequences: number;
  /** Padded-layout 0/1 mask. */
  mask?: ArrayLike<number>;
  /** Packed-layout per-sequence lengths. */
  lengths?: ArrayLike<number>;
}

/** Batch-wide counts the aggregation divides by; see the module docs on micro-batching. */
export interface LossNormalizer {
  /** Valid tokens in the whole mini-batch (`token-mean`). */
  tokens: number;
  /** Sequences with at least one valid token in the whole mini-batch (`seq-mean-*`). */
  sequences: number;
  /** Constant length for `seq-mean-token-sum-norm` (verl's `loss_scale_factor`; e.g. max_new_tokens). */
  normLength?: number;
}

export interface Layout {
  /** Sequence of each token, −1 where the token does not count. */
  seqOf: Int32Array;
  /** Valid tokens per sequence. */
  lengths: Int32Array;
  /** Padded width, or null for the packed layout. */
  width: number | null;
}

/** A {@link TokenLayoutSpec} resolved to per-token sequence indices (for the float64 reference in tests). */
export function resolveLayout(tokens: number, spec: TokenLayoutSpec, where: string): Layout {
  const { sequences, mask, lengths } = spec;
  if (!Number.isInteger(sequences) || sequences < 0) {
    throw new RangeError(`${where}: sequence count ${sequences} must be an integer >= 0`);
  }
  if ((mask === undefined) === (lengths === undefined)) {
    throw new TypeError(
      `${where}: give exactly one of "mask" (padded sequences × width, 0/1) or "lengths" (packed)`,
    );
  }
  const seqOf = new Int32Array(tokens).fill(-1);
  const lens = new Int32Array(sequences);
  if (mask !== undefined) {
    if (mask.length !== tokens) {
      throw new RangeError(`${where}: mask has ${mask.length} entries but there are ${tokens} tokens`);
    }
    const width = sequences === 0 ? 0 : tokens / sequences;
    if (!Number.isInteger(width)) {
      throw new RangeError(
        `${where}: ${tokens} tokens do not split into ${sequences} padded rows; a padded batch has ` +
          `sequences × width tokens`,
      );
    }
    for (let t = 0; t < tokens; t++) {
      const m = mask[t];
      if (m !== 0 && m !== 1) {
        throw new RangeError(
          `${where}: mask[${t}] (sequence ${Math.floor(t / width)}, position ${t % width}) is ${m}; ` +
            `the mask must be 0 or 1`,
        );
      }
      if (m === 1) {
        const i = Math.floor(t / width);
        seqOf[t] = i;
        lens[i]++;
      }
    }
    return { seqOf, lengths: lens, width };
  }
  if (lengths!.length !== sequences) {
    throw new RangeError(`${where}: ${lengths!.length} lengths for ${sequences} sequences`);
  }
  let t = 0;
  for (let i = 0; i < sequences; i++) {
    const n = lengths![i];
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`${where}: lengths[${i}] is ${n}; lengths must be integers >= 0`);
    }
    lens[i] = n;
    for (let k = 0; k < n && t + k < tokens; k++) seqOf[t + k] = i;
    t += n;
  }
  if (t !== tokens) {
    throw new RangeError(`${where}: lengths sum to ${t} but there are ${tokens} tokens`);
  }
  return { seqOf, lengths: lens, width: null };
}

/**
 * The normaliser of a whole mini-batch from its per-sequence valid-token counts.
 *
 * @example
 * ```ts
 * lossNormalizer([3, 0, 5]); // { tokens: 8, sequences: 2 }
 * lossNormalizer([3, 5], 16); // { tokens: 8, sequences: 2, normLength: 16 }
 * ```
 */
export function lossNormalizer(lengths: ArrayLike<number>, normLength?: number): LossNormalizer {
  let tokens = 0, sequences = 0;
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i];
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`lossNormalizer: lengths[${i}] is ${n}; lengths must be integers >= 0`);
    }
    tokens += n;
    if (n > 0) sequences++;
  }
  const out: LossNormalizer = { tokens, sequences };
  if (normLength !== undefined) out.normLength = normLength;
  return out;
}

/**
 * Valid-token count of each sequence of a layout (to build a mini-batch {@link lossNormalizer}).
 *
 * @example
 * ```ts
 * sequenceLengths(6, { sequences: 2, mask: [1, 1, 0, 1, 0, 0] }); // Int32Array [2, 1]
 * ```
 */
export function sequenceLengths(tokens: number, layout: TokenLayoutSpec): Int32Array {
  return resolveLayout(tokens, layout, "sequenceLengths").lengths;
}

/** {@link aggregationWeights} of a resolved layout; `where` names the caller in errors. */
export function weightsFor(
  layout: Layout,
  mode: LossAgg,
  normalizer: LossNormalizer | undefined,
  where: string,
): Float64Array {
  if (!LOSS_AGGS.includes(mode)) {
    throw new RangeError(`${where}: loss aggregation "${mode}" is not one of ${LOSS_AGGS.join(", ")}`);
  }
  const norm = normalizer ?? lossNormalizer(layout.lengths);
  for (const k of ["tokens", "sequences"] as const) {
    if (!Number.isInteger(norm[k]) || norm[k] < 0) {
      throw new RangeError(`${where}: normalizer.${k} is ${norm[k]}; it must be an integer >= 0`);
    }
  }
  let normLength = 1;
  if (mode === "seq-mean-token-sum-norm") {
    normLength = norm.normLength ?? layout.width ?? NaN;
    if (!(normLength > 0)) {
      throw new RangeError(
        `${where}: "seq-mean-token-sum-norm" needs normalizer.normLength > 0 (verl's loss_scale_factor, ` +
          `e.g. max_new_tokens); packed batches have no padded width to default to`,
      );
    }
  }
  const w = new Float64Array(layout.seqOf.length);
  for (let t = 0; t < w.length; t++) {
    const i = layout.seqOf[t];
    if (i < 0) continue;
    switch (mode) {
      case "token-mean":
        w[t] = 1 / norm.tokens;
        break;
      case "seq-mean-token-mean":
        w[t] = 1 / (norm.sequences * layout.lengths[i]);
        break;
      case "seq-mean-token-sum":
        w[t] = 1 / norm.sequences;
        break;
      case "seq-mean-token-sum-norm":
        w[t] = 1 / (norm.sequences * normLength);
        break;
    }
  }
  // A normaliser smaller than what this batch holds means a wrong mini-batch count, not a tiny batch.
  const have = mode === "token-mean"
    ? layout.lengths.reduce((a, n) => a + n, 0)
    : layout.lengths.filter((n) => n > 0).length;
  const need = mode === "token-mean" ? norm.tokens : norm.sequences;
  if (need < have) {
    throw new RangeError(
      `${where}: normalizer.${mode === "token-mean" ? "tokens" : "sequences"} is ${need} but this batch ` +
        `alone has ${have}; pass the counts of the whole mini-batch (lossNormalizer)`,
    );
  }
  return w;
}

/**
 * Per-token weights `w_t` with `loss = Σ_t w_t · loss_t` for an aggregation mode (0 where a token does
 * not count), as verl's `agg_loss`:
 * - `token-mean`: `1 / tokens`;
 * - `seq-mean-token-mean`: `1 / (sequences · len_i)`;
 * - `seq-mean-token-sum`: `1 / sequences`;
 * - `seq-mean-token-sum-norm`: `1 / (sequences · normLength)`.
 * Empty sequences are not counted in `sequences` (verl's `seq_mask`). verl adds 1e-8 to `len_i`
 * in `seq-mean-token-mean`; that only matters for empty sequences, which carry no tokens here.
 *
 * @example
 * ```ts
 * aggregationWeights(4, { sequences: 2, lengths: [1, 3] }, "seq-mean-token-mean");
 * // Float64Array [0.5, 1/6, 1/6, 1/6]
 * ```
 */
export function aggregationWeights(
  tokens: number,
  layout: TokenLayoutSpec,
  mode: LossAgg,
  normalizer?: LossNormalizer,
): Float64Array {
  return weightsFor(
    resolveLayout(tokens, layout, "aggregationWeights"),
    mode,
    normalizer,
    "aggregationWeights",
  );
}

/**
 * Aggregates per-token values into a scalar as verl's `agg_loss` (for KL or entropy reporting, say).
 *
 * @example
 * ```ts
 * aggregateLoss([1, 2, 3, 4], { sequences: 2, lengths: [1, 3] }, "token-mean"); // 2.5
 * aggregateLoss([1, 2, 3, 4], { sequences: 2, lengths: [1, 3] }, "seq-mean-token-mean"); // (1 + 3) / 2
 * ```
 */
export function aggregateLoss(
  values: ArrayLike<number>,
  layout: TokenLayoutSpec,
  mode: LossAgg,
  normalizer?: LossNormalizer,
): number {
  const w = aggregationWeights(values.length, layout, mode, normalizer);
  let s = 0;
  for (let t = 0; t < w.length; t++) if (w[t] !== 0) s += w[t] * values[t];
  return s;
}

/**
 * Right-padded batches of (prompt, completion) token sequences, and the rows whose logits predict the
 * completion tokens — the only rows scoring and training need logits for.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import type { ForwardInputs } from "./transformer.ts";

/** A right-padded batch of B sequences of length S (T = B·S rows). */
export interface SequenceBatch {
  /** Sequences. */
  readonly batch: number;
  /** Padded length. */
  readonly seqLen: number;
  /** Token ids [B·S], padding filled with `padId`. */
  readonly ids: Int32Array;
  /** RoPE position of every row (0 … S−1 per sequence). */
  readonly positions: Int32Array;
  /** Valid tokens per sequence (prompt + completion). */
  readonly lengths: readonly number[];
  /** Prompt tokens per sequence. */
  readonly promptLengths: readonly number[];
  /** Rows whose logits predict a completion token: row b·S + p − 1 predicts token p (p ≥ prompt length). */
  readonly rows: Int32Array;
  /** The completion token each of `rows` predicts. */
  readonly targets: Int32Array;
  /** Start of sequence b's entries in `rows` / `targets` (length B + 1). */
  readonly rowOffsets: Int32Array;
  /** 1 on completion-token rows, 0 elsewhere [B·S]: the pooling mask of hidden states. */
  readonly completionMask: Float32Array;
}

/**
 * Builds a right-padded batch. Each prompt needs at least one token (the first completion token is
 * predicted from the prompt's last row) and each completion at least one token.
 */
export function buildSequenceBatch(
  prompts: readonly (readonly number[])[],
  completions: readonly (readonly number[])[],
  padId: number,
  maxLength = Infinity,
): SequenceBatch {
  if (prompts.length !== completions.length) {
    throw new RangeError(`batch: ${prompts.length} prompts but ${completions.length} completions`);
  }
  if (prompts.length === 0) throw new RangeError("batch: no sequences");
  const lengths = prompts.map((p, i) => {
    if (p.length === 0) {
      throw new RangeError(`batch: sequence ${i}: the prompt is empty (it needs at least one token)`);
    }
    if (completions[i].length === 0) throw new RangeError(`batch: sequence ${i}: the completion is empty`);
    const n = p.length + completions[i].length;
    if (n > maxLength) {
      throw new RangeError(
        `batch: sequence ${i} has ${n} tokens (prompt ${p.length} + completion ${completions[i].length}), ` +
          `longer than the model's context of ${maxLength} (max_position_embeddings)`,
      );
    }
    return n;
  });
  const batch = prompts.length, seqLen = Math.max(...lengths);
  const ids = new Int32Array(batch * seqLen).fill(padId);
  const positions = new Int32Array(batch * seqLen);
  const completionMask = new Float32Array(batch * seqLen);
  const rows: number[] = [], targets: number[] = [];
  const rowOffsets = new Int32Array(batch + 1);
  for (let b = 0; b < batch; b++) {
    const seq = [...prompts[b], ...completions[b]];
    const base = b * seqLen;
    seq.forEach((t, i) => (ids[base + i] = t));
    for (let i = 0; i < seqLen; i++) positions[base + i] = i;
    for (let p = prompts[b].length; p < seq.length; p++) {
      rows.push(base + p - 1);
      targets.push(seq[p]);
      completionMask[base + p] = 1;
    }
    rowOffsets[b + 1] = rows.length;
  }
  return {
    batch,
    seqLen,
    ids,
    positions,
    lengths,
    promptLengths: prompts.map((p) => p.length),
    rows: Int32Array.from(rows),
    targets: Int32Array.from(targets),
    rowOffsets,
    completionMask,
  };
}

/** A batch's ids, positions and lengths uploaded for {@link forward} (no KV cache: pastLen is zero). */
export function uploadBatch(gpu: Gpu, b: SequenceBatch): ForwardInputs & { release(): void } {
  const ids = gpu.fromArray(b.ids, [b.ids.length], "i32", "batch.ids");
  const positions = gpu.fromArray(b.positions, [b.positions.length], "i32", "batch.positions");
  const pastLen = gpu.zeros([b.batch], "i32", "batch.pastLen");
  const kvLen = gpu.fromArray(b.lengths, [b.batch], "i32", "batch.kvLen");
  return {
    batch: b.batch,
    rowsPerSeq: b.seqLen,
    ids,
    positions,
    pastLen,
    kvLen,
    release: () => [ids, positions, pastLen, kvLen].forEach((t) => t.release()),
  };
}

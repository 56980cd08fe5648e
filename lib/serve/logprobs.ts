/**
 * Per-token log-probabilities of whole sequences by one forward pass, for the `logprobs` and `echo`
 * fields of the completions API: the log-probability of each token given the tokens before it, and the
 * most likely alternatives. They are those of the model's own distribution, before temperature and top-k /
 * top-p (vLLM's default, `raw_logprobs`), whatever the request sampled with.
 *
 * @module
 */
import { buildSequenceBatch, uploadBatch } from "../model/batch.ts";
import { headLogits, logitChunks } from "../model/head.ts";
import type { Model } from "../model/model.ts";
import { forward } from "../model/transformer.ts";

/** One scored token: its log-probability and the `top` most likely tokens at its position. */
export interface TokenLogprob {
  /** log p(token | tokens before it). */
  readonly logprob: number;
  /** The most likely tokens at this position, best first, as [id, log p]. */
  readonly top: readonly (readonly [number, number])[];
}

/**
 * Scores `ids[1:]` of one sequence given its prefix; entry i is token i + 1. One forward pass, then the
 * logits read back in chunks of rows (the LM head's chunking), so a large vocabulary never needs the
 * whole `[len − 1, V]` on the host at once.
 */
export async function sequenceLogprobs(
  model: Model,
  ids: readonly number[],
  top: number,
): Promise<TokenLogprob[]> {
  if (ids.length < 2) return [];
  const padId = model.tokenizer?.padTokenId ?? 0;
  const batch = buildSequenceBatch(
    [ids.slice(0, 1)],
    [ids.slice(1)],
    padId,
    model.config.maxPositionEmbeddings,
  );
  const inputs = uploadBatch(model.gpu, batch);
  const fwd = forward(model, inputs);
  const vocab = model.config.vocabSize;
  const out: TokenLogprob[] = [];
  try {
    for (const [start, end] of logitChunks(model, batch.rows.length)) {
      const logits = headLogits(model, fwd.final, batch.rows.subarray(start, end));
      const values = await logits.read() as Float32Array;
      logits.release();
      for (let r = start; r < end; r++) {
        out.push(
          scoreRow(values.subarray((r - start) * vocab, (r - start + 1) * vocab), batch.targets[r], top),
        );
      }
    }
  } finally {
    fwd.release();
    inputs.release();
  }
  return out;
}

function scoreRow(row: Float32Array, target: number, top: number): TokenLogprob {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  const best = topIndices(row, top);
  return { logprob: row[target] - lse, top: best.map((i) => [i, row[i] - lse] as const) };
}

// The k largest entries, largest first (lowest index among ties), by one pass with a sorted buffer.
function topIndices(row: Float32Array, k: number): number[] {
  const out: number[] = [];
  if (k <= 0) return out;
  for (let i = 0; i < row.length; i++) {
    if (out.length === k && row[i] <= row[out[k - 1]]) continue;
    let at = out.length;
    while (at > 0 && row[out[at - 1]] < row[i]) at--;
    out.splice(at, 0, i);
    if (out.length > k) out.pop();
  }
  return out;
}

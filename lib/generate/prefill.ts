/**
 * The prefill both decoders start from (lib/generate/generate.ts and the server's continuous decode loop):
 * right-padded prompts through the transformer into a KV cache, logits wanted only at each prompt's end.
 *
 * @module
 */
import type { Tensor } from "../gpu/tensor.ts";
import { gatherRows } from "../ops/rows.ts";
import type { Model } from "../model/model.ts";
import { forward, type KvCache } from "../model/transformer.ts";
import { sequencesPerPass } from "../model/pass_plan.ts";

/**
 * Runs `prompts` (right-padded with `padId` to the longest; row i at positions 0 … len − 1) through the
 * model into `cache` and returns the final hidden state at each prompt's last token, [prompts, hidden].
 * `kvLen` holds each prompt's length. The prompts go through in as many passes as the device's limits ask
 * ({@link sequencesPerPass}): each pass writes its sequences' keys and values into their rows of the cache.
 * The inputs the recorded dispatches read are passed to `keep`: the caller releases them once the work is
 * submitted, never before.
 */
export function prefillLastHidden(
  model: Model,
  prompts: readonly (readonly number[])[],
  cache: KvCache,
  kvLen: Tensor,
  padId: number,
  keep: (t: Tensor) => Tensor,
): Tensor {
  const { gpu } = model;
  const batch = prompts.length;
  const lengths = prompts.map((p) => p.length);
  const promptLen = Math.max(...lengths);
  const perPass = sequencesPerPass(model, promptLen, batch);
  if (perPass >= batch) return prefillPass(model, prompts, promptLen, cache, 0, kvLen, padId, keep);
  const out = gpu.empty([batch, model.config.hiddenSize], "f32", "prefill.last");
  gpu.recorder.counters.splitPasses += Math.ceil(batch / perPass) - 1;
  for (let first = 0; first < batch; first += perPass) {
    const part = prompts.slice(first, first + perPass);
    const partLen = keep(gpu.fromArray(part.map((p) => p.length), [part.length], "i32", "prefill.kvLen"));
    const last = prefillPass(model, part, promptLen, cache, first, partLen, padId, keep);
    gpu.copy(last, out, first * model.config.hiddenSize);
    last.release();
  }
  return out;
}

/** One pass of {@link prefillLastHidden}: `prompts` into cache sequences from `firstSeq` on. */
function prefillPass(
  model: Model,
  prompts: readonly (readonly number[])[],
  promptLen: number,
  cache: KvCache,
  firstSeq: number,
  kvLen: Tensor,
  padId: number,
  keep: (t: Tensor) => Tensor,
): Tensor {
  const { gpu } = model;
  const batch = prompts.length;
  const ids = new Int32Array(batch * promptLen).fill(padId);
  const positions = new Int32Array(batch * promptLen);
  prompts.forEach((p, b) => {
    ids.set(p, b * promptLen);
    for (let i = 0; i < promptLen; i++) positions[b * promptLen + i] = i;
  });
  const fwd = forward(model, {
    batch,
    rowsPerSeq: promptLen,
    ids: keep(gpu.fromArray(ids, [ids.length], "i32", "prefill.ids")),
    positions: keep(gpu.fromArray(positions, [positions.length], "i32", "prefill.positions")),
    pastLen: keep(gpu.zeros([batch], "i32", "prefill.pastLen")),
    kvLen,
  }, { cache, prefill: true, cacheFirstSeq: firstSeq });
  const lastRows = keep(
    gpu.fromArray(prompts.map((p, b) => b * promptLen + p.length - 1), [batch], "i32", "prefill.lastRows"),
  );
  const last = gatherRows(gpu, fwd.final, lastRows);
  fwd.release();
  return last;
}

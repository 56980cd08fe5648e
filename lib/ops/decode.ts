import type { Gpu } from "../gpu/device.ts";
import { expectInt, expectTensor } from "../gpu/check.ts";
import type { KernelSpec } from "../gpu/kernel_registry.ts";
import type { Tensor } from "../gpu/tensor.ts";

const FILE = "decode.wgsl";
const RECORD: KernelSpec = {
  name: "recordStep",
  file: FILE,
  entry: "record_step",
  bindings: ["sampled", "sampledLogprob", "eos", "outIds", "outLogprob", "done", "positions", "kvLen"],
};

/** GPU state of a generation loop, one row per sequence. */
export interface DecodeState {
  /** i32 [B, maxNew]: sampled ids, `padId` after a row finished. */
  readonly outIds: Tensor;
  /** f32 [B, maxNew]: log-probability of each sampled id. */
  readonly outLogprob: Tensor;
  /** u32 [B]: 1 once the row produced an EOS id. */
  readonly done: Tensor;
  /** i32 [B]: index of the next input token (= tokens already in the KV cache). */
  readonly positions: Tensor;
  /** i32 [B]: keys the next step attends to (positions + 1). */
  readonly kvLen: Tensor;
  /** i32 [E]: ids that end a sequence. */
  readonly eos: Tensor;
}

/**
 * Records step `step` of generation: stores each row's sampled id and log-probability (pad for finished
 * rows), marks rows that sampled an EOS id, and advances unfinished rows by one position.
 */
export function recordStep(
  gpu: Gpu,
  state: DecodeState,
  sampled: Tensor,
  sampledLogprob: Tensor,
  step: number,
  padId: number,
): void {
  expectTensor("recordStep", "outIds", state.outIds, { dtype: "i32", shape: [null, null] });
  const [batch, maxNew] = state.outIds.shape;
  expectInt("recordStep", "step", step, 0, maxNew - 1);
  expectTensor("recordStep", "sampled", sampled, { dtype: "i32", shape: [batch] });
  expectTensor("recordStep", "sampledLogprob", sampledLogprob, { dtype: "f32", shape: [batch] });
  expectTensor("recordStep", "eos", state.eos, { dtype: "i32", shape: [null] });
  expectTensor("recordStep", "outLogprob", state.outLogprob, { dtype: "f32", shape: [batch, maxNew] });
  expectTensor("recordStep", "done", state.done, { dtype: "u32", shape: [batch] });
  expectTensor("recordStep", "positions", state.positions, { dtype: "i32", shape: [batch] });
  expectTensor("recordStep", "kvLen", state.kvLen, { dtype: "i32", shape: [batch] });
  gpu.dispatch(RECORD, {
    bindings: [
      sampled,
      sampledLogprob,
      state.eos,
      state.outIds,
      state.outLogprob,
      state.done,
      state.positions,
      state.kvLen,
    ],
    params: {
      batch,
      rows_per_seq: 1,
      width: 0,
      max_len: 0,
      step,
      max_new: maxNew,
      num_eos: state.eos.size,
      pad_id: padId,
    },
    workgroups: Math.ceil(batch / 64),
  });
}

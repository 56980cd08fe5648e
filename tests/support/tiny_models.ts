/** Tiny random checkpoints with weights large enough that attention and the MLP are far from uniform. */
import { makeTinyCheckpoint, type TinyCheckpoint, type TinyModelOptions } from "../../lib/model/tiny.ts";
import { bf16BitsToFloat32, float32ToBf16Bits } from "../../lib/model/safetensors.ts";
import { randn, rng } from "./numeric.ts";

/**
 * A tiny checkpoint whose matrices have std ~0.2 (HF's 0.02 init makes every logit nearly equal, which
 * would let a wrong kernel pass) and whose norm weights vary around 1. bf16 checkpoints keep exactly the
 * values a bf16 file stores.
 */
export function sharpTinyCheckpoint(options: TinyModelOptions = {}): TinyCheckpoint {
  const tiny = makeTinyCheckpoint(options);
  const r = rng((options.seed ?? 0) + 77);
  for (const [name, t] of tiny.tensors) {
    const noise = randn(r, t.data.length);
    let data: Float32Array;
    if (name.endsWith("norm.weight")) data = Float32Array.from(noise, (z) => 1 + 0.2 * z);
    else data = Float32Array.from(t.data, (v) => v * 10);
    if (options.dtype === "bf16") data = bf16BitsToFloat32(float32ToBf16Bits(data));
    tiny.tensors.set(name, { shape: t.shape, data });
  }
  return tiny;
}

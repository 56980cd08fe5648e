/** Element types a {@link Tensor} can hold. WGSL has no bf16: bf16 checkpoints are widened on load. */
export type DType = "f32" | "f16" | "i32" | "u32";

/** Host arrays that upload to / download from a tensor of each dtype. f16 travels as Float32Array. */
export type HostArray = Float32Array | Int32Array | Uint32Array;

/** Bytes per element of a dtype. */
export function bytesPerElement(dtype: DType): number {
  return dtype === "f16" ? 2 : 4;
}

/** Whether a string names a supported dtype. */
export function isDType(s: string): s is DType {
  return s === "f32" || s === "f16" || s === "i32" || s === "u32";
}

/** Encodes host values into the bytes a GPU buffer of `dtype` holds (f16 rounds to nearest even). */
export function encodeHost(dtype: DType, values: ArrayLike<number>): Uint8Array<ArrayBuffer> {
  switch (dtype) {
    case "f32":
      return bytesOf(
        values instanceof Float32Array && values.buffer instanceof ArrayBuffer
          ? values as Float32Array<ArrayBuffer>
          : Float32Array.from(values),
      );
    case "f16":
      return bytesOf(Float16Array.from(values));
    case "i32":
      return bytesOf(
        values instanceof Int32Array && values.buffer instanceof ArrayBuffer
          ? values as Int32Array<ArrayBuffer>
          : Int32Array.from(values),
      );
    case "u32":
      return bytesOf(
        values instanceof Uint32Array && values.buffer instanceof ArrayBuffer
          ? values as Uint32Array<ArrayBuffer>
          : Uint32Array.from(values),
      );
  }
}

/** Decodes `count` elements of `dtype` from raw buffer bytes; f16 is widened to Float32Array. */
export function decodeHost(dtype: DType, bytes: ArrayBuffer, count: number): HostArray {
  switch (dtype) {
    case "f32":
      return new Float32Array(bytes, 0, count).slice();
    case "f16":
      return Float32Array.from(new Float16Array(bytes, 0, count));
    case "i32":
      return new Int32Array(bytes, 0, count).slice();
    case "u32":
      return new Uint32Array(bytes, 0, count).slice();
  }
}

function bytesOf(a: ArrayBufferView<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Element types a {@link Tensor} can hold. WGSL has no bf16 type: a bf16 tensor is bound as `array<u32>`
 * (two elements per word, the lower-addressed one in the low half) and widened in the kernel, which needs no
 * `shader-f16`. Kernels read half-width weights through the loaders of {@link weightStorage}.
 */
export type DType = "f32" | "f16" | "bf16" | "i32" | "u32";

/** Dtypes a weight binding may have: f32 master weights, or a half-width inference copy. */
export type WeightDType = "f32" | "f16" | "bf16";

/** Host arrays that upload to / download from a tensor of each dtype. f16 travels as Float32Array. */
export type HostArray = Float32Array | Int32Array | Uint32Array;

/** Bytes per element of a dtype. */
export function bytesPerElement(dtype: DType): number {
  return dtype === "f16" || dtype === "bf16" ? 2 : 4;
}

/** Encodes host values into the bytes a GPU buffer of `dtype` holds (f16 and bf16 round to nearest even). */
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
    case "bf16":
      return bytesOf(f32ToBf16Bits(values));
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

/** Decodes `count` elements of `dtype` from raw buffer bytes; f16 and bf16 are widened to Float32Array. */
export function decodeHost(dtype: DType, bytes: ArrayBuffer, count: number): HostArray {
  switch (dtype) {
    case "f32":
      return new Float32Array(bytes, 0, count).slice();
    case "f16":
      return Float32Array.from(new Float16Array(bytes, 0, count));
    case "bf16":
      return bf16BitsToF32(new Uint16Array(bytes, 0, count));
    case "i32":
      return new Int32Array(bytes, 0, count).slice();
    case "u32":
      return new Uint32Array(bytes, 0, count).slice();
  }
}

function bytesOf(a: ArrayBufferView<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** bf16 bit patterns of f32 values, rounded to nearest even (every NaN becomes 0x7fc0), as torch rounds. */
export function f32ToBf16Bits(values: ArrayLike<number>): Uint16Array<ArrayBuffer> {
  const f = values instanceof Float32Array ? values : Float32Array.from(values);
  const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? 0x7fc0 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** f32 values of bf16 bit patterns (exact: bf16 is the upper half of an f32). */
export function bf16BitsToF32(bits: Uint16Array): Float32Array<ArrayBuffer> {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return new Float32Array(u.buffer);
}

/**
 * How a kernel binds a weight of `dtype`: the WGSL element type of its `array<WS>` binding and the body of
 * the loader `NAME_at(i) -> f32` (`$` stands for the binding's name). f16 without `shader-f16` is bound as
 * packed u32 pairs and widened with `unpack2x16float`, like bf16, so half-width weights work everywhere.
 * `store2` is the body of `NAME_store2(i, a, b)` for writable bindings (a half-width KV cache): it writes
 * elements i (even) and i + 1 together, so a packed u32 word is only ever written whole, by one thread.
 */
export function weightStorage(
  dtype: WeightDType,
  nativeF16: boolean,
): { element: string; load: string; load4: string; store2: string } {
  switch (dtype) {
    case "f32":
      return {
        element: "f32",
        load: "return $[i];",
        load4: "return vec4<f32>($[i], $[i + 1u], $[i + 2u], $[i + 3u]);",
        store2: "$[i] = a; $[i + 1u] = b;",
      };
    case "f16":
      return nativeF16
        ? {
          element: "f16",
          load: "return f32($[i]);",
          load4: "return vec4<f32>(f32($[i]), f32($[i + 1u]), f32($[i + 2u]), f32($[i + 3u]));",
          store2: "$[i] = f16(a); $[i + 1u] = f16(b);",
        }
        : {
          element: "u32",
          load: "return unpack2x16float($[i >> 1u])[i & 1u];",
          load4: "let j = i >> 1u; return vec4<f32>(unpack2x16float($[j]), unpack2x16float($[j + 1u]));",
          store2: "$[i >> 1u] = pack2x16float(vec2<f32>(a, b));",
        };
    case "bf16":
      return {
        element: "u32",
        load: "let w = $[i >> 1u]; return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u));",
        load4: "let j = i >> 1u; let a = $[j]; let b = $[j + 1u]; " +
          "return bitcast<vec4<f32>>(vec4<u32>(a << 16u, a & 0xffff0000u, b << 16u, b & 0xffff0000u));",
        // Round to nearest even like f32ToBf16Bits; every NaN becomes 0x7fc0.
        store2: "let u = vec2<u32>(bitcast<u32>(a), bitcast<u32>(b)); " +
          "let r = (u + vec2<u32>(0x7fffu) + ((u >> vec2<u32>(16u)) & vec2<u32>(1u))) >> vec2<u32>(16u); " +
          "let h = select(r, vec2<u32>(0x7fc0u), (u & vec2<u32>(0x7fffffffu)) > vec2<u32>(0x7f800000u)); " +
          "$[i >> 1u] = h.x | (h.y << 16u);",
      };
  }
}

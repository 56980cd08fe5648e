import { bytesPerElement, type DType, type HostArray } from "./dtype.ts";
import type { Gpu } from "./device.ts";

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * A typed, shaped range of a GPU buffer. Tensors made by {@link Gpu.empty} own their buffer and give it
 * back to the pool on {@link Tensor.release}; views made by {@link Tensor.view} share it and own nothing.
 */
export class Tensor {
  private released = false;

  /** Wraps `buffer` bytes [byteOffset, byteOffset + byteLength); use Gpu.empty / Gpu.fromArray instead. */
  constructor(
    readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly byteOffset = 0,
    private readonly owner = true,
  ) {}

  /** Element count. */
  get size(): number {
    return numel(this.shape);
  }

  /** Bytes the elements occupy (without padding). */
  get byteLength(): number {
    return this.size * bytesPerElement(this.dtype);
  }

  /** Bytes a binding of this tensor covers: WebGPU needs multiples of 4, so half-width tensors round up. */
  get bindingSize(): number {
    return Math.ceil(this.byteLength / 4) * 4;
  }

  /**
   * The binding resource for this tensor's range, widened to 16 bytes where the buffer has them: wgpu
   * keeps a previous pipeline's minimum binding size within a compute pass, so a 4-byte tensor bound by a
   * scalar kernel right after a vec4 kernel's dispatch is refused (kernels index only their own elements,
   * so the extra bytes are never touched; pool buffers hold at least 256).
   */
  binding(): GPUBufferBinding {
    const size = Math.max(this.bindingSize, Math.min(16, this.buffer.size - this.byteOffset));
    return { buffer: this.buffer, offset: this.byteOffset, size };
  }

  /** A tensor over the same elements with another shape of equal size. */
  reshape(shape: readonly number[]): Tensor {
    if (numel(shape) !== this.size) {
      throw new RangeError(
        `reshape: [${this.shape}] has ${this.size} elements, [${shape}] has ${numel(shape)}`,
      );
    }
    return new Tensor(this.gpu, this.buffer, shape, this.dtype, this.byteOffset, false);
  }

  /**
   * A non-owning view of `numel(shape)` elements starting at element `offset`. The byte offset must meet
   * the adapter's storage offset alignment (256 bytes on most GPUs).
   */
  view(shape: readonly number[], offset = 0): Tensor {
    const bytes = offset * bytesPerElement(this.dtype);
    if (offset < 0 || offset + numel(shape) > this.size) {
      throw new RangeError(
        `view: elements [${offset}, ${offset + numel(shape)}) outside tensor of ${this.size}`,
      );
    }
    const align = this.gpu.limits.minStorageBufferOffsetAlignment;
    if ((this.byteOffset + bytes) % align !== 0) {
      throw new RangeError(
        `view: byte offset ${
          this.byteOffset + bytes
        } is not a multiple of minStorageBufferOffsetAlignment ${align}`,
      );
    }
    return new Tensor(this.gpu, this.buffer, shape, this.dtype, this.byteOffset + bytes, false);
  }

  /** The same bytes read as another 4-byte dtype (i32, u32, f32): a view, no copy. */
  bitcast(dtype: "f32" | "i32" | "u32"): Tensor {
    if (this.dtype === "f16" || this.dtype === "bf16") {
      throw new RangeError(`bitcast: ${this.dtype} tensors have 2-byte elements`);
    }
    return new Tensor(this.gpu, this.buffer, this.shape, dtype, this.byteOffset, false);
  }

  /** Copies the elements back to the host (f16 and bf16 widened to f32). */
  read(): Promise<HostArray> {
    return this.gpu.read(this);
  }

  /** Uploads host values into this tensor. */
  write(data: ArrayLike<number>): void {
    this.gpu.write(this, data);
  }

  /** Gives the buffer back to the pool; the tensor must not be used afterwards. Views ignore this. */
  release(): void {
    if (!this.owner || this.released) return;
    this.released = true;
    this.gpu.pool.release(this.buffer);
  }

  /** Whether {@link release} was called on this owning tensor. */
  get isReleased(): boolean {
    return this.released;
  }
}

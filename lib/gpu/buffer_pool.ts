/**
 * Size-bucketed pool of storage buffers. Buckets are a quarter octave wide (at most 25% slack) so a
 * training step that frees and re-allocates the same activation shapes reuses the same buffers.
 * Long-lived buffers (model weights) are allocated at their exact size instead ({@link acquireExact}):
 * they are never reused, so a bucket's slack would be waste for the model's lifetime. They still count in
 * {@link stats}, and are destroyed when released.
 *
 * A released buffer may still be bound by dispatches that are recorded but not yet submitted; handing it
 * out again before that submit would let an upload overwrite it too early. Releases therefore wait in
 * `pending` until the recorder submits, then move to the free lists.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private readonly exact = new Set<GPUBuffer>();
  private liveBytes = 0;
  private peakBytes = 0;

  /** Creates a pool on `device` whose buffers carry `usage`. */
  constructor(private readonly device: GPUDevice, private readonly usage: GPUBufferUsageFlags) {}

  /** Bucket size for a request: rounds up to a quarter octave, 256 bytes at least. */
  static bucket(bytes: number): number {
    if (bytes <= 256) return 256;
    const step = 2 ** Math.max(8, Math.floor(Math.log2(bytes)) - 2);
    return Math.ceil(bytes / step) * step;
  }

  /** A buffer of at least `bytes` bytes, reused when one of the same bucket is free. */
  acquire(bytes: number, label: string): GPUBuffer {
    const size = BufferPool.bucket(bytes);
    const reused = this.free.get(size)?.pop();
    if (reused) return reused;
    const buffer = this.device.createBuffer({ size, usage: this.usage, label });
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return buffer;
  }

  /**
   * A buffer of exactly `bytes` bytes (rounded up to 4, WebGPU's copy granularity), never shared through
   * the free lists: for data that lives as long as a model. Counted in live and peak bytes.
   */
  acquireExact(bytes: number, label: string): GPUBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const buffer = this.device.createBuffer({ size, usage: this.usage, label });
    this.exact.add(buffer);
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return buffer;
  }

  /** Returns a buffer to the pool once the commands recorded so far are submitted. */
  release(buffer: GPUBuffer): void {
    this.pending.push(buffer);
  }

  /** Called by the recorder after a submit: pending releases become reusable (exact-size ones are destroyed). */
  commitReleases(): void {
    for (const b of this.pending) {
      if (this.exact.delete(b)) {
        this.liveBytes -= b.size;
        b.destroy();
        continue;
      }
      const list = this.free.get(b.size);
      if (list) list.push(b);
      else this.free.set(b.size, [b]);
    }
    this.pending = [];
  }

  /** Destroys every free buffer (after a phase that used memory that will not be needed again). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.liveBytes -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }

  /** Bytes held from the device now, and the most held at once since the last {@link resetPeak}. */
  stats(): { liveBytes: number; peakBytes: number } {
    return { liveBytes: this.liveBytes, peakBytes: this.peakBytes };
  }

  /** Starts a new peak measurement from the current live size. */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }
}

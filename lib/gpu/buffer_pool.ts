/**
 * Size-bucketed pool of storage buffers. Buckets are a quarter octave wide (at most 25% slack) so a
 * training step that frees and re-allocates the same activation shapes reuses the same buffers. A buffer
 * serves only requests of its own bucket; a phase with other lengths (the next micro-batch, scoring
 * batch or step) makes buffers of other buckets, so free buffers are given back to the device between
 * phases ({@link trim}) and memory stays that of the largest phase, not the sum over every size seen.
 * Long-lived buffers (model weights) are allocated at their exact size instead ({@link acquireExact}):
 * they are never reused, so a bucket's slack would be waste for the model's lifetime. They still count in
 * {@link stats}, and are destroyed when released.
 *
 * A released buffer may still be bound by dispatches that are recorded but not yet submitted. Commands run
 * in the order they are recorded, so a new tensor that only the GPU fills may take it at once
 * ({@link acquire}): its commands come after the old owner's. An upload (queue.writeBuffer) would overtake
 * those commands, so a tensor filled from the host takes only buffers released before the last submit
 * ({@link acquireForUpload}).
 */
export class BufferPool {
  /** Buffers no unsubmitted command binds, by bucket. */
  private readonly free = new Map<number, GPUBuffer[]>();
  /** Buffers released since the last submit, by bucket. */
  private released = new Map<number, GPUBuffer[]>();
  /** Exact-size buffers released since the last submit, destroyed after it. */
  private retiring: GPUBuffer[] = [];
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

  /**
   * A buffer of at least `bytes` bytes for a tensor that recorded commands fill: the latest released one of
   * its bucket, even one that unsubmitted commands still bind, else a new one.
   */
  acquire(bytes: number, label: string): GPUBuffer {
    const size = BufferPool.bucket(bytes);
    return this.released.get(size)?.pop() ?? this.free.get(size)?.pop() ?? this.create(size, label);
  }

  /**
   * A buffer of at least `bytes` bytes that no unsubmitted command binds, so that an upload ahead of those
   * commands cannot change what they read: reused only from buffers released before the last submit.
   */
  acquireForUpload(bytes: number, label: string): GPUBuffer {
    const size = BufferPool.bucket(bytes);
    return this.free.get(size)?.pop() ?? this.create(size, label);
  }

  /** Allocates a new buffer when no released one of this size is free. */
  private create(size: number, label: string): GPUBuffer {
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

  /**
   * Returns a buffer to the pool: to tensors that the GPU fills at once, to uploads after the next submit.
   * Exact-size buffers are destroyed after that submit.
   */
  release(buffer: GPUBuffer): void {
    if (this.exact.has(buffer)) {
      this.retiring.push(buffer);
      return;
    }
    const list = this.released.get(buffer.size);
    if (list) list.push(buffer);
    else this.released.set(buffer.size, [buffer]);
  }

  /** Called by the recorder after a submit: released buffers become free (exact-size ones are destroyed). */
  commitReleases(): void {
    for (const b of this.retiring) {
      this.exact.delete(b);
      this.liveBytes -= b.size;
      b.destroy();
    }
    this.retiring = [];
    for (const [size, list] of this.released) {
      const free = this.free.get(size);
      if (free) free.push(...list);
      else this.free.set(size, list);
    }
    this.released = new Map();
  }

  /**
   * Destroys every free buffer (after a phase whose sizes the next phase will not ask for) and returns
   * their bytes. Buffers released since the last submit stay: recorded commands that are not submitted
   * yet may bind them, and a submit that binds a destroyed buffer fails. Submit first
   * (`Gpu.trim` in lib/gpu/device.ts does) to free those too.
   */
  trim(): number {
    let freed = 0;
    for (const list of this.free.values()) {
      for (const b of list) {
        freed += b.size;
        b.destroy();
      }
    }
    this.free.clear();
    this.liveBytes -= freed;
    return freed;
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

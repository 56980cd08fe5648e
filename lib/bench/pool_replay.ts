/**
 * The buffer pool's reuse rules (lib/gpu/buffer_pool.ts) on sizes alone, so that a cost model can replay
 * a sequence of acquisitions and releases and get the bytes the pool would hold, without a device.
 *
 * @module
 */
import { BufferPool } from "../gpu/buffer_pool.ts";

/** A buffer of a {@link PoolReplay}: its bucket, and whether it was handed back. */
export interface ReplayBuffer {
  /** Bucket size in bytes ({@link BufferPool.bucket}). */
  readonly bucket: number;
  /** Set by {@link PoolReplay.release}. */
  released: boolean;
}

/**
 * Counts what a {@link BufferPool} holds for a sequence of requests, bucket by bucket: a tensor that
 * kernels fill ({@link acquire}) takes a released buffer of its bucket whether or not a submit came
 * since its release; an upload ({@link acquireForUpload}) takes only one released before the last
 * {@link submit}; failing those, a new buffer is created. The pool destroys nothing between trims, so
 * the peak is every buffer created since the replay started from an empty pool.
 */
export class PoolReplay {
  /** Buffers per bucket released before the last submit. */
  private readonly free = new Map<number, number>();
  /** Buffers per bucket released since the last submit. */
  private readonly released = new Map<number, number>();
  private created = 0;

  /** A buffer for a tensor that recorded commands fill: a released one of its bucket, else a new one. */
  acquire(bytes: number): ReplayBuffer {
    const bucket = BufferPool.bucket(bytes);
    return this.take(this.released, bucket) || this.take(this.free, bucket)
      ? { bucket, released: false }
      : this.create(bucket);
  }

  /** A buffer for a tensor filled from the host: one released before the last submit, else a new one. */
  acquireForUpload(bytes: number): ReplayBuffer {
    const bucket = BufferPool.bucket(bytes);
    return this.take(this.free, bucket) ? { bucket, released: false } : this.create(bucket);
  }

  /** Hands `buffer` back: to kernel-filled tensors at once, to uploads after the next submit. */
  release(buffer: ReplayBuffer): void {
    if (buffer.released) throw new Error(`PoolReplay: a ${buffer.bucket}-byte buffer was released twice`);
    buffer.released = true;
    this.released.set(buffer.bucket, (this.released.get(buffer.bucket) ?? 0) + 1);
  }

  /** A submit: buffers released so far become free for uploads too. */
  submit(): void {
    for (const [bucket, n] of this.released) this.free.set(bucket, (this.free.get(bucket) ?? 0) + n);
    this.released.clear();
  }

  /** Bytes of every buffer created so far: the pool's growth, and its peak, since the replay began. */
  get createdBytes(): number {
    return this.created;
  }

  private take(lists: Map<number, number>, bucket: number): boolean {
    const n = lists.get(bucket) ?? 0;
    if (n === 0) return false;
    lists.set(bucket, n - 1);
    return true;
  }

  private create(bucket: number): ReplayBuffer {
    this.created += bucket;
    return { bucket, released: false };
  }
}

import { deviceLimitsFromEnv } from "./limits_env.ts";
import { BufferPool } from "./buffer_pool.ts";
import { debugLevel, dispatchLine, KernelTimer } from "./debug.ts";
import { bytesPerElement, decodeHost, type DType, encodeHost, type HostArray } from "./dtype.ts";
import { GpuError, KernelArgumentError } from "./errors.ts";
import { KernelRegistry, type KernelSpec, type KernelVariant } from "./kernel_registry.ts";
import { type GpuCounters, Recorder } from "./recorder.ts";
import { numel, Tensor } from "./tensor.ts";

/** Optional features rlif uses when the adapter offers them. */
export interface GpuFeatures {
  /** `shader-f16`: f16 weights and activations in WGSL. */
  readonly f16: boolean;
  /** `timestamp-query`: GPU-side timings in benchmarks. */
  readonly timestampQuery: boolean;
}

/** The numeric limits of the device (the adapter's maxima, requested in full). */
export type GpuLimits = Readonly<Record<keyof GPUSupportedLimits, number>>;

/** Arguments of one {@link Gpu.dispatch}. */
export interface DispatchArgs {
  /** Storage bindings in the order of the spec's `bindings`. */
  readonly bindings: readonly Tensor[];
  /** Uniform values by name, as declared in the spec's `params`. */
  readonly params?: Readonly<Record<string, number>>;
  /** Workgroup counts; a 1-D count over the per-dimension limit is flattened (kernels use `flat_wg`). */
  readonly workgroups: number | readonly [number, number?, number?];
  /** Type aliases and override constants for this pipeline. */
  readonly variant?: KernelVariant;
}

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * A WebGPU device with rlif's runtime around it: buffer pool, kernel registry, and a recorder that
 * batches dispatches into few submits. Obtain it with {@link getDevice}.
 *
 * @example
 * ```ts
 * import { getDevice } from "./mod.ts";
 * const gpu = await getDevice();
 * const t = gpu.fromArray(new Float32Array([1, 2, 3]), [3]);
 * console.log(await t.read(), gpu.counters());
 * ```
 */
export class Gpu {
  /** The device's limits (the adapter's maxima). */
  readonly limits: GpuLimits;
  /** Optional features enabled on the device. */
  readonly features: GpuFeatures;
  /** Pool that tensors draw their buffers from. */
  readonly pool: BufferPool;
  /** Kernel sources and pipeline cache. */
  readonly kernels: KernelRegistry;
  /** The recorder all dispatches go into. */
  readonly recorder: Recorder;
  private readonly errors: string[] = [];
  private lost: string | null = null;
  private readonly readbackFree = new Map<number, GPUBuffer[]>();
  /** RLIF_DEBUG >= 1: print every dispatch (see lib/gpu/debug.ts). */
  private readonly printDispatches: boolean;

  /**
   * Wraps a device; use {@link getDevice}. `lowered` limits (RLIF_DEVICE_LIMITS, lib/gpu/limits_env.ts)
   * replace the device's where smaller: every planner reads {@link Gpu.limits} and every dispatch is checked
   * against them.
   */
  constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: GPUAdapterInfo,
    lowered: Readonly<Record<string, number>> = {},
  ) {
    const limits: Record<string, number> = {};
    for (const key in device.limits) limits[key] = (device.limits as unknown as Record<string, number>)[key];
    for (const [key, value] of Object.entries(lowered)) limits[key] = Math.min(limits[key], value);
    this.limits = limits as GpuLimits;
    this.features = {
      f16: device.features.has("shader-f16"),
      timestampQuery: device.features.has("timestamp-query"),
    };
    this.pool = new BufferPool(device, STORAGE_USAGE);
    this.kernels = new KernelRegistry(device, this.features.f16, (m) => this.errors.push(m));
    this.recorder = new Recorder(device, this.pool, this.limits.minUniformBufferOffsetAlignment);
    const debug = debugLevel();
    this.printDispatches = debug >= 1;
    if (debug === 2) {
      if (this.features.timestampQuery) this.recorder.timer = new KernelTimer(device);
      else console.error("rlif: RLIF_DEBUG=2 needs timestamp-query, which this adapter lacks; no GPU times");
    }
    device.addEventListener("uncapturederror", (e) => {
      this.errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
    device.lost.then((info) => {
      this.lost = `${info.reason}: ${info.message}`;
    });
  }

  /**
   * A new uninitialised tensor from the pool, for recorded commands to fill; its buffer may have been
   * released by a tensor that unsubmitted commands still read (they run first). {@link write} into it
   * submits them before uploading.
   */
  empty(shape: readonly number[], dtype: DType = "f32", label = "tensor"): Tensor {
    const bytes = this.checkedBytes(shape, dtype, label);
    return new Tensor(this, this.pool.acquire(bytes, label), shape, dtype);
  }

  /**
   * A new uninitialised tensor in a buffer of exactly its size, for data as long-lived as a model (its
   * weights): no pool bucket slack. Counted in the pool's live / peak bytes; released like any tensor.
   */
  emptyExact(shape: readonly number[], dtype: DType = "f32", label = "tensor"): Tensor {
    const bytes = this.checkedBytes(shape, dtype, label);
    return new Tensor(this, this.pool.acquireExact(bytes, label), shape, dtype);
  }

  /** Buffer bytes of a tensor (a multiple of 4, at least 4), refusing bad shapes and oversized buffers. */
  private checkedBytes(shape: readonly number[], dtype: DType, label: string): number {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new RangeError(`${label}: shape [${shape}] must hold integers >= 0`);
      }
    }
    const bytes = Math.max(4, Math.ceil((numel(shape) * bytesPerElement(dtype)) / 4) * 4);
    if (bytes > this.limits.maxBufferSize) {
      throw new GpuError(
        `${label}: a ${dtype} tensor of shape [${shape}] needs ${bytes} bytes, over the adapter's maxBufferSize ` +
          `${this.limits.maxBufferSize}; split it`,
      );
    }
    this.throwIfFailed();
    return bytes;
  }

  /** A new zero-filled tensor. */
  zeros(shape: readonly number[], dtype: DType = "f32", label = "zeros"): Tensor {
    const t = this.empty(shape, dtype, label);
    this.recorder.clear(t.buffer, 0, t.bindingSize);
    return t;
  }

  /**
   * A new tensor holding `data` (length must equal the shape's element count). Unlike {@link write} it
   * submits nothing. The upload goes onto the queue at once, ahead of the commands recorded but not yet
   * submitted; the tensor's buffer is one that none of them binds ({@link BufferPool.acquireForUpload}: new,
   * or released before the last submit), so the upload cannot change what they read, and every command
   * recorded from now on is submitted after it and sees `data`.
   */
  fromArray(
    data: ArrayLike<number>,
    shape: readonly number[],
    dtype: DType = "f32",
    label = "tensor",
  ): Tensor {
    checkLength("fromArray", shape, data);
    const bytes = this.checkedBytes(shape, dtype, label);
    const t = new Tensor(this, this.pool.acquireForUpload(bytes, label), shape, dtype);
    this.upload(t, data);
    return t;
  }

  /** Records zero-filling of `t` (gradient buffers between steps; unlike scaling by 0 it clears NaN). */
  clear(t: Tensor): void {
    this.recorder.clear(t.buffer, t.byteOffset, t.bindingSize);
  }

  /**
   * Uploads host values into `t`. Pending commands are submitted first so they see the old contents: an
   * upload goes straight onto the queue, ahead of commands that are recorded but not yet submitted, and an
   * existing tensor may be bound by some of them.
   */
  write(t: Tensor, data: ArrayLike<number>): void {
    checkLength("write", t.shape, data);
    this.recorder.flush();
    this.upload(t, data);
  }

  /** Queues the upload of `data` into `t`, ahead of any recorded-but-unsubmitted command. */
  private upload(t: Tensor, data: ArrayLike<number>): void {
    // Deno's writeBuffer panics on an empty write.
    if (data.length === 0) return;
    const bytes = encodeHost(t.dtype, data);
    const padded = bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes);
    this.device.queue.writeBuffer(t.buffer, t.byteOffset, padded);
  }

  /**
   * Uploads the bytes a tensor of `t.dtype` holds, as they are (bf16 / f16 bit patterns from a checkpoint,
   * with no widening on the host). Pending commands are submitted first so they see the old contents.
   */
  writeBytes(t: Tensor, bytes: Uint8Array<ArrayBuffer>): void {
    if (bytes.byteLength !== t.byteLength) {
      throw new RangeError(
        `writeBytes: ${t.dtype} tensor [${t.shape}] holds ${t.byteLength} bytes, got ${bytes.byteLength}`,
      );
    }
    this.recorder.flush();
    this.device.queue.writeBuffer(t.buffer, t.byteOffset, bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes));
  }

  /**
   * Records a copy of `src` into `dst` (same dtype), into elements [at, at + src.size) of `dst`: the whole
   * of an equally sized `dst` by default. A copy moves whole 4-byte words, so `at` must start one and a
   * half-width `src` of odd length may only end at the end of `dst`.
   */
  copy(src: Tensor, dst: Tensor, at = 0): void {
    const bpe = bytesPerElement(src.dtype);
    const fits = src.dtype === dst.dtype && Number.isInteger(at) && at >= 0 && at + src.size <= dst.size;
    const whole = at === 0 && src.size === dst.size;
    if (
      !fits || (!whole && (at * bpe % 4 !== 0 || (src.byteLength % 4 !== 0 && at + src.size !== dst.size)))
    ) {
      throw new RangeError(
        `copy: ${src.dtype}[${src.shape}] into ${dst.dtype}[${dst.shape}] at element ${at}: the dtypes must ` +
          `match, the elements must fit, and a partial copy must start and end on 4-byte boundaries`,
      );
    }
    this.recorder.copy(src.buffer, src.byteOffset, dst.buffer, dst.byteOffset + at * bpe, src.bindingSize);
  }

  /**
   * Reads a tensor back. Submits pending work; several reads may be in flight at once (each has its own
   * staging buffer), which is how hot loops overlap readback latency with new work.
   */
  async read(t: Tensor): Promise<HostArray> {
    const [out] = await this.readAll([t]);
    return out;
  }

  /**
   * Reads several tensors back with one readback: their bytes are copied into one staging buffer, which
   * is mapped once. Returns each tensor's host array, as {@link read} returns it, in order. The copies are
   * recorded and submitted before the promise is returned, so the tensors may be released, or overwritten
   * by work recorded afterwards, at once.
   */
  async readAll(tensors: readonly Tensor[]): Promise<HostArray[]> {
    this.throwIfFailed();
    const offsets: number[] = [];
    let size = 0;
    tensors.forEach((t, i) => {
      if (t.isReleased) throw new GpuError(`readAll: tensor ${i} [${t.shape}] was released before the read`);
      offsets.push(size);
      size += t.bindingSize;
    });
    if (size === 0) return tensors.map((t) => decodeHost(t.dtype, new ArrayBuffer(0), 0));
    if (size > this.limits.maxBufferSize) {
      throw new GpuError(
        `readAll: ${tensors.length} tensors take ${size} bytes, over the adapter's maxBufferSize ` +
          `${this.limits.maxBufferSize}; read them in parts`,
      );
    }
    const bucket = BufferPool.bucket(size);
    const staging = this.readbackFree.get(bucket)?.pop() ??
      this.device.createBuffer({ size: bucket, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    tensors.forEach((t, i) => {
      if (t.bindingSize > 0) this.recorder.copy(t.buffer, t.byteOffset, staging, offsets[i], t.bindingSize);
    });
    this.recorder.flush();
    this.recorder.counters.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
    } catch (e) {
      this.throwIfFailed();
      const shapes = tensors.map((t) => `[${t.shape}]`).join(", ");
      throw new GpuError(`read of tensors ${shapes} failed: ${(e as Error).message}`, { cause: e });
    }
    const mapped = staging.getMappedRange(0, size);
    // decodeHost copies out of the mapping; only tensors after the first need their bytes moved to offset 0.
    const out = tensors.map((t, i) =>
      decodeHost(t.dtype, i === 0 ? mapped : mapped.slice(offsets[i], offsets[i] + t.bindingSize), t.size)
    );
    staging.unmap();
    const list = this.readbackFree.get(bucket);
    if (list) list.push(staging);
    else this.readbackFree.set(bucket, [staging]);
    this.throwIfFailed();
    if (this.recorder.timer) await this.printTimes();
    return out;
  }

  /** Records one kernel dispatch after checking binding sizes against the device limits. */
  dispatch(spec: KernelSpec, args: DispatchArgs): void {
    this.throwIfFailed();
    if (args.bindings.length !== spec.bindings.length) {
      throw new KernelArgumentError(
        spec.name,
        spec.bindings.join(", "),
        `expects ${spec.bindings.length} tensors, got ${args.bindings.length}`,
      );
    }
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    const storage = args.bindings.map((t, i) => {
      if (t.isReleased) throw new KernelArgumentError(spec.name, spec.bindings[i], "was released before use");
      if (t.bindingSize > maxBinding) {
        throw new KernelArgumentError(
          spec.name,
          spec.bindings[i],
          `is ${t.bindingSize} bytes (${t.dtype}[${t.shape}]), over the adapter's maxStorageBufferBindingSize ` +
            `${maxBinding}; split the tensor`,
        );
      }
      return t.binding();
    });
    const kernel = this.kernels.pipeline(spec, args.variant);
    const grid = this.grid(spec, args.workgroups);
    if (this.printDispatches) {
      console.error(dispatchLine(spec, grid, args.params ?? {}, args.variant, args.bindings));
    }
    this.recorder.dispatch(spec, kernel, storage, args.params ?? {}, grid);
  }

  /** A snapshot of the work asked of the GPU so far (subtract two snapshots to count a region). */
  counters(): GpuCounters {
    return { ...this.recorder.counters };
  }

  /** Submits all recorded work. */
  flush(): void {
    this.recorder.flush();
  }

  /**
   * Gives back to the device the memory no tensor holds: submits the recorded work (so every buffer
   * released before now is bound by submitted commands only), then destroys the pool's free buffers
   * ({@link BufferPool.trim}) and the idle readback staging buffers. WebGPU defers a destroyed buffer's
   * release until the submitted work that uses it has run, so nothing has to be awaited. Call it between
   * phases whose shapes differ (a GRPO step's rollouts, scoring and update), so that memory is the
   * largest phase's, not the sum of every size a long run has seen. Returns the pool bytes freed.
   */
  trim(): number {
    this.recorder.flush();
    const freed = this.pool.trim();
    for (const list of this.readbackFree.values()) for (const b of list) b.destroy();
    this.readbackFree.clear();
    return freed;
  }

  /** Submits all recorded work and waits until the GPU has finished it. */
  async sync(): Promise<void> {
    this.recorder.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed();
    if (this.recorder.timer) await this.printTimes();
  }

  /** RLIF_DEBUG=2: the GPU time per kernel since the last table, to stderr. */
  private async printTimes(): Promise<void> {
    const table = await this.recorder.timer!.report();
    if (table !== null) console.error(table);
  }

  /** Throws the first uncaptured device error or the device loss, naming the labelled kernel. */
  throwIfFailed(): void {
    if (this.lost !== null) throw new GpuError(`the GPU device was lost (${this.lost}); restart the process`);
    if (this.errors.length > 0) {
      const [first] = this.errors.splice(0);
      throw new GpuError(`WebGPU reported an error: ${first.trim()}`);
    }
  }

  /** Workgroup counts as [x, y, z], refused when one exceeds the adapter limit. */
  private grid(spec: KernelSpec, wg: DispatchArgs["workgroups"]): [number, number, number] {
    const [x, y = 1, z = 1] = typeof wg === "number" ? [wg] : wg;
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    for (const n of [x, y, z]) {
      if (!Number.isInteger(n) || n < 0) {
        throw new GpuError(`${spec.name}: workgroup count ${n} is not an integer`);
      }
    }
    if (x <= max && y <= max && z <= max) return [x, y, z];
    if (y === 1 && z === 1) {
      this.recorder.counters.folded++;
      const rows = Math.ceil(x / max);
      return [Math.ceil(x / rows), rows, 1];
    }
    throw new GpuError(`${spec.name}: grid [${x}, ${y}, ${z}] exceeds ${max} workgroups per dimension`);
  }
}

function checkLength(caller: string, shape: readonly number[], data: ArrayLike<number>): void {
  if (data.length !== numel(shape)) {
    throw new RangeError(
      `${caller}: tensor [${shape}] has ${numel(shape)} elements, data has ${data.length}`,
    );
  }
}

function padTo4(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}

let shared: Promise<Gpu> | null = null;

/**
 * The process-wide GPU runtime: requests the adapter's maximum limits and `shader-f16` /
 * `timestamp-query` when offered, and loads the kernels. Throws a clear error when there is no adapter.
 *
 * @example
 * ```ts
 * import { getDevice } from "./mod.ts";
 * const gpu = await getDevice();
 * console.log(gpu.adapterInfo.description, gpu.features);
 * ```
 */
export function getDevice(): Promise<Gpu> {
  shared ??= createGpu().catch((e) => {
    shared = null;
    throw e;
  });
  return shared;
}

async function createGpu(): Promise<Gpu> {
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuError("this Deno has no WebGPU (navigator.gpu is missing); use Deno 2.x", {
      code: "gpu.no_webgpu",
    });
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new GpuError(
      "no WebGPU adapter found. On a machine without a GPU install Mesa's software Vulkan driver " +
        "(apt-get install -y mesa-vulkan-drivers libvulkan1); on an NVIDIA machine install the driver with " +
        "its Vulkan ICD.",
      { code: "gpu.no_adapter" },
    );
  }
  const requiredFeatures: GPUFeatureName[] = [];
  for (const f of ["shader-f16", "timestamp-query"] as const) {
    if (adapter.features.has(f)) requiredFeatures.push(f);
  }
  const requiredLimits: Record<string, number> = {};
  for (
    const key of [
      "maxBufferSize",
      "maxStorageBufferBindingSize",
      "maxStorageBuffersPerShaderStage",
      "maxComputeWorkgroupStorageSize",
      "maxComputeInvocationsPerWorkgroup",
      "maxComputeWorkgroupSizeX",
      "maxComputeWorkgroupSizeY",
      "maxComputeWorkgroupSizeZ",
      "maxComputeWorkgroupsPerDimension",
    ] as const
  ) requiredLimits[key] = adapter.limits[key];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: "rlif" });
  const adapterLimits: Record<string, number> = {};
  for (const key in device.limits) {
    adapterLimits[key] = (device.limits as unknown as Record<string, number>)[key];
  }
  const gpu = new Gpu(device, adapter.info, deviceLimitsFromEnv(adapterLimits));
  await gpu.kernels.loadAll();
  return gpu;
}

import type { BufferPool } from "./buffer_pool.ts";
import type { KernelTimer } from "./debug.ts";
import type { CompiledKernel, KernelSpec, ParamLayout } from "./kernel_registry.ts";
import { GpuError } from "./errors.ts";

/** Counts of what the host asked of the GPU; the CPU-measurable face of GPU speed. */
export interface GpuCounters {
  /** Compute dispatches recorded. */
  dispatches: number;
  /** Queue submits. */
  submits: number;
  /** Bind groups created. */
  bindGroups: number;
  /** Buffer readbacks (each one a mapAsync the host waits for). */
  readbacks: number;
  /** Dispatches whose grid the runtime folded onto another axis (over maxComputeWorkgroupsPerDimension). */
  folded: number;
  /** Forward passes added by splitting a batch to the device's limits (lib/model/pass_plan.ts). */
  splitPasses: number;
}

function fits(type: "u32" | "i32" | "f32", v: number): boolean {
  if (type === "f32") return Number.isFinite(v);
  if (!Number.isInteger(v)) return false;
  return type === "u32" ? v >= 0 && v <= 0xffffffff : v >= -0x80000000 && v <= 0x7fffffff;
}

/**
 * Why `params` do not fit the reflected struct: every unknown, missing (read by the entry point but not
 * given) and ill-typed field, with the struct as the WGSL declares it.
 */
function paramsError(spec: KernelSpec, layout: ParamLayout | null, params: Readonly<Record<string, number>>) {
  const where = `kernel ${spec.name} (kernels/${spec.file}, entry ${spec.entry})`;
  if (layout === null) {
    return new GpuError(
      `${where} binds no params struct, but the dispatch gives ${Object.keys(params).join(", ")}`,
    );
  }
  const problems: string[] = [];
  for (const k in params) if (!layout.index.has(k)) problems.push(`unknown "${k}"`);
  for (const f of layout.fields) {
    const v = params[f.name];
    if (v === undefined) {
      if (layout.read.has(f.name)) problems.push(`missing "${f.name}" (${f.type}, read by ${spec.entry})`);
    } else if (typeof v !== "number" || !fits(f.type, v)) {
      problems.push(`"${f.name}" is ${f.type}, got ${v}`);
    }
  }
  const decl = layout.fields.map((f) => `${f.name}: ${f.type}`).join(", ");
  return new GpuError(
    `${where}: params do not match struct ${layout.struct} { ${decl} }: ${problems.join("; ")}`,
  );
}

/**
 * Records dispatches into one command encoder and one open compute pass, and submits them together.
 * Every dispatch's params go into one CPU-side staging area that is uploaded with a single writeBuffer
 * right before the submit; queue order makes that safe even while an earlier submit still reads the
 * same uniform buffer.
 */
export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly staging: ArrayBuffer;
  private readonly view: DataView;
  private readonly uniform: GPUBuffer;
  private used = 0;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  /** Set by RLIF_DEBUG=2: every dispatch then gets its own timed compute pass. */
  timer: KernelTimer | null = null;
  /** Work asked of the GPU so far: monotonic, for benchmarks and budget tests (see {@link GpuCounters}). */
  readonly counters: GpuCounters = {
    dispatches: 0,
    submits: 0,
    bindGroups: 0,
    readbacks: 0,
    folded: 0,
    splitPasses: 0,
  };

  /** Creates a recorder; `align` is the adapter's minUniformBufferOffsetAlignment. */
  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
    private readonly align: number,
    capacityBytes = 1 << 20,
    private readonly bindGroupCapacity = 4096,
  ) {
    this.staging = new ArrayBuffer(capacityBytes);
    this.view = new DataView(this.staging);
    this.uniform = device.createBuffer({
      size: capacityBytes,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "rlif.params",
    });
  }

  /** Whether commands are recorded but not yet submitted. */
  get pending(): boolean {
    return this.encoder !== null;
  }

  /** Number of submits so far (for tests and benchmarks of batching). */
  get submitCount(): number {
    return this.counters.submits;
  }

  /**
   * Records one dispatch of `kernel` with the given storage bindings and params. Params are laid out by
   * the struct reflected from the WGSL: every field the entry point reads must be given, fields it does
   * not read default to 0, and a name the struct lacks or a value its type cannot hold is an error naming
   * the kernel, its file and the fields.
   */
  dispatch(
    spec: KernelSpec,
    kernel: CompiledKernel,
    storage: GPUBufferBinding[],
    params: Readonly<Record<string, number>>,
    grid: readonly [number, number, number],
  ): void {
    const layout = kernel.params;
    const fields = layout?.fields ?? [];
    for (const k in params) if (!layout?.index.has(k)) throw paramsError(spec, layout, params);
    const slot = Math.ceil(Math.max(16, fields.length * 4) / this.align) * this.align;
    if (this.used + slot > this.staging.byteLength || this.timer?.full) this.flush();
    let offsets: number[] = [];
    if (fields.length > 0) {
      const base = this.used;
      fields.forEach(({ name, type }, i) => {
        let v = params[name];
        if (v === undefined) {
          if (layout!.read.has(name)) throw paramsError(spec, layout, params);
          v = 0;
        } else if (typeof v !== "number" || !fits(type, v)) throw paramsError(spec, layout, params);
        const at = base + 4 * i;
        if (type === "f32") this.view.setFloat32(at, v, true);
        else if (type === "i32") this.view.setInt32(at, v, true);
        else this.view.setUint32(at, v, true);
      });
      offsets = [base];
      this.used += slot;
    }
    const pipeline = kernel.pipeline;
    const bindGroup = this.bindGroup(spec, pipeline, storage, fields.length * 4);
    const pass = this.openPass(spec.name);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup, offsets);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.counters.dispatches++;
  }

  /**
   * The bind group of a pipeline and its exact storage ranges, created on first use and then reused:
   * a decode step binds the same workspace and weight buffers every step, so after the first step it
   * creates none. Params are not part of the key — they reach the kernel through the uniform's dynamic
   * offset. The cache is an LRU of `bindGroupCapacity` entries, because training draws ever new
   * combinations of pool buffers and must not grow it without limit.
   */
  private bindGroup(
    spec: KernelSpec,
    pipeline: GPUComputePipeline,
    storage: GPUBufferBinding[],
    paramBytes: number,
  ): GPUBindGroup {
    let key = `${this.id(pipeline)}`;
    for (const b of storage) key += `|${this.id(b.buffer)}:${b.offset ?? 0}:${b.size ?? -1}`;
    let group = this.bindGroups.get(key);
    if (group) {
      this.bindGroups.delete(key);
      this.bindGroups.set(key, group);
      return group;
    }
    const entries: GPUBindGroupEntry[] = [];
    if (paramBytes > 0) {
      entries.push({ binding: 0, resource: { buffer: this.uniform, offset: 0, size: paramBytes } });
    }
    storage.forEach((resource, i) => entries.push({ binding: i + 1, resource }));
    this.counters.bindGroups++;
    group = this.device.createBindGroup({
      label: spec.name,
      layout: pipeline.getBindGroupLayout(0),
      entries,
    });
    this.bindGroups.set(key, group);
    if (this.bindGroups.size > this.bindGroupCapacity) {
      this.bindGroups.delete(this.bindGroups.keys().next().value!);
    }
    return group;
  }

  /** A stable number per object, so bind-group cache keys can name buffers and layouts. */
  private id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, id = this.nextId++);
    return id;
  }

  /** Records a buffer-to-buffer copy (ends the open compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.openEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Records zero-filling of a byte range (ends the open compute pass). */
  clear(buffer: GPUBuffer, offset: number, bytes: number): void {
    this.openEncoder().clearBuffer(buffer, offset, bytes);
  }

  /** Submits everything recorded so far and makes buffers released before it reusable. */
  flush(): void {
    if (!this.encoder) {
      this.pool.commitReleases();
      return;
    }
    this.pass?.end();
    this.pass = null;
    this.timer?.resolve(this.encoder);
    if (this.used > 0) this.device.queue.writeBuffer(this.uniform, 0, this.staging, 0, this.used);
    this.device.queue.submit([this.encoder.finish()]);
    this.timer?.submitted();
    this.encoder = null;
    this.used = 0;
    this.counters.submits++;
    this.pool.commitReleases();
  }

  /** The open command encoder, created on first use after a submit. */
  private openEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder ??= this.device.createCommandEncoder({ label: "rlif.batch" });
    return this.encoder;
  }

  /** The open compute pass, so consecutive dispatches share one (one pass per dispatch when timing). */
  private openPass(kernel: string): GPUComputePassEncoder {
    if (this.timer) {
      this.pass?.end();
      this.encoder ??= this.device.createCommandEncoder({ label: "rlif.batch" });
      return this.pass = this.encoder.beginComputePass(this.timer.pass(kernel));
    }
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder({ label: "rlif.batch" });
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }
}

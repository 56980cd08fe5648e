/**
 * A device that runs nothing and allocates nothing: rlif's runtime over a stand-in for `GPUDevice` that
 * records every dispatch (kernel, grid, the bytes of each storage binding). Planners, kernels' argument
 * checks and the runtime's limit checks all run as on a real GPU, so recording a model's work at real shapes
 * (Qwen2.5-1.5B, Llama-3.1-8B at 4,096-token prompts) under an H100's limits shows, without one, every grid
 * and binding it would meet. Buffers hold no memory; reads return zeros.
 *
 * @module
 */
import { Gpu, type GpuLimits } from "./device.ts";

/** One dispatch as the planning device saw it. */
export interface PlannedDispatch {
  /** The kernel's name (its spec's). */
  readonly kernel: string;
  /** Workgroups per axis, after the runtime's folding. */
  readonly grid: readonly [number, number, number];
  /** Bytes of each storage binding, in binding order (the params uniform left out). */
  readonly bindings: readonly number[];
}

/**
 * The limits of an NVIDIA H100 under wgpu's Vulkan backend as rlif requests them: a storage binding up to
 * 2^31 − 1 bytes, 65,535 workgroups per grid axis, 48 KiB of workgroup memory, 1,024 invocations.
 */
export const H100_LIMITS: Readonly<Partial<Record<keyof GPUSupportedLimits, number>>> = Object.freeze({
  maxBufferSize: 2 ** 40,
  maxStorageBufferBindingSize: 2 ** 31 - 1,
  maxStorageBuffersPerShaderStage: 32,
  maxComputeWorkgroupStorageSize: 49152,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupSizeY: 1024,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535,
  minUniformBufferOffsetAlignment: 256,
  minStorageBufferOffsetAlignment: 32,
});

/** WebGPU's default limits: what a device has where `limits` names nothing. */
const DEFAULT_LIMITS: Record<string, number> = {
  maxBufferSize: 268435456,
  maxStorageBufferBindingSize: 134217728,
  maxStorageBuffersPerShaderStage: 8,
  maxUniformBufferBindingSize: 65536,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535,
  minUniformBufferOffsetAlignment: 256,
  minStorageBufferOffsetAlignment: 256,
  maxBindGroups: 4,
  maxBindingsPerBindGroup: 1000,
  maxDynamicUniformBuffersPerPipelineLayout: 8,
  maxDynamicStorageBuffersPerPipelineLayout: 4,
  maxUniformBuffersPerShaderStage: 12,
};

interface FakeBuffer {
  readonly size: number;
  destroy(): void;
  mapAsync(): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
}

function fakeBuffer(size: number): FakeBuffer {
  return {
    size,
    destroy() {},
    mapAsync: () => Promise.resolve(),
    getMappedRange: (offset = 0, bytes = size - offset) => new ArrayBuffer(bytes),
    unmap() {},
  };
}

/** The stand-in device: every call the runtime makes, doing nothing but record dispatches. */
function fakeDevice(
  limits: Record<string, number>,
  f16: boolean,
  log: PlannedDispatch[],
  record: boolean,
): GPUDevice {
  let pipeline = "";
  let bindings: number[] = [];
  const pass = {
    setPipeline(p: { label: string }) {
      pipeline = p.label;
    },
    setBindGroup(_i: number, group: { entries: GPUBindGroupEntry[] }) {
      bindings = group.entries.filter((e) => e.binding > 0).map((e) =>
        (e.resource as GPUBufferBinding).size ?? 0
      );
    },
    dispatchWorkgroups(x: number, y = 1, z = 1) {
      if (record) log.push({ kernel: pipeline, grid: [x, y, z], bindings });
    },
    end() {},
  };
  const encoder = {
    beginComputePass: () => pass,
    copyBufferToBuffer() {},
    clearBuffer() {},
    finish: () => ({}),
  };
  const device = {
    limits,
    features: new Set(f16 ? ["shader-f16"] : []),
    lost: new Promise(() => {}),
    addEventListener() {},
    queue: { writeBuffer() {}, submit() {}, onSubmittedWorkDone: () => Promise.resolve() },
    createBuffer: (d: GPUBufferDescriptor) => fakeBuffer(d.size),
    createBindGroup: (d: GPUBindGroupDescriptor) => ({ entries: [...d.entries] }),
    createBindGroupLayout: () => ({}),
    createPipelineLayout: () => ({}),
    createShaderModule: () => ({}),
    createComputePipeline: (d: GPUComputePipelineDescriptor) => ({
      label: d.label ?? "",
      getBindGroupLayout: () => ({}),
    }),
    createCommandEncoder: () => encoder,
    pushErrorScope() {},
    popErrorScope: () => Promise.resolve(null),
  };
  return device as unknown as GPUDevice;
}

/**
 * A {@link Gpu} over the planning device with `limits` (WebGPU's defaults where it names nothing) and, with
 * `f16`, the shader-f16 feature; `dispatches` receives every dispatch recorded on it (none with `record`
 * false: a plan of millions of decode dispatches then keeps no list).
 *
 * @example
 * ```ts
 * const { gpu, dispatches } = await planningGpu(H100_LIMITS);
 * // build a model with placeholderModel(gpu, config) and run forward(...): nothing runs, all is recorded
 * ```
 */
export async function planningGpu(
  limits: Readonly<Partial<Record<keyof GPUSupportedLimits, number>>>,
  options: { f16?: boolean; record?: boolean } = {},
): Promise<{ gpu: Gpu; dispatches: PlannedDispatch[] }> {
  const dispatches: PlannedDispatch[] = [];
  const all = { ...DEFAULT_LIMITS, ...limits } as Record<string, number>;
  const info = { vendor: "rlif", architecture: "plan", device: "planning device", description: "" };
  const device = fakeDevice(all, options.f16 ?? true, dispatches, options.record ?? true);
  const gpu = new Gpu(device, info as GPUAdapterInfo);
  await gpu.kernels.loadAll();
  return { gpu, dispatches };
}

/** The largest binding and grid axis among `dispatches`, and the kernel of each. */
export function dispatchExtremes(dispatches: readonly PlannedDispatch[]): {
  binding: { bytes: number; kernel: string };
  grid: { workgroups: number; kernel: string };
} {
  const binding = { bytes: 0, kernel: "" }, grid = { workgroups: 0, kernel: "" };
  for (const d of dispatches) {
    for (const b of d.bindings) if (b > binding.bytes) Object.assign(binding, { bytes: b, kernel: d.kernel });
    for (const g of d.grid) if (g > grid.workgroups) Object.assign(grid, { workgroups: g, kernel: d.kernel });
  }
  return { binding, grid };
}

export type { GpuLimits };

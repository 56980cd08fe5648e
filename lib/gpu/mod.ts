export { getDevice, Gpu } from "./device.ts";
export type { DispatchArgs, GpuFeatures, GpuLimits } from "./device.ts";
export { numel, Tensor } from "./tensor.ts";
export type { DType, HostArray, WeightDType } from "./dtype.ts";
export type { GpuCounters } from "./recorder.ts";
export { GpuError, KernelArgumentError, NonFiniteError } from "./errors.ts";
export { KERNEL_FILES } from "./kernel_registry.ts";
export type { KernelSpec, KernelVariant } from "./kernel_registry.ts";
export { BufferPool } from "./buffer_pool.ts";

import { RlifError } from "../errors.ts";

/** Raised when WebGPU is unavailable, the device is lost, or the driver rejects work. */
export class GpuError extends RlifError {
  /** Creates an error with the given message; `code` defaults to "gpu.error" ("gpu.no_adapter" etc.). */
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(options?.code ?? "gpu.error", message, options);
    this.name = "GpuError";
  }
}

/** Raised when a kernel gets an argument of the wrong dtype, shape or size; names kernel and argument. */
export class KernelArgumentError extends RlifError {
  /** Creates an error for `kernel`'s argument `argument`. */
  constructor(readonly kernel: string, readonly argument: string, detail: string) {
    super("kernel.argument", `${kernel}: argument "${argument}" ${detail}`);
    this.name = "KernelArgumentError";
  }
}

/** Raised when computed values are NaN or infinite (diverged training, corrupt weights). */
export class NonFiniteError extends RlifError {
  /** Creates the error with what was not finite. */
  constructor(message: string) {
    super("nonfinite", message);
    this.name = "NonFiniteError";
  }
}

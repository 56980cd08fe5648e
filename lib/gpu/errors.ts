/** Raised when WebGPU is unavailable, the device is lost, or the driver rejects work. */
export class GpuError extends Error {
  /** Creates an error with the given message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GpuError";
  }
}

/** Raised when a kernel gets an argument of the wrong dtype, shape or size; names kernel and argument. */
export class KernelArgumentError extends Error {
  /** Creates an error for `kernel`'s argument `argument`. */
  constructor(readonly kernel: string, readonly argument: string, detail: string) {
    super(`${kernel}: argument "${argument}" ${detail}`);
    this.name = "KernelArgumentError";
  }
}

/** Raised when computed values are NaN or infinite (diverged training, corrupt weights). */
export class NonFiniteError extends Error {
  /** Creates the error with what was not finite. */
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteError";
  }
}

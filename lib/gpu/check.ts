import type { DType } from "./dtype.ts";
import { KernelArgumentError } from "./errors.ts";
import type { Tensor } from "./tensor.ts";

/** What a kernel argument must be: dtype(s), and a shape where `null` matches any extent. */
export interface TensorExpectation {
  /** Allowed dtypes. */
  readonly dtype?: DType | readonly DType[];
  /** Required shape; `null` entries match any extent. */
  readonly shape?: readonly (number | null)[];
}

/** Throws a {@link KernelArgumentError} naming the kernel and argument when `t` does not match. */
export function expectTensor(kernel: string, argument: string, t: Tensor, want: TensorExpectation): void {
  if (want.dtype !== undefined) {
    const allowed = typeof want.dtype === "string" ? [want.dtype] : want.dtype;
    if (!allowed.includes(t.dtype)) {
      throw new KernelArgumentError(kernel, argument, `must be ${allowed.join(" or ")}, got ${t.dtype}`);
    }
  }
  if (want.shape !== undefined) {
    const s = want.shape;
    const ok = s.length === t.shape.length && s.every((d, i) => d === null || d === t.shape[i]);
    if (!ok) {
      const wanted = s.map((d) => d ?? "*").join(", ");
      throw new KernelArgumentError(
        kernel,
        argument,
        `must have shape [${wanted}], got [${t.shape.join(", ")}]`,
      );
    }
  }
}

/** Throws unless `value` is an integer within [min, max], naming kernel and argument. */
export function expectInt(
  kernel: string,
  argument: string,
  value: number,
  min: number,
  max = Infinity,
): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new KernelArgumentError(kernel, argument, `must be an integer in [${min}, ${max}], got ${value}`);
  }
}

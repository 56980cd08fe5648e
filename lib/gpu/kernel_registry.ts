import { GpuError } from "./errors.ts";

/** Every WGSL file in kernels/; loaded once per device (fetch works for file: and https: imports). */
export const KERNEL_FILES: readonly string[] = [
  "elementwise.wgsl",
  "attention.wgsl",
  "embedding.wgsl",
  "rmsnorm.wgsl",
  "rope.wgsl",
  "swiglu.wgsl",
  "matmul.wgsl",
  "rows.wgsl",
  "decode.wgsl",
  "logit_stats.wgsl",
  "sampling.wgsl",
  "adamw.wgsl",
];

/**
 * A compute entry point and how to call it. Bindings: `@binding(0)` is the uniform `Params` struct
 * when `params` is non-empty; storage buffers follow at `@binding(1)`, `@binding(2)`, … in the order
 * of `bindings`. Every param is a 4-byte scalar (`name:u32`, `name:i32`, `name:f32`) in struct order.
 */
export interface KernelSpec {
  /** Name used in labels and error messages, e.g. "matmul.forward". */
  readonly name: string;
  /** File under kernels/. */
  readonly file: string;
  /** WGSL entry point. */
  readonly entry: string;
  /** Uniform fields in struct order, as "name:type". */
  readonly params?: readonly string[];
  /** Storage binding names in binding order (from @binding(1)). */
  readonly bindings: readonly string[];
}

/** Compile-time choices for one pipeline: WGSL type aliases and `override` constants. */
export interface KernelVariant {
  /** Type aliases prepended to the source, e.g. `{ WT: "f16" }` becomes `alias WT = f16;`. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Values for the module's `override` declarations. */
  readonly constants?: Readonly<Record<string, number>>;
}

/** Helpers every kernel may use. `flat_wg` undoes the recorder's flattening of large 1-D grids. */
const PRELUDE = `
fn flat_wg(wg: vec3u, nwg: vec3u) -> u32 { return wg.x + wg.y * nwg.x + wg.z * nwg.x * nwg.y; }
`;

/** Loads kernels/*.wgsl, specializes them per variant and caches the compute pipelines. */
export class KernelRegistry {
  private readonly sources = new Map<string, string>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  /**
   * Creates a registry on `device`; `hasF16` says whether `enable f16;` may be emitted, and `onError`
   * receives compile errors prefixed with the kernel's name (the driver's own message omits it).
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly hasF16: boolean,
    private readonly onError: (message: string) => void,
  ) {}

  /** Fetches every file of {@link KERNEL_FILES}; called once by getDevice. */
  async loadAll(): Promise<void> {
    await Promise.all(KERNEL_FILES.map(async (file) => {
      const url = new URL(`../../kernels/${file}`, import.meta.url);
      const res = await fetch(url);
      if (!res.ok) throw new GpuError(`cannot load kernel source ${url}: HTTP ${res.status}`);
      this.sources.set(file, await res.text());
    }));
  }

  /** The WGSL text of one kernel file, with the variant's aliases and the prelude. */
  source(file: string, variant: KernelVariant = {}): string {
    const body = this.sources.get(file);
    if (body === undefined) {
      throw new GpuError(`kernel file "${file}" is not registered; known files: ${KERNEL_FILES.join(", ")}`);
    }
    const aliases = Object.entries(variant.aliases ?? {});
    const needsF16 = aliases.some(([, t]) => t.includes("f16")) || /\bf16\b/.test(body);
    if (needsF16 && !this.hasF16) {
      throw new GpuError(
        `kernel file "${file}" needs the shader-f16 feature, which this adapter does not offer; use f32 weights`,
      );
    }
    const head = needsF16 ? "enable f16;\n" : "";
    return head + aliases.map(([k, v]) => `alias ${k} = ${v};\n`).join("") + PRELUDE + body;
  }

  /** The cached pipeline for a spec and variant, compiled on first use. */
  pipeline(spec: KernelSpec, variant: KernelVariant = {}): GPUComputePipeline {
    const key = `${spec.file}|${spec.entry}|${JSON.stringify(variant.aliases ?? {})}|${
      JSON.stringify(variant.constants ?? {})
    }`;
    let p = this.pipelines.get(key);
    if (!p) {
      this.device.pushErrorScope("validation");
      const module = this.device.createShaderModule({
        code: this.source(spec.file, variant),
        label: spec.name,
      });
      p = this.device.createComputePipeline({
        label: spec.name,
        layout: "auto",
        compute: { module, entryPoint: spec.entry, constants: { ...variant.constants } },
      });
      this.device.popErrorScope().then((e) => {
        if (e) this.onError(`kernel ${spec.name} (${spec.file}, entry ${spec.entry}): ${e.message}`);
      });
      this.pipelines.set(key, p);
    }
    return p;
  }
}

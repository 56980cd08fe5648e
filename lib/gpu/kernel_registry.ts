import { type WeightDType, weightStorage } from "./dtype.ts";
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
  "decode_layer.wgsl",
  "logit_stats.wgsl",
  "grpo_loss.wgsl",
  "sampling.wgsl",
  "adamw.wgsl",
  "convert.wgsl",
  "lora.wgsl",
];

/** The shared WGSL every kernel file is compiled with: reductions, index helpers, small math. */
export const PRELUDE_FILE = "prelude.wgsl";

/**
 * A compute entry point and how to call it. Bindings: `@binding(0)` is the uniform params struct the
 * entry point uses, if any (its fields are read from the WGSL source, see {@link ParamLayout});
 * storage buffers follow at `@binding(1)`, `@binding(2)`, … in the order of `bindings`.
 */
export interface KernelSpec {
  /** Name used in labels and error messages, e.g. "matmul.forward". */
  readonly name: string;
  /** File under kernels/. */
  readonly file: string;
  /** WGSL entry point. */
  readonly entry: string;
  /** Storage binding names in binding order (from @binding(1)). */
  readonly bindings: readonly string[];
}

/** A 4-byte scalar field of a params struct. */
export interface ParamField {
  /** Field name, as the dispatch's params name it. */
  readonly name: string;
  /** WGSL scalar type. */
  readonly type: "u32" | "i32" | "f32";
}

/**
 * The uniform params struct an entry point binds at `@binding(0)`, reflected from the WGSL source:
 * fields in struct order (the byte layout), and the fields the entry point reads, which every dispatch
 * must give; the others default to 0.
 */
export interface ParamLayout {
  /** Struct name, e.g. "Params". */
  readonly struct: string;
  /** Fields in declaration order; field i lives at byte 4·i. */
  readonly fields: readonly ParamField[];
  /** Field index by name. */
  readonly index: ReadonlyMap<string, number>;
  /** Names of the fields the entry point (or a function it calls) reads. */
  readonly read: ReadonlySet<string>;
}

/** A compiled entry point: its pipeline and its params layout (null when it binds no uniform). */
export interface CompiledKernel {
  /** The compute pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** The reflected params struct. */
  readonly params: ParamLayout | null;
}

/** Compile-time choices for one pipeline: WGSL type aliases and `override` constants. */
export interface KernelVariant {
  /** Type aliases prepended to the source, e.g. `{ WT: "f16" }` becomes `alias WT = f16;`. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Values for the module's `override` declarations. */
  readonly constants?: Readonly<Record<string, number>>;
  /**
   * Dtype of the module's weight bindings, those declared `var<storage, read> NAME: array<WS>`: the
   * registry defines `WS` and, per such binding, `NAME_at(i) -> f32` and `NAME_at4(i) -> vec4<f32>` (i a
   * multiple of 4), so one kernel source reads f32, f16 and bf16 weights. A `read_write` binding of
   * `array<WS>` (a KV cache at the weights' width) also gets `NAME_store2(i, a, b)` (i even).
   */
  readonly weights?: WeightDType;
}

const WEIGHT_BINDING = /var<storage,\s*(read|read_write)>\s+(\w+)\s*:\s*array<WS>/g;

/** WGSL for the `WS` alias and the loaders of every weight binding in `body`. */
function weightLoaders(
  file: string,
  body: string,
  dtype: WeightDType | undefined,
  nativeF16: boolean,
): string {
  const bindings = [...body.matchAll(WEIGHT_BINDING)].map((m) => ({
    name: m[2],
    writable: m[1] === "read_write",
  }));
  if (bindings.length === 0) return "";
  if (!dtype) throw new GpuError(`kernel file "${file}" reads weights: its variant must name their dtype`);
  const s = weightStorage(dtype, nativeF16);
  return `alias WS = ${s.element};\n` +
    bindings.map(({ name: n, writable }) =>
      `fn ${n}_at(i: u32) -> f32 { ${s.load.replaceAll("$", n)} }\n` +
      `fn ${n}_at4(i: u32) -> vec4<f32> { ${s.load4.replaceAll("$", n)} }\n` +
      (writable ? `fn ${n}_store2(i: u32, a: f32, b: f32) { ${s.store2.replaceAll("$", n)} }\n` : "")
    ).join("");
}

/** Loads kernels/*.wgsl, specializes them per variant and caches the compute pipelines. */
export class KernelRegistry {
  private readonly sources = new Map<string, string>();
  private prelude = "";
  private readonly pipelines = new Map<string, CompiledKernel>();
  private readonly layouts = new Map<string, GPUPipelineLayout>();
  private readonly paramLayouts = new Map<string, ParamLayout | null>();
  private readonly constants = new Map<string, number>();

  /**
   * Creates a registry on `device`; `hasF16` says whether `enable f16;` may be emitted, and `onError`
   * receives compile errors prefixed with the kernel's name (the driver's own message omits it).
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly hasF16: boolean,
    private readonly onError: (message: string) => void,
  ) {}

  /** Fetches the prelude and every file of {@link KERNEL_FILES}; called once by getDevice. */
  async loadAll(): Promise<void> {
    const load = async (file: string) => {
      const url = new URL(`../../kernels/${file}`, import.meta.url);
      const res = await fetch(url);
      if (!res.ok) throw new GpuError(`cannot load kernel source ${url}: HTTP ${res.status}`);
      return await res.text();
    };
    this.prelude = await load(PRELUDE_FILE);
    await Promise.all(KERNEL_FILES.map(async (file) => this.sources.set(file, await load(file))));
  }

  /** The WGSL text of one kernel file, with the variant's aliases and the prelude. */
  source(file: string, variant: KernelVariant = {}): string {
    const body = this.body(file);
    const aliases = Object.entries(variant.aliases ?? {});
    const loaders = weightLoaders(file, body, variant.weights, this.hasF16);
    const needsF16 = aliases.some(([, t]) => t.includes("f16")) || /\bf16\b/.test(body + loaders);
    if (needsF16 && !this.hasF16) {
      throw new GpuError(
        `kernel file "${file}" needs the shader-f16 feature, which this adapter does not offer; use f32 weights`,
      );
    }
    const head = needsF16 ? "enable f16;\n" : "";
    return head + aliases.map(([k, v]) => `alias ${k} = ${v};\n`).join("") + loaders + this.prelude + body;
  }

  /** The WGSL text of a registered kernel file, as loaded. */
  private body(file: string): string {
    const body = this.sources.get(file);
    if (body === undefined) {
      throw new GpuError(`kernel file "${file}" is not registered; known files: ${KERNEL_FILES.join(", ")}`);
    }
    return body;
  }

  /**
   * The value of `const NAME: u32 = …u;` (or i32 / f32, a literal) in a kernel file: sizes the WGSL must
   * fix at compile time (function-scope arrays cannot be override-sized) are defined there once and read
   * here by the wrappers that size grids with them.
   */
  constant(file: string, name: string): number {
    const key = `${file}|${name}`;
    let v = this.constants.get(key);
    if (v === undefined) {
      const m = new RegExp(`\\bconst\\s+${name}\\s*(?::\\s*\\w+\\s*)?=\\s*(-?[\\d.e+-]+)[uif]?\\s*;`).exec(
        this.body(file),
      );
      v = m ? Number(m[1]) : NaN;
      if (!Number.isFinite(v)) {
        throw new GpuError(`kernels/${file} declares no literal constant ${name} (const ${name}: u32 = …;)`);
      }
      this.constants.set(key, v);
    }
    return v;
  }

  /**
   * The params struct `spec`'s entry point binds at `@binding(0)`, reflected from its file (null when it
   * binds none). Throws, naming the kernel, the file and the field, when a field is not a 4-byte scalar.
   */
  params(spec: KernelSpec): ParamLayout | null {
    const key = `${spec.file}|${spec.entry}`;
    if (!this.paramLayouts.has(key)) {
      this.paramLayouts.set(key, reflectParams(this.body(spec.file), spec));
    }
    return this.paramLayouts.get(key)!;
  }

  /** The cached pipeline for a spec and variant, compiled on first use. */
  pipeline(spec: KernelSpec, variant: KernelVariant = {}): CompiledKernel {
    const key = `${spec.file}|${spec.entry}|${spec.bindings.length}|${variant.weights ?? ""}|${
      JSON.stringify(variant.aliases ?? {})
    }|${JSON.stringify(variant.constants ?? {})}`;
    let p = this.pipelines.get(key);
    if (!p) {
      this.device.pushErrorScope("validation");
      const code = this.source(spec.file, variant);
      const module = this.device.createShaderModule({ code, label: spec.name });
      const params = this.params(spec);
      const pipeline = this.device.createComputePipeline({
        label: spec.name,
        layout: this.layout(spec, code, params),
        compute: { module, entryPoint: spec.entry, constants: { ...variant.constants } },
      });
      p = { pipeline, params };
      this.device.popErrorScope().then((e) => {
        if (e) this.onError(`kernel ${spec.name} (${spec.file}, entry ${spec.entry}): ${e.message}`);
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * An explicit layout for one entry point: the params uniform at binding 0 with a dynamic offset, so a
   * bind group can be reused while each dispatch's params sit at their own offset of the recorder's
   * staging buffer (layout "auto" forbids dynamic offsets), then one storage entry per tensor whose access
   * (read or read_write) must match the WGSL declaration the entry point uses.
   */
  private layout(spec: KernelSpec, source: string, params: ParamLayout | null): GPUPipelineLayout {
    const access = storageAccess(source, spec.entry, spec.bindings.length, spec.name);
    const paramBytes = (params?.fields.length ?? 0) * 4;
    const key = `${paramBytes}|${access.join(",")}`;
    let layout = this.layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      if (paramBytes > 0) {
        entries.push({
          binding: 0,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: paramBytes },
        });
      }
      access.forEach((type, i) =>
        entries.push({ binding: i + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type } })
      );
      const group = this.device.createBindGroupLayout({ entries, label: `rlif.layout.${key}` });
      layout = this.device.createPipelineLayout({ bindGroupLayouts: [group], label: `rlif.layout.${key}` });
      this.layouts.set(key, layout);
    }
    return layout;
  }
}

const STORAGE_DECL = /@group\(0\)\s*@binding\((\d+)\)\s*var<storage(?:,\s*(read_write|read))?>\s+(\w+)/g;
const FN_DECL = /\bfn\s+(\w+)\s*\(/g;

/**
 * The buffer type of storage bindings 1..count as `entry` uses them. A file may declare different
 * variables at one binding for different entry points, so where declarations disagree on the access
 * mode, the variables the entry point reaches (through the functions it calls) decide.
 */
export function storageAccess(
  source: string,
  entry: string,
  count: number,
  kernel: string,
): ("storage" | "read-only-storage")[] {
  const decls = [...source.matchAll(STORAGE_DECL)].map((m) => ({
    binding: Number(m[1]),
    type: m[2] === "read_write" ? "storage" as const : "read-only-storage" as const,
    name: m[3],
  }));
  let used: Set<string> | null = null;
  return Array.from({ length: count }, (_, i) => {
    const at = decls.filter((d) => d.binding === i + 1);
    if (at.length === 0) return "read-only-storage";
    if (at.every((d) => d.type === at[0].type)) return at[0].type;
    used ??= reachable(callGraph(source), entry).ids;
    const types = new Set(at.filter((d) => used!.has(d.name)).map((d) => d.type));
    if (types.size !== 1) {
      throw new GpuError(
        `kernel ${kernel}: cannot tell the access mode of @binding(${i + 1}) for entry ${entry}; ` +
          `declare it under one name per access mode`,
      );
    }
    return [...types][0];
  });
}

const UNIFORM_DECL = /@group\(0\)\s*@binding\(0\)\s*var<uniform>\s+(\w+)\s*:\s*(\w+)\s*;/g;

/**
 * Reflects the uniform struct `spec`'s entry point binds at `@binding(0)` from `source` (the kernel file
 * without the registry's additions). A file may declare several (one per group of entry points); the one
 * the entry point reaches decides.
 */
export function reflectParams(source: string, spec: KernelSpec): ParamLayout | null {
  const where = `kernel ${spec.name} (kernels/${spec.file}, entry ${spec.entry})`;
  const code = stripComments(source);
  const decls = [...code.matchAll(UNIFORM_DECL)].map((m) => ({ name: m[1], type: m[2] }));
  if (decls.length === 0) return null;
  const graph = callGraph(code);
  if (!graph.has(spec.entry)) throw new GpuError(`${where}: the file has no function ${spec.entry}`);
  const { ids, fns } = reachable(graph, spec.entry);
  const used = decls.filter((d) => ids.has(d.name));
  if (used.length === 0) return null;
  if (used.length > 1) {
    throw new GpuError(
      `${where}: reaches several uniforms at @binding(0): ${used.map((d) => d.name).join(", ")}`,
    );
  }
  const [{ name: uniform, type: struct }] = used;
  const body = new RegExp(`\\bstruct\\s+${struct}\\s*\\{([^}]*)\\}`).exec(code);
  if (!body) {
    throw new GpuError(`${where}: uniform ${uniform} has type ${struct}, which the file does not declare`);
  }
  const fields = body[1].split(",").map((f) => f.trim()).filter((f) => f !== "").map((f): ParamField => {
    const m = /^(\w+)\s*:\s*(\w+)$/.exec(f);
    if (!m || (m[2] !== "u32" && m[2] !== "i32" && m[2] !== "f32")) {
      throw new GpuError(`${where}: field "${f}" of struct ${struct} must be a u32, i32 or f32 scalar`);
    }
    return { name: m[1], type: m[2] };
  });
  const index = new Map(fields.map((f, i) => [f.name, i]));
  const read = new Set<string>();
  const access = new RegExp(`(?<!\\.\\s*)\\b${uniform}\\s*\\.\\s*(\\w+)`, "g");
  for (const fn of fns) {
    const { body, own } = graph.get(fn)!;
    if (own.has(uniform)) continue;
    for (const m of body.matchAll(access)) {
      if (!index.has(m[1])) throw new GpuError(`${where}: reads ${uniform}.${m[1]}, which ${struct} lacks`);
      read.add(m[1]);
    }
  }
  return { struct, fields, index, read };
}

function stripComments(source: string): string {
  return source.replace(/\/\/[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
}

interface FnInfo {
  /** The function's body, braces included. */
  readonly body: string;
  /** Names the function declares itself (parameters, `let`/`var` locals): they shadow module names. */
  readonly own: ReadonlySet<string>;
  /** Identifiers in the body that are not its own names nor member accesses. */
  readonly ids: readonly string[];
}

function callGraph(source: string): Map<string, FnInfo> {
  const graph = new Map<string, FnInfo>();
  for (const m of source.matchAll(FN_DECL)) {
    const open = source.indexOf("{", m.index!);
    let depth = 0, end = open;
    for (; end < source.length; end++) {
      if (source[end] === "{") depth++;
      else if (source[end] === "}" && --depth === 0) break;
    }
    const head = source.slice(m.index!, open);
    const body = source.slice(open, end + 1);
    const own = new Set([
      ...[...head.matchAll(/(\w+)\s*:/g)].map((d) => d[1]),
      ...[...body.matchAll(/\b(?:let|var)\s+(\w+)/g)].map((d) => d[1]),
    ]);
    // Member accesses (`v.y`) are not identifiers: skip words after a dot.
    const ids = (body.match(/(?<!\.\s*)\b[A-Za-z_]\w*/g) ?? []).filter((id) => !own.has(id));
    graph.set(m[1], { body, own, ids });
  }
  return graph;
}

/** Identifiers reachable from function `name` (through the functions it calls), and those functions. */
function reachable(graph: Map<string, FnInfo>, name: string): { ids: Set<string>; fns: Set<string> } {
  const ids = new Set<string>();
  const fns = new Set([name]);
  const todo = [name];
  while (todo.length > 0) {
    for (const id of graph.get(todo.pop()!)?.ids ?? []) {
      if (ids.has(id)) continue;
      ids.add(id);
      if (graph.has(id)) {
        fns.add(id);
        todo.push(id);
      }
    }
  }
  return { ids, fns };
}

/**
 * `RLIF_DEBUG`: what runs on the GPU. Level 1 prints every dispatch (kernel, grid, params, bindings) to
 * stderr; level 2 also times every dispatch with `timestamp-query` and prints a table per kernel each time
 * the host waits for the GPU ({@link Gpu.sync}, {@link Gpu.readAll}). Off, it costs one null check per
 * dispatch.
 *
 * @module
 */
import type { KernelSpec, KernelVariant } from "./kernel_registry.ts";
import type { Tensor } from "./tensor.ts";

/** 0: off; 1: print dispatches; 2: print dispatches and GPU time per kernel. */
export type DebugLevel = 0 | 1 | 2;

/**
 * The level `RLIF_DEBUG` asks for: 0 when it is unset, or when the process may not read it (no
 * `--allow-env`: the variable is not asked for, so no permission prompt appears).
 */
export function debugLevel(): DebugLevel {
  let value: string | undefined;
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "RLIF_DEBUG" }).state !== "granted") return 0;
    value = Deno.env.get("RLIF_DEBUG");
  } catch {
    return 0;
  }
  if (value === undefined || value === "" || value === "0") return 0;
  if (value === "1") return 1;
  if (value === "2") return 2;
  console.error(`rlif: RLIF_DEBUG=${value} is not 0, 1 or 2; using 1`);
  return 1;
}

/** One stderr line for a dispatch: kernel, grid, params, variant, and each binding's name, dtype and shape. */
export function dispatchLine(
  spec: KernelSpec,
  grid: readonly number[],
  params: Readonly<Record<string, number>>,
  variant: KernelVariant | undefined,
  bindings: readonly Tensor[],
): string {
  const ps = Object.entries(params).map(([k, v]) => `${k}=${v}`).join(" ");
  const vs = variant
    ? Object.entries({
      ...variant.aliases,
      ...variant.constants,
      ...(variant.weights && { weights: variant.weights }),
    })
      .map(([k, v]) => `${k}=${v}`).join(" ")
    : "";
  const bs = bindings.map((t, i) => `${spec.bindings[i]}:${t.dtype}[${t.shape}]`).join(" ");
  return `rlif: ${spec.name} grid [${grid.join(", ")}]${ps && ` | ${ps}`}${vs && ` | ${vs}`} | ${bs}`;
}

/**
 * GPU time per dispatch from `timestamp-query`: the recorder gives each timed dispatch its own compute
 * pass with timestamps at its beginning and end, resolves them at every submit, and reads them back
 * without the host waiting; {@link report} waits for them and sums them per kernel.
 */
export class KernelTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  /** Kernel names of the passes recorded since the last submit, in query order. */
  private names: string[] = [];
  /** Readable copies recorded into the open encoder: they may be mapped once it is submitted. */
  private readonly unmapped: { read: GPUBuffer; names: string[] }[] = [];
  private readonly pending: Promise<void>[] = [];
  private readonly totals = new Map<string, { count: number; ns: number }>();
  private submits = 0;

  /** A timer on `device` (which must have `timestamp-query`) for up to `capacity` dispatches per submit. */
  constructor(private readonly device: GPUDevice, private readonly capacity = 1024) {
    this.querySet = device.createQuerySet({
      type: "timestamp",
      count: 2 * capacity,
      label: "rlif.debug.timestamps",
    });
    this.resolveBuffer = device.createBuffer({
      size: 16 * capacity,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: "rlif.debug.resolve",
    });
  }

  /** Whether this submit's queries are used up (the recorder then submits first). */
  get full(): boolean {
    return this.names.length >= this.capacity;
  }

  /** The descriptor of a compute pass that times one dispatch of `kernel`. */
  pass(kernel: string): GPUComputePassDescriptor {
    const i = this.names.length;
    this.names.push(kernel);
    return {
      label: kernel,
      timestampWrites: {
        querySet: this.querySet,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    };
  }

  /** Records the resolve of this submit's timestamps into `encoder`, and their copy to a readable buffer. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.names.length;
    if (n === 0) return;
    const names = this.names;
    this.names = [];
    const read = this.device.createBuffer({
      size: 16 * n,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "rlif.debug.timestamps",
    });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, read, 0, 16 * n);
    this.submits++;
    this.unmapped.push({ read, names });
  }

  /** Starts reading back the timestamps of the submit just made; nothing waits for them before {@link report}. */
  submitted(): void {
    for (const { read, names } of this.unmapped.splice(0)) {
      this.pending.push(
        read.mapAsync(GPUMapMode.READ).then(() => {
          const ts = new BigUint64Array(read.getMappedRange());
          names.forEach((name, i) => {
            const t = this.totals.get(name) ?? { count: 0, ns: 0 };
            t.count++;
            t.ns += Math.max(0, Number(ts[2 * i + 1] - ts[2 * i]));
            this.totals.set(name, t);
          });
          read.unmap();
          read.destroy();
        }),
      );
    }
  }

  /**
   * Waits for the timestamps of every submit so far and returns the table of GPU time per kernel since
   * the last report (null when nothing ran), slowest first.
   */
  async report(): Promise<string | null> {
    await Promise.all(this.pending.splice(0));
    if (this.totals.size === 0) return null;
    const rows = [...this.totals].sort((a, b) => b[1].ns - a[1].ns);
    const total = rows.reduce((s, [, t]) => s + t.ns, 0);
    const count = rows.reduce((s, [, t]) => s + t.count, 0);
    const width = Math.max(6, ...rows.map(([name]) => name.length));
    const line = (name: string, n: number, ns: number) =>
      `${name.padEnd(width)} ${String(n).padStart(7)} ${(ns / 1e6).toFixed(3).padStart(10)} ${
        (total > 0 ? (100 * ns) / total : 0).toFixed(1).padStart(6)
      }%`;
    const out = [
      `rlif: GPU time of ${count} dispatches in ${this.submits} submits (timestamp-query)`,
      `${"kernel".padEnd(width)} ${"count".padStart(7)} ${"total ms".padStart(10)} ${"share".padStart(7)}`,
      ...rows.map(([name, t]) => line(name, t.count, t.ns)),
      line("total", count, total),
    ].join("\n");
    this.totals.clear();
    this.submits = 0;
    return out;
  }
}

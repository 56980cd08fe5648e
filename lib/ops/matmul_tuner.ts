/**
 * Explicit matmul tuning, like tinygrad's BEAM search but small: for one product shape, every
 * candidate tiling of {@link matmulCandidates} is run once to warm up (compile, fill the buffer pool),
 * then timed over batches of calls closed by `gpu.sync()`, and the fastest becomes the shape class's
 * entry in the tuning file (lib/ops/matmul_tiles.ts). Only scripts call this (`deno task bench:kernels
 * --tune`); the library itself never times anything.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { scale } from "./elementwise.ts";
import {
  type MatmulCandidate,
  matmulCandidates,
  type MatmulShape,
  type MatmulTiles,
  type MatmulTuningEntry,
} from "./matmul_tiles.ts";

/** How long to time: calls per batch and the shortest batch. */
export interface TuneTiming {
  /** Calls in the first timed batch (default 3); later batches grow until one lasts `minMs`. */
  readonly reps?: number;
  /** Shortest timed batch in milliseconds (default 200). */
  readonly minMs?: number;
  /** Idle latency of `gpu.sync()` to subtract from each batch ({@link syncLatencyMs}); default 0. */
  readonly latencyMs?: number;
}

/** Median idle latency of `gpu.sync()` after one tiny dispatch (~10 ms in Deno's WebGPU). */
export async function syncLatencyMs(gpu: Gpu): Promise<number> {
  const probe = gpu.zeros([1]);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    scale(gpu, probe, 1);
    const t0 = performance.now();
    await gpu.sync();
    times.push(performance.now() - t0);
  }
  probe.release();
  return times.sort((x, y) => x - y)[3];
}

/**
 * Milliseconds per call of `run`: one warm-up call, then batches of recorded calls (one submit each,
 * awaited with `gpu.sync()`) until a batch lasts `minMs`, minus the sync latency.
 */
export async function timeGpuCall(gpu: Gpu, run: () => void, timing: TuneTiming = {}): Promise<number> {
  const minMs = timing.minMs ?? 200, latency = timing.latencyMs ?? 0;
  run();
  await gpu.sync();
  let n = timing.reps ?? 3;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) run();
    await gpu.sync();
    const ms = performance.now() - t0;
    if (ms >= minMs || n >= 1 << 14) return Math.max(ms - latency, 0) / n;
    n = Math.min(1 << 14, Math.ceil((n * minMs * 1.2) / Math.max(ms - latency, 1)));
  }
}

/** What {@link tuneMatmul} measured for one shape. */
export interface TuneResult {
  /** Every candidate that fits the device, with its time per call. */
  readonly timings: readonly { readonly candidate: MatmulCandidate; readonly ms: number }[];
  /** The fastest candidate's tiles. */
  readonly best: MatmulTiles;
  /** The tuning file entry for the shape class. */
  readonly entry: MatmulTuningEntry;
}

/**
 * Times every candidate tiling on `run(tiles)`, which records one call of the product `shape` describes
 * with the given tiles (the caller owns the tensors), and picks the fastest. `label` is stored with the
 * entry to say which shape was timed.
 */
export async function tuneMatmul(
  gpu: Gpu,
  shape: MatmulShape,
  label: string,
  run: (tiles: MatmulTiles) => void,
  timing: TuneTiming = {},
): Promise<TuneResult> {
  const timings = [];
  for (const candidate of matmulCandidates(shape.m, gpu.limits)) {
    timings.push({ candidate, ms: await timeGpuCall(gpu, () => run(candidate.tiles), timing) });
  }
  const best = timings.reduce((x, y) => (y.ms < x.ms ? y : x));
  const ms = Object.fromEntries(timings.map((t) => [t.candidate.name, t.ms]));
  return { timings, best: best.candidate.tiles, entry: { tiles: best.candidate.tiles, shape: label, ms } };
}

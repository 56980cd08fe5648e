/**
 * Which tiling a matmul dispatch uses: the candidate configurations, the shape classes a tuning file
 * is keyed by, the file itself (load, validate, merge, atomic write) and the pure selection rule that
 * {@link matmul} / `linear` / `linearBackward` apply. Nothing here times anything: tuning is explicit
 * (`deno task bench:kernels --tune`, lib/ops/matmul_tuner.ts).
 *
 * @module
 */

import { dirname, join } from "node:path";
import type { Gpu, GpuLimits } from "../gpu/device.ts";
import type { WeightDType } from "../gpu/dtype.ts";
import { writeFileAtomic } from "../log/atomic.ts";

/**
 * Workgroup shape of the tiled matmul: `wgX` × `wgY` threads, each computing a `tm` × `tn` register
 * block, so one workgroup owns a (tm·wgY) × (tn·wgX) tile of C and stages `bk` steps of K (a multiple
 * of 4) per barrier. A 4×4 block runs the single-buffered tiled kernel; 8×8, 8×4 and 4×8 blocks run
 * the double-buffered large-tile kernel.
 */
export interface MatmulTiles {
  /** Threads along N (the tile is tn·wgX columns wide). */
  readonly wgX: number;
  /** Threads along M (the tile is tm·wgY rows high). */
  readonly wgY: number;
  /** Depth of K staged in workgroup memory per step; a multiple of 4. */
  readonly bk: number;
  /** Rows of C per thread, 4 (default) or 8. */
  readonly tm?: 4 | 8;
  /** Columns of C per thread, 4 (default) or 8. */
  readonly tn?: 4 | 8;
}

/**
 * Default tiles for M > 32 on shapes too small for the large-tile kernel: 16×16 threads (256, eight
 * warps on NVIDIA) own a 64×64 tile with 8 KiB of workgroup memory, small enough for several resident
 * workgroups per SM. Shorter products (decode: M = a few sequences) get 8-, 16- or 32-row tiles
 * instead; see {@link matmulTiles}.
 */
export const DEFAULT_MATMUL_TILES: MatmulTiles = { wgX: 16, wgY: 16, bk: 16 };

/**
 * The large tile: 16×16 threads with 8×8 register blocks own a 128×128 tile, four times the FMAs per
 * workgroup-memory read of the 4×4 block; two buffers of BK = 8 take 16 KiB, WebGPU's guaranteed
 * minimum of workgroup memory.
 */
export const LARGE_MATMUL_TILES: MatmulTiles = { wgX: 16, wgY: 16, bk: 8, tm: 8, tn: 8 };

/**
 * The 4×4 tiles for M rows: {@link DEFAULT_MATMUL_TILES}, with the tile height cut to the next of 8,
 * 16 or 32 rows that covers M, because rows past M are computed and thrown away (a 64-row tile for an
 * 8-row decode product would do 8 times the arithmetic).
 */
export function matmulTiles(m: number): MatmulTiles {
  const wgY = m <= 8 ? 2 : m <= 16 ? 4 : m <= 32 ? 8 : DEFAULT_MATMUL_TILES.wgY;
  return { ...DEFAULT_MATMUL_TILES, wgY };
}

/** Whether the tiles run the double-buffered large-tile kernel (any 8-wide register block). */
export function isLargeTiling(t: MatmulTiles): boolean {
  return (t.tm ?? 4) !== 4 || (t.tn ?? 4) !== 4;
}

/** Bytes of workgroup memory the tiles stage: both operand tiles, twice for the large-tile kernel. */
export function tileStorageBytes(t: MatmulTiles): number {
  const bufs = isLargeTiling(t) ? 2 : 1;
  return 4 * bufs * t.bk * ((t.tm ?? 4) * t.wgY + (t.tn ?? 4) * t.wgX);
}

/** Why the tiles are malformed or do not fit the device, or null when they are usable. */
export function tilesProblem(t: MatmulTiles, limits: GpuLimits): string | null {
  const ints = [t.wgX, t.wgY, t.bk].every((v) => Number.isInteger(v) && v >= 1);
  if (!ints || t.bk % 4 !== 0) return "wgX, wgY and bk must be positive integers with bk a multiple of 4";
  if (![undefined, 4, 8].includes(t.tm) || ![undefined, 4, 8].includes(t.tn)) {
    return "tm and tn must be 4 or 8";
  }
  if (
    t.wgX > limits.maxComputeWorkgroupSizeX || t.wgY > limits.maxComputeWorkgroupSizeY ||
    t.wgX * t.wgY > limits.maxComputeInvocationsPerWorkgroup
  ) {
    return `wgX·wgY must be within the workgroup size limits (${limits.maxComputeInvocationsPerWorkgroup} invocations)`;
  }
  if (tileStorageBytes(t) > limits.maxComputeWorkgroupStorageSize) {
    return `needs ${tileStorageBytes(t)} bytes of workgroup memory, over the device's ` +
      `${limits.maxComputeWorkgroupStorageSize}`;
  }
  return null;
}

/** A named tiling the tuner times. */
export interface MatmulCandidate {
  /** Short stable label, e.g. "8x8 128x128 bk8" (register block, tile, K step). */
  readonly name: string;
  readonly tiles: MatmulTiles;
}

/** Label of a tiling: register block, tile of C (rows × columns) and K step. */
export function tilesName(t: MatmulTiles): string {
  const tm = t.tm ?? 4, tn = t.tn ?? 4;
  return `${tm}x${tn} ${tm * t.wgY}x${tn * t.wgX} bk${t.bk}`;
}

/**
 * The candidates for M rows, those that fit `limits`: the 4×4 tiles of {@link matmulTiles} and four
 * large-tile configurations on 16×16 threads (8×8 blocks with K steps of 8 and 16, and the 8×4 and 4×8
 * blocks for products that are tall or wide but not both).
 */
export function matmulCandidates(m: number, limits: GpuLimits): MatmulCandidate[] {
  const all: MatmulTiles[] = [
    matmulTiles(m),
    LARGE_MATMUL_TILES,
    { ...LARGE_MATMUL_TILES, bk: 16 },
    { ...LARGE_MATMUL_TILES, tn: 4 },
    { ...LARGE_MATMUL_TILES, tm: 4 },
  ];
  return all.filter((t) => tilesProblem(t, limits) === null).map((tiles) => ({
    name: tilesName(tiles),
    tiles,
  }));
}

/** The properties of a product that choose its tiling. */
export interface MatmulShape {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Batch count (1 for a plain product). */
  readonly batch: number;
  readonly transA: boolean;
  readonly transB: boolean;
  /** Element type of B. */
  readonly weights: WeightDType;
}

const pow2 = (v: number) => 2 ** Math.ceil(Math.log2(Math.max(1, v)));

/**
 * The shape class a tuning entry covers: M, N, K and the batch rounded up to powers of two, the
 * transposes and B's dtype, e.g. "NT f32 b1 m2048 n1024 k1024". The 4×4 tile heights of
 * {@link matmulTiles} change only at powers of two, so every shape of a class gets the same tiles.
 */
export function matmulShapeClass(s: MatmulShape): string {
  return `${s.transA ? "T" : "N"}${s.transB ? "T" : "N"} ${s.weights} b${pow2(s.batch)} m${pow2(s.m)} ` +
    `n${pow2(s.n)} k${pow2(s.k)}`;
}

/**
 * The fixed rule used where no tuning entry exists: the 128×128 large-tile kernel when M and N are both
 * at least 128 and the grid has at least 16 such tiles (enough workgroups to spread over a GPU's
 * cores), the 4×4 tiles of {@link matmulTiles} otherwise (short decode products, narrow outputs).
 */
export function defaultMatmulTiles(s: MatmulShape, limits: GpuLimits): MatmulTiles {
  const tiles = s.batch * Math.ceil(s.m / 128) * Math.ceil(s.n / 128);
  if (s.m >= 128 && s.n >= 128 && tiles >= 16 && tilesProblem(LARGE_MATMUL_TILES, limits) === null) {
    return LARGE_MATMUL_TILES;
  }
  return matmulTiles(s.m);
}

/** Tuned tiles by shape class, for one adapter. */
export type MatmulTuning = ReadonlyMap<string, MatmulTiles>;

/**
 * The tiles for a product: the tuning table's entry for its shape class when there is one that fits
 * `limits`, else {@link defaultMatmulTiles}. Pure, so tests can check what a dispatch will use.
 */
export function chooseMatmulTiles(
  s: MatmulShape,
  tuning: MatmulTuning | null,
  limits: GpuLimits,
): { tiles: MatmulTiles; tuned: boolean } {
  const t = tuning?.get(matmulShapeClass(s));
  if (t && tilesProblem(t, limits) === null) return { tiles: t, tuned: true };
  return { tiles: defaultMatmulTiles(s, limits), tuned: false };
}

// ---------------------------------------------------------------------------------------------------
// The tuning file.

/** One tuned shape class: the chosen tiles and what every candidate measured. */
export interface MatmulTuningEntry {
  /** The chosen tiling. */
  readonly tiles: MatmulTiles;
  /** The shape that was timed, e.g. "2048x896x896 Bᵀ". */
  readonly shape: string;
  /** Milliseconds per call by candidate name. */
  readonly ms: Readonly<Record<string, number>>;
}

/** The JSON tuning file: entries per adapter (see {@link adapterKey}), then per shape class. */
export interface MatmulTuningFile {
  readonly version: 1;
  readonly adapters: Readonly<
    Record<string, { readonly entries: Readonly<Record<string, MatmulTuningEntry>> }>
  >;
}

/** The key of an adapter in the tuning file: vendor, architecture, device and description. */
export function adapterKey(info: GPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description].join(" | ");
}

/**
 * Where the tuning file lives: `$RLIF_MATMUL_TILES`, else `$XDG_CACHE_HOME/rlif/matmul-tiles.json`,
 * else `~/.cache/rlif/matmul-tiles.json`; null when environment access is not granted or no home
 * directory is known (the library then runs on {@link defaultMatmulTiles}).
 */
export function matmulTuningPath(): string | null {
  const env = (name: string) =>
    Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
      ? Deno.env.get(name)
      : undefined;
  const explicit = env("RLIF_MATMUL_TILES");
  if (explicit) return explicit;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "rlif", "matmul-tiles.json");
  const home = env("HOME");
  return home ? join(home, ".cache", "rlif", "matmul-tiles.json") : null;
}

function corrupt(path: string, detail: string): Error {
  return new Error(
    `matmul tuning file ${path}: ${detail}; delete it or rewrite it with \`deno task bench:kernels --tune\``,
  );
}

function checkTiles(path: string, where: string, v: unknown): MatmulTiles {
  const t = v as Record<string, unknown>;
  const ok = typeof t === "object" && t !== null &&
    Object.keys(t).every((k) => ["wgX", "wgY", "bk", "tm", "tn"].includes(k)) &&
    [t.wgX, t.wgY, t.bk].every((x) => Number.isInteger(x) && (x as number) >= 1) &&
    (t.bk as number) % 4 === 0 && [undefined, 4, 8].includes(t.tm as number) &&
    [undefined, 4, 8].includes(t.tn as number);
  if (!ok) {
    throw corrupt(
      path,
      `${where}.tiles is ${JSON.stringify(v)}, not {wgX, wgY, bk[, tm, tn]} (bk a multiple of 4)`,
    );
  }
  return t as unknown as MatmulTiles;
}

/** Validates parsed JSON as a {@link MatmulTuningFile}; errors name the file and the bad field. */
export function parseMatmulTuning(path: string, text: string): MatmulTuningFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw corrupt(path, `is not valid JSON (${(e as Error).message})`);
  }
  const obj = raw as Record<string, unknown>;
  if (typeof obj !== "object" || obj === null || obj.version !== 1) {
    throw corrupt(path, `has no "version": 1`);
  }
  const adapters = obj.adapters as Record<string, unknown>;
  if (typeof adapters !== "object" || adapters === null || Array.isArray(adapters)) {
    throw corrupt(path, `"adapters" must be an object keyed by adapter`);
  }
  for (const [key, a] of Object.entries(adapters)) {
    const entries = (a as Record<string, unknown>)?.entries as Record<string, unknown>;
    if (typeof entries !== "object" || entries === null || Array.isArray(entries)) {
      throw corrupt(path, `adapters["${key}"].entries must be an object keyed by shape class`);
    }
    for (const [cls, e] of Object.entries(entries)) {
      const where = `adapters["${key}"].entries["${cls}"]`;
      const entry = e as Record<string, unknown>;
      checkTiles(path, where, entry?.tiles);
      if (typeof entry.shape !== "string" || typeof entry.ms !== "object" || entry.ms === null) {
        throw corrupt(path, `${where} needs "shape" (string) and "ms" (object)`);
      }
    }
  }
  return raw as MatmulTuningFile;
}

/** Reads a tuning file; null when it does not exist, an error naming the file when it is malformed. */
export function readMatmulTuning(path: string): MatmulTuningFile | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`matmul tuning file ${path}: cannot read it: ${(e as Error).message}`, { cause: e });
  }
  return parseMatmulTuning(path, text);
}

/** The entries of `file` for one adapter as a selection table. */
export function tuningFor(file: MatmulTuningFile | null, adapter: string): MatmulTuning {
  const entries = file?.adapters[adapter]?.entries ?? {};
  return new Map(Object.entries(entries).map(([cls, e]) => [cls, e.tiles]));
}

/**
 * Merges `entries` for `adapter` into the tuning file at `path` (other adapters and shape classes are
 * kept; a malformed existing file is refused) and writes it atomically, creating the directory.
 */
export async function writeMatmulTuning(
  path: string,
  adapter: string,
  entries: Readonly<Record<string, MatmulTuningEntry>>,
): Promise<MatmulTuningFile> {
  const old = readMatmulTuning(path);
  const mine = { ...(old?.adapters[adapter]?.entries ?? {}), ...entries };
  const file: MatmulTuningFile = {
    version: 1,
    adapters: { ...(old?.adapters ?? {}), [adapter]: { entries: mine } },
  };
  await Deno.mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(file, null, 2) + "\n");
  return file;
}

const loaded = new WeakMap<Gpu, MatmulTuning>();

/**
 * The tuning table matmuls on `gpu` consult: set by {@link setMatmulTuning}, else loaded once from
 * {@link matmulTuningPath} (a missing file or ungranted read access gives an empty table; a malformed
 * file throws an error naming it).
 */
export function matmulTuning(gpu: Gpu): MatmulTuning {
  let t = loaded.get(gpu);
  if (!t) {
    const path = matmulTuningPath();
    const readable = path !== null && Deno.permissions.querySync({ name: "read", path }).state === "granted";
    t = tuningFor(readable ? readMatmulTuning(path) : null, adapterKey(gpu.adapterInfo));
    loaded.set(gpu, t);
  }
  return t;
}

/** Replaces the tuning table of `gpu` (after tuning, or in tests); `null` reloads it from disk on next use. */
export function setMatmulTuning(gpu: Gpu, tuning: MatmulTuning | null): void {
  if (tuning) loaded.set(gpu, tuning);
  else loaded.delete(gpu);
}

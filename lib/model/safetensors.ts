/**
 * safetensors reading and writing, single files and sharded checkpoint directories.
 *
 * Validation mirrors the reference implementation: the header must fit in the file, tensors sorted by
 * offset must tile the data region exactly (no overlap, no gap, no trailing bytes) and each span must equal
 * shape × dtype size. Every error names the file and, where one is at fault, the tensor.
 *
 * Tensors are read one at a time through a file handle, so a checkpoint is never held twice in memory.
 * F32, BF16 and F16 load as Float32Array (`read`), or as stored (`readStored`: half-width tensors as their
 * 16-bit patterns, for uploading to the GPU at their own width).
 *
 * @module
 */

import { RlifError } from "../errors.ts";
import { basename, dirname, isAbsolute, join, normalize } from "node:path";
import { writeAll, writeFileAtomic } from "../log/atomic.ts";

/** Element types the safetensors format defines (the reference list); rlif decodes F32, BF16 and F16. */
export type SafetensorsDtype =
  | "BOOL"
  | "U8"
  | "I8"
  | "F8_E5M2"
  | "F8_E4M3"
  | "F8_E8M0"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "C64"
  | "F64"
  | "I64"
  | "U64"
  | "F4"
  | "F6_E2M3"
  | "F6_E3M2";

/** dtypes {@link writeSafetensors} can store. */
export type WritableDtype = "F32" | "BF16" | "F16";

const DTYPE_BITS: Record<SafetensorsDtype, number> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
};

const DECODABLE: readonly SafetensorsDtype[] = ["F32", "BF16", "F16"];

/** The reference reader's cap on the JSON header (100 MB); larger values mean a corrupt length prefix. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Raised for a malformed or inconsistent safetensors file or checkpoint; the message names file and tensor. */
export class SafetensorsError extends RlifError {
  /** Creates an error about `file` (and `tensor`, when one is at fault). */
  constructor(readonly file: string, detail: string, readonly tensor?: string) {
    super("model.safetensors", `${file}: ${tensor !== undefined ? `tensor "${tensor}": ` : ""}${detail}`);
    this.name = "SafetensorsError";
  }
}

/** One tensor's header entry; `dataOffsets` are relative to the start of the data region. */
export interface TensorInfo {
  /** Element type. */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first. */
  shape: number[];
  /** Byte range [begin, end) inside the data region. */
  dataOffsets: [number, number];
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** Tensors in data-offset order. */
  tensors: Map<string, TensorInfo>;
  /** The `__metadata__` string map, when present. */
  metadata: Record<string, string> | undefined;
  /** Absolute file offset of the data region (8 + JSON header length). */
  dataStart: number;
}

/** A tensor loaded into memory, widened to float32. */
export interface LoadedTensor {
  /** dtype stored in the file. */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first. */
  shape: number[];
  /** Values, row-major. */
  data: Float32Array;
  /** Path of the file the tensor came from. */
  file: string;
}

/** A tensor to write: float32 values plus the dtype to store them as (default: the call's dtype). */
export interface TensorToWrite {
  /** Dimensions, outermost first; their product must equal `data.length`. */
  shape: readonly number[];
  /** Values, row-major. */
  data: Float32Array;
  /** Storage dtype for this tensor, overriding the call's default. */
  dtype?: WritableDtype;
}

/** Options for {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** Storage dtype for tensors that do not name one (default F32). */
  dtype?: WritableDtype;
  /** String map stored under `__metadata__` (the HF convention is `{ format: "pt" }`). */
  metadata?: Record<string, string>;
}

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === "string" && Object.hasOwn(DTYPE_BITS, s);
}

function isByteOffset(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Parses and validates a header. `headerBytes` is the JSON text after the 8-byte length prefix and
 * `dataLength` the number of bytes that follow it in the file.
 */
export function parseSafetensorsHeader(
  file: string,
  headerBytes: Uint8Array,
  dataLength: number,
): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, "header is not valid UTF-8 (is this a safetensors file?)");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new SafetensorsError(file, "header must be a JSON object mapping tensor names to entries");
  }

  let metadata: Record<string, string> | undefined;
  const entries: [string, TensorInfo][] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(file, raw);
      continue;
    }
    entries.push([name, parseTensorInfo(file, name, raw)]);
  }

  entries.sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let cursor = 0;
  let previous: string | undefined;
  for (const [name, info] of entries) {
    const [begin, end] = info.dataOffsets;
    if (end > dataLength) {
      throw new SafetensorsError(
        file,
        `data_offsets [${begin}, ${end}] reach outside the data region, which holds ${dataLength} bytes ` +
          `(truncated file or wrong offsets)`,
        name,
      );
    }
    if (begin < cursor) {
      throw new SafetensorsError(
        file,
        `data_offsets [${begin}, ${end}] overlap tensor "${previous}", which ends at byte ${cursor}`,
        name,
      );
    }
    if (begin > cursor) {
      throw new SafetensorsError(
        file,
        `data_offsets [${begin}, ${end}] leave bytes [${cursor}, ${begin}) of the data region unused; ` +
          `tensors must tile the data region contiguously`,
        name,
      );
    }
    const bits = elementCount(info.shape) * DTYPE_BITS[info.dtype];
    if (bits % 8 !== 0) {
      throw new SafetensorsError(
        file,
        `shape ${shapeText(info.shape)} of ${info.dtype} is not a whole number of bytes`,
        name,
      );
    }
    if (end - begin !== bits / 8) {
      throw new SafetensorsError(
        file,
        `shape ${shapeText(info.shape)} of ${info.dtype} needs ${bits / 8} bytes but data_offsets ` +
          `[${begin}, ${end}] span ${end - begin}`,
        name,
      );
    }
    cursor = end;
    previous = name;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(
      file,
      `the data region holds ${dataLength} bytes but the tensors cover only ${cursor}; ` +
        `${dataLength - cursor} trailing bytes belong to no tensor`,
    );
  }
  return { tensors: new Map(entries), metadata, dataStart: 8 + headerBytes.length };
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(
      file,
      `"__metadata__" must be an object of strings, got ${JSON.stringify(raw)}`,
    );
  }
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") {
      throw new SafetensorsError(
        file,
        `"__metadata__" value for "${k}" must be a string, got ${JSON.stringify(v)}`,
      );
    }
  }
  return { ...(raw as Record<string, string>) };
}

function parseTensorInfo(file: string, name: string, raw: unknown): TensorInfo {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(
      file,
      `entry must be an object {dtype, shape, data_offsets}, got ${JSON.stringify(raw)}`,
      name,
    );
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (!isDtype(dtype)) {
    throw new SafetensorsError(
      file,
      `unknown dtype ${JSON.stringify(dtype)}; safetensors dtypes are ${Object.keys(DTYPE_BITS).join(", ")}`,
      name,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isByteOffset)) {
    throw new SafetensorsError(
      file,
      `shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
      name,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isByteOffset)) {
    throw new SafetensorsError(
      file,
      `data_offsets must be [begin, end] byte offsets, got ${JSON.stringify(offsets)}`,
      name,
    );
  }
  if (offsets[1] < offsets[0]) {
    throw new SafetensorsError(
      file,
      `data_offsets [${offsets[0]}, ${offsets[1]}] end before they begin`,
      name,
    );
  }
  if (!Number.isSafeInteger(elementCount(shape) * DTYPE_BITS[dtype])) {
    throw new SafetensorsError(file, `shape ${shapeText(shape)} is too large`, name);
  }
  return { dtype, shape: [...shape], dataOffsets: [offsets[0], offsets[1]] };
}

async function readExactly(
  file: Deno.FsFile,
  path: string,
  position: number,
  length: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await file.seek(position, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(out.subarray(filled));
    if (n === null) {
      throw new SafetensorsError(
        path,
        `file ended at byte ${position + filled}, expected ${position + length}`,
      );
    }
    filled += n;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertDecodable(dtype: SafetensorsDtype, file: string, tensor?: string): void {
  if (!DECODABLE.includes(dtype)) {
    throw new SafetensorsError(
      file,
      `dtype ${dtype} cannot be loaded as floats; rlif loads ${DECODABLE.join(", ")}`,
      tensor,
    );
  }
}

/** Widens raw little-endian F32 / BF16 / F16 bytes to float32 values. */
export function decodeToFloat32(
  dtype: SafetensorsDtype,
  bytes: Uint8Array,
  file = "<buffer>",
  tensor?: string,
): Float32Array {
  assertDecodable(dtype, file, tensor);
  if (!LITTLE_ENDIAN) throw new SafetensorsError(file, "safetensors data is little-endian; this host is not");
  // Copy when unaligned: typed-array views need element-aligned offsets.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const count = aligned.byteLength / (DTYPE_BITS[dtype] / 8);
  if (dtype === "F32") {
    return new Float32Array(aligned.buffer, aligned.byteOffset, count).slice();
  }
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  return dtype === "BF16"
    ? bf16BitsToFloat32(halves)
    : Float32Array.from(new Float16Array(halves.buffer, halves.byteOffset, count));
}

/** A tensor's values as stored: F32 as floats, BF16 / F16 as their 16-bit patterns (nothing widened). */
export type StoredValues =
  | { readonly dtype: "F32"; readonly values: Float32Array<ArrayBuffer> }
  | { readonly dtype: "BF16" | "F16"; readonly bits: Uint16Array<ArrayBuffer> };

/** Views raw little-endian F32 / BF16 / F16 bytes as their stored element type, without widening. */
export function decodeStored(
  dtype: SafetensorsDtype,
  bytes: Uint8Array,
  file = "<buffer>",
  tensor?: string,
): StoredValues {
  assertDecodable(dtype, file, tensor);
  if (!LITTLE_ENDIAN) throw new SafetensorsError(file, "safetensors data is little-endian; this host is not");
  const count = bytes.byteLength / (DTYPE_BITS[dtype] / 8);
  // Typed-array views need element-aligned offsets; a fresh read is aligned and is viewed, not copied.
  const own = bytes.byteOffset % 4 === 0 && bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : bytes.slice();
  return dtype === "F32"
    ? { dtype, values: new Float32Array(own.buffer, own.byteOffset, count) }
    : { dtype: dtype as "BF16" | "F16", bits: new Uint16Array(own.buffer, own.byteOffset, count) };
}

/** Widens bfloat16 bit patterns to float32 (exact: bf16 is the top half of an f32). */
export function bf16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return out;
}

/** Rounds float32 values to bfloat16 bit patterns, round-to-nearest-even; NaN becomes the quiet NaN 0x7FC0. */
export function float32ToBf16Bits(values: Float32Array): Uint16Array {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if ((w & 0x7fffffff) > 0x7f800000) {
      out[i] = 0x7fc0;
    } else {
      out[i] = (w + 0x7fff + ((w >>> 16) & 1)) >>> 16;
    }
  }
  return out;
}

/** Rounds float32 values to IEEE half-precision bit patterns, round-to-nearest-even (overflow → ±Inf). */
export function float32ToF16Bits(values: Float32Array): Uint16Array {
  const halves = Float16Array.from(values);
  return new Uint16Array(halves.buffer, halves.byteOffset, halves.length);
}

/** An open safetensors file whose tensors are read on demand. Close it (or use `await using`). */
export class SafetensorsFile {
  private constructor(
    /** Path the file was opened from (used in errors). */
    readonly path: string,
    /** The validated header. */
    readonly header: SafetensorsHeader,
    private readonly handle: Deno.FsFile,
  ) {}

  /** Opens `path`, reads and validates its header; tensor data stays on disk until asked for. */
  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await Deno.open(path, { read: true });
    try {
      const size = (await handle.stat()).size;
      if (size < 8) {
        throw new SafetensorsError(
          path,
          `file has ${size} bytes, fewer than the 8-byte header length prefix`,
        );
      }
      const prefix = await readExactly(handle, path, 0, 8);
      const headerLength = new DataView(prefix.buffer).getBigUint64(0, true);
      if (headerLength > BigInt(MAX_HEADER_BYTES)) {
        throw new SafetensorsError(
          path,
          `header length prefix says ${headerLength} bytes, above the ${MAX_HEADER_BYTES}-byte limit ` +
            `(corrupt prefix, or not a safetensors file)`,
        );
      }
      const n = Number(headerLength);
      if (8 + n > size) {
        throw new SafetensorsError(
          path,
          `header length prefix says ${n} bytes but only ${size - 8} bytes follow it (truncated file?)`,
        );
      }
      const header = parseSafetensorsHeader(path, await readExactly(handle, path, 8, n), size - 8 - n);
      return new SafetensorsFile(path, header, handle);
    } catch (e) {
      handle.close();
      throw e;
    }
  }

  /** Tensor names in data-offset order. */
  get names(): string[] {
    return [...this.header.tensors.keys()];
  }

  /** Header entry of `name`; throws a {@link SafetensorsError} when the file has no such tensor. */
  info(name: string): TensorInfo {
    const info = this.header.tensors.get(name);
    if (!info) throw new SafetensorsError(this.path, "no such tensor in this file", name);
    return info;
  }

  /** Raw little-endian bytes of `name`, as stored. */
  async readBytes(name: string): Promise<Uint8Array> {
    const [begin, end] = this.info(name).dataOffsets;
    return await readExactly(this.handle, this.path, this.header.dataStart + begin, end - begin);
  }

  /** Values of `name` widened to float32 (F32 / BF16 / F16 only). */
  async read(name: string): Promise<Float32Array> {
    const info = this.info(name);
    assertDecodable(info.dtype, this.path, name);
    return decodeToFloat32(info.dtype, await this.readBytes(name), this.path, name);
  }

  /** Values of `name` as stored (F32 / BF16 / F16 only): half-width tensors stay 16-bit patterns. */
  async readStored(name: string): Promise<StoredValues> {
    const info = this.info(name);
    assertDecodable(info.dtype, this.path, name);
    return decodeStored(info.dtype, await this.readBytes(name), this.path, name);
  }

  /** Releases the file handle. */
  close(): void {
    this.handle.close();
  }

  /** Releases the file handle (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Reads every tensor of one safetensors file, widened to float32, in data-offset order. */
export async function readSafetensors(path: string): Promise<Map<string, LoadedTensor>> {
  using file = await SafetensorsFile.open(path);
  const out = new Map<string, LoadedTensor>();
  for (const [name, info] of file.header.tensors) {
    out.set(name, { dtype: info.dtype, shape: info.shape, data: await file.read(name), file: path });
  }
  return out;
}

/** Reads only the validated header of a safetensors file (tensor names, dtypes, shapes, metadata). */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  using file = await SafetensorsFile.open(path);
  return file.header;
}

const INDEX_FILE = "model.safetensors.index.json";
const SINGLE_FILE = "model.safetensors";

/** Where a tensor of a checkpoint lives. */
export interface CheckpointTensorInfo extends TensorInfo {
  /** Path of the safetensors file holding the tensor. */
  file: string;
}

/**
 * A checkpoint directory (single `model.safetensors` or shards listed by `model.safetensors.index.json`)
 * whose tensors are read on demand. Close it (or use `await using`).
 */
export class Checkpoint {
  private constructor(
    /** The checkpoint directory. */
    readonly dir: string,
    private readonly files: SafetensorsFile[],
    private readonly where: Map<string, SafetensorsFile>,
  ) {}

  /** Opens a checkpoint directory and validates every header (and the index, when sharded). */
  static async open(dir: string): Promise<Checkpoint> {
    const indexPath = join(dir, INDEX_FILE);
    if (await exists(indexPath)) return await Checkpoint.openSharded(dir, indexPath);
    const single = join(dir, SINGLE_FILE);
    if (await exists(single)) {
      const file = await SafetensorsFile.open(single);
      return new Checkpoint(dir, [file], new Map(file.names.map((n) => [n, file])));
    }
    throw new SafetensorsError(dir, await describeMissingWeights(dir));
  }

  /** Opens the shards an index lists, checking index and shards agree tensor by tensor. */
  private static async openSharded(dir: string, indexPath: string): Promise<Checkpoint> {
    const weightMap = await readWeightMap(indexPath);
    const byShard = new Map<string, string[]>();
    for (const [tensor, shard] of weightMap) {
      const list = byShard.get(shard) ?? [];
      list.push(tensor);
      byShard.set(shard, list);
    }
    const files: SafetensorsFile[] = [];
    const where = new Map<string, SafetensorsFile>();
    try {
      for (const [shard, tensors] of byShard) {
        const path = join(dir, shard);
        if (!(await exists(path))) {
          throw new SafetensorsError(
            indexPath,
            `shard "${shard}" is missing from ${dir}; the index places ${tensors.length} tensors there ` +
              `(e.g. "${tensors[0]}")`,
          );
        }
        const file = await SafetensorsFile.open(path);
        files.push(file);
        for (const tensor of tensors) {
          if (!file.header.tensors.has(tensor)) {
            throw new SafetensorsError(
              path,
              `the index ${
                basename(indexPath)
              } places this tensor in ${shard}, but the shard does not contain it`,
              tensor,
            );
          }
        }
        for (const name of file.names) {
          const listed = weightMap.get(name);
          if (listed !== shard) {
            const why = listed === undefined
              ? `${basename(indexPath)} does not list it (stale index?)`
              : `${basename(indexPath)} places it in "${listed}" (a tensor must live in one shard)`;
            throw new SafetensorsError(path, `the shard contains this tensor but ${why}`, name);
          }
          where.set(name, file);
        }
      }
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
    return new Checkpoint(dir, files, where);
  }

  /** Tensor names, grouped by file in data-offset order. */
  get names(): string[] {
    return [...this.where.keys()];
  }

  /** Paths of the safetensors files that make up the checkpoint. */
  get filePaths(): string[] {
    return this.files.map((f) => f.path);
  }

  /** Header entry of `name` plus the file that holds it. */
  info(name: string): CheckpointTensorInfo {
    const file = this.fileOf(name);
    return { ...file.info(name), file: file.path };
  }

  /** Values of `name` widened to float32. */
  async read(name: string): Promise<Float32Array> {
    return await this.fileOf(name).read(name);
  }

  /** Values of `name` as stored: half-width tensors stay 16-bit patterns. */
  async readStored(name: string): Promise<StoredValues> {
    return await this.fileOf(name).readStored(name);
  }

  /** Raw little-endian bytes of `name`, as stored. */
  async readBytes(name: string): Promise<Uint8Array> {
    return await this.fileOf(name).readBytes(name);
  }

  /** Reads every tensor, file by file in data-offset order. */
  async readAll(): Promise<Map<string, LoadedTensor>> {
    const out = new Map<string, LoadedTensor>();
    for (const file of this.files) {
      for (const [name, info] of file.header.tensors) {
        out.set(name, { dtype: info.dtype, shape: info.shape, data: await file.read(name), file: file.path });
      }
    }
    return out;
  }

  /** Releases all file handles. */
  close(): void {
    for (const f of this.files) f.close();
  }

  /** Releases all file handles (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The open file holding `name`. */
  private fileOf(name: string): SafetensorsFile {
    const file = this.where.get(name);
    if (!file) throw new SafetensorsError(this.dir, "no such tensor in this checkpoint", name);
    return file;
  }
}

async function readWeightMap(indexPath: string): Promise<Map<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(indexPath));
  } catch (e) {
    throw new SafetensorsError(indexPath, `is not valid JSON: ${(e as Error).message}`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw new SafetensorsError(indexPath, `must contain "weight_map": {tensor name: shard file name}`);
  }
  const out = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== "string" || !isPlainShardName(shard)) {
      throw new SafetensorsError(
        indexPath,
        `weight_map entry must be a shard file name inside the checkpoint directory, got ${
          JSON.stringify(shard)
        }`,
        tensor,
      );
    }
    out.set(tensor, shard);
  }
  if (out.size === 0) throw new SafetensorsError(indexPath, `"weight_map" lists no tensors`);
  return out;
}

/** Keeps index entries from pointing outside the checkpoint directory. */
function isPlainShardName(shard: string): boolean {
  if (shard === "" || isAbsolute(shard)) return false;
  const n = normalize(shard);
  return n !== ".." && !n.startsWith("../") && !n.startsWith("..\\");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function describeMissingWeights(dir: string): Promise<string> {
  let names: string[];
  try {
    names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "checkpoint directory does not exist";
    throw e;
  }
  const torch = names.filter((n) => n.endsWith(".bin") || n.endsWith(".pt") || n.endsWith(".pth"));
  const hint = torch.length > 0
    ? `; found PyTorch pickles (${torch.join(", ")}), which rlif does not read: convert them to safetensors`
    : `; found: ${names.sort().join(", ") || "(empty directory)"}`;
  return `no ${SINGLE_FILE} or ${INDEX_FILE}${hint}`;
}

/** Opens a checkpoint directory for on-demand tensor reads (see {@link Checkpoint}). */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  return await Checkpoint.open(dir);
}

/** Reads every tensor of a checkpoint directory (single file or sharded), widened to float32. */
export async function readCheckpoint(dir: string): Promise<Map<string, LoadedTensor>> {
  using checkpoint = await Checkpoint.open(dir);
  return await checkpoint.readAll();
}

const BYTES_PER: Record<WritableDtype, number> = { F32: 4, BF16: 2, F16: 2 };

function encodeTensor(dtype: WritableDtype, data: Float32Array): Uint8Array {
  switch (dtype) {
    case "F32":
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    case "BF16": {
      const bits = float32ToBf16Bits(data);
      return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
    }
    case "F16": {
      const bits = float32ToF16Bits(data);
      return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
    }
  }
}

/**
 * Writes tensors to a safetensors file atomically. Tensors are laid out like the reference writer does
 * (larger element size first, then by name) and the header is padded with spaces to a multiple of 8 bytes,
 * so every tensor is aligned to its element size.
 *
 * @example
 * ```ts
 * await writeSafetensors("w.safetensors", new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]), {
 *   dtype: "BF16",
 *   metadata: { format: "pt" },
 * });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  options: WriteSafetensorsOptions = {},
): Promise<void> {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const defaultDtype = options.dtype ?? "F32";
  const plan = entries.map(([name, t]) => {
    if (name === "__metadata__") throw new SafetensorsError(path, `"__metadata__" is reserved`, name);
    const dtype = t.dtype ?? defaultDtype;
    if (!Object.hasOwn(BYTES_PER, dtype)) {
      throw new SafetensorsError(
        path,
        `cannot write dtype ${JSON.stringify(dtype)}; use F32, BF16 or F16`,
        name,
      );
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(path, `shape ${shapeText(t.shape)} must be non-negative integers`, name);
    }
    if (elementCount(t.shape) !== t.data.length) {
      throw new SafetensorsError(
        path,
        `shape ${shapeText(t.shape)} has ${elementCount(t.shape)} elements but data has ${t.data.length}`,
        name,
      );
    }
    return { name, dtype, shape: [...t.shape], data: t.data };
  });
  plan.sort((a, b) =>
    BYTES_PER[b.dtype] - BYTES_PER[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );

  const header: Record<string, unknown> = {};
  if (options.metadata) {
    for (const [k, v] of Object.entries(options.metadata)) {
      if (typeof v !== "string") {
        throw new SafetensorsError(
          path,
          `metadata value for "${k}" must be a string, got ${JSON.stringify(v)}`,
        );
      }
    }
    header.__metadata__ = options.metadata;
  }
  let offset = 0;
  for (const t of plan) {
    const size = t.data.length * BYTES_PER[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  const jsonBytes = new TextEncoder().encode(json);
  json += " ".repeat((8 - (jsonBytes.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);

  await Deno.mkdir(dirname(path) || ".", { recursive: true });
  await writeFileAtomic(path, async (file) => {
    await writeAll(file, prefix);
    await writeAll(file, headerBytes);
    for (const t of plan) await writeAll(file, encodeTensor(t.dtype, t.data));
  });
}

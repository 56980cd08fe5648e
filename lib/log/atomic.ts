/**
 * Crash-safe file replacement: readers see either the old file or the complete new one, never a
 * prefix (DESIGN: never write a half checkpoint).
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

/**
 * Writes every byte of `bytes` to an open file; a short write (rare for regular files) is continued.
 *
 * @example
 * ```ts
 * await writeAll(file, new TextEncoder().encode("line\n"));
 * ```
 */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/**
 * Writes `data` to `path` atomically: a temporary file in the same directory (so the rename cannot
 * cross file systems), fsync, rename over `path`, then fsync of the directory so the rename itself
 * survives a crash. The temporary file is removed when anything fails. `data` is the content, or a
 * function that streams it into the open file (large checkpoints).
 *
 * @example
 * ```ts
 * await writeFileAtomic("runs/x/config.yaml", "model:\n  path: m\n");
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | ((file: Deno.FsFile) => Promise<void>),
): Promise<void> {
  const write = typeof data === "function"
    ? data
    : (f: Deno.FsFile) => writeAll(f, typeof data === "string" ? new TextEncoder().encode(data) : data);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`);
  let file: Deno.FsFile | null = null;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    await write(file);
    await file.sync();
    file.close();
    file = null;
    await Deno.rename(tmp, path);
  } catch (e) {
    file?.close();
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`writeFileAtomic: cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  await syncDir(dir);
}

/**
 * fsyncs a directory so renames and creations in it are durable; a no-op where the OS refuses.
 *
 * @example
 * ```ts
 * await syncDir("runs/x");
 * ```
 */
export async function syncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some platforms cannot open or fsync directories; the rename is still atomic there.
  }
}

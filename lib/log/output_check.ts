/**
 * The check every task makes of its output location before any work: a run or report that would fail
 * to be written after minutes of work is refused at once instead.
 *
 * @module
 */
import { dirname } from "node:path";
import { RlifError } from "../errors.ts";

/**
 * An output location that cannot be used (not writable, a file where a folder is needed, another run's
 * folder); code "config.output", an invocation mistake (the scripts exit with status 2).
 */
export class OutputError extends RlifError {
  /** Creates the error; the message names the flag or key and the path. */
  constructor(message: string) {
    super("config.output", message);
    this.name = "OutputError";
  }
}

/**
 * Refuses, before any work, an output the task could not write at the end: `path` (a file, or with
 * `kind: "dir"` a directory) must not be an existing directory (file) and its nearest existing folder must
 * accept a new file. With `notInto`, a directory that already holds one of those files (another run's
 * output) is refused too. Errors are {@link OutputError}s naming `flag` (a flag or config key).
 *
 * @example
 * ```ts
 * await checkOutput("runs/eval-1/summary.json", "--out"); // throws when runs/ is a file or read-only
 * ```
 */
export async function checkOutput(
  path: string,
  flag: string,
  options: { kind?: "file" | "dir"; notInto?: readonly string[] } = {},
): Promise<void> {
  const kind = options.kind ?? "file";
  const refuse = (why: string): never => {
    throw new OutputError(`${flag} ${path}: ${why}`);
  };
  const stat = await Deno.stat(path).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return null;
    if (e instanceof Deno.errors.NotADirectory) refuse("a part of the path is a file, not a folder");
    throw e;
  });
  if (stat && kind === "file" && stat.isDirectory) refuse("is a directory; give a file name");
  if (stat && kind === "dir" && !stat.isDirectory) refuse("is a file; give a directory");
  if (stat && kind === "dir") {
    for (const name of options.notInto ?? []) {
      if (await Deno.stat(`${path}/${name}`).then(() => true, () => false)) {
        refuse(`already holds ${name} of another run; choose a new directory`);
      }
    }
  }
  // The nearest folder that exists is where the first new entry will be made.
  let folder = kind === "dir" && stat ? path : dirname(path);
  for (;;) {
    const s = await Deno.stat(folder).catch(() => null);
    if (s) {
      if (!s.isDirectory) refuse(`${folder} is a file, not a folder`);
      break;
    }
    const up = dirname(folder);
    if (up === folder) break;
    folder = up;
  }
  try {
    const probe = await Deno.makeTempFile({ dir: folder, prefix: ".rlif-write-check-" });
    await Deno.remove(probe);
  } catch (e) {
    refuse(`cannot write in ${folder} (${(e as Error).message})`);
  }
}

/**
 * Runs a script of scripts/ the way `deno task` does (from the repository root, every permission), for
 * the tests of the command-line tools.
 *
 * @module
 */
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

/** What a script run printed and how it exited. */
export interface ScriptRun {
  /** Exit status. */
  code: number;
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
}

/** Runs `scripts/<script>` with `args` and waits for it to exit. */
export function runScript(script: string, args: string[]): Promise<ScriptRun> {
  return runDenoFile(join(ROOT, "scripts", script), args);
}

/**
 * Runs a Deno file with every permission from the repository root, with XDG_RUNTIME_DIR, NO_COLOR and
 * `env` (RLIF_DEVICE_LIMITS, say) set over this process's environment, and waits for it to exit.
 */
export async function runDenoFile(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ScriptRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", file, ...args],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/**
 * Plumbing for the tests that check results against Python references (PyTorch, scikit-learn, SciPy):
 * find an interpreter that has the modules, say why a test is skipped when there is none, and run a
 * script that reads a JSON request on stdin and prints a JSON answer on stdout.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/**
 * Interpreters tried in order: Debian's, where python3-torch, python3-sklearn and python3-scipy install,
 * then whatever `python3` is first on PATH.
 */
const INTERPRETERS = ["/usr/bin/python3", "python3"];

/**
 * The first interpreter that can find every module in `modules`, or null when none can; prints nothing.
 * It asks `importlib.util.find_spec` rather than importing, because importing torch alone takes seconds.
 */
export async function findPython(...modules: string[]): Promise<string | null> {
  const names = modules.map((m) => JSON.stringify(m)).join(", ");
  const probe =
    `import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None for m in [${names}]))`;
  for (const python of INTERPRETERS) {
    try {
      const out = await new Deno.Command(python, { args: ["-c", probe], stdout: "null", stderr: "null" })
        .output();
      if (out.success) return python;
    } catch {
      // Not installed under this name: try the next one.
    }
  }
  return null;
}

/**
 * Prints why the Python cross-check `what` does not run: no interpreter finds `modules`, and the Debian
 * packages that would provide them.
 */
export function skipNote(what: string, ...modules: string[]): void {
  console.log(
    `${what} skipped: neither ${INTERPRETERS.join(" nor ")} can import ${modules.join(", ")} ` +
      `(apt-get install ${modules.map((m) => `python3-${m}`).join(" ")})`,
  );
}

/**
 * Runs `script` (a `.py` file URL, or inline code) with `python`, writes `request` as JSON to its stdin
 * and returns its stdout parsed as JSON. A failed run throws with its stderr.
 */
export async function runPythonJson(
  python: string,
  script: string | URL,
  request: unknown,
): Promise<unknown> {
  const name = script instanceof URL ? fileURLToPath(script) : null;
  const child = new Deno.Command(python, {
    args: name === null ? ["-c", script as string] : [name],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Written while the output is drained, so neither side waits on a full pipe; a script that dies before
  // reading everything breaks the pipe, and its stderr below says why.
  const writer = child.stdin.getWriter();
  const written = writer.write(new TextEncoder().encode(JSON.stringify(request)))
    .then(() => writer.close())
    .catch(() => {});
  const out = await child.output();
  await written;
  if (!out.success) {
    throw new Error(`${python} ${name ?? "(inline script)"} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

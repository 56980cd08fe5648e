import assert from "node:assert/strict";
import { join } from "node:path";
import { ScriptCli, timestampedPath } from "../lib/cli.ts";

const CLI_MODULE = new URL("../lib/cli.ts", import.meta.url).href;

/** Runs a throwaway script whose body uses lib/cli.ts as `cli` (ScriptCli "demo") and `runMain`. */
async function runScript(body: string, args: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "rlif-cli-" });
  try {
    const file = join(dir, "script.ts");
    await Deno.writeTextFile(
      file,
      `import { runMain, ScriptCli } from ${JSON.stringify(CLI_MODULE)};\n` +
        `const cli: ScriptCli = new ScriptCli("demo", "usage: demo [--n N]");\n${body}\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--allow-read", file, ...args],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("timestampedPath puts the UTC time after the prefix, with : and . replaced", () => {
  assert.equal(
    timestampedPath("runs/eval", new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678))),
    "runs/eval-2025-01-02T03-04-05-678Z",
  );
});

Deno.test("ScriptCli reads flags, numbers and choices that are valid", () => {
  const cli = new ScriptCli("demo", "usage: demo");
  const { values, positionals } = cli.parse({
    args: ["--n", "3", "run-dir", "--kind", "b"],
    allowPositionals: true,
    options: { n: { type: "string" }, kind: { type: "string" }, help: { type: "boolean" } },
  });
  assert.deepEqual(positionals, ["run-dir"]);
  assert.equal(cli.number(values.n, "n", 1, Number.isInteger), 3);
  assert.equal(cli.number(undefined, "n", 7, Number.isInteger), 7);
  assert.equal(cli.oneOf(values.kind, "kind", ["a", "b"]), "b");
  assert.equal(cli.oneOf(undefined, "kind", ["a", "b"]), undefined);
});

Deno.test("ScriptCli: a usage mistake prints name, message and usage, and exits 2; --help exits 0", async () => {
  const parse = `cli.parse({ options: { n: { type: "string" }, help: { type: "boolean", short: "h" } } });`;
  const unknown = await runScript(parse, ["--bogus"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^demo: Unknown option '--bogus'/);
  assert.match(unknown.stderr, /\n\nusage: demo \[--n N\]\n$/);
  const help = await runScript(parse, ["-h"]);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, "usage: demo [--n N]\n");
  const bad = await runScript(`cli.number("0.5", "n", 1, Number.isInteger);`);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^demo: --n 0\.5 is not valid\n/);
  const choice = await runScript(`cli.oneOf("c", "kind", ["a", "b"]);`);
  assert.match(choice.stderr, /^demo: --kind c is unknown; choose one of a, b\n/);
});

Deno.test("runMain: an input error prints `name: message` and exits 1; a bug keeps its stack trace", async () => {
  const missing = await runScript(
    `await runMain("demo", async () => { await Deno.readTextFile("/nonexistent/x.jsonl"); });`,
  );
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^demo: .*\/nonexistent\/x\.jsonl.*\n$/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /);
  const bad = await runScript(
    `await runMain("demo", () => { throw new RangeError("--layers must be >= 1"); });`,
  );
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, "demo: --layers must be >= 1\n");
  const bug = await runScript(`await runMain("demo", () => { (undefined as unknown as { x: number }).x; });`);
  assert.equal(bug.code, 1);
  assert.match(bug.stderr, /TypeError/);
  assert.match(bug.stderr, /\n\s+at /);
  const fine = await runScript(`await runMain("demo", () => console.log("done"));`);
  assert.equal(fine.code, 0);
  assert.equal(fine.stdout, "done\n");
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { z } from "zod";
import { ScriptCli, timestampedPath } from "../../scripts/_cli.ts";

const CLI_MODULE = new URL("../../scripts/_cli.ts", import.meta.url).href;
const ERRORS_MODULE = new URL("../../lib/errors.ts", import.meta.url).href;
const ZOD = new URL("../../deno.json", import.meta.url).pathname;

/** Runs a throwaway script whose body uses scripts/_cli.ts as `cli`, `runMain`, `RlifError` and `z`. */
async function runScript(body: string, args: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "rlif-cli-" });
  try {
    const file = join(dir, "script.ts");
    await Deno.writeTextFile(
      file,
      `import { runMain, ScriptCli } from ${JSON.stringify(CLI_MODULE)};\n` +
        `import { RlifError, UsageError } from ${JSON.stringify(ERRORS_MODULE)};\n` +
        `import { z } from "zod";\nvoid RlifError, UsageError, z;\n` +
        `const cli: ScriptCli = new ScriptCli("usage: demo [--n N]");\n${body}\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--config", ZOD, "--allow-read", file, ...args],
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
  const cli = new ScriptCli("usage: demo");
  const { values, positionals } = cli.parse({
    args: ["--n", "3", "run-dir", "--kind", "b"],
    allowPositionals: true,
    options: { n: { type: "string" }, kind: { type: "string" }, help: { type: "boolean" } },
  });
  assert.deepEqual(positionals, ["run-dir"]);
  assert.equal(cli.number(values.n, "n", 1, z.number().int()), 3);
  assert.equal(cli.number(undefined, "n", 7, z.number().int()), 7);
  assert.equal(cli.oneOf(values.kind, "kind", ["a", "b"]), "b");
  assert.equal(cli.oneOf(undefined, "kind", ["a", "b"]), undefined);
});

Deno.test("ScriptCli: a usage mistake prints `error: message` and the usage, and exits 2; --help exits 0", async () => {
  const parse = `cli.parse({ options: { n: { type: "string" }, help: { type: "boolean", short: "h" } } });`;
  const unknown = await runScript(parse, ["--bogus"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: Unknown option '--bogus'/);
  assert.match(unknown.stderr, /\n\nusage: demo \[--n N\]\n$/);
  const help = await runScript(parse, ["-h"]);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, "usage: demo [--n N]\n");
  const bad = await runScript(`cli.number("0.5", "n", 1, z.number().int());`);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --n 0\.5 is not valid: .*integer.*\n/);
  const low = await runScript(`cli.number("0", "n", 1, z.number().int().min(1));`);
  assert.match(low.stderr, /^error: --n 0 is not valid: must be >= 1\n/);
  const text = await runScript(`cli.number("many", "n", 1, z.number());`);
  assert.match(text.stderr, /^error: --n many is not valid: /);
  const choice = await runScript(`cli.oneOf("c", "kind", ["a", "b"]);`);
  assert.match(choice.stderr, /^error: --kind c is unknown; choose one of a, b\n/);
});

Deno.test("runMain: a user error prints one line `error: message` (2 for usage/config, 1 else); a bug its stack", async () => {
  const missing = await runScript(
    `await runMain(async () => { await Deno.readTextFile("/nonexistent/x.jsonl"); });`,
  );
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: .*\/nonexistent\/x\.jsonl[^\n]*\n$/);
  const usage = await runScript(`await runMain(() => { throw new UsageError("--layers must be >= 1"); });`);
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr, "error: --layers must be >= 1\n");
  const config = await runScript(
    `await runMain(() => { throw new RlifError("config.invalid", "bad key"); });`,
  );
  assert.equal(config.code, 2);
  const work = await runScript(`await runMain(() => { throw new RlifError("nonfinite", "loss is NaN"); });`);
  assert.equal(work.code, 1);
  assert.equal(work.stderr, "error: loss is NaN\n");
  const bug = await runScript(`await runMain(() => { (undefined as unknown as { x: number }).x; });`);
  assert.equal(bug.code, 1);
  assert.match(bug.stderr, /TypeError/);
  assert.match(bug.stderr, /\n\s+at /);
  const plain = await runScript(`await runMain(() => { throw new RangeError("an invariant broke"); });`);
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /RangeError: an invariant broke\n[^]*\n\s+at /);
  const fine = await runScript(`await runMain(() => console.log("done"));`);
  assert.equal(fine.code, 0);
  assert.equal(fine.stdout, "done\n");
});

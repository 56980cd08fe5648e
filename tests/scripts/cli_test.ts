import assert from "node:assert/strict";
import { join } from "node:path";
import { z } from "zod";
import { checkOutput, type Command, renderHelp, ScriptCli } from "../../scripts/_cli.ts";
import { OutputError } from "../../lib/log/output_check.ts";

const CLI_MODULE = new URL("../../scripts/_cli.ts", import.meta.url).href;
const ERRORS_MODULE = new URL("../../lib/errors.ts", import.meta.url).href;
const ZOD = new URL("../../deno.json", import.meta.url).pathname;

const DEMO: Command = {
  task: "demo-tool",
  summary: "Does a demo thing.",
  positionals: [{ arg: "RUN", doc: "a run directory" }, { arg: "MORE", doc: "another", optional: true }],
  flags: {
    model: { arg: "DIR", doc: "model directory", required: true },
    n: { arg: "N", doc: "how many", default: "4" },
    temperature: { arg: "T", doc: "sampling temperature", default: "0", defaultNote: "greedy" },
    out: { arg: "DIR", doc: "output directory", defaultText: "runs/demo-<time>" },
    stop: { arg: "STR", doc: "stop text (repeatable)", multiple: true },
    json: { doc: "print JSON" },
  },
  input: { from: "--input", format: "one JSON object per line", example: '{"prompt": "1+1="}' },
  examples: ["deno task demo-tool --model m RUN"],
};

/** Runs a throwaway script whose body has `cli` (a ScriptCli of DEMO), `runMain`, `RlifError` and `z`. */
async function runScript(body: string, args: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "rlif-cli-" });
  try {
    const file = join(dir, "script.ts");
    await Deno.writeTextFile(
      file,
      `import { runMain, ScriptCli } from ${JSON.stringify(CLI_MODULE)};\n` +
        `import { RlifError, UsageError } from ${JSON.stringify(ERRORS_MODULE)};\n` +
        `import { z } from "zod";\nvoid RlifError, UsageError, z, runMain;\n` +
        `const cli = new ScriptCli(${JSON.stringify(DEMO)});\n${body}\n`,
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

Deno.test("renderHelp: synopsis, every flag with its default, the input with an example, examples", () => {
  const help = renderHelp(DEMO);
  assert.match(
    help,
    /^deno task demo-tool: Does a demo thing\.\n\nusage: deno task demo-tool --model DIR RUN \[MORE\] \[options\]\n/,
  );
  assert.match(help, /\n {2}RUN +a run directory\n/);
  assert.match(help, /\n {2}--model DIR +model directory \(required\)\n/);
  assert.match(help, /\n {2}--n N +how many \(default 4\)\n/);
  assert.match(help, /\n {2}--temperature T +sampling temperature \(default 0: greedy\)\n/);
  assert.match(help, /\n {2}--out DIR +output directory \(default runs\/demo-<time>\)\n/);
  assert.match(help, /\n {2}--json +print JSON\n/);
  assert.match(help, /\n {2}-h, --help +print this help and exit\n/);
  assert.match(
    help,
    /\ninput \(--input\):\n {2}one JSON object per line\n {2}e\.g\. \{"prompt": "1\+1="\}\n/,
  );
  assert.match(help, /\nexample:\n {2}deno task demo-tool --model m RUN$/);
});

Deno.test("renderHelp: long docs wrap under their column; tables render as rows", () => {
  const help = renderHelp({
    task: "t",
    summary: "s",
    flags: { "a-rather-long-flag-name": { arg: "VALUE", doc: "word ".repeat(40).trim(), default: "1" } },
    tables: [{ title: "keys", rows: [["--train.steps N", "steps (default 3)"]] }],
    examples: ["deno task t"],
  });
  for (const line of help.split("\n")) assert.ok(line.length <= 110, line);
  assert.match(help, /\n {2}--a-rather-long-flag-name VALUE\n {26}word word/);
  assert.match(help, /\nkeys:\n {2}--train\.steps N +steps \(default 3\)\n/);
});

Deno.test("ScriptCli: values come with the table's defaults; numbers and choices are checked by name", () => {
  const cli = new ScriptCli(DEMO);
  const { values, positionals } = cli.parse(["--model", "m", "run-dir", "--stop", "a", "--stop", "b"]);
  assert.deepEqual(positionals, ["run-dir"]);
  assert.equal(values.model, "m");
  assert.equal(values.n, "4");
  assert.equal(values.out, undefined);
  assert.deepEqual(values.stop, ["a", "b"]);
  assert.equal(values.json, false);
  assert.equal(cli.number("n", z.number().int()), 4);
  assert.equal(cli.number("temperature", z.number()), 0);
  assert.equal(cli.number("out", z.number(), Infinity), Infinity);
  cli.parse(["--model", "m", "r", "--n", "7", "--json"]);
  assert.equal(cli.number("n", z.number().int()), 7);
  assert.equal(cli.oneOf("model", ["m", "k"]), "m");
  assert.throws(() => cli.number("nope", z.number()), /not in the flag table/);
});

Deno.test("ScriptCli: a usage mistake prints one line naming the flag as typed, exit 2; --help exits 0", async () => {
  const parse = `cli.parse();`;
  const unknown = await runScript(parse, ["--model", "m", "r", "--bogus"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, "error: unknown flag --bogus (see deno task demo-tool --help)\n");
  const typo = await runScript(parse, ["--modle", "m", "r"]);
  assert.equal(
    typo.stderr,
    "error: unknown flag --modle; did you mean --model? (see deno task demo-tool --help)\n",
  );
  const missing = await runScript(parse, ["r"]);
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr,
    "error: --model is required: model directory (see deno task demo-tool --help)\n",
  );
  const positional = await runScript(parse, ["--model", "m"]);
  assert.equal(positional.code, 2);
  assert.match(positional.stderr, /^error: RUN MORE is required/);
  const help = await runScript(parse, ["-h"]);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, renderHelp(DEMO) + "\n");
  const bad = await runScript(
    `cli.parse(["--model", "m", "r", "--n", "0.5"]); cli.number("n", z.number().int());`,
  );
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /^error: --n 0\.5 is not valid: .*integer.* \(see deno task demo-tool --help\)\n$/,
  );
  const low = await runScript(
    `cli.parse(["--model", "m", "r", "--n", "0"]); cli.number("n", z.number().min(1));`,
  );
  assert.match(low.stderr, /^error: --n 0 is not valid: must be >= 1 /);
  const choice = await runScript(`cli.parse(["--model", "c", "r"]); cli.oneOf("model", ["a", "b"]);`);
  assert.match(choice.stderr, /^error: --model c is unknown; choose one of a, b /);
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

Deno.test("checkOutput: refuses an output under a file, a file for a directory, another run's folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-out-" });
  try {
    const file = join(dir, "file.txt");
    await Deno.writeTextFile(file, "x");
    await checkOutput(join(dir, "new", "deeper", "out.jsonl"), "--output");
    await checkOutput(join(dir, "new-dir"), "--out", { kind: "dir" });
    await checkOutput(file, "--output");
    const refused = async (p: Promise<void>, ...fragments: string[]) => {
      const e = await p.then(() => null, (e) => e);
      assert.ok(e instanceof OutputError && e.code === "config.output", String(e));
      for (const f of fragments) assert.ok(e.message.includes(f), e.message);
    };
    await refused(checkOutput(join(file, "out.jsonl"), "--output"), "--output", "file.txt");
    await refused(checkOutput(join(file, "sub", "x"), "--out", { kind: "dir" }), "--out");
    await refused(checkOutput(dir, "--output"), "is a directory");
    await refused(checkOutput(file, "--out", { kind: "dir" }), "is a file");
    await Deno.writeTextFile(join(dir, "summary.json"), "{}");
    await refused(
      checkOutput(dir, "--out", { kind: "dir", notInto: ["results.jsonl", "summary.json"] }),
      "already holds summary.json",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The README's library example runs as written on the bundled model (the code is read from README.md). */
import assert from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname;

/** The first ```ts block after the heading `## Library`. */
function libraryExample(readme: string): string {
  const section = readme.split("\n## Library\n")[1];
  assert.ok(section, "README.md has no ## Library section");
  const code = /```ts\n([^]*?)\n```/.exec(section)?.[1];
  assert.ok(code, "the Library section has no ts code block");
  return code;
}

Deno.test("README: the library example runs on the bundled model and prints an AUROC", async () => {
  const code = libraryExample(await Deno.readTextFile(join(ROOT, "README.md")));
  assert.match(code, /from "\.\/mod\.ts"/);
  const dir = await Deno.makeTempDir({ prefix: "rlif-readme-" });
  try {
    const file = join(dir, "example.ts");
    await Deno.writeTextFile(file, code.replace('"./mod.ts"', JSON.stringify(join(ROOT, "mod.ts"))));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--config",
        join(ROOT, "deno.json"),
        "--lock",
        join(ROOT, "tests/deno.lock"),
        file,
      ],
      cwd: ROOT, // the example's paths are relative to the repository
      env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout), stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const auroc = Number(stdout.trim());
    assert.ok(auroc >= 0 && auroc <= 1, `printed ${stdout}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

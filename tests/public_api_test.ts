import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

interface DocTag {
  kind: string;
}
interface DocDeclaration {
  kind: string;
  jsDoc?: { doc?: string; tags?: DocTag[] };
}
interface DocSymbol {
  name: string;
  declarations: DocDeclaration[];
}

/** The symbols `deno doc --json` lists for an entry point. */
async function documentedSymbols(entry: string): Promise<DocSymbol[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const nodes: Record<string, { symbols: DocSymbol[] }> =
    JSON.parse(new TextDecoder().decode(out.stdout)).nodes;
  return Object.values(nodes).flatMap((n) => n.symbols);
}

Deno.test("mod.ts is a small public API: at most 60 symbols, each documented, values with an example", async () => {
  const symbols = await documentedSymbols("mod.ts");
  assert.ok(symbols.length >= 30, `mod.ts lists only ${symbols.length} symbols`);
  assert.ok(symbols.length <= 60, `mod.ts lists ${symbols.length} symbols; keep it at 60 or fewer`);
  const names = symbols.map((s) => s.name);
  for (const name of ["getDevice", "loadModel", "generate", "score", "extractBoxed", "isEquivalent"]) {
    assert.ok(names.includes(name), `mod.ts exports ${name}`);
  }
  for (const name of ["auroc", "aupr", "fprAt95", "mannWhitneyU", "passAtK", "readRollouts"]) {
    assert.ok(names.includes(name), `mod.ts exports ${name}`);
  }
  for (const s of symbols) {
    const docs = s.declarations.map((d) => d.jsDoc);
    assert.ok(docs.some((d) => d?.doc), `${s.name} has a JSDoc line`);
    const isValue = s.declarations.some((d) => ["function", "class", "variable"].includes(d.kind));
    if (isValue) {
      assert.ok(docs.some((d) => d?.tags?.some((t) => t.kind === "example")), `${s.name} has an @example`);
    }
  }
});

Deno.test("every subpath export in deno.json is a small module of its own folder", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const exports: Record<string, string> = config.exports;
  assert.equal(exports["."], "./mod.ts");
  for (
    const sub of ["./gpu", "./model", "./rl", "./rewards", "./grading", "./metrics", "./report", "./data"]
  ) {
    assert.ok(exports[sub], `deno.json exports ${sub}`);
  }
  for (const [sub, path] of Object.entries(exports)) {
    if (sub === ".") continue;
    const source = await Deno.readTextFile(`${ROOT}${path}`);
    assert.doesNotMatch(source, /export \*/, `${path} lists its exports by name`);
    assert.doesNotMatch(source, /from "\.\.\/[a-z_]+\/mod\.ts"/, `${path} re-exports no other barrel`);
  }
});

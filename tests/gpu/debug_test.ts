const SCRIPT = new URL("./small_matmul.ts", import.meta.url).pathname;

/** Runs the small matmul with RLIF_DEBUG=level and the given permission flags. */
async function run(level: string | null, permissions: string[]): Promise<{ stdout: string; stderr: string }> {
  const env: Record<string, string> = { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1" };
  if (level !== null) env.RLIF_DEBUG = level;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, SCRIPT],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  if (out.code !== 0) throw new Error(`small_matmul.ts exited with ${out.code}: ${text(out.stderr)}`);
  return { stdout: text(out.stdout), stderr: text(out.stderr) };
}

// a[0, :] = 0, 1, 2 and b[:, 0] = 0, 3, 2: c[0, 0] = 7.
const PRODUCT = "7\n";

Deno.test("RLIF_DEBUG=1 prints the matmul's kernel line: name, grid, params and binding shapes", async () => {
  const { stdout, stderr } = await run("1", ["--allow-all"]);
  if (stdout !== PRODUCT) throw new Error(`stdout ${JSON.stringify(stdout)}`);
  const line = stderr.split("\n").find((l) => l.startsWith("rlif: matmul"));
  if (!line) throw new Error(`no matmul line in stderr:\n${stderr}`);
  for (const part of ["grid [", "m=5", "n=7", "k=3", "a:f32[5,3]", "b:f32[3,7]", "out:f32[5,7]"]) {
    if (!line.includes(part)) {
      throw new Error(`the line ${JSON.stringify(line)} lacks ${JSON.stringify(part)}`);
    }
  }
  if (stderr.includes("GPU time")) throw new Error("level 1 printed GPU times");
});

Deno.test("RLIF_DEBUG=2 adds a table of GPU time per kernel from timestamp-query", async () => {
  const { stdout, stderr } = await run("2", ["--allow-all"]);
  if (stdout !== PRODUCT) throw new Error(`stdout ${JSON.stringify(stdout)}`);
  if (stderr.includes("needs timestamp-query")) return; // the adapter has none: nothing to time
  const table = stderr.slice(stderr.indexOf("rlif: GPU time of"));
  for (
    const part of ["rlif: GPU time of 1 dispatches in 1 submits", "kernel", "total ms", "share", "100.0%"]
  ) {
    if (!table.includes(part)) throw new Error(`the table lacks ${JSON.stringify(part)}:\n${table}`);
  }
  const row = table.split("\n").find((l) => l.startsWith("matmul"));
  if (!row || !/^\S+\s+1\s+\d+\.\d{3}\s+100\.0%$/.test(row)) {
    throw new Error(`matmul row ${JSON.stringify(row)}`);
  }
});

Deno.test("RLIF_DEBUG: unset, or unreadable without --allow-env, prints nothing", async () => {
  for (
    const [level, permissions] of [
      [null, ["--allow-all"]],
      ["1", ["--allow-read"]],
    ] as const
  ) {
    const { stdout, stderr } = await run(level, [...permissions]);
    if (stdout !== PRODUCT) throw new Error(`stdout ${JSON.stringify(stdout)}`);
    if (stderr.includes("rlif:")) throw new Error(`RLIF_DEBUG=${level} ${permissions}: printed\n${stderr}`);
  }
});

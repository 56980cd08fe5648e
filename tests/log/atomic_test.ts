import { writeFileAtomic } from "../../lib/log/atomic.ts";
import { assertThrowsWith } from "../support/numeric.ts";

Deno.test("writeFileAtomic replaces the file whole and leaves no temporary files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ckpt.bin`;
    await writeFileAtomic(path, "old");
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    const got = await Deno.readFile(path);
    if (got.join(",") !== "1,2,3") throw new Error(`content ${got}`);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    if (names.join() !== "ckpt.bin") throw new Error(`leftover files: ${names}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed writeFileAtomic keeps the old file and names the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/target`;
    await Deno.mkdir(path); // renaming a file over a directory fails
    await assertThrowsWith(() => writeFileAtomic(path, "x"), "cannot write", path);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    if (names.join() !== "target") throw new Error(`leftover files: ${names}`);
    await assertThrowsWith(() => writeFileAtomic(`${dir}/missing/f`, "x"), "missing/f");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

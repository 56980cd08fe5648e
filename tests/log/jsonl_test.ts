import { appendJsonLines, encodeJsonLines, readJsonl, truncateJsonl } from "../../lib/log/jsonl.ts";
import { assertThrowsWith } from "../support/numeric.ts";

function eq(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("lines are whole JSON values; newlines in strings stay escaped; NaN becomes null", () => {
  const text = new TextDecoder().decode(encodeJsonLines([{ step: 1, text: "a\nb" }, { step: 2, loss: NaN }]));
  eq(text, '{"step":1,"text":"a\\nb"}\n{"step":2,"loss":null}\n', "encoding");
});

Deno.test("truncateJsonl drops a partial last line and the steps after the checkpoint", () =>
  withDir(async (dir) => {
    const path = `${dir}/m.jsonl`;
    const f = await Deno.open(path, { append: true, create: true });
    await appendJsonLines(f, [{ step: 1 }, { step: 2 }, { step: 2, k: 1 }, { step: 3 }]);
    await f.write(new TextEncoder().encode('{"step":4,"lo')); // a crash mid-write
    f.close();
    eq(
      await readJsonl(path),
      [{ step: 1 }, { step: 2 }, { step: 2, k: 1 }, { step: 3 }],
      "partial line skipped",
    );
    eq(await truncateJsonl(path, 2), { kept: 3, dropped: 1, partial: true }, "result");
    eq(await Deno.readTextFile(path), '{"step":1}\n{"step":2}\n{"step":2,"k":1}\n', "file");
    eq(await truncateJsonl(path, 2), { kept: 3, dropped: 0, partial: false }, "idempotent");
    eq(
      await truncateJsonl(`${dir}/absent.jsonl`, 2),
      { kept: 0, dropped: 0, partial: false },
      "missing file",
    );
  }));

Deno.test("corrupt logs are reported with file and line", () =>
  withDir(async (dir) => {
    const path = `${dir}/m.jsonl`;
    await Deno.writeTextFile(path, '{"step":1}\n{oops}\n');
    await assertThrowsWith(() => readJsonl(path), "m.jsonl:2", "not valid");
    await Deno.writeTextFile(path, '{"step":2}\n{"step":1}\n');
    await assertThrowsWith(() => truncateJsonl(path, 5), "m.jsonl:2", "step 1 follows step 2");
    await Deno.writeTextFile(path, '{"loss":1}\n');
    await assertThrowsWith(() => truncateJsonl(path, 5), "m.jsonl:1", 'no integer "step"');
  }));

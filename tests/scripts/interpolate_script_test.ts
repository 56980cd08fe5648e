import assert from "node:assert/strict";
import { join } from "node:path";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { writeSafetensors } from "../../lib/model/safetensors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MATH500 = join(ROOT, "tests/fixtures/eval/math500_sample.jsonl");

/** Runs scripts/interpolate.ts with its temporary files under `tmp`, so that leftovers can be seen. */
async function interpolate(args: string[], tmp: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(ROOT, "scripts/interpolate.ts"), ...args],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1", TMPDIR: tmp },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test({
  name: "interpolate takes a run's training checkpoint and eval's prompt flags, and plots accuracy on 0–1",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await writeTinyCheckpoint(join(dir, "base"), { seed: 1 });
      // A run directory whose newest checkpoint carries optimizer moments and trainer state.
      const ckpt = join(dir, "run/checkpoints/step-000003");
      await writeTinyCheckpoint(ckpt, { seed: 2 });
      await writeSafetensors(
        join(ckpt, "optimizer.safetensors"),
        new Map([["m.model.norm.weight", { shape: [64], data: new Float32Array(64) }]]),
      );
      await Deno.writeTextFile(join(ckpt, "trainer_state.json"), '{"step": 3, "optimizerSteps": 3}');
      await Deno.mkdir(join(dir, "tmp"));
      const r = await interpolate([
        "--base",
        join(dir, "base"),
        "--tuned",
        join(dir, "run"),
        "--alphas",
        "0,1",
        "--data",
        MATH500,
        "--limit",
        "1",
        "--max-new-tokens",
        "3",
        "--template",
        "Q: {question}\nA:",
        "--no-chat",
        "--grader",
        "qwen_math",
        "--out",
        join(dir, "out"),
      ], join(dir, "tmp"));
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(await Deno.readTextFile(join(dir, "out/alpha-1/summary.json")));
      assert.equal(summary.tuned, ckpt);
      assert.equal(summary.template, "Q: {question}\nA:");
      assert.equal(summary.chat, false);
      assert.equal(summary.grader, "qwen_math");
      assert.deepEqual(names(join(dir, "tmp")), []);
      // Tiny random models score 0 everywhere: the axis must still read 0 to 1, not -1 to 1.
      const svg = await Deno.readTextFile(join(dir, "out/interpolation.svg"));
      const yTicks = [...svg.matchAll(/text-anchor="end"[^>]*>([^<]*)</g)].map((m) => m[1]);
      assert.deepEqual(yTicks, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a failed interpolate leaves no temporary model and no empty run folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyCheckpoint(join(dir, "a"), { seed: 1 });
    await writeTinyCheckpoint(join(dir, "b"), { seed: 2, hidden: 32 });
    await Deno.mkdir(join(dir, "tmp"));
    const args = (out: string) => [
      "--base",
      join(dir, "a"),
      "--tuned",
      join(dir, "b"),
      "--alphas",
      "0.5",
      "--data",
      MATH500,
      "--out",
      out,
    ];
    const r = await interpolate(args(join(dir, "out")), join(dir, "tmp"));
    assert.deepEqual(names(join(dir, "tmp")), []);
    assert.ok(!names(dir).includes("out"), "the new run folder is left behind");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: interpolate: .* not the same architecture/);
    // A folder that existed before is the user's: it stays, with nothing half-made in it.
    await Deno.mkdir(join(dir, "mine"));
    await Deno.writeTextFile(join(dir, "mine/notes.txt"), "keep");
    const again = await interpolate(args(join(dir, "mine")), join(dir, "tmp"));
    assert.equal(again.code, 1);
    assert.deepEqual(names(join(dir, "mine")), ["notes.txt"]);
    assert.deepEqual(names(join(dir, "tmp")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("interpolate refuses a template without the {question} placeholder", async () => {
  const r = await interpolate(
    ["--base", "a", "--tuned", "b", "--data", "d", "--template", "no placeholder"],
    Deno.env.get("TMPDIR") ?? "/tmp",
  );
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error: --template "no placeholder" must contain the placeholder \{question\}/);
});

Deno.test("an interpolate that fails midway keeps the finished α and says so in FAILED.txt", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyCheckpoint(join(dir, "a"), { seed: 1 });
    await writeTinyCheckpoint(join(dir, "b"), { seed: 2 });
    await Deno.mkdir(join(dir, "tmp"));
    // A file where α = 1's folder would go makes that α fail after α = 0 has finished.
    await Deno.mkdir(join(dir, "out"));
    await Deno.writeTextFile(join(dir, "out/alpha-1"), "in the way");
    const r = await interpolate([
      "--base",
      join(dir, "a"),
      "--tuned",
      join(dir, "b"),
      "--alphas",
      "0,1",
      "--data",
      MATH500,
      "--limit",
      "1",
      "--max-new-tokens",
      "2",
      "--keep-checkpoints",
      "--out",
      join(dir, "out"),
    ], join(dir, "tmp"));
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(names(join(dir, "out")), ["FAILED.txt", "alpha-0", "alpha-1"]);
    assert.deepEqual(names(join(dir, "out/alpha-0")), ["model", "results.jsonl", "summary.json"]);
    assert.equal(await Deno.readTextFile(join(dir, "out/alpha-1")), "in the way");
    assert.match(
      await Deno.readTextFile(join(dir, "out/FAILED.txt")),
      /finished \(complete folders\): alpha-0\n/,
    );
    assert.deepEqual(names(join(dir, "tmp")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

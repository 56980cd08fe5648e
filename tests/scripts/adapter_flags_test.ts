/**
 * `--adapter DIR` on the scripts: score adds the adapter unmerged (as the trainer's scoring pass does) and
 * writes exactly what the library scores; generate samples from the merged weights as `loadModel(model,
 * {adapter})` does; eval runs with it; interpolate takes it in place of --tuned (θ(α) = W + α·s·B·A) and
 * refuses both or neither.
 */
import { join } from "node:path";
import { generate } from "../../lib/generate/generate.ts";
import { loadModel } from "../../lib/model/model.ts";
import { score } from "../../lib/model/score.ts";
import { writeRandomAdapter } from "../support/peft_folders.ts";
import { runScript } from "../support/scripts.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ARITH = join(ROOT, "scripts/assets/arith-tiny");
const MATH500 = join(ROOT, "tests/fixtures/eval/math500_sample.jsonl");

Deno.test("scripts: --adapter applies a PEFT adapter on score, generate, eval and interpolate", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-adapter-flags-" });
  try {
    const adapter = join(root, "adapter");
    await writeRandomAdapter(adapter, ARITH, 5);
    const pairs = [{ prompt: "3+4=", completion: "7" }, { prompt: "12+9=", completion: "21" }];
    await Deno.writeTextFile(
      join(root, "pairs.jsonl"),
      pairs.map((p) => JSON.stringify(p)).join("\n") + "\n",
    );
    const scored = await runScript("score.ts", [
      "--model",
      ARITH,
      "--adapter",
      adapter,
      "--input",
      join(root, "pairs.jsonl"),
      "--output",
      join(root, "s.jsonl"),
    ]);
    if (scored.code !== 0) throw new Error(scored.stderr);
    const lines = (await Deno.readTextFile(join(root, "s.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    const tuned = await loadModel(ARITH, { adapter, mergeAdapter: false });
    const enc = (t: string) => tuned.tokenizer!.encode(t, { addSpecialTokens: false });
    const items = pairs.map((p) => ({ promptIds: enc(p.prompt), completionIds: enc(p.completion) }));
    const want = await score(tuned, items);
    tuned.release();
    lines.forEach((l, i) => {
      if (JSON.stringify(l.tokenLogprobs) !== JSON.stringify(want[i].tokenLogprobs)) {
        throw new Error(`score --adapter line ${i}: ${l.tokenLogprobs} vs ${want[i].tokenLogprobs}`);
      }
    });
    const gen = await runScript("generate.ts", [
      "--model",
      ARITH,
      "--adapter",
      adapter,
      "--prompt",
      "3+4=",
      "--temperature",
      "0",
      "--max-new-tokens",
      "6",
      "--json",
    ]);
    if (gen.code !== 0) throw new Error(gen.stderr);
    const merged = await loadModel(ARITH, { adapter });
    const [out] = await generate(merged, [enc("3+4=")], { temperature: 0, maxNewTokens: 6 });
    merged.release();
    const got = JSON.parse(gen.stdout.trim().split("\n")[0]).completion_ids;
    if (got.join() !== out.completionIds.join()) {
      throw new Error(`generate --adapter: ${got} vs ${out.completionIds}`);
    }
    const common = [
      "--data",
      MATH500,
      "--limit",
      "1",
      "--max-new-tokens",
      "3",
      "--template",
      "Q: {question}\nA:",
      "--no-chat",
    ];
    const ev = await runScript("eval.ts", [
      "--model",
      ARITH,
      "--adapter",
      adapter,
      ...common,
      "--out",
      join(root, "eval"),
    ]);
    if (ev.code !== 0) throw new Error(ev.stderr);
    const interp = await runScript("interpolate.ts", [
      "--base",
      ARITH,
      "--adapter",
      adapter,
      "--alphas",
      "0,1",
      ...common,
      "--out",
      join(root, "interp"),
    ]);
    if (interp.code !== 0) throw new Error(interp.stderr);
    const summary = JSON.parse(await Deno.readTextFile(join(root, "interp", "interpolation.json")));
    if (summary.tuned !== adapter || summary.sweep.length !== 2) throw new Error(JSON.stringify(summary));
    const both = await runScript("interpolate.ts", [
      "--base",
      ARITH,
      "--tuned",
      ARITH,
      "--adapter",
      adapter,
      ...common,
    ]);
    if (both.code !== 2 || !both.stderr.includes("--tuned DIR or as --adapter DIR")) {
      throw new Error(both.stderr);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

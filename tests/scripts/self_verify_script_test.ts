import assert from "node:assert/strict";
import { join } from "node:path";
import { writeTinyCheckpoint } from "../../lib/model/tiny.ts";
import { runScript } from "../support/scripts.ts";

Deno.test("deno task self-verify --help prints its usage and exits 0", async () => {
  const run = await runScript("self_verify.ts", ["--help"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^usage: deno task self-verify/m);
  assert.match(run.stdout, /self_verify_p2\.jinja/);
});

Deno.test("deno task self-verify: two steps on synthetic Countdown write the verdict reward and TinyZero correctness", async () => {
  const root = await Deno.makeTempDir({ prefix: "rlif-self-verify-script-" });
  try {
    // The bundled arith-tiny has a 64-token context; Countdown's prompt and Prompt 2 need ~1400.
    const model = join(root, "model");
    await writeTinyCheckpoint(model, { seed: 3, maxPositions: 1536 });
    const run = await runScript("self_verify.ts", [
      ...["--model.path", model, "--log.dir", join(root, "runs")],
      ...["--data.path", "null", "--data.synthetic.task", "countdown", "--data.synthetic.num_count", "3"],
      ...["--data.synthetic.count", "4", "--rollout.n", "2", "--rollout.max_new_tokens", "8"],
      ...["--reward.max_new_tokens", "6", "--train.steps", "2", "--train.prompts_per_step", "2"],
      ...["--train.micro_batch", "4"],
    ]);
    assert.equal(run.code, 0, run.stderr);
    const dir = run.stdout.match(/self-verify: done at step 2; run directory (\S+)/)?.[1];
    assert.ok(dir, run.stdout);
    // The run folder and the progress line carry the experiment's name (log.name).
    assert.match(dir, /\/self_verify-\d{8}-\d{6}$/);
    assert.match(run.stderr, /^self_verify step 2\/2 /m);
    const config = await Deno.readTextFile(join(dir, "config.yaml"));
    assert.match(config, /name: self_verify/);
    assert.match(config, /template: configs\/templates\/self_verify_p2\.jinja/);
    assert.match(config, /rule: tinyzero/);
    const metrics = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(metrics.map((m) => m.step), [1, 2]);
    for (const m of metrics) {
      assert.equal(typeof m.reward_mean, "number");
      assert.equal(typeof m.accuracy, "number", "correctness is judged on every Countdown rollout");
    }
    const entries = (await Deno.readTextFile(join(dir, "metadata.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.equal(entries.length, 4);
    for (const e of entries) {
      assert.match(
        e.prompt,
        /^A conversation between User and Assistant\. [\s\S]*\nUser: Using the numbers \[/,
      );
      assert.equal(e.responses.length, 2);
      for (const r of e.responses) {
        assert.ok(r.reward === 0 || r.reward === 1, `a verdict reward is 0 or 1, got ${r.reward}`);
        assert.equal(typeof r.correct, "boolean");
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { runScript } from "../support/scripts.ts";

/** Writes `yaml` to a temporary config file and runs scripts/grpo.ts with it. */
async function grpoWith(yaml: string, args: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "rlif-errors-" });
  try {
    const file = join(dir, "exp.yaml");
    await Deno.writeTextFile(file, yaml);
    return await runScript("grpo.ts", ["--config", file, "--log.dir", dir, ...args]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an experiment script reports a bad config as `error:` lines without a stack, exit status 2", async () => {
  const run = await grpoWith(
    "model:\n  path: models/none\nreward:\n  name: hybrid\n  components:\n" +
      "    - {name: borda_vote, options: {powr: 2}}\n",
  );
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^error: invalid .*exp\.yaml \(1 problem\):\n/);
  assert.match(
    run.stderr,
    /exp\.yaml:6:\d+: unknown key reward\.components\[0\]\.options\.powr; did you mean power\?/,
  );
  assert.doesNotMatch(run.stderr, /\n\s+at /);
  const flag = await grpoWith("model:\n  path: models/none\n", ["--lrr", "1"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--lrr: unknown key lrr; did you mean --train\.lr\?/);
});

Deno.test("an experiment script reports a missing model in one line, exit status 1", async () => {
  const run = await grpoWith("model:\n  path: /nonexistent/model\ntrain:\n  steps: 1\n");
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: [^\n]*\/nonexistent\/model\/config\.json[^\n]*\n$/);
});

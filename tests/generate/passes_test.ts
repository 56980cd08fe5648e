/**
 * Prefill and scoring in passes: under RLIF_DEVICE_LIMITS small enough that one pass holds a few of the
 * prompts (a grid axis of 64 workgroups: 64 rows per pass) generation and scoring give bitwise the results of the run in one
 * pass, for Qwen2 and Qwen3 (each sequence's arithmetic does not depend on which others share its pass).
 */
import assert from "node:assert/strict";
import { runDenoFile } from "../support/scripts.ts";

const SCRIPT = new URL("./lowered_limits_run.ts", import.meta.url).pathname;

async function run(arch: string, limits: string | null) {
  const out = await runDenoFile(SCRIPT, [arch], limits === null ? {} : { RLIF_DEVICE_LIMITS: limits });
  if (out.code !== 0) throw new Error(`${SCRIPT} exited ${out.code}: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

for (const arch of ["qwen2", "qwen3"]) {
  Deno.test(`passes: ${arch} generation and scoring split by the device's limits equal one pass`, async () => {
    const whole = await run(arch, null);
    const split = await run(arch, "maxComputeWorkgroupsPerDimension=64");
    assert.equal(split.rowsPerPass, 64);
    assert.deepEqual([split.promptsPerPass, split.scoredPerPass], [4, 2]); // 7 prompts, 14 scored: split
    assert.equal(whole.splitPasses, 0);
    assert.ok(split.splitPasses >= 2, `${split.splitPasses} passes added by the split`);
    assert.ok(whole.rowsPerPass > 16 * 7, `one pass holds every prompt (${whole.rowsPerPass} rows)`);
    for (const key of ["greedy", "sampled", "logprobs", "scored"]) {
      assert.deepEqual(split[key], whole[key], key);
    }
  });
}

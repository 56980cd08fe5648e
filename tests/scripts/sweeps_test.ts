/**
 * The papers' sweep scripts end to end on the bundled models: two settings of two steps each, small
 * batches; the sweep folder's layout, summary.json against each run's metrics.jsonl, and the figure.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { modelCollapseStep } from "../../lib/metrics/metrics.ts";
import type { SweepSummary } from "../../lib/rl/sweep.ts";
import { decodePng } from "../report/png_decode.ts";
import { runScript } from "../support/scripts.ts";

/** Two steps of 4 prompts × 4 rollouts, one update per step, no warmup. */
const SMALL = [
  ...["--steps", "2", "--train.prompts_per_step", "4", "--train.mini_batch", "4"],
  ...["--train.warmup_steps", "0", "--rollout.n", "4", "--train.micro_batch", "16"],
];

type Metrics = Record<string, number | null> & { step: number };

async function readJsonl(path: string): Promise<Metrics[]> {
  return (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
}

/** Runs a sweep script into a fresh folder and checks what every sweep folder must hold. */
async function sweep(
  script: string,
  args: string[],
  legend: (r: SweepSummary["runs"][number]) => string,
): Promise<{ out: string; summary: SweepSummary }> {
  const out = await Deno.makeTempDir({ prefix: "rlif-sweep-" });
  const run = await runScript(script, [...args, "--out", out]);
  assert.equal(run.code, 0, run.stderr);
  const summary = JSON.parse(await Deno.readTextFile(join(out, "summary.json"))) as SweepSummary;
  assert.equal(summary.runs.length, 2);
  assert.deepEqual(summary.figures, ["figure.svg", "figure.png"]);
  for (const r of summary.runs) {
    assert.equal(r.steps, 2);
    const metrics = await readJsonl(join(out, r.runDir, "metrics.jsonl"));
    assert.deepEqual(metrics.map((m) => m.step), [1, 2]);
    for (const [key, points] of Object.entries(r.series)) {
      const logged = metrics.filter((m) => typeof m[key] === "number").map((m) => [m.step, m[key]]);
      assert.deepEqual(points, logged, `${r.label}: ${key} as metrics.jsonl logged it`);
    }
    const acc = metrics.map((m) => m.accuracy as number);
    assert.ok(Math.abs(r.final.accuracy! - (acc[0] + acc[1]) / 2) < 1e-12, `${r.label}: final accuracy`);
    const rewardAcc = metrics.filter((m) => typeof m.reward_accuracy === "number")
      .map((m) => ({ step: m.step, value: m.reward_accuracy as number }));
    assert.equal(r.modelCollapseStep, rewardAcc.length ? modelCollapseStep(rewardAcc) : null);
    await Deno.stat(join(out, r.runDir, "checkpoints", "step-000002", "model.safetensors"));
  }
  const svg = await Deno.readTextFile(join(out, "figure.svg"));
  assert.match(svg, /^<svg/);
  for (const r of summary.runs) assert.ok(svg.includes(`>${legend(r)}<`), `legend entry ${legend(r)}`);
  const png = decodePng(await Deno.readFile(join(out, "figure.png")));
  assert.ok(png.width > 800 && png.height > 500, `figure ${png.width}x${png.height}`);
  // Non-trivial: the coloured curves are drawn (not only black, grey and white).
  let coloured = 0;
  for (let i = 0; i < png.rgba.length; i += 4) {
    const [r, g, b] = [png.rgba[i], png.rgba[i + 1], png.rgba[i + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
  }
  assert.ok(coloured > 500, `${coloured} coloured pixels`);
  return { out, summary };
}

async function configOf(out: string, runDir: string): Promise<string> {
  return await Deno.readTextFile(join(out, runDir, "config.yaml"));
}

Deno.test("sweep:collapse: mini-batch 1 and 4 at N 4, each run's Model Collapse Step from its reward accuracy", async () => {
  const { out, summary } = await sweep(
    "sweep_collapse.ts",
    [...SMALL, "--mini-batch", "1,4", "--n", "4"],
    (r) => r.label,
  );
  try {
    assert.deepEqual(summary.runs.map((r) => r.label), ["mbs-1_n-4", "mbs-4_n-4"]);
    for (const r of summary.runs) {
      assert.ok(r.series.reward_accuracy.length === 2, "majority vote logs reward accuracy every step");
      const config = await configOf(out, r.runDir);
      assert.match(config, new RegExp(`mini_batch: ${r.values.mini_batch}\\n`));
      assert.match(config, /name: majority_vote/);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("sweep:data-size: two subset sizes, with the KL to the start model logged", async () => {
  const { out, summary } = await sweep(
    "sweep_data_size.ts",
    [...SMALL, "--sizes", "8,32"],
    (r) => `${r.values.size} problems`,
  );
  try {
    assert.deepEqual(summary.runs.map((r) => r.values.size), [8, 32]);
    for (const r of summary.runs) {
      assert.equal(r.series.kl_to_ref.length, 2);
      assert.match(await configOf(out, r.runDir), new RegExp(`limit: ${r.values.size}\\n`));
    }
    const tooBig = await runScript("sweep_data_size.ts", ["--sizes", "8,5000", "--out", join(out, "x")]);
    assert.equal(tooBig.code, 2);
    assert.match(tooBig.stderr, /--sizes: 5000 exceed the 400 problems/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("sweep:maj-k: two thresholds, each run trains on its filtered prompts only", async () => {
  const { out, summary } = await sweep("sweep_majk.ts", [
    ...SMALL,
    ...["--data.limit", "24", "--k", "4", "--thresholds", "0.2,0.5", "--subset", "4", "--keep", "any"],
    ...["--eval-limit", "8", "--eval-every", "2"],
  ], (r) => `share &gt; ${r.values.threshold} (${r.values.kept} prompt${r.values.kept === 1 ? "" : "s"})`);
  try {
    const filters = summary.extra.filters as {
      threshold: number;
      kept: number;
      passing: number;
      file: string;
    }[];
    assert.deepEqual(filters.map((f) => f.threshold), [0.2, 0.5]);
    for (const [i, r] of summary.runs.entries()) {
      const rows = (await Deno.readTextFile(join(out, filters[i].file))).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      assert.equal(rows.length, filters[i].kept);
      for (const row of rows) assert.ok(row.maj_share > filters[i].threshold);
      assert.match(await configOf(out, r.runDir), new RegExp(`path: ${join(out, filters[i].file)}`));
      // Every rollout's prompt is one of the filtered problems.
      const problems = new Set(rows.map((row) => row.problem));
      const meta = await readJsonl(join(out, r.runDir, "metadata.jsonl")) as unknown as {
        question: string;
      }[];
      for (const m of meta) assert.ok(problems.has(m.question), m.question);
      assert.deepEqual(r.heldout.map((p) => p[0]), [0, 2]);
    }
    assert.ok(filters[0].passing >= filters[1].passing, "a higher threshold passes fewer prompts");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("compare:base-instruct: the same recipe on the bundled base and instruct models", async () => {
  const { out, summary } = await sweep("base_vs_instruct.ts", [
    ...SMALL,
    ...["--eval-limit", "8", "--eval-every", "1"],
  ], (r) => r.label);
  try {
    assert.deepEqual(summary.runs.map((r) => r.label), ["base", "instruct"]);
    const configs = await Promise.all(summary.runs.map((r) => configOf(out, r.runDir)));
    assert.match(configs[0], /path: scripts\/assets\/arith-tiny\n/);
    assert.match(configs[1], /path: scripts\/assets\/arith-tiny-instruct\n/);
    for (const c of configs) assert.match(c, /name: self_certainty/);
    for (const r of summary.runs) assert.deepEqual(r.heldout.map((p) => p[0]), [0, 1, 2]);
    assert.ok(
      summary.runs[1].heldout[0][1] > summary.runs[0].heldout[0][1],
      "before training the instruct sibling is the more accurate",
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("sweep scripts: --help prints the usage, a bad list is refused naming the flag", async () => {
  const help = await runScript("sweep_collapse.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^deno task sweep:collapse: /);
  assert.match(help.stdout, /--mini-batch/);
  const bad = await runScript("sweep_collapse.ts", ["--mini-batch", "1,0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--mini-batch: 0 is not valid/);
});

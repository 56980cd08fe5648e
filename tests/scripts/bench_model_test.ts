import assert from "node:assert/strict";
import { join } from "node:path";
import { QWEN3_17B_BASE } from "../../lib/model/paper_configs.ts";
import { runScript } from "../support/scripts.ts";

/** Every field a workload row has, and whether it must be above zero (counts of work that always happens). */
const STEP_COST = [
  "weightBytesPerToken",
  "flopsPerToken",
  "bytesPerStep",
  "flopsPerStep",
  "rooflineMsPerStep",
];
const PER_STEP_POSITIVE = ["dispatches", "submits", "readbacks"];

function assertPositive(obj: Record<string, unknown>, keys: string[], where: string) {
  for (const k of keys) {
    const v = obj[k];
    assert.ok(typeof v === "number" && Number.isFinite(v) && v > 0, `${where}.${k} = ${v}`);
  }
}

/** Checks one phase or row: its time, per-step counts and costs. */
function assertPhase(p: Record<string, unknown>, where: string, opts: { readbacks: boolean }) {
  assertPositive(p, ["steps", ...STEP_COST], where);
  // A decode step's time is the difference of two timed runs: on a loaded machine it can come out below
  // zero, so only its presence is checked (timings are the benchmark's output, not a test's).
  assert.ok(Number.isFinite(p.msPerStep), `${where}.msPerStep = ${p.msPerStep}`);
  assert.ok(["compute", "memory"].includes(p.rooflineBound as string), `${where}.rooflineBound`);
  const per = p.perStep as Record<string, unknown>;
  // Training records its step in one submit and reads nothing back.
  assertPositive(
    per,
    PER_STEP_POSITIVE.filter((k) => opts.readbacks || k !== "readbacks"),
    `${where}.perStep`,
  );
  if (!opts.readbacks) assert.equal(per.readbacks, 0, `${where}.perStep.readbacks`);
  // Bind groups are cached, so a step may create none.
  assert.ok(
    Number.isFinite(per.bindGroups) && (per.bindGroups as number) >= 0,
    `${where}.perStep.bindGroups`,
  );
}

Deno.test("bench:model --json: every workload of the tiny model has every figure", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-bench-" });
  try {
    const out = join(dir, "out.json");
    const args = ["--models", "tiny", "--seq", "8", "--gen-batches", "1,3", "--grpo-micro-batches", "4"];
    const run = await runScript("bench_model.ts", [...args, "--json", out]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(await Deno.readTextFile(out));
    assert.equal(report.deno, Deno.version.deno);
    assert.match(report.command, /bench:model --models tiny .*--json/);
    assert.ok(!Number.isNaN(Date.parse(report.date)), report.date);
    assert.equal(typeof report.adapter.description, "string");
    assert.deepEqual(report.roofline.flopsPerSecond, 67e12);
    assert.equal(report.models.length, 1);
    const [tiny] = report.models;
    assert.equal(tiny.model.name, "tiny");
    assert.equal(tiny.model.weights, "f32");
    assert.equal(tiny.model.config.numLayers, 2);
    const names = tiny.workloads.map((w: { workload: string }) => w.workload);
    assert.deepEqual(names, [
      "score",
      "train fwd+bwd",
      "train fwd+bwd (recompute)",
      "generate batch 1",
      "generate batch 3",
    ]);
    for (const w of [...tiny.workloads, ...report.grpo.workloads]) {
      const where = w.workload;
      assertPositive(w, ["tokens", "seconds", "tokensPerSecond", "peakGpuMiB"], where);
      const training = where.startsWith("train");
      assertPhase(w, where, { readbacks: !training });
      if (training) {
        // trainingPeakMemory replays the step on the pool's rules (see tests/model/recompute_test.ts), with
        // the batch's token ids: the computed peak is the measured one.
        assert.equal(w.computedPeakGpuMiB, w.peakGpuMiB, `${where}: computed vs measured peak`);
      } else assert.equal(w.computedPeakGpuMiB, undefined, `${where}.computedPeakGpuMiB`);
      if (where.startsWith("generate")) {
        assertPhase(w.decode, `${where}.decode`, { readbacks: true });
        assertPhase(w.prefill, `${where}.prefill`, { readbacks: true });
        assertPositive(w.decode.perLayer, ["dispatches"], `${where}.decode.perLayer`);
        assertPositive(w.decode.outsideLayers, ["dispatches"], `${where}.decode.outsideLayers`);
        // The decode budget: at most 7 dispatches per layer, 10 new bind groups and one submit per 8 steps.
        assert.ok(w.decode.perLayer.dispatches <= 7, `${where}.decode.perLayer.dispatches`);
        assert.ok(w.decode.perStep.bindGroups <= 10, `${where}.decode.perStep.bindGroups`);
        assert.ok(w.decode.perStep.submits <= 1 / 8, `${where}.decode.perStep.submits`);
        assert.equal(
          w.decode.perLayer.dispatches * 2 + w.decode.outsideLayers.dispatches,
          w.decode.perStep.dispatches,
          "the step's dispatches are its layers' and the rest",
        );
        // Decoding reads the weights once per step for the whole batch.
        const b = Number(where.split(" ").at(-1));
        assert.equal(w.decode.weightBytesPerToken * b, tiny.model.weightBytes - 268 * 64 * 4 + b * 64 * 4);
        assert.equal(w.decode.perStep.readbacks, 1 / 8, "one readback of the finished flags per 8 steps");
      }
    }
    assert.equal(report.grpo.workloads[0].workload, "grpo step (4 micro-batches)");
    assert.match(run.stdout, /tiny +generate batch 3 /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Hand count of qwen3-1.7b-graph: Qwen3-1.7B-Base's heads (q 16·128 = 2048, k and v 8·128 = 1024 wide) over
// hidden 128, MLP 256. Per layer q, o 2048·128 = 262,144 each, k, v 131,072 each, gate, up, down 32,768
// each: 884,736; norms: input, post-attention 128 each, q_norm, k_norm 128 each: 512; × 28 layers =
// 24,786,944; tied embedding 151,936·128 = 19,447,808; final norm 128.
const QWEN3_GRAPH_PARAMS = 24_786_944 + 19_447_808 + 128;

Deno.test("bench:model --json: qwen3-1.7b-graph has Qwen3-1.7B's op graph and counts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rlif-bench-" });
  try {
    const out = join(dir, "out.json");
    // The smallest run that has every workload: each decode step still reads the 151,936-row head.
    const args = [
      ["--models", "qwen3-1.7b-graph", "--seq", "4", "--score-batch", "1", "--gen-batches", "2"],
      ["--gen-prompt", "2", "--gen-tokens", "10", "--steady-tokens", "8", "--grpo-micro-batches", "none"],
    ].flat();
    const run = await runScript("bench_model.ts", [...args, "--json", out]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(await Deno.readTextFile(out));
    assert.equal(report.models.length, 1);
    assert.deepEqual(report.grpo.workloads, []);
    const [{ model, workloads }] = report.models;
    assert.equal(model.name, "qwen3-1.7b-graph");
    // Everything of the published config but the residual and MLP widths.
    const c = QWEN3_17B_BASE;
    assert.deepEqual(model.config, {
      arch: c.arch,
      qkNorm: c.qkNorm,
      postNorms: c.postNorms,
      vocabSize: c.vocabSize,
      hiddenSize: 128,
      intermediateSize: 256,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      tieWordEmbeddings: c.tieWordEmbeddings,
      attentionBias: c.attentionBias,
    });
    assert.deepEqual([c.arch, c.qkNorm, c.numLayers, c.numHeads, c.numKvHeads, c.headDim], [
      "qwen3",
      "head",
      28,
      16,
      8,
      128,
    ]);
    assert.equal(model.params, QWEN3_GRAPH_PARAMS);
    assert.equal(model.weightBytes, 4 * QWEN3_GRAPH_PARAMS);
    const names = workloads.map((w: { workload: string }) => w.workload);
    assert.deepEqual(names, ["score", "train fwd+bwd", "train fwd+bwd (recompute)", "generate batch 2"]);
    for (const w of workloads) {
      const training = w.workload.startsWith("train");
      assertPhase(w, w.workload, { readbacks: !training });
      // The replay of the step counts the q/k norms' outputs, statistics and gradients per head.
      if (training) assert.equal(w.computedPeakGpuMiB, w.peakGpuMiB, `${w.workload}: computed vs measured`);
    }
    const { decode } = workloads[3];
    assertPhase(decode, "decode", { readbacks: true });
    // Qwen3's q/k norms fold into the fused decode step: the budget of 7 dispatches per layer holds.
    assert.ok(decode.perLayer.dispatches <= 7, `decode.perLayer.dispatches = ${decode.perLayer.dispatches}`);
    assert.equal(
      decode.perLayer.dispatches * 28 + decode.outsideLayers.dispatches,
      decode.perStep.dispatches,
      "the step's dispatches are its 28 layers' and the rest",
    );
    assert.ok(decode.perStep.submits <= 1 / 8, `decode.perStep.submits = ${decode.perStep.submits}`);
    // The tied head is the embedding, read whole each step: every weight once per step of 2 sequences.
    assert.equal(decode.weightBytesPerToken * 2, model.weightBytes);
    assert.match(run.stdout, /qwen3-1\.7b-graph +generate batch 2 /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench:model: a bad flag exits 2 naming it; --help lists every flag", async () => {
  const bad = await runScript("bench_model.ts", ["--weights", "f16"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /^error: --weights f16 is unknown; choose one of f32, bf16 \(see deno task bench:model --help\)\n$/,
  );
  const steady = await runScript("bench_model.ts", ["--steady-tokens", "6"]);
  assert.equal(steady.code, 2);
  assert.match(steady.stderr, /--steady-tokens 6 is not valid/);
  const model = await runScript("bench_model.ts", ["--models", "tiny,gpt2"]);
  assert.equal(model.code, 2);
  assert.match(
    model.stderr,
    /--models: unknown model gpt2; choose from tiny, qwen0\.5b-graph, qwen0\.5b, qwen3-1\.7b-graph /,
  );
  const unknown = await runScript("bench_model.ts", ["--jsn", "x"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--jsn/);
  const help = await runScript("bench_model.ts", ["--help"]);
  assert.equal(help.code, 0);
  // Every model --models accepts is described in the help, whose lines wrap anywhere.
  const helpText = help.stdout.replace(/\s+/g, " ");
  for (
    const model of [
      "tiny is the 2-layer test model",
      "qwen0.5b-graph is Qwen2.5-0.5B's op graph",
      "qwen0.5b has Qwen2.5-0.5B's full shapes",
      "qwen3-1.7b-graph is Qwen3-1.7B-Base's op graph",
    ]
  ) {
    assert.ok(helpText.includes(model), model);
  }
  for (
    const flag of [
      "models",
      "weights",
      "seq",
      "score-batch",
      "gen-batches",
      "gen-prompt",
      "gen-tokens",
      "steady-tokens",
      "grpo-micro-batches",
      "json",
      "large",
    ]
  ) {
    assert.match(help.stdout, new RegExp(`--${flag} `), flag);
  }
});

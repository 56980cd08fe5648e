import assert from "node:assert/strict";
import { join } from "node:path";
import { signalTable, stepAccuracies, tableToCsv, tableToMarkdown } from "../../lib/report/analysis.ts";
import { writeAnalysisReport } from "../../lib/report/report.ts";
import { readRollouts, type Rollout } from "../../lib/report/run_logs.ts";
import { decodePng } from "./png_decode.ts";

const RUN = new URL("../fixtures/eval/run", import.meta.url).pathname;

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const listDir = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("the report writes table, figures and analysis.json atomically", async () => {
  await withTemp(async (dir) => {
    const out = join(dir, "report");
    const report = await writeAnalysisReport(RUN, { outDir: out });
    assert.deepEqual(listDir(out), [
      "analysis.json",
      "curves.png",
      "curves.svg",
      "ranked_rollouts.png",
      "ranked_rollouts.svg",
      "signal_table.csv",
      "signal_table.md",
    ]);
    const md = await Deno.readTextFile(join(out, "signal_table.md"));
    assert.ok(
      md.startsWith(
        "Correctness: as logged by the trainer.\n\n| signal | step | n | correct | AUROC | AUPR | FPR@95 | MW p | MW r |",
      ),
    );
    const csv = (await Deno.readTextFile(join(out, "signal_table.csv"))).trim().split("\n");
    assert.equal(csv.length, 1 + 6);
    assert.equal(report.rows.length, 6);
    // The fixture's self-certainty separates correct from incorrect; token entropy inverts it.
    const row = (s: string) => report.rows.find((r) => r.signal === s)!;
    assert.ok(row("selfCertainty").auroc! > 0.9);
    assert.ok(row("meanTokenEntropy").auroc! < 0.1);
    assert.ok(row("selfCertainty").p! < 0.001);
    const png = decodePng(await Deno.readFile(join(out, "ranked_rollouts.png")));
    // Three panels a row, each 400 px of plot plus its legend column, at two pixels per point.
    const rankedSvg = await Deno.readTextFile(join(out, "ranked_rollouts.svg"));
    const svgWidth = Number(/width="(\d+)"/.exec(rankedSvg)![1]);
    assert.ok(svgWidth > 3 * 400 && svgWidth % 3 === 0, `width ${svgWidth}`);
    assert.equal(png.width, 2 * svgWidth);
    assert.equal(png.height, 2 * 2 * 320);
    const svg = await Deno.readTextFile(join(out, "curves.svg"));
    assert.ok(svg.startsWith("<svg") && svg.includes("reward_mean") && svg.trimEnd().endsWith("</svg>"));
    const analysis = JSON.parse(await Deno.readTextFile(join(out, "analysis.json")));
    assert.equal(analysis.rows.length, 6);
    assert.equal(analysis.stepAccuracy.length, 3);
  });
});

Deno.test("per-step and chosen-step tables; unknown steps are named", async () => {
  const rollouts = await readRollouts(RUN);
  assert.equal(signalTable(rollouts, { steps: "each" }).length, 3 * 6);
  const at2 = signalTable(rollouts, { steps: [2], signals: ["selfCertainty"] });
  assert.equal(at2.length, 1);
  assert.equal(at2[0].step, 2);
  assert.equal(at2[0].n, 16);
  assert.throws(
    () => signalTable(rollouts, { steps: [9] }),
    /step 9 is not in the log; logged steps are 1, 2, 3/,
  );
});

Deno.test("a step with a single class gets n/a instead of failing", () => {
  const rollouts: Rollout[] = [true, true].map((correct, i) => ({
    step: 1,
    promptIndex: 0,
    responseIndex: i,
    correct,
    reward: 1,
    rawReward: null,
    length: null,
    answer: "4",
    text: null,
    groundTruth: "4",
    signals: { s: i },
  }));
  const rows = signalTable(rollouts);
  assert.equal(rows[0].auroc, null);
  assert.ok(tableToMarkdown(rows).includes("| n/a |"));
  assert.ok(tableToCsv(rows).split("\n")[1].startsWith("reward,all,2,2,,"));
  assert.equal(rows[0].pointBiserial, null);
});

Deno.test("step accuracies: reward accuracy for binary rewards and majority-vote label accuracy", () => {
  const make = (step: number, answer: string, correct: boolean, reward: number): Rollout => ({
    step,
    promptIndex: 0,
    responseIndex: 0,
    correct,
    reward,
    rawReward: null,
    length: null,
    answer,
    text: null,
    groundTruth: "4",
    signals: {},
  });
  const acc = stepAccuracies([
    make(1, "4", true, 1),
    make(1, "4", true, 1),
    make(1, "5", false, 0),
    make(2, "5", false, 1),
    make(2, "5", false, 1),
    make(2, "4", true, 0),
  ]);
  assert.deepEqual(acc, [
    { step: 1, accuracy: 2 / 3, rewardAccuracy: 1, labelAccuracy: 1, certaintyLabelAccuracy: 1, pMaj: 2 / 3 },
    { step: 2, accuracy: 1 / 3, rewardAccuracy: 0, labelAccuracy: 0, certaintyLabelAccuracy: 0, pMaj: 2 / 3 },
  ]);
});

Deno.test("the report collapses at the first step whose reward accuracy is below 1%", async () => {
  await withTemp(async (dir) => {
    const lines = [1, 2, 3].map((step) =>
      JSON.stringify({
        step,
        ground_truth: "4",
        responses: [
          { answer: "4", correct: true, reward: step >= 2 ? 0 : 1, signals: { s: 1 } },
          { answer: "5", correct: false, reward: step >= 2 ? 1 : 0, signals: { s: 0 } },
        ],
      })
    );
    await Deno.writeTextFile(join(dir, "metadata.jsonl"), lines.join("\n"));
    const report = await writeAnalysisReport(dir, { png: false });
    assert.equal(report.modelCollapseStep, 2);
    // Training accuracy stays at 1/2: the pseudo-rewards collapsed, the policy did not.
    assert.equal(report.trainingAccuracyCollapseStep, null);
    assert.ok(!listDir(dir).some((n) => n.endsWith(".png")));
  });
});

Deno.test("with a continuous reward there is no Model Collapse Step, only the training-accuracy one", async () => {
  await withTemp(async (dir) => {
    // 4 rollouts a step; step 3 has none correct, step 2 still has one.
    const lines = [1, 2, 3].map((step) =>
      JSON.stringify({
        step,
        ground_truth: "4",
        responses: [0, 1, 2, 3].map((i) => ({
          answer: i < 3 - step ? "4" : "5",
          correct: i < 3 - step,
          reward: 6.5 + 0.25 * step + 0.01 * i,
          signals: { s: i },
        })),
      })
    );
    await Deno.writeTextFile(join(dir, "metadata.jsonl"), lines.join("\n"));
    const report = await writeAnalysisReport(dir, { png: false });
    assert.equal(report.modelCollapseStep, null);
    assert.equal(report.trainingAccuracyCollapseStep, 3);
    const written = JSON.parse(await Deno.readTextFile(join(dir, "analysis.json")));
    assert.equal(written.modelCollapseStep, null);
    assert.equal(written.trainingAccuracyCollapseStep, 3);
  });
});

Deno.test("certainty label accuracy (URLVR eq. 43) uses the raw reward; votes use the training equivalence", async () => {
  await withTemp(async (dir) => {
    // Shaping (min-max here) keeps the order; the raw rewards are what is logged as raw_reward.
    const lines = [JSON.stringify({
      step: 1,
      ground_truth: "1/2",
      responses: [
        { answer: "0.5", correct: true, reward: 0, raw_reward: -3, signals: { coe: { d1: 1, d2: 2 } } },
        {
          answer: "\\frac{1}{2}",
          correct: true,
          reward: 0.5,
          raw_reward: -2,
          signals: { coe: { d1: 0, d2: 1 } },
        },
        { answer: "7", correct: false, reward: 1, raw_reward: -1, signals: { coe: { d1: 0.5, d2: 0 } } },
      ],
    })];
    await Deno.writeTextFile(join(dir, "metadata.jsonl"), lines.join("\n"));
    const report = await writeAnalysisReport(dir, { png: false });
    const [acc] = report.stepAccuracy;
    // The most certain response (raw −1) is wrong; 0.5 and \frac{1}{2} are one answer, 2 of 3, and right.
    assert.equal(acc.certaintyLabelAccuracy, 0);
    assert.equal(acc.labelAccuracy, 1);
    assert.equal(acc.pMaj, 2 / 3);
    const row = (s: string) => report.rows.find((r) => r.signal === s)!;
    assert.deepEqual(report.rows.map((r) => r.signal), [
      "reward",
      "raw_reward",
      "coe.d1",
      "coe.d1+d2",
      "coe.d2",
    ]);
    // Raw d1 + d2 = 3, 1, 0.5: the correct responses score higher, AUROC 1.
    assert.equal(row("coe.d1+d2").auroc, 1);
    assert.equal(row("coe.d1+d2").meanCorrect, 2);
    assert.equal(row("raw_reward").meanIncorrect, -1);
  });
});

Deno.test("one-sided Mann–Whitney and the point-biserial column", async () => {
  const rollouts = await readRollouts(RUN);
  const two = signalTable(rollouts, { signals: ["selfCertainty", "meanTokenEntropy"] });
  const one = signalTable(rollouts, {
    signals: ["selfCertainty", "meanTokenEntropy"],
    alternative: "greater",
  });
  // Self-certainty is higher on correct responses: the one-sided p is half the two-sided one;
  // entropy is lower, so "greater" finds nothing.
  assert.ok(Math.abs(one[0].p! - two[0].p! / 2) < 1e-15);
  assert.ok(one[1].p! > 0.99);
  assert.ok(one[0].pointBiserial! > 0 && one[1].pointBiserial! < 0);
  assert.ok(tableToMarkdown(one).includes("| MW p (greater) |"));
  assert.ok(tableToMarkdown(two).includes("| r_pb |"));
  assert.ok(tableToCsv(one).split("\n")[1].endsWith(",greater"));
  assert.throws(
    () => signalTable(rollouts, { alternative: "less" as "greater" }),
    /alternative "less" must be "two-sided" or "greater"/,
  );
});

Deno.test("bad input fails before any report file is written", async () => {
  await withTemp(async (dir) => {
    const run = join(dir, "run");
    await Deno.mkdir(run);
    const good = (await Deno.readTextFile(join(RUN, "metadata.jsonl"))).split("\n").slice(0, 4).join("\n");
    await Deno.writeTextFile(
      join(run, "metadata.jsonl"),
      `${good}\n{"step": 2, "responses": [{"correct": 3}]}\n`,
    );
    await assert.rejects(() => writeAnalysisReport(run), /metadata\.jsonl:5: responses\[0\]\.correct is 3/);
    assert.deepEqual(listDir(run), ["metadata.jsonl"]);
    await Deno.writeTextFile(join(run, "metadata.jsonl"), "");
    await assert.rejects(() => writeAnalysisReport(run), /the file is empty/);
    await assert.rejects(
      () => writeAnalysisReport(join(dir, "empty-dir-missing")),
      /no such file or directory/,
    );
    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    await assert.rejects(() => writeAnalysisReport(empty), /neither metadata\.jsonl nor metrics\.jsonl/);
    assert.deepEqual(listDir(empty), []);
  });
});

Deno.test("the report summarises gpu/peak_mib (first, largest, last step) and always draws its curve", async () => {
  await withTemp(async (dir) => {
    const peaks = [2.5, 2.75, 2.5, 2.6];
    // More other metrics than the figure has panels, all sorting before it.
    const others = (step: number) =>
      Object.fromEntries(Array.from({ length: 35 }, (_, i) => [`a${i}`, step + i]));
    const lines = peaks.map((mib, i) =>
      JSON.stringify({ step: i + 1, ...others(i + 1), "gpu/peak_mib": mib })
    );
    await Deno.writeTextFile(join(dir, "metrics.jsonl"), lines.join("\n") + "\n");
    const report = await writeAnalysisReport(dir, { png: false });
    const want = { first: { step: 1, mib: 2.5 }, max: { step: 2, mib: 2.75 }, last: { step: 4, mib: 2.6 } };
    assert.deepEqual(report.gpuMemory, want);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(join(dir, "analysis.json"))).gpuMemory, want);
    assert.ok((await Deno.readTextFile(join(dir, "curves.svg"))).includes("gpu/peak_mib"));
  });
  await withTemp(async (dir) => {
    await Deno.writeTextFile(join(dir, "metrics.jsonl"), '{"step": 1, "loss": 0.5}\n');
    assert.equal((await writeAnalysisReport(dir, { png: false })).gpuMemory, null);
  });
});

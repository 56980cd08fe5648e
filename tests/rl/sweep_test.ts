import assert from "node:assert/strict";
import { join } from "node:path";
import { z } from "zod";
import { UsageError } from "../../lib/errors.ts";
import { parseSweepList, splitHeldout, splitSweepArgs, summarizeMetrics } from "../../lib/rl/sweep.ts";
import type { StepMetrics } from "../../lib/rl/trainer.ts";
import { figureScene, panelScene } from "../../lib/report/sweep_figure.ts";

const metrics: StepMetrics[] = [
  { step: 1, reward_accuracy: 0.6, accuracy: 0.3, kl_to_ref: null },
  { step: 2, reward_accuracy: 0.2, accuracy: 0.2, kl_to_ref: 0.01 },
  { step: 3, reward_accuracy: 0.005, accuracy: 0.02, kl_to_ref: 0.02 },
  { step: 4, reward_accuracy: 0.3, accuracy: 0.001, kl_to_ref: 0.04 },
];

Deno.test("summarizeMetrics: the Model Collapse Step is the first step with reward accuracy under 1%", () => {
  const s = summarizeMetrics(metrics, ["kl_to_ref"], 2);
  assert.equal(s.modelCollapseStep, 3, "URLVR §6: reward accuracy 0.005 < 1% at step 3");
  assert.equal(
    s.accuracyCollapseStep,
    4,
    "the training-accuracy variant reads accuracy, not reward accuracy",
  );
});

Deno.test("summarizeMetrics: curves skip null steps and final values average the last window", () => {
  const s = summarizeMetrics(metrics, ["kl_to_ref", "missing"], 2);
  assert.deepEqual(s.series.kl_to_ref, [[2, 0.01], [3, 0.02], [4, 0.04]]);
  assert.ok(Math.abs(s.final.kl_to_ref! - 0.03) < 1e-12);
  assert.ok(Math.abs(s.final.accuracy! - (0.02 + 0.001) / 2) < 1e-12);
  assert.deepEqual(s.series.missing, []);
  assert.equal(s.final.missing, null);
});

Deno.test("summarizeMetrics: no collapse and no reward accuracy give null", () => {
  const stable = summarizeMetrics([{ step: 1, reward_accuracy: 0.5, accuracy: 0.4 }], []);
  assert.equal(stable.modelCollapseStep, null);
  const verifiable = summarizeMetrics([{ step: 1, reward_accuracy: null, accuracy: 0.4 }], []);
  assert.equal(verifiable.modelCollapseStep, null);
  assert.deepEqual(verifiable.series.reward_accuracy, []);
});

Deno.test("parseSweepList reads comma-separated values and names the flag on a bad one", () => {
  assert.deepEqual(parseSweepList("1, 8,64", "mini-batch", z.number().int().min(1)), [1, 8, 64]);
  assert.throws(() => parseSweepList("1,x", "mini-batch", z.number().int().min(1)), (e) => {
    assert.ok(e instanceof UsageError);
    assert.match((e as Error).message, /--mini-batch: x is not valid/);
    return true;
  });
  assert.throws(() => parseSweepList("1,,2", "n", z.number()), /--n "1,,2": expected comma-separated/);
  assert.throws(() => parseSweepList("0", "n", z.number().int().min(1)), /--n: 0 is not valid/);
  assert.throws(() => parseSweepList("4,4", "n", z.number()), /a value is repeated/);
});

Deno.test("splitSweepArgs sends --config and dotted keys to every run, the rest to the script", () => {
  assert.deepEqual(
    splitSweepArgs([
      "--steps",
      "2",
      "--train.lr=1e-3",
      "--config",
      "a.yaml",
      "--n",
      "4,8",
      "--rollout.n",
      "4",
    ]),
    {
      script: ["--steps", "2", "--n", "4,8"],
      config: ["--train.lr=1e-3", "--config", "a.yaml", "--rollout.n", "4"],
    },
  );
});

Deno.test("splitHeldout reads a bundled model's held-out sums and refuses a folder without split.json", async () => {
  const all = await splitHeldout("scripts/assets/arith-tiny");
  assert.equal(all.length, 80);
  const [a, b] = String(all[0].fields.problem).replace("=", "").split("+").map(Number);
  assert.equal(all[0].answer, String(a + b));
  assert.equal((await splitHeldout("scripts/assets/arith-tiny", 5)).length, 5);
  const empty = await Deno.makeTempDir();
  try {
    await assert.rejects(() => splitHeldout(empty), (e) => {
      assert.ok(e instanceof UsageError);
      assert.match((e as Error).message, new RegExp(`${join(empty, "split.json")} not found`));
      return true;
    });
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("panelScene puts the legend to the right of the plot, outside the data area", () => {
  const scene = panelScene(
    {
      title: "reward accuracy",
      xLabel: "step",
      series: [{ name: "mbs-1_n-8", points: [[1, 0.5], [2, 0.1]] }, {
        name: "mbs-16_n-8",
        points: [[1, 0.5], [2, 0.6]],
      }],
    },
    400,
    260,
  );
  assert.ok(scene.width > 400, "the canvas widens for the legend");
  const frame = scene.shapes.find((s) => s.type === "rect" && s.fill === undefined);
  assert.ok(frame && frame.type === "rect");
  const plotRight = frame.x + frame.w;
  const labels = scene.shapes.filter((s) => s.type === "text" && s.text.startsWith("mbs-"));
  assert.equal(labels.length, 2);
  for (const l of labels) {
    assert.ok(l.type === "text" && l.x > plotRight, "legend text lies right of the plot");
  }
  // No legend box inside the plot (lineChart's own legend is a filled rectangle).
  assert.equal(scene.shapes.filter((s) => s.type === "rect" && s.fill === "#ffffff").length, 0);
});

Deno.test("figureScene adds the caption lines under the panels", () => {
  const panel = {
    title: "a",
    xLabel: "step",
    series: [{ name: "", points: [[1, 1], [2, 2]] as [number, number][] }],
  };
  const alone = figureScene([panel, panel], 2);
  const captioned = figureScene([panel, panel], 2, ["first line", "second line"]);
  assert.ok(captioned.height > alone.height);
  const texts = captioned.shapes.filter((s) => s.type === "text" && s.text.endsWith(" line"));
  assert.equal(texts.length, 2);
  for (const t of texts) assert.ok(t.type === "text" && t.y > alone.height);
});

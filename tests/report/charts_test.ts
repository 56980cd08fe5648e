import assert from "node:assert/strict";
import { formatTick, lineChart, niceTicks, rankedRolloutChart } from "../../lib/report/charts.ts";
import { sceneToPng } from "../../lib/report/png.ts";
import { gridScene, type Scene, type Shape } from "../../lib/report/scene.ts";
import { sceneToSvg } from "../../lib/report/svg.ts";
import { decodePng } from "./png_decode.ts";
import { curvesScene } from "../../lib/report/report.ts";

const CORRECT = "#2e7d32", INCORRECT = "#c62828";

/** The plot frames: rectangles outlined but not filled. */
function plotAreas(scene: Scene): Extract<Shape, { type: "rect" }>[] {
  return scene.shapes.flatMap((s) => (s.type === "rect" && s.stroke && !s.fill ? [s] : []));
}

/** Left-anchored texts are legend labels (axis labels are centred or right-anchored). */
function legendLabels(scene: Scene): Extract<Shape, { type: "text" }>[] {
  return scene.shapes.flatMap((s) => (s.type === "text" && s.anchor === "start" ? [s] : []));
}

function assertLegendOutsidePlots(scene: Scene): void {
  const labels = legendLabels(scene);
  assert.ok(labels.length > 0, "no legend");
  const plotRight = Math.max(...plotAreas(scene).map((r) => r.x + r.w));
  for (const t of labels) {
    // The swatch sits 22 px left of its label; both must clear the plot.
    assert.ok(
      t.x - 22 > plotRight,
      `legend "${t.text}" at x=${t.x} overlaps the plot (right edge ${plotRight})`,
    );
    assert.ok(t.x + t.text.length * 6.1 <= scene.width, `legend "${t.text}" runs off the canvas`);
  }
}

/** Rollouts ranked by a signal with few distinct values (heavy overlap), 1 in 4 correct. */
function mostlyWrong(n: number): { value: number; correct: boolean }[] {
  let state = 7;
  const next = () => (state = (state * 48271) % 2147483647) / 2147483647;
  return Array.from({ length: n }, () => ({ value: Math.floor(next() * 4), correct: next() < 0.25 }))
    .sort((a, b) => b.value - a.value);
}

Deno.test("niceTicks picks round steps covering the range", () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(3, 97, 4), [20, 40, 60, 80]);
  assert.deepEqual(niceTicks(-0.013, 0.011, 4), [-0.01, -0.005, 0, 0.005, 0.01]);
  assert.deepEqual(niceTicks(2, 2), [2]);
  assert.deepEqual(niceTicks(NaN, 1), []);
  assert.equal(formatTick(0.25, 0.05), "0.25");
  assert.equal(formatTick(40, 20), "40");
  assert.equal(formatTick(250000, 50000), "2.5e+5");
});

Deno.test("lineChart draws every series and a legend for several", () => {
  const one = lineChart({ title: "kl", series: [{ name: "kl", points: [[1, 0.1], [2, 0.3], [3, NaN]] }] });
  assert.equal(one.shapes.filter((s) => s.type === "polyline").length, 1);
  assert.equal(one.shapes.filter((s) => s.type === "circle").length, 2);
  const two = lineChart({
    title: "acc",
    series: [{ name: "train", points: [[0, 0], [1, 1]] }, { name: "eval", points: [[0, 0.5], [1, 0.7]] }],
  });
  const texts = two.shapes.flatMap((s) => (s.type === "text" ? [s.text] : []));
  assert.ok(texts.includes("train") && texts.includes("eval"));
  const empty = lineChart({ title: "nothing", series: [] });
  assert.ok(empty.shapes.some((s) => s.type === "text" && s.text === "no data"));
});

Deno.test("rankedRolloutChart marks correct and incorrect rollouts", () => {
  const ranked = [{ value: 3, correct: true }, { value: 2, correct: false }, { value: 1, correct: true }];
  const scene = rankedRolloutChart({ title: "s", ranked });
  const dots = scene.shapes.filter((s) => s.type === "circle" && s.r < 3);
  assert.equal(dots.length, 3);
  assert.equal(dots.filter((s) => s.type === "circle" && s.fill === CORRECT).length, 2);
});

Deno.test("a ranked-rollout chart of a run 75% wrong shows both classes in their proportions", async () => {
  const ranked = mostlyWrong(2000);
  const correct = ranked.filter((r) => r.correct).length;
  assert.ok(correct > 400 && correct < 600, `${correct} correct`);
  const scene = rankedRolloutChart({ title: "s", ranked, width: 400, height: 320 });
  // Every rollout is one dot of its class, both classes equally opaque, drawn interleaved: neither
  // class is painted over the other as a block.
  const dots = scene.shapes.flatMap((s) => (s.type === "circle" && s.r < 3 ? [s] : []));
  assert.equal(dots.filter((d) => d.fill === CORRECT).length, correct);
  assert.equal(dots.filter((d) => d.fill === INCORRECT).length, ranked.length - correct);
  assert.equal(new Set(dots.map((d) => d.opacity ?? 1)).size, 1);
  const switches = dots.slice(1).filter((d, i) => d.fill !== dots[i].fill).length;
  assert.ok(switches > ranked.length / 4, `only ${switches} class changes in drawing order`);
  // The bars' green and red areas are the classes' shares.
  const bars = scene.shapes.flatMap((s) => (s.type === "rect" && s.fill ? [s] : []));
  const area = (c: string) => bars.filter((b) => b.fill === c).reduce((a, b) => a + b.w * b.h, 0);
  const share = area(CORRECT) / (area(CORRECT) + area(INCORRECT));
  assert.ok(Math.abs(share - correct / ranked.length) < 0.005, `green share of the bars ${share}`);
  // And what a reader sees: far more red than green pixels.
  const image = decodePng(await sceneToPng(scene, 1));
  let green = 0, red = 0;
  for (let i = 0; i < image.rgba.length; i += 4) {
    const [r, g] = [image.rgba[i], image.rgba[i + 1]];
    if (g - r > 30) green++;
    else if (r - g > 30) red++;
  }
  assert.ok(red > 2 * green, `red ${red} px, green ${green} px`);
});

Deno.test("legends sit beside the plots, never over the data", () => {
  assertLegendOutsidePlots(rankedRolloutChart({ title: "s", ranked: mostlyWrong(50) }));
  const sweep = lineChart({
    title: "interpolation",
    series: ["accuracy", "pass@1", "maj@8", "gsm8k flexible"].map((name, k) => ({
      name,
      points: [[0, 0.1 * k], [0.5, 0.9], [1, 0.2 * k]] as [number, number][],
    })),
  });
  assertLegendOutsidePlots(sweep);
});

Deno.test("lineChart with yRange keeps the axis on that range even for flat data", () => {
  const ticks = (scene: Scene) =>
    scene.shapes.flatMap((s) => (s.type === "text" && s.anchor === "end" ? [s.text] : []));
  const flat = {
    title: "acc",
    series: [{ name: "accuracy", points: [[0, 0], [1, 0]] as [number, number][] }],
  };
  assert.deepEqual(ticks(lineChart({ ...flat, yRange: [0, 1] })), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
  assert.deepEqual(ticks(lineChart(flat))[0], "-1.0");
  // Data beyond the range widen it rather than being cut off.
  const over = lineChart({ ...flat, series: [{ name: "a", points: [[0, 0], [1, 1.5]] }], yRange: [0, 1] });
  assert.ok(ticks(over).includes("1.5"));
});

Deno.test("step axes tick whole steps only", () => {
  const scene = lineChart({ title: "kl", series: [{ name: "kl", points: [[1, 0.1], [2, 0.2], [3, 0.4]] }] });
  const xTicks = scene.shapes.flatMap((s) =>
    s.type === "text" && s.anchor === "middle" && s.size === 10 ? [s.text] : []
  );
  assert.deepEqual(xTicks, ["1", "2", "3"]);
});

Deno.test("SVG output escapes text and lays out grids", () => {
  const a = lineChart({
    title: 'a<b & "c"',
    series: [{ name: "x", points: [[0, 1], [1, 2]] }],
    width: 200,
    height: 100,
  });
  const svg = sceneToSvg(gridScene([a, a, a], 2));
  assert.ok(svg.includes("a&lt;b &amp; &quot;c&quot;"));
  assert.ok(svg.includes('width="400" height="200"'));
  assert.throws(() => gridScene([], 2), /no scenes/);
});

Deno.test("training curves: fractions on 0–1, noisy curves keep every step under a centred mean", () => {
  const rows = Array.from({ length: 60 }, (_, i) => ({
    step: i + 1,
    values: { accuracy: 0.2 + 0.1 * ((i * 7) % 3), lr: 3e-4 * Math.min(1, i / 5) },
  }));
  const scene = curvesScene(rows)!;
  const texts = scene.shapes.flatMap((s) => (s.type === "text" ? [s.text] : []));
  const lines = scene.shapes.flatMap((s) => (s.type === "polyline" ? [s] : []));
  // accuracy: raw values and their 7-step mean; lr (a schedule): one line.
  assert.equal(lines.length, 3);
  assert.equal(lines[0].points.length, 60);
  assert.ok(texts.includes("per step") && texts.includes("7-step mean"));
  assert.ok(texts.includes("1.0") && texts.includes("0.0"));
  // One notation per axis: the lr axis starts at "0", not "0.00000".
  assert.ok(texts.includes("0") && !texts.includes("0.00000"), texts.join(" "));
});

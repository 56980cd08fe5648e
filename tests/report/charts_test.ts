import assert from "node:assert/strict";
import { formatTick, lineChart, niceTicks, rankedRolloutChart } from "../../lib/report/charts.ts";
import { gridScene } from "../../lib/report/scene.ts";
import { sceneToSvg } from "../../lib/report/svg.ts";

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
  assert.equal(dots.filter((s) => s.type === "circle" && s.fill === "#2e7d32").length, 2);
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

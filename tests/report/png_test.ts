import assert from "node:assert/strict";
import { lineChart } from "../../lib/report/charts.ts";
import { sceneToPng } from "../../lib/report/png.ts";
import type { Scene } from "../../lib/report/scene.ts";
import { crc32, decodePng } from "./png_decode.ts";

function pixel(image: { width: number; rgba: Uint8Array }, x: number, y: number): number[] {
  const i = (y * image.width + x) * 4;
  return [...image.rgba.subarray(i, i + 4)];
}

Deno.test("the test decoder's CRC matches the PNG reference values", () => {
  assert.equal(crc32(new TextEncoder().encode("IEND")), 0xae426082);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

const SCENE: Scene = {
  width: 40,
  height: 30,
  background: "#ffffff",
  shapes: [
    { type: "line", x1: 2, y1: 5.5, x2: 38, y2: 5.5, stroke: "#000000", width: 1 },
    { type: "rect", x: 10, y: 10, w: 5, h: 5, fill: "#ff0000" },
    { type: "circle", cx: 30, cy: 20, r: 3, fill: "#0000ff" },
    { type: "text", x: 2, y: 24, text: "1", size: 10, color: "#00ff00", anchor: "start" },
  ],
};

Deno.test("sceneToPng draws lines, rectangles, circles and text where they belong", async () => {
  const image = decodePng(await sceneToPng(SCENE, 1));
  assert.equal(image.width, 40);
  assert.equal(image.height, 30);
  assert.deepEqual(pixel(image, 20, 5), [0, 0, 0, 255]);
  assert.deepEqual(pixel(image, 20, 8), [255, 255, 255, 255]);
  assert.deepEqual(pixel(image, 12, 12), [255, 0, 0, 255]);
  assert.deepEqual(pixel(image, 16, 12), [255, 255, 255, 255]);
  assert.deepEqual(pixel(image, 30, 20), [0, 0, 255, 255]);
  assert.deepEqual(pixel(image, 35, 20), [255, 255, 255, 255]);
  let green = 0;
  for (let y = 15; y < 30; y++) {
    for (let x = 0; x < 12; x++) {
      const [r, g, b] = pixel(image, x, y);
      if (g > 128 && r < 100 && b < 100) green++;
    }
  }
  assert.ok(green > 5, `the digit left ink (${green} green pixels)`);
});

Deno.test("sceneToPng scales by the pixel ratio and refuses a bad one", async () => {
  const image = decodePng(await sceneToPng(SCENE, 2));
  assert.equal(image.width, 80);
  assert.equal(image.height, 60);
  assert.deepEqual(pixel(image, 25, 25), [255, 0, 0, 255]);
  await assert.rejects(sceneToPng(SCENE, 0), /pixelRatio must be a positive number/);
});

Deno.test("a chart's PNG shows its series line in the series colour on the background", async () => {
  const chart = lineChart({ title: "acc", series: [{ name: "acc", points: [[0, 0], [1, 1]] }] });
  const image = decodePng(await sceneToPng(chart, 2));
  assert.equal(image.width, chart.width * 2);
  const line = chart.shapes.find((s) => s.type === "polyline");
  assert.ok(line && line.type === "polyline");
  const [[x0, y0], [x1, y1]] = line.points;
  const stroke = parseInt(line.stroke.slice(1), 16);
  const want = [(stroke >> 16) & 255, (stroke >> 8) & 255, stroke & 255];
  const distance = (p: number[]) => Math.max(...want.map((v, i) => Math.abs(v - p[i])));
  let nearest = Infinity;
  for (let dy = -2; dy <= 2; dy++) {
    for (let dx = -2; dx <= 2; dx++) {
      nearest = Math.min(nearest, distance(pixel(image, x0 + x1 + dx, y0 + y1 + dy)));
    }
  }
  assert.ok(nearest < 24, `the line's midpoint is drawn in ${line.stroke} (off by ${nearest})`);
  assert.deepEqual(pixel(image, 1, 1), [255, 255, 255, 255]);
});

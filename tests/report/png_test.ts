import assert from "node:assert/strict";
import { crc32, encodePng } from "../../lib/report/png.ts";
import { type Raster, renderScene } from "../../lib/report/raster.ts";
import type { Scene } from "../../lib/report/scene.ts";
import { decodePng } from "./png_decode.ts";

Deno.test("crc32 matches the PNG reference values", () => {
  assert.equal(crc32(new TextEncoder().encode("IEND")), 0xae426082);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("encodePng round-trips pixels", () => {
  const pixels = new Uint8Array([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 10, 20, 30, 40]);
  const decoded = decodePng(encodePng(2, 2, pixels));
  assert.equal(decoded.width, 2);
  assert.equal(decoded.height, 2);
  assert.deepEqual([...decoded.rgba], [...pixels]);
  assert.throws(() => encodePng(2, 2, new Uint8Array(3)), /expected 16 bytes/);
  assert.throws(() => encodePng(0, 2, new Uint8Array(0)), /positive integers/);
});

function pixel(r: Raster, x: number, y: number): number[] {
  const i = (y * r.width + x) * 4;
  return [...r.data.subarray(i, i + 4)];
}

Deno.test("the rasterizer draws lines, rectangles, circles and text where they belong", () => {
  const scene: Scene = {
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
  const r = renderScene(scene, 1);
  assert.deepEqual(pixel(r, 20, 5), [0, 0, 0, 255]);
  assert.deepEqual(pixel(r, 20, 8), [255, 255, 255, 255]);
  assert.deepEqual(pixel(r, 12, 12), [255, 0, 0, 255]);
  assert.deepEqual(pixel(r, 16, 12), [255, 255, 255, 255]);
  assert.deepEqual(pixel(r, 30, 20), [0, 0, 255, 255]);
  assert.deepEqual(pixel(r, 35, 20), [255, 255, 255, 255]);
  let green = 0;
  for (let y = 15; y < 30; y++) {
    for (let x = 0; x < 12; x++) if (pixel(r, x, y)[1] === 255 && pixel(r, x, y)[0] === 0) green++;
  }
  assert.ok(green > 5, "the digit left ink");
  assert.equal(renderScene(scene, 2).width, 80);
});

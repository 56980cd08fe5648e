/**
 * SVG output of a {@link Scene}.
 *
 * @module
 */

import type { Scene, Shape } from "./scene.ts";

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

function shapeToSvg(s: Shape): string {
  switch (s.type) {
    case "line":
      return `<line x1="${num(s.x1)}" y1="${num(s.y1)}" x2="${num(s.x2)}" y2="${
        num(s.y2)
      }" stroke="${s.stroke}" ` +
        `stroke-width="${num(s.width)}"${
          s.dash ? ` stroke-dasharray="${num(s.dash)} ${num(s.dash)}"` : ""
        }/>`;
    case "polyline":
      return `<polyline fill="none" stroke="${s.stroke}" stroke-width="${
        num(s.width)
      }" stroke-linejoin="round" ` +
        `points="${s.points.map(([x, y]) => `${num(x)},${num(y)}`).join(" ")}"/>`;
    case "rect":
      return `<rect x="${num(s.x)}" y="${num(s.y)}" width="${num(s.w)}" height="${num(s.h)}" ` +
        `fill="${s.fill ?? "none"}"${
          s.stroke ? ` stroke="${s.stroke}" stroke-width="${num(s.width ?? 1)}"` : ""
        }/>`;
    case "circle":
      return `<circle cx="${num(s.cx)}" cy="${num(s.cy)}" r="${num(s.r)}" fill="${s.fill}"` +
        `${s.opacity !== undefined && s.opacity < 1 ? ` fill-opacity="${num(s.opacity)}"` : ""}` +
        `${s.stroke ? ` stroke="${s.stroke}"` : ""}/>`;
    case "text": {
      const rotate = s.rotate ? ` transform="rotate(${s.rotate} ${num(s.x)} ${num(s.y)})"` : "";
      return `<text x="${num(s.x)}" y="${num(s.y)}" font-size="${num(s.size)}" fill="${s.color}" ` +
        `text-anchor="${s.anchor}" dominant-baseline="central"${rotate}>${escapeXml(s.text)}</text>`;
    }
  }
}

/**
 * The scene as a standalone SVG document.
 *
 * @example
 * ```ts
 * import { lineChart, sceneToSvg } from "./mod.ts";
 * const svg = sceneToSvg(lineChart({ title: "accuracy", series: [{ name: "acc", points: [[1, 0.2], [2, 0.4]] }] }));
 * await Deno.writeTextFile("accuracy.svg", svg);
 * ```
 */
export function sceneToSvg(scene: Scene): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${scene.width}" height="${scene.height}" ` +
    `viewBox="0 0 ${scene.width} ${scene.height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">`,
    `<rect x="0" y="0" width="${scene.width}" height="${scene.height}" fill="${scene.background}"/>`,
    ...scene.shapes.map(shapeToSvg),
    "</svg>",
    "",
  ].join("\n");
}

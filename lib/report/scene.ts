/**
 * A minimal vector scene (lines, polylines, rectangles, circles, text) that charts are built from
 * that the SVG writer draws; the PNG is that SVG rendered, so the two files show the same figure.
 *
 * @module
 */

/** A colour as `#rrggbb`. */
export type Color = `#${string}`;

/** A drawable primitive; coordinates in scene pixels, y pointing down. */
export type Shape =
  | {
    type: "line";
    x1: number;
    y1: number;
    x2: number;
    y2: number;
    stroke: Color;
    width: number;
    dash?: number;
  }
  | { type: "polyline"; points: [number, number][]; stroke: Color; width: number }
  | { type: "rect"; x: number; y: number; w: number; h: number; fill?: Color; stroke?: Color; width?: number }
  | {
    type: "circle";
    cx: number;
    cy: number;
    r: number;
    fill: Color;
    stroke?: Color;
    /** Fill opacity in [0, 1] (default 1). */
    opacity?: number;
  }
  | {
    type: "text";
    /** Anchor point: left edge, centre or right edge depending on `anchor`. */
    x: number;
    /** Vertical centre of the text line. */
    y: number;
    text: string;
    size: number;
    color: Color;
    anchor: "start" | "middle" | "end";
    /** -90 draws the text upwards (y-axis labels). */
    rotate?: 0 | -90;
  };

/** A scene: a canvas size, a background and shapes drawn in order. */
export interface Scene {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Background colour. */
  background: Color;
  /** Shapes in drawing order. */
  shapes: Shape[];
}

/** Moves every shape of a scene by (dx, dy). */
export function translateShapes(shapes: readonly Shape[], dx: number, dy: number): Shape[] {
  return shapes.map((s): Shape => {
    switch (s.type) {
      case "line":
        return { ...s, x1: s.x1 + dx, y1: s.y1 + dy, x2: s.x2 + dx, y2: s.y2 + dy };
      case "polyline":
        return { ...s, points: s.points.map(([x, y]) => [x + dx, y + dy]) };
      case "rect":
        return { ...s, x: s.x + dx, y: s.y + dy };
      case "circle":
        return { ...s, cx: s.cx + dx, cy: s.cy + dy };
      case "text":
        return { ...s, x: s.x + dx, y: s.y + dy };
    }
  });
}

/**
 * Lays scenes out in a grid, row by row, each cell as large as the largest scene.
 *
 * @example
 * ```ts
 * import { gridScene, lineChart } from "./mod.ts";
 * const a = lineChart({ title: "kl", series: [{ name: "kl", points: [[1, 0.1], [2, 0.2]] }] });
 * gridScene([a, a, a], 2).width; // twice a's width
 * ```
 */
export function gridScene(scenes: readonly Scene[], columns: number): Scene {
  if (scenes.length === 0) throw new RangeError("gridScene: no scenes to lay out");
  const cols = Math.max(1, Math.min(columns, scenes.length));
  const cellW = Math.max(...scenes.map((s) => s.width));
  const cellH = Math.max(...scenes.map((s) => s.height));
  const rows = Math.ceil(scenes.length / cols);
  const shapes: Shape[] = [];
  scenes.forEach((s, i) => {
    const dx = (i % cols) * cellW;
    const dy = Math.floor(i / cols) * cellH;
    shapes.push(...translateShapes(s.shapes, dx, dy));
  });
  return { width: cols * cellW, height: rows * cellH, background: scenes[0].background, shapes };
}

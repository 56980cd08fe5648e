/**
 * Figures of sweeps (lib/rl/sweep.ts): panels of line charts, each with its legend to the right of
 * the plot (never over the data), an optional caption under them, written as SVG and PNG.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../log/atomic.ts";
import { lineChart, type Series } from "./charts.ts";
import { sceneToPng } from "./png.ts";
import type { Color, Scene } from "./scene.ts";
import { gridScene } from "./scene.ts";
import { sceneToSvg } from "./svg.ts";

const INK: Color = "#222222";

/** One panel of a figure: a line chart whose series are named in a legend beside it. */
export interface Panel {
  /** Title above the plot. */
  readonly title: string;
  /** x-axis label. */
  readonly xLabel: string;
  /** y-axis label (default: the title). */
  readonly yLabel?: string;
  /** The curves; colours default to the palette in order. */
  readonly series: readonly Series[];
}

/** The panel as a line chart; several series get their legend in a column right of the plot. */
export function panelScene(panel: Panel, width = 440, height = 280): Scene {
  return lineChart({
    title: panel.title,
    series: [...panel.series],
    xLabel: panel.xLabel,
    yLabel: panel.yLabel ?? panel.title,
    width,
    height,
  });
}

/** Panels in a grid (`columns` wide) with caption lines under it. */
export function figureScene(
  panels: readonly Panel[],
  columns: number,
  caption: readonly string[] = [],
): Scene {
  const grid = gridScene(panels.map((p) => panelScene(p)), columns);
  if (caption.length === 0) return grid;
  const lineH = 15;
  const shapes = [...grid.shapes];
  caption.forEach((text, i) => {
    shapes.push({
      type: "text",
      x: 12,
      y: grid.height + 12 + i * lineH,
      text,
      size: 11,
      color: INK,
      anchor: "start",
    });
  });
  const captionW = 24 + Math.max(...caption.map((c) => c.length)) * 6.8;
  return {
    ...grid,
    width: Math.max(grid.width, captionW),
    height: grid.height + 12 + caption.length * lineH,
    shapes,
  };
}

/** Writes `<name>.svg` and `<name>.png` into `dir` atomically; returns their file names. */
export async function writeFigure(dir: string, name: string, scene: Scene): Promise<string[]> {
  const files = [`${name}.svg`, `${name}.png`];
  await writeFileAtomic(join(dir, files[0]), sceneToSvg(scene));
  await writeFileAtomic(join(dir, files[1]), await sceneToPng(scene));
  return files;
}

/**
 * Chart builders producing {@link Scene}s: line charts for training curves and interpolation sweeps,
 * and the ranked-rollout figure (rollouts sorted by a signal, correct ones marked).
 *
 * @module
 */

import type { RankedRollout } from "./analysis.ts";
import type { Color, Scene, Shape } from "./scene.ts";

/** Colours for successive series (colour-blind-safe Tableau order). */
export const PALETTE: Color[] = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1"];
const CORRECT: Color = "#2e7d32";
const INCORRECT: Color = "#c62828";
const INK: Color = "#222222";
const GRID: Color = "#e3e3e3";

/**
 * About `count` round tick values (steps of 1, 2 or 5 × 10ᵏ) covering [min, max].
 *
 * @example
 * ```ts
 * import { niceTicks } from "./mod.ts";
 * niceTicks(0, 1, 5); // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * ```
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  // Round to the nearest of 1, 2, 5, 10 on a log scale (thresholds √2, √10, √50).
  const ratio = raw / power;
  const step = power *
    (ratio >= Math.sqrt(50) ? 10 : ratio >= Math.sqrt(10) ? 5 : ratio >= Math.SQRT2 ? 2 : 1);
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return ticks;
}

/** Formats a tick value with as many decimals as the tick spacing needs. */
export function formatTick(v: number, spacing: number): string {
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return v.toExponential(1);
  const decimals = spacing > 0 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(spacing) + 1e-9))) : 2;
  return v.toFixed(decimals);
}

function extent(values: number[]): [number, number] {
  // A loop rather than Math.min(...values): spreading a long array overflows the call stack.
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return [0, 1];
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

interface Frame {
  shapes: Shape[];
  x: (v: number) => number;
  y: (v: number) => number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Title, axes, grid and tick labels; returns the data-to-pixel mappings. */
function frame(
  width: number,
  height: number,
  title: string,
  xRange: [number, number],
  yRange: [number, number],
  xLabel: string,
  yLabel: string,
): Frame {
  const left = 62, right = width - 20, top = 30, bottom = height - 40;
  // A margin of 4% keeps points off the frame.
  const margin = (yRange[1] - yRange[0]) * 0.04;
  yRange = [yRange[0] - margin, yRange[1] + margin];
  const yTicks = niceTicks(yRange[0], yRange[1], 5);
  const lo = Math.min(yRange[0], yTicks[0] ?? yRange[0]);
  const hi = Math.max(yRange[1], yTicks[yTicks.length - 1] ?? yRange[1]);
  const x = (v: number) => left + ((v - xRange[0]) / (xRange[1] - xRange[0])) * (right - left);
  const y = (v: number) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
  const shapes: Shape[] = [];
  shapes.push({ type: "text", x: width / 2, y: 14, text: title, size: 13, color: INK, anchor: "middle" });
  const ySpacing = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
  for (const t of yTicks) {
    shapes.push({ type: "line", x1: left, y1: y(t), x2: right, y2: y(t), stroke: GRID, width: 1 });
    shapes.push({
      type: "text",
      x: left - 6,
      y: y(t),
      text: formatTick(t, ySpacing),
      size: 10,
      color: INK,
      anchor: "end",
    });
  }
  const xTicks = niceTicks(xRange[0], xRange[1], 6).filter((t) => t >= xRange[0] && t <= xRange[1]);
  const xSpacing = xTicks.length > 1 ? xTicks[1] - xTicks[0] : 1;
  for (const t of xTicks) {
    shapes.push({ type: "line", x1: x(t), y1: bottom, x2: x(t), y2: bottom + 4, stroke: INK, width: 1 });
    shapes.push({
      type: "text",
      x: x(t),
      y: bottom + 13,
      text: formatTick(t, xSpacing),
      size: 10,
      color: INK,
      anchor: "middle",
    });
  }
  shapes.push({ type: "rect", x: left, y: top, w: right - left, h: bottom - top, stroke: INK, width: 1 });
  shapes.push({
    type: "text",
    x: (left + right) / 2,
    y: height - 10,
    text: xLabel,
    size: 11,
    color: INK,
    anchor: "middle",
  });
  shapes.push({
    type: "text",
    x: 13,
    y: (top + bottom) / 2,
    text: yLabel,
    size: 11,
    color: INK,
    anchor: "middle",
    rotate: -90,
  });
  return { shapes, x, y, left, right, top, bottom };
}

/** A named series of (x, y) points. */
export interface Series {
  /** Legend name. */
  name: string;
  /** Points in x order; non-finite values are skipped. */
  points: [number, number][];
  /** Line colour; defaults to the palette. */
  color?: Color;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  /** Title above the plot. */
  title: string;
  /** Series to draw. */
  series: Series[];
  /** x-axis label (default "step"). */
  xLabel?: string;
  /** y-axis label (default: the title). */
  yLabel?: string;
  /** Width in pixels (default 480). */
  width?: number;
  /** Height in pixels (default 300). */
  height?: number;
  /** Draw a marker at every point (default: when a series has at most 40 points). */
  markers?: boolean;
  /** "inside" (default): a legend box in the plot's top right when there are several series; "none": no legend. */
  legend?: "inside" | "none";
}

/**
 * A line chart with axes, grid, optional markers and a legend when there are several series.
 *
 * @example
 * ```ts
 * import { lineChart, sceneToSvg } from "./mod.ts";
 * const scene = lineChart({ title: "accuracy", series: [{ name: "accuracy", points: [[1, 0.3], [2, 0.5], [3, 0.6]] }] });
 * sceneToSvg(scene).startsWith("<svg"); // true
 * ```
 */
export function lineChart(options: LineChartOptions): Scene {
  const width = options.width ?? 480;
  const height = options.height ?? 300;
  const series = options.series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length],
    points: s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b)),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const f = frame(
    width,
    height,
    options.title,
    extent(xs),
    extent(ys),
    options.xLabel ?? "step",
    options.yLabel ?? options.title,
  );
  const shapes = f.shapes;
  if (xs.length === 0) {
    shapes.push({
      type: "text",
      x: width / 2,
      y: height / 2,
      text: "no data",
      size: 12,
      color: INK,
      anchor: "middle",
    });
  }
  for (const s of series) {
    const pts = s.points.map(([a, b]): [number, number] => [f.x(a), f.y(b)]);
    if (pts.length > 1) shapes.push({ type: "polyline", points: pts, stroke: s.color, width: 1.6 });
    if (options.markers ?? s.points.length <= 40) {
      for (const [px, py] of pts) shapes.push({ type: "circle", cx: px, cy: py, r: 2.4, fill: s.color });
    }
  }
  if (series.length > 1 && options.legend !== "none") {
    const widest = Math.max(...series.map((s) => s.name.length));
    shapes.push({
      type: "rect",
      x: f.right - 126,
      y: f.top + 4,
      w: Math.min(120, 30 + widest * 6.5),
      h: series.length * 14 + 2,
      fill: "#ffffff",
      stroke: GRID,
    });
    series.forEach((s, i) => {
      const ly = f.top + 12 + i * 14;
      shapes.push({
        type: "line",
        x1: f.right - 120,
        y1: ly,
        x2: f.right - 104,
        y2: ly,
        stroke: s.color,
        width: 2,
      });
      shapes.push({
        type: "text",
        x: f.right - 100,
        y: ly,
        text: s.name,
        size: 10,
        color: INK,
        anchor: "start",
      });
    });
  }
  return { width, height, background: "#ffffff", shapes };
}

/** Options of {@link rankedRolloutChart}. */
export interface RankedChartOptions {
  /** Title (typically the signal name and its AUROC). */
  title: string;
  /** Rollouts sorted by the signal, highest first (see `rankRollouts`). */
  ranked: readonly RankedRollout[];
  /** y-axis label (default "signal"). */
  yLabel?: string;
  /** Width in pixels (default 480). */
  width?: number;
  /** Height in pixels (default 300). */
  height?: number;
}

/**
 * Rollouts ranked by a signal: each rollout a dot at (rank, value), green when correct and red when
 * not, with a strip under the plot marking where the correct ones fall. A signal that tracks
 * correctness puts the green dots to the left.
 *
 * @example
 * ```ts
 * import { rankedRolloutChart } from "./mod.ts";
 * const scene = rankedRolloutChart({ title: "selfCertainty", ranked: [{ value: 2, correct: true }, { value: 1, correct: false }] });
 * scene.shapes.length > 0; // true
 * ```
 */
export function rankedRolloutChart(options: RankedChartOptions): Scene {
  const width = options.width ?? 480;
  const height = options.height ?? 300;
  const n = options.ranked.length;
  const f = frame(
    width,
    height,
    options.title,
    [0, Math.max(1, n + 1)],
    extent(options.ranked.map((r) => r.value)),
    "rank (highest signal first)",
    options.yLabel ?? "signal",
  );
  const shapes = f.shapes;
  const radius = n > 2000 ? 1.2 : n > 300 ? 1.8 : 2.6;
  // Incorrect first so that correct dots stay visible where they overlap.
  for (const pass of [false, true]) {
    options.ranked.forEach((r, i) => {
      if (r.correct !== pass) return;
      shapes.push({
        type: "circle",
        cx: f.x(i + 1),
        cy: f.y(r.value),
        r: radius,
        fill: pass ? CORRECT : INCORRECT,
      });
    });
  }
  options.ranked.forEach((r, i) => {
    if (r.correct) {
      shapes.push({
        type: "line",
        x1: f.x(i + 1),
        y1: f.bottom - 8,
        x2: f.x(i + 1),
        y2: f.bottom - 1,
        stroke: CORRECT,
        width: 1,
      });
    }
  });
  const legend: [Color, string][] = [[CORRECT, "correct"], [INCORRECT, "incorrect"]];
  legend.forEach(([c, label], i) => {
    const ly = f.top + 12 + i * 14;
    shapes.push({ type: "circle", cx: f.right - 80, cy: ly, r: 3, fill: c });
    shapes.push({ type: "text", x: f.right - 72, y: ly, text: label, size: 10, color: INK, anchor: "start" });
  });
  return { width, height, background: "#ffffff", shapes };
}

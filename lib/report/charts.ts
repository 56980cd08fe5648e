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
  // Decide by the spacing, so that one axis uses one notation (not "0.00000" under "5.0e-5").
  if (spacing >= 1e5 || (spacing > 0 && spacing < 1e-3)) return v === 0 ? "0" : v.toExponential(1);
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

/** A plot area in scene pixels. */
interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

interface Frame extends Box {
  shapes: Shape[];
  x: (v: number) => number;
  y: (v: number) => number;
}

/** Axes, grid and tick labels around `box`; returns the data-to-pixel mappings. */
function frame(
  box: Box,
  xRange: [number, number],
  yRange: [number, number],
  xLabel: string,
  yLabel: string,
  yTickCount = 5,
  integerX = false,
): Frame {
  const { left, right, top, bottom } = box;
  // A margin of 4% keeps points off the frame.
  const margin = (yRange[1] - yRange[0]) * 0.04;
  yRange = [yRange[0] - margin, yRange[1] + margin];
  const yTicks = niceTicks(yRange[0], yRange[1], yTickCount);
  const lo = Math.min(yRange[0], yTicks[0] ?? yRange[0]);
  const hi = Math.max(yRange[1], yTicks[yTicks.length - 1] ?? yRange[1]);
  const x = (v: number) => left + ((v - xRange[0]) / (xRange[1] - xRange[0])) * (right - left);
  const y = (v: number) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
  const shapes: Shape[] = [];
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
  // Steps and ranks are whole numbers: a tick at step 1.5 would name a step that does not exist.
  const xTicks = niceTicks(xRange[0], xRange[1], 6)
    .filter((t) => t >= xRange[0] && t <= xRange[1] && (!integerX || Number.isInteger(t)));
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
    y: bottom + 29,
    text: xLabel,
    size: 11,
    color: INK,
    anchor: "middle",
  });
  shapes.push({
    type: "text",
    x: left - 49,
    y: (top + bottom) / 2,
    text: yLabel,
    size: 11,
    color: INK,
    anchor: "middle",
    rotate: -90,
  });
  return { ...box, shapes, x, y };
}

function titleShape(width: number, title: string): Shape {
  return { type: "text", x: width / 2, y: 14, text: title, size: 13, color: INK, anchor: "middle" };
}

/** One legend entry: a swatch (a short line or a dot) and its label. */
interface LegendEntry {
  label: string;
  color: Color;
  swatch: "line" | "dot";
}

const LEGEND_CHAR_WIDTH = 6.1; // DejaVu Sans Mono at 10 px
const LEGEND_GAP = 12;

/** Width of the column a legend takes to the right of the plot. */
function legendWidth(entries: readonly LegendEntry[]): number {
  if (entries.length === 0) return 0;
  return Math.ceil(LEGEND_GAP + 24 + Math.max(...entries.map((e) => e.label.length)) * LEGEND_CHAR_WIDTH + 6);
}

/** The legend in its own column right of `plotRight`, so that it never covers data. */
function legendShapes(entries: readonly LegendEntry[], plotRight: number, top: number): Shape[] {
  const x = plotRight + LEGEND_GAP;
  const shapes: Shape[] = [];
  entries.forEach((e, i) => {
    const ly = top + 6 + i * 15;
    if (e.swatch === "line") {
      shapes.push({ type: "line", x1: x, y1: ly, x2: x + 16, y2: ly, stroke: e.color, width: 2 });
    } else {
      shapes.push({ type: "circle", cx: x + 8, cy: ly, r: 3.5, fill: e.color });
    }
    shapes.push({ type: "text", x: x + 22, y: ly, text: e.label, size: 10, color: INK, anchor: "start" });
  });
  return shapes;
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
  /**
   * A y range the axis always shows (widened only if the data leave it), e.g. [0, 1] for accuracies;
   * default: the data's extent.
   */
  yRange?: [number, number];
  /** Width in pixels of the plot and its axes (default 480); a legend adds its own column. */
  width?: number;
  /** Height in pixels (default 300). */
  height?: number;
  /** Draw a marker at every point (default: when a series has at most 40 points). */
  markers?: boolean;
}

/**
 * A line chart with axes, grid, optional markers and, when there are several series, a legend in a
 * column right of the plot (never over the data).
 *
 * @example
 * ```ts
 * import { lineChart, sceneToSvg } from "./mod.ts";
 * const scene = lineChart({ title: "accuracy", series: [{ name: "accuracy", points: [[1, 0.3], [2, 0.5], [3, 0.6]] }] });
 * sceneToSvg(scene).startsWith("<svg"); // true
 * ```
 */
export function lineChart(options: LineChartOptions): Scene {
  const plotWidth = options.width ?? 480;
  const height = options.height ?? 300;
  const series = options.series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length],
    points: s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b)),
  }));
  const legend: LegendEntry[] = series.length > 1
    ? series.map((s) => ({ label: s.name, color: s.color, swatch: "line" }))
    : [];
  const width = plotWidth + legendWidth(legend);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const yRange = options.yRange ? extent([...ys, ...options.yRange]) : extent(ys);
  const box = { left: 62, right: plotWidth - 20, top: 30, bottom: height - 40 };
  const f = frame(
    box,
    extent(xs),
    yRange,
    options.xLabel ?? "step",
    options.yLabel ?? options.title,
    5,
    xs.every(Number.isInteger),
  );
  const shapes = [titleShape(width, options.title), ...f.shapes];
  if (xs.length === 0) {
    shapes.push({
      type: "text",
      x: (f.left + f.right) / 2,
      y: height / 2,
      text: "no data",
      size: 12,
      color: INK,
      anchor: "middle",
    });
  }
  series.forEach((s, i) => {
    // Earlier series are drawn wider, so that series lying on top of each other (pass@k and maj@k of a
    // model that never answers right, all at 0) show as nested stripes instead of one line.
    const extra = series.length > 1 ? 0.6 * (series.length - 1 - i) : 0;
    const pts = s.points.map(([a, b]): [number, number] => [f.x(a), f.y(b)]);
    if (pts.length > 1) shapes.push({ type: "polyline", points: pts, stroke: s.color, width: 1.6 + extra });
    if (options.markers ?? s.points.length <= 40) {
      for (const [px, py] of pts) {
        shapes.push({ type: "circle", cx: px, cy: py, r: 2.4 + extra / 2, fill: s.color });
      }
    }
  });
  shapes.push(...legendShapes(legend, f.right, f.top));
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
  /** Width in pixels of the plots and their axes (default 480); the legend adds its own column. */
  width?: number;
  /** Height in pixels (default 360). */
  height?: number;
  /** Rank bins of the fraction-correct bars (default 20, fewer when there are fewer rollouts). */
  bins?: number;
}

/** Deterministic pseudo-random order of `0 … n−1` (a seeded Fisher–Yates shuffle). */
function shuffledIndices(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let state = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    // xorshift32: enough to mix the drawing order, and the same figure every time.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const j = (state >>> 0) % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * Rollouts ranked by a signal, in two plots sharing the rank axis. Above, each rollout is a dot at
 * (rank, value), green when correct and red when not, both half-transparent and drawn in a shuffled
 * order so that neither class hides the other wherever they overlap. Below, the ranks are cut into bins
 * and each bin is a bar split into its fraction of correct (green, from the bottom) and incorrect (red)
 * rollouts, with the overall fraction correct as a dashed line: the areas are exactly the class
 * proportions, whatever the ratio. A signal that tracks correctness puts tall green bars on the left.
 *
 * @example
 * ```ts
 * import { rankedRolloutChart } from "./mod.ts";
 * const scene = rankedRolloutChart({ title: "selfCertainty", ranked: [{ value: 2, correct: true }, { value: 1, correct: false }] });
 * scene.shapes.length > 0; // true
 * ```
 */
export function rankedRolloutChart(options: RankedChartOptions): Scene {
  const plotWidth = options.width ?? 480;
  const height = options.height ?? 360;
  const ranked = options.ranked;
  const n = ranked.length;
  const correctCount = ranked.filter((r) => r.correct).length;
  const legend: LegendEntry[] = [
    { label: `correct (${correctCount})`, color: CORRECT, swatch: "dot" },
    { label: `incorrect (${n - correctCount})`, color: INCORRECT, swatch: "dot" },
    { label: "all ranks", color: INK, swatch: "line" },
  ];
  const width = plotWidth + legendWidth(legend);
  const left = 62, right = plotWidth - 20;
  const split = Math.round(30 + (height - 30 - 40) * 0.6);
  const xRange: [number, number] = [0, Math.max(1, n + 1)];
  const top = frame(
    { left, right, top: 30, bottom: split - 24 },
    xRange,
    extent(ranked.map((r) => r.value)),
    "",
    options.yLabel ?? "signal",
    5,
    true,
  );
  const bottom = frame(
    { left, right, top: split, bottom: height - 40 },
    xRange,
    [0, 1],
    "rank (highest signal first)",
    "correct",
    2,
    true,
  );
  const shapes: Shape[] = [titleShape(width, options.title), ...top.shapes, ...bottom.shapes];
  const radius = n > 2000 ? 1.3 : n > 300 ? 1.8 : 2.6;
  for (const i of shuffledIndices(n)) {
    const r = ranked[i];
    shapes.push({
      type: "circle",
      cx: top.x(i + 1),
      cy: top.y(r.value),
      r: radius,
      fill: r.correct ? CORRECT : INCORRECT,
      opacity: 0.6,
    });
  }
  const bins = Math.max(1, Math.min(options.bins ?? 20, n));
  const y0 = bottom.y(0), y1 = bottom.y(1);
  for (let b = 0; b < bins; b++) {
    const from = Math.floor((b * n) / bins), to = Math.floor(((b + 1) * n) / bins);
    if (to <= from) continue;
    const good = ranked.slice(from, to).filter((r) => r.correct).length / (to - from);
    const xa = bottom.x(from + 0.5), xb = bottom.x(to + 0.5);
    const w = Math.max(0.5, xb - xa - 1);
    const split = y0 + (y1 - y0) * good;
    shapes.push({ type: "rect", x: xa + 0.5, y: split, w, h: y0 - split, fill: CORRECT });
    shapes.push({ type: "rect", x: xa + 0.5, y: y1, w, h: split - y1, fill: INCORRECT });
  }
  if (n > 0) {
    const rate = bottom.y(correctCount / n);
    shapes.push({ type: "line", x1: left, y1: rate, x2: right, y2: rate, stroke: INK, width: 1.2, dash: 4 });
  }
  shapes.push(...legendShapes(legend, right, top.top));
  return { width, height, background: "#ffffff", shapes };
}

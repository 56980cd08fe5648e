/**
 * A small anti-aliased rasterizer for {@link Scene}s: coverage-based lines, polylines, circles and
 * rectangles, and bitmap-font text, into an RGBA buffer that {@link encodePng} turns into a file.
 *
 * @module
 */

import { CAP_HEIGHT, glyph, GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, textWidth } from "./bitmap_font.ts";
import { encodePng } from "./png.ts";
import type { Color, Scene, Shape } from "./scene.ts";

/** A colour as red, green, blue in 0–255. */
export type RGB = [number, number, number];

function parseColor(c: Color): RGB {
  const m = /^#([0-9a-f]{6})$/i.exec(c);
  if (!m) throw new RangeError(`raster: colour ${c} must be #rrggbb`);
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** An RGBA pixel buffer with alpha-blended drawing operations. */
export class Raster {
  /** RGBA bytes, row-major. */
  readonly data: Uint8ClampedArray;

  /** Creates a canvas filled with `background`. */
  constructor(readonly width: number, readonly height: number, background: Color) {
    this.data = new Uint8ClampedArray(width * height * 4);
    const [r, g, b] = parseColor(background);
    for (let i = 0; i < width * height; i++) this.data.set([r, g, b, 255], i * 4);
  }

  /** Blends a colour into one pixel with coverage `alpha` in [0, 1]. */
  blend(x: number, y: number, [r, g, b]: RGB, alpha: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || alpha <= 0) return;
    const a = Math.min(1, alpha);
    const i = (y * this.width + x) * 4;
    this.data[i] = this.data[i] * (1 - a) + r * a;
    this.data[i + 1] = this.data[i + 1] * (1 - a) + g * a;
    this.data[i + 2] = this.data[i + 2] * (1 - a) + b * a;
  }

  /** Fills an axis-aligned rectangle, edge pixels weighted by the area they cover. */
  fillRect(x0: number, y0: number, x1: number, y1: number, color: RGB): void {
    const [ax, bx] = x0 < x1 ? [x0, x1] : [x1, x0];
    const [ay, by] = y0 < y1 ? [y0, y1] : [y1, y0];
    for (let y = Math.max(0, Math.floor(ay)); y < Math.min(this.height, Math.ceil(by)); y++) {
      const cy = Math.min(by, y + 1) - Math.max(ay, y);
      for (let x = Math.max(0, Math.floor(ax)); x < Math.min(this.width, Math.ceil(bx)); x++) {
        const cx = Math.min(bx, x + 1) - Math.max(ax, x);
        this.blend(x, y, color, cx * cy);
      }
    }
  }

  /** Draws a segment of the given width; coverage falls off over one pixel at the edges. */
  line(x1: number, y1: number, x2: number, y2: number, width: number, color: RGB): void {
    const half = width / 2;
    const minX = Math.max(0, Math.floor(Math.min(x1, x2) - half - 1));
    const maxX = Math.min(this.width - 1, Math.ceil(Math.max(x1, x2) + half + 1));
    const minY = Math.max(0, Math.floor(Math.min(y1, y2) - half - 1));
    const maxY = Math.min(this.height - 1, Math.ceil(Math.max(y1, y2) + half + 1));
    const dx = x2 - x1;
    const dy = y2 - y1;
    const len2 = dx * dx + dy * dy;
    for (let y = minY; y <= maxY; y++) {
      for (let x = minX; x <= maxX; x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - x1) * dx + (py - y1) * dy) / len2));
        const d = Math.hypot(px - (x1 + t * dx), py - (y1 + t * dy));
        this.blend(x, y, color, Math.max(0, Math.min(1, half + 0.5 - d)));
      }
    }
  }

  /** Fills a disc. */
  circle(cx: number, cy: number, r: number, color: RGB): void {
    for (
      let y = Math.max(0, Math.floor(cy - r - 1));
      y <= Math.min(this.height - 1, Math.ceil(cy + r + 1));
      y++
    ) {
      for (
        let x = Math.max(0, Math.floor(cx - r - 1));
        x <= Math.min(this.width - 1, Math.ceil(cx + r + 1));
        x++
      ) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        this.blend(x, y, color, Math.max(0, Math.min(1, r + 0.5 - d)));
      }
    }
  }

  /** Draws text with the bitmap font, each font pixel a `scale`×`scale` square. */
  text(
    text: string,
    x: number,
    y: number,
    scale: number,
    color: RGB,
    anchor: "start" | "middle" | "end",
    rotate: 0 | -90,
  ): void {
    const w = textWidth(text) * scale;
    const offset = anchor === "start" ? 0 : anchor === "middle" ? -w / 2 : -w;
    const top = -(CAP_HEIGHT * scale) / 2;
    for (let k = 0; k < text.length; k++) {
      const g = glyph(text[k]);
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
        for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
          if (!g[gy * GLYPH_WIDTH + gx]) continue;
          // Along the text (u) and across it (v), then rotated into place.
          const u = offset + (k * GLYPH_ADVANCE + gx) * scale;
          const v = top + gy * scale;
          if (rotate === -90) this.fillRect(x + v, y - u - scale, x + v + scale, y - u, color);
          else {this.fillRect(
              Math.round(x + u),
              Math.round(y + v),
              Math.round(x + u) + scale,
              Math.round(y + v) + scale,
              color,
            );}
        }
      }
    }
  }
}

function drawShape(r: Raster, s: Shape, k: number) {
  switch (s.type) {
    case "line": {
      const color = parseColor(s.stroke);
      if (!s.dash) {
        r.line(s.x1 * k, s.y1 * k, s.x2 * k, s.y2 * k, s.width * k, color);
        break;
      }
      const len = Math.hypot(s.x2 - s.x1, s.y2 - s.y1);
      for (let t = 0; t < len; t += 2 * s.dash) {
        const a = t / len;
        const b = Math.min(len, t + s.dash) / len;
        r.line(
          (s.x1 + (s.x2 - s.x1) * a) * k,
          (s.y1 + (s.y2 - s.y1) * a) * k,
          (s.x1 + (s.x2 - s.x1) * b) * k,
          (s.y1 + (s.y2 - s.y1) * b) * k,
          s.width * k,
          color,
        );
      }
      break;
    }
    case "polyline": {
      const color = parseColor(s.stroke);
      for (let i = 1; i < s.points.length; i++) {
        const [ax, ay] = s.points[i - 1];
        const [bx, by] = s.points[i];
        r.line(ax * k, ay * k, bx * k, by * k, s.width * k, color);
      }
      if (s.points.length === 1) r.circle(s.points[0][0] * k, s.points[0][1] * k, s.width * k, color);
      break;
    }
    case "rect":
      if (s.fill) r.fillRect(s.x * k, s.y * k, (s.x + s.w) * k, (s.y + s.h) * k, parseColor(s.fill));
      if (s.stroke) {
        const c = parseColor(s.stroke);
        const w = (s.width ?? 1) * k;
        const [x0, y0, x1, y1] = [s.x * k, s.y * k, (s.x + s.w) * k, (s.y + s.h) * k];
        r.fillRect(x0 - w / 2, y0 - w / 2, x1 + w / 2, y0 + w / 2, c);
        r.fillRect(x0 - w / 2, y1 - w / 2, x1 + w / 2, y1 + w / 2, c);
        r.fillRect(x0 - w / 2, y0 + w / 2, x0 + w / 2, y1 - w / 2, c);
        r.fillRect(x1 - w / 2, y0 + w / 2, x1 + w / 2, y1 - w / 2, c);
      }
      break;
    case "circle":
      if (s.stroke) r.circle(s.cx * k, s.cy * k, (s.r + 0.75) * k, parseColor(s.stroke));
      r.circle(s.cx * k, s.cy * k, s.r * k, parseColor(s.fill));
      break;
    case "text": {
      // The font is 7 pixels to the cap line; scale it so capitals are about 70% of the font size.
      const scale = Math.max(1, Math.round((s.size * k * 0.7) / CAP_HEIGHT));
      r.text(s.text, s.x * k, s.y * k, scale, parseColor(s.color), s.anchor, s.rotate ?? 0);
      break;
    }
  }
}

/**
 * Rasterizes a scene at `pixelRatio` device pixels per scene pixel.
 *
 * @example
 * ```ts
 * import { lineChart, renderScene } from "./mod.ts";
 * const raster = renderScene(lineChart({ title: "kl", series: [{ name: "kl", points: [[0, 0], [1, 1]] }] }));
 * raster.width; // 2 × the chart width
 * ```
 */
export function renderScene(scene: Scene, pixelRatio = 2): Raster {
  const r = new Raster(
    Math.round(scene.width * pixelRatio),
    Math.round(scene.height * pixelRatio),
    scene.background,
  );
  for (const s of scene.shapes) drawShape(r, s, pixelRatio);
  return r;
}

/**
 * The scene as a PNG file.
 *
 * @example
 * ```ts
 * import { lineChart, sceneToPng } from "./mod.ts";
 * await Deno.writeFile("kl.png", sceneToPng(lineChart({ title: "kl", series: [{ name: "kl", points: [[0, 0], [1, 1]] }] })));
 * ```
 */
export function sceneToPng(scene: Scene, pixelRatio = 2): Uint8Array {
  const r = renderScene(scene, pixelRatio);
  return encodePng(r.width, r.height, r.data);
}

/**
 * PNG output of a {@link Scene}: the scene's SVG ({@link sceneToSvg}) rendered by resvg (the maintained
 * Rust SVG renderer, as WebAssembly from npm) with DejaVu Sans Mono from `@fontsource/dejavu-mono`, so the
 * PNG and the SVG are one drawing and no system fonts are needed.
 *
 * Why resvg and not a hand-written encoder: the figures gain anti-aliased vector text and exact SVG parity
 * for a measured cost of 2.5 MB (resvg-wasm 2.6.2) + 1.3 MB (the font package) in the Deno cache, 1.9 MB
 * after the device bundle's xz (the whole npm cache of mod.ts and scripts/ packs to 3.6 MB); the wasm
 * initialises in about 30 ms, once per process. Both load from the Deno npm cache, so rendering works
 * offline once `deno cache` has run.
 *
 * @module
 */

import { initWasm, Resvg } from "@resvg/resvg-wasm";
// Imported (not only resolved) so that `deno cache` of any entry point fetches the font package too.
import "@fontsource/dejavu-mono/metadata.json" with { type: "json" };
import { createRequire } from "node:module";
import type { Scene } from "./scene.ts";
import { sceneToSvg } from "./svg.ts";

const require = createRequire(import.meta.url);
const FONT_FILE = "@fontsource/dejavu-mono/files/dejavu-mono-latin-400-normal.woff2";

let renderer: Promise<Uint8Array> | null = null;

/** Loads the wasm once per process; resolves to the font bytes every render passes to resvg. */
function ready(): Promise<Uint8Array> {
  renderer ??= (async () => {
    await initWasm(await Deno.readFile(require.resolve("@resvg/resvg-wasm/index_bg.wasm")));
    return await Deno.readFile(require.resolve(FONT_FILE));
  })();
  return renderer;
}

/**
 * The scene as a PNG file (RGBA), `pixelRatio` device pixels per scene pixel.
 *
 * @example
 * ```ts
 * import { lineChart, sceneToPng } from "./mod.ts";
 * const chart = lineChart({ title: "kl", series: [{ name: "kl", points: [[0, 0], [1, 1]] }] });
 * await Deno.writeFile("kl.png", await sceneToPng(chart));
 * ```
 */
export async function sceneToPng(scene: Scene, pixelRatio = 2): Promise<Uint8Array> {
  if (!(pixelRatio > 0) || !Number.isFinite(pixelRatio)) {
    throw new RangeError(`sceneToPng: pixelRatio must be a positive number, got ${pixelRatio}`);
  }
  const font = await ready();
  const resvg = new Resvg(sceneToSvg(scene), {
    fitTo: { mode: "zoom", value: pixelRatio },
    font: { loadSystemFonts: false, fontBuffers: [font], defaultFontFamily: "DejaVu Sans Mono" },
  });
  try {
    const image = resvg.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

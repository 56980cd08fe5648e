/**
 * Reports from a run directory: reading `metadata.jsonl` and `metrics.jsonl`, signal tables
 * (Markdown, CSV), charts as SVG and PNG, and the whole analysis report that `deno task analyze` writes.
 *
 * @example
 * ```ts
 * import { readRollouts, signalTable, tableToMarkdown } from "./mod.ts";
 * console.log(tableToMarkdown(signalTable(await readRollouts("runs/x"), { steps: "each" })));
 * ```
 *
 * @module
 */

export { type MetricsRow, readMetrics, readRollouts, type Rollout } from "./run_logs.ts";
export {
  type RankedRollout,
  rankRollouts,
  signalNames,
  type SignalRow,
  signalTable,
  type SignalTableOptions,
  stepAccuracies,
  type StepAccuracy,
  type StepSelection,
  tableToCsv,
  tableToMarkdown,
} from "./analysis.ts";
export { type Color, gridScene, type Scene, type Shape } from "./scene.ts";
export {
  lineChart,
  type LineChartOptions,
  type RankedChartOptions,
  rankedRolloutChart,
  type Series,
} from "./charts.ts";
export { sceneToSvg } from "./svg.ts";
export { sceneToPng } from "./png.ts";
export {
  type AnalysisReport,
  type AnalysisReportOptions,
  type GpuMemorySummary,
  gpuMemorySummary,
  writeAnalysisReport,
} from "./report.ts";
export { regradeRollouts } from "./regrade.ts";

/**
 * Run directories and logs: config copy, metrics.jsonl, metadata.jsonl (every rollout with every
 * signal), crash-safe writes, and terminal progress.
 *
 * @module
 */
export { syncDir, writeAll, writeFileAtomic } from "./atomic.ts";
export { appendJsonLines, encodeJsonLines, readJsonl, truncateJsonl } from "./jsonl.ts";
export type { JsonlLine, TruncateResult } from "./jsonl.ts";
export { parseMetadataEntry } from "./metadata.ts";
export type { MetadataEntry, ResponseEntry, ResponseSignals } from "./metadata.ts";
export { RUN_FILES, RunDir } from "./run_dir.ts";
export type { MetricsEntry, RunDirOptions } from "./run_dir.ts";
export { formatDuration, ProgressBar } from "./progress.ts";
export type { ProgressOptions } from "./progress.ts";

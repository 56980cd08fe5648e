/**
 * Training progress on stderr: on a terminal one line redrawn in place with `\r` (bar, count, elapsed,
 * ETA, a few metrics); otherwise (logs, CI) one plain line every N steps and at the end, so log files
 * stay readable.
 *
 * @module
 */

/** Options of {@link ProgressBar}. */
export interface ProgressOptions {
  /** Steps in the whole run. */
  total: number;
  /** Steps already done when the bar starts (a resumed run); the ETA uses only steps timed here. */
  initial?: number;
  /** Text before the bar (default "train"). */
  label?: string;
  /** Without a terminal, print every N steps (default 1). */
  every?: number;
  /** Bar width in characters (default 24). */
  width?: number;
  /** Whether to redraw in place; default: whether stderr is a terminal. */
  isTty?: boolean;
  /** Output sink; default: stderr. */
  write?: (text: string) => void;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

/**
 * h:mm:ss (or m:ss under an hour).
 *
 * @example
 * ```ts
 * formatDuration(3_723_000); // "1:02:03"
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(sec).padStart(2, "0")}`;
}

function formatMetric(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

function stderrWriter(): (text: string) => void {
  const enc = new TextEncoder();
  return (text) => {
    const bytes = enc.encode(text);
    let off = 0;
    while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
  };
}

/**
 * Progress display for a training loop.
 *
 * @example
 * ```ts
 * const bar = new ProgressBar({ total: 100, label: "grpo" });
 * for (let step = 1; step <= 100; step++) bar.update(step, { loss: 0.1, reward: 0.5 });
 * bar.finish();
 * ```
 */
export class ProgressBar {
  #opts: Required<Omit<ProgressOptions, "initial">> & { initial: number };
  #start: number;
  #lastLen = 0;
  #done: number;
  #finished = false;

  /** Starts the clock. */
  constructor(options: ProgressOptions) {
    const total = options.total;
    if (!Number.isInteger(total) || total < 1) {
      throw new RangeError(`ProgressBar: total ${total} must be an integer >= 1`);
    }
    const every = options.every ?? 1;
    if (!Number.isInteger(every) || every < 1) {
      throw new RangeError(`ProgressBar: every ${every} must be an integer >= 1`);
    }
    this.#opts = {
      total,
      initial: options.initial ?? 0,
      label: options.label ?? "train",
      every,
      width: options.width ?? 24,
      isTty: options.isTty ?? Deno.stderr.isTerminal(),
      write: options.write ?? stderrWriter(),
      now: options.now ?? (() => performance.now()),
    };
    this.#done = this.#opts.initial;
    this.#start = this.#opts.now();
  }

  /** The text shown after `done` steps with `metrics` (without `\r` / newline). */
  render(done: number, metrics: Record<string, number> = {}): string {
    const { total, initial, label, width, isTty } = this.#opts;
    const elapsed = this.#opts.now() - this.#start;
    const timed = done - initial;
    const eta = timed > 0 ? (elapsed / timed) * (total - done) : NaN;
    const frac = Math.min(1, Math.max(0, done / total));
    const pct = `${Math.floor(frac * 100)}%`.padStart(4);
    const m = Object.entries(metrics).map(([k, v]) => `${k}=${formatMetric(v)}`).join(" ");
    const time = `${formatDuration(elapsed)}<${formatDuration(eta)}`;
    if (isTty) {
      const fill = Math.round(frac * width);
      const bar = "█".repeat(fill) + "░".repeat(width - fill);
      return `${label} ${bar} ${done}/${total} ${pct} ${time}${m ? ` ${m}` : ""}`;
    }
    return `${label} step ${done}/${total} ${pct.trim()} elapsed ${formatDuration(elapsed)} eta ${
      formatDuration(eta)
    }` +
      (m ? ` ${m}` : "");
  }

  /** Reports that `done` steps are complete, with the metrics to show. */
  update(done: number, metrics: Record<string, number> = {}): void {
    this.#done = done;
    const { isTty, every, total, write } = this.#opts;
    if (isTty) {
      const line = this.render(done, metrics);
      // Pad with spaces so a shorter line fully covers the previous one.
      write(`\r${line}${" ".repeat(Math.max(0, this.#lastLen - line.length))}`);
      this.#lastLen = line.length;
    } else if (done % every === 0 || done === total) {
      write(`${this.render(done, metrics)}\n`);
    }
  }

  /** Ends the display (on a terminal, moves past the bar's line). Idempotent. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#opts.isTty && this.#lastLen > 0) this.#opts.write("\n");
  }

  /** Steps reported so far. */
  get done(): number {
    return this.#done;
  }
}

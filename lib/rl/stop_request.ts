/**
 * A clean stop on SIGINT (Ctrl-C) or SIGTERM (what a scheduler, `timeout` or `docker stop` sends): the
 * first signal only records the request, and the trainer finishes the step it is in, saves a checkpoint
 * and throws `Interrupted`, which the scripts turn into exit status 130 / 143. A second signal stops the
 * process at once, with the same status: every file rlif writes is replaced atomically or appended in
 * whole lines that a resume cuts back, so what is on disk stays loadable (an unfinished checkpoint is a
 * `*.tmp-PID` folder that the next resume removes).
 *
 * @module
 */
import { STOP_SIGNALS } from "../errors.ts";

type StopSignal = keyof typeof STOP_SIGNALS;

/**
 * Listens for SIGINT and SIGTERM while it exists (dispose it to stop listening).
 *
 * @example
 * ```ts
 * using stop = new StopRequest(() => lock.release());
 * while (!done && stop.signal === null) await step();
 * ```
 */
export class StopRequest implements Disposable {
  /** The first stop signal received, or null. */
  signal: StopSignal | null = null;
  /** Says what is kept on disk, for the message of an immediate stop. */
  describe: () => string = () => "";
  readonly #beforeExit: () => void;
  readonly #listeners: [StopSignal, () => void][];

  /** Starts listening; `beforeExit` runs (synchronously) right before a second signal exits. */
  constructor(beforeExit: () => void = () => {}) {
    this.#beforeExit = beforeExit;
    this.#listeners = (Object.keys(STOP_SIGNALS) as StopSignal[]).map((s) => [s, () => this.#receive(s)]);
    for (const [s, f] of this.#listeners) Deno.addSignalListener(s, f);
  }

  #receive(signal: StopSignal): void {
    if (this.signal === null) {
      this.signal = signal;
      console.error(
        `\n${signal}: finishing the current step, then saving a checkpoint and stopping ` +
          `(send it again to stop at once)`,
      );
      return;
    }
    // The first request may be minutes from its safe point; the user asked twice.
    const kept = this.describe();
    console.error(`\n${signal} again: stopping now${kept ? `; ${kept}` : ""}`);
    this.#beforeExit();
    Deno.exit(STOP_SIGNALS[this.signal]);
  }

  /** Stops listening. */
  [Symbol.dispose](): void {
    for (const [s, f] of this.#listeners) Deno.removeSignalListener(s, f);
  }
}

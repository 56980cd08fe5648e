/**
 * Real processes for the fault-injection suite: a tiny Intuitor experiment on the bundled arith-tiny
 * model (4 steps of 4 prompts × 4 samples, about 0.4 s a step on llvmpipe after a 2.5 s first step), run
 * through `scripts/intuitor.ts` as `deno task intuitor` runs it, so signals, exit statuses and messages
 * are the ones a user sees.
 *
 * @module
 */
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Steps of the experiment. */
export const STEPS = 4;

/** The experiment's YAML: every run of the suite writes under `root/runs`. */
export async function writeExperiment(root: string): Promise<string> {
  const file = join(root, "experiment.yaml");
  await Deno.writeTextFile(
    file,
    `model: {path: scripts/assets/arith-tiny}
data:
  template: configs/templates/problem_only.jinja
  chat_template: false
  synthetic: {format: compact, max_operand: 9, count: 20}
rollout: {n: 4, max_new_tokens: 8}
reward: {name: self_certainty}
algorithm: {kl_coef: 0}
train: {steps: ${STEPS}, prompts_per_step: 4, micro_batch: 4, lr: 1e-3, warmup_ratio: 0}
log: {dir: ${join(root, "runs")}, name: faults, save_every: 1}
`,
  );
  return file;
}

/** How a process ended and what it printed. */
export interface Ended {
  /** Exit status (128 + n when killed by signal n). */
  code: number;
  /** The signal that killed it, if one did. */
  signal: Deno.Signal | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** A started script: its process, what it has printed to stderr so far, and the promise of its end. */
export interface Started {
  /** The child process (for its pid and to signal it). */
  child: Deno.ChildProcess;
  /** Standard error printed so far. */
  stderrSoFar: () => string;
  /** Resolves when it has exited and its output is read. */
  ended: Promise<Ended>;
}

async function readAll(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
}

/** Starts `scripts/<script>` with `args` from the repository root, as `deno task` would. */
export function start(script: string, args: string[]): Started {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", join(ROOT, "scripts", script), ...args],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "", stderr = "";
  const ended = Promise.all([
    child.status,
    readAll(child.stdout, (t) => (stdout += t)),
    readAll(child.stderr, (t) => (stderr += t)),
  ]).then(([status]) => ({ code: status.code, signal: status.signal, stdout, stderr }));
  return { child, stderrSoFar: () => stderr, ended };
}

/** Runs the script to its end. */
export function run(script: string, args: string[]): Promise<Ended> {
  return start(script, args).ended;
}

/** Polls `ready` every few milliseconds until it holds; fails naming `what` after `ms`. */
export async function waitFor(
  ready: () => boolean,
  what: string,
  ms = 60_000,
  every = 5,
): Promise<void> {
  const until = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** The one run directory under `runs`, once it exists. */
export function runDirIn(runs: string): string | null {
  try {
    const dirs = [...Deno.readDirSync(runs)].filter((e) => e.isDirectory);
    return dirs.length === 1 ? join(runs, dirs[0].name) : null;
  } catch {
    return null;
  }
}

/** Steps logged in a run's metrics.jsonl so far (complete lines only). */
export function loggedSteps(runDir: string): number[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(join(runDir, "metrics.jsonl"));
  } catch {
    return [];
  }
  return text.split("\n").slice(0, -1).map((l) => JSON.parse(l).step);
}

/** Checkpoint folders of a run (complete and temporary), sorted. */
export function checkpointNames(runDir: string): string[] {
  try {
    return [...Deno.readDirSync(join(runDir, "checkpoints"))].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * What an interrupted-and-resumed run must reproduce exactly: metrics.jsonl without the wall-clock
 * fields, metadata.jsonl byte for byte, and the final checkpoint's weights and AdamW moments by hash.
 */
export interface RunSnapshot {
  /** metrics.jsonl lines without step_seconds and tokens_per_s. */
  metrics: string[];
  /** metadata.jsonl's text. */
  metadata: string;
  /** SHA-256 of the last step's model.safetensors and optimizer.safetensors. */
  weights: string;
  /** SHA-256 of the last step's trainer_state.json. */
  state: string;
}

/** Takes the {@link RunSnapshot} of a finished run. */
export async function snapshot(runDir: string): Promise<RunSnapshot> {
  const text = await Deno.readTextFile(join(runDir, "metrics.jsonl"));
  const metrics = text.trim().split("\n").map((l) => {
    const { step_seconds: _s, tokens_per_s: _t, ...rest } = JSON.parse(l);
    return JSON.stringify(rest);
  });
  const last = join(runDir, "checkpoints", `step-${String(STEPS).padStart(6, "0")}`);
  return {
    metrics,
    metadata: await Deno.readTextFile(join(runDir, "metadata.jsonl")),
    weights: `${await sha256(join(last, "model.safetensors"))} ${await sha256(
      join(last, "optimizer.safetensors"),
    )}`,
    state: await sha256(join(last, "trainer_state.json")),
  };
}

/** Throws, saying which part differs, unless `got` equals the uninterrupted run's `want`. */
export function assertSameRun(got: RunSnapshot, want: RunSnapshot, context: string): void {
  const steps = got.metrics.map((l) => JSON.parse(l).step).join(",");
  if (got.metrics.join("\n") !== want.metrics.join("\n")) {
    throw new Error(`${context}: metrics.jsonl differs from the uninterrupted run (steps ${steps})`);
  }
  if (got.metadata !== want.metadata) throw new Error(`${context}: metadata.jsonl differs`);
  if (got.weights !== want.weights) throw new Error(`${context}: final weights or moments differ`);
  if (got.state !== want.state) throw new Error(`${context}: final trainer_state.json differs`);
}

/** The pid of a process that has already exited (for stale locks and folders). */
export async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

/** Copies a run directory (a finished reference run, to damage and resume). */
export async function copyRun(from: string, to: string): Promise<string> {
  const out = await new Deno.Command("cp", { args: ["-a", from, to] }).output();
  if (!out.success) throw new Error(`cp -a ${from} ${to}: ${new TextDecoder().decode(out.stderr)}`);
  return to;
}

/** Removes the checkpoints after `step`, as if the run had been stopped right after saving `step`. */
export async function dropCheckpointsAfter(runDir: string, step: number): Promise<void> {
  for (let s = step + 1; s <= STEPS; s++) {
    await Deno.remove(join(runDir, "checkpoints", `step-${String(s).padStart(6, "0")}`), { recursive: true });
  }
}

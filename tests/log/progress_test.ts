import { formatDuration, ProgressBar } from "../../lib/log/progress.ts";

function clock(stepMs: number): { now: () => number; tick: () => void } {
  let t = 0;
  return { now: () => t, tick: () => void (t += stepMs) };
}

Deno.test("durations format as m:ss or h:mm:ss", () => {
  const got = [formatDuration(0), formatDuration(61_000), formatDuration(3_723_000), formatDuration(NaN)];
  if (got.join(" ") !== "0:00 1:01 1:02:03 ?") throw new Error(got.join(" "));
});

Deno.test("without a terminal, one line every N steps and at the end, with ETA and metrics", () => {
  const out: string[] = [];
  const c = clock(2000);
  const bar = new ProgressBar({
    total: 5,
    every: 2,
    isTty: false,
    write: (s) => out.push(s),
    now: c.now,
    label: "grpo",
  });
  for (let s = 1; s <= 5; s++) {
    c.tick();
    bar.update(s, { loss: 0.123456, reward: 2 });
  }
  bar.finish();
  const want = [
    "grpo step 2/5 40% elapsed 0:04 eta 0:06 loss=0.1235 reward=2\n",
    "grpo step 4/5 80% elapsed 0:08 eta 0:02 loss=0.1235 reward=2\n",
    "grpo step 5/5 100% elapsed 0:10 eta 0:00 loss=0.1235 reward=2\n",
  ];
  if (out.join("") !== want.join("")) throw new Error(`got:\n${out.join("")}`);
  if (out.some((s) => s.includes("\r"))) throw new Error("carriage return without a terminal");
});

Deno.test("on a terminal the bar redraws in place with \\r and ends with a newline", () => {
  const out: string[] = [];
  const c = clock(1000);
  const bar = new ProgressBar({
    total: 4,
    initial: 2,
    isTty: true,
    width: 4,
    write: (s) => out.push(s),
    now: c.now,
  });
  c.tick();
  bar.update(3, { loss: 123456.7 });
  c.tick();
  bar.update(4);
  bar.finish();
  bar.finish();
  // Resumed at 2: the ETA uses only steps timed here (1 s per step).
  if (out[0] !== "\rtrain ███░ 3/4  75% 0:01<0:01 loss=1.23e+5") throw new Error(JSON.stringify(out[0]));
  const line2 = "\rtrain ████ 4/4 100% 0:02<0:00";
  if (!out[1].startsWith(line2) || out[1].length !== out[0].length || out[1].trimEnd() !== line2) {
    throw new Error(`second draw must cover the first: ${JSON.stringify(out[1])}`);
  }
  if (out.length !== 3 || out[2] !== "\n") throw new Error(JSON.stringify(out));
});

import { learningRate, lrMultiplier, resolveWarmupSteps } from "../../lib/rl/schedule.ts";
import { assertClose, assertThrowsWith } from "../support/numeric.ts";

const mult = (schedule: "constant" | "cosine", w: number, t: number, steps: number[], minLrRatio = 0) =>
  steps.map((s) => lrMultiplier(s, { schedule, warmupSteps: w, totalSteps: t, minLrRatio }));

Deno.test("constant with warmup matches transformers' get_constant_schedule_with_warmup", () => {
  assertClose(
    mult("constant", 4, 10, [0, 1, 2, 3, 4, 9]),
    [0, 0.25, 0.5, 0.75, 1, 1],
    { atol: 0 },
    "warmup 4",
  );
  assertClose(mult("constant", 0, 10, [0, 5]), [1, 1], { atol: 0 }, "no warmup");
});

Deno.test("cosine with warmup matches transformers' get_cosine_schedule_with_warmup", () => {
  // W = 2, T = 10: warmup 0, 0.5; then ½(1 + cos(π·p)), p = (s − 2) / 8.
  assertClose(
    mult("cosine", 2, 10, [0, 1, 2, 4, 6, 8, 10]),
    [0, 0.5, 1, 0.5 * (1 + Math.SQRT1_2), 0.5, 0.5 * (1 - Math.SQRT1_2), 0],
    { atol: 1e-15 },
    "cosine",
  );
  // Past the end the rate stays at its floor (transformers would rise again).
  assertClose(mult("cosine", 2, 10, [12]), [0], { atol: 1e-15 }, "past the end");
  // Floor ρ = 0.1: m·(1 − ρ) + ρ as get_cosine_with_min_lr_schedule_with_warmup.
  assertClose(mult("cosine", 2, 10, [1, 6, 10], 0.1), [0.5, 0.55, 0.1], { atol: 1e-15 }, "min lr ratio");
  assertClose([learningRate(6, 3e-6, { schedule: "cosine", warmupSteps: 2, totalSteps: 10 })], [1.5e-6], {
    atol: 1e-21,
  }, "lr");
});

Deno.test("warmup steps resolve like TrainingArguments.get_warmup_steps", () => {
  assertClose(
    [
      resolveWarmupSteps({ warmupSteps: 0, warmupRatio: 0.1, totalSteps: 58 }),
      resolveWarmupSteps({ warmupSteps: 5, warmupRatio: 0.1, totalSteps: 58 }),
      resolveWarmupSteps({ warmupSteps: 0, warmupRatio: 0, totalSteps: 10 }),
    ],
    [6, 5, 0],
    { atol: 0 },
    "warmup",
  );
});

Deno.test("schedules reject impossible arguments", async () => {
  await assertThrowsWith(
    () => lrMultiplier(-1, { schedule: "constant", warmupSteps: 0, totalSteps: 1 }),
    "step is -1",
  );
  await assertThrowsWith(
    () => lrMultiplier(0, { schedule: "linear" as "constant", warmupSteps: 0, totalSteps: 1 }),
    '"linear" is not one of constant, cosine',
  );
  await assertThrowsWith(
    () => lrMultiplier(0, { schedule: "cosine", warmupSteps: 0, totalSteps: 1, minLrRatio: 2 }),
    "minLrRatio 2",
  );
});

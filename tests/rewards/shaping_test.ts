import assert from "node:assert/strict";
import {
  discretize,
  hybrid,
  inExtremeFraction,
  minMax,
  percentileFilter,
  percentileMask,
  shapingFromConfig,
  zScore,
} from "../../lib/rewards/shaping.ts";
import type { RewardFn } from "../../lib/rewards/types.ts";
import { assertClose, assertThrowsWith } from "../support/numeric.ts";
import { group } from "./fixtures.ts";

const EXACT = { atol: 1e-15 };

Deno.test("shaping: z-score with sample and population std", () => {
  // mean 2, sample std 1, population std sqrt(2/3)
  assertClose(zScore([1, 2, 3]), [-1 / (1 + 1e-6), 0, 1 / (1 + 1e-6)], EXACT, "sample");
  assertClose(
    zScore([1, 2, 3], { std: "population", eps: 0 }),
    [-1.224744871391589, 0, 1.224744871391589],
    EXACT,
    "pop",
  );
  // mean 5, population std 2, sample std sqrt(32/7)
  const v = [2, 4, 4, 4, 5, 5, 7, 9];
  assertClose(zScore(v, { std: "population", eps: 0 }), [-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2], EXACT, "pop 8");
  const s = Math.sqrt(32 / 7);
  assertClose(zScore(v, { eps: 0 }), v.map((x) => (x - 5) / s), EXACT, "sample 8");
  assertClose(zScore(v, { eps: 0.5 }), v.map((x) => (x - 5) / (s + 0.5)), EXACT, "eps");
});

Deno.test("shaping: z-score of degenerate groups is zero", () => {
  assert.deepEqual(zScore([3, 3, 3]), [0, 0, 0]);
  assert.deepEqual(zScore([3, 3, 3], { eps: 0 }), [0, 0, 0]);
  assert.deepEqual(zScore([7]), [0]);
  assert.deepEqual(zScore([]), []);
});

Deno.test("shaping: min-max to [0, 1], constant groups to zeros", () => {
  assert.deepEqual(minMax([2, 4, 3]), [0, 1, 0.5]);
  assert.deepEqual(minMax([-1, 1, 0, 3]), [0, 0.5, 0.25, 1]);
  assert.deepEqual(minMax([5, 5]), [0, 0]);
  assert.deepEqual(minMax([]), []);
});

Deno.test("shaping: extreme fractions take ceil(fraction * n) ranks plus boundary ties", () => {
  assert.deepEqual(inExtremeFraction([5, 1, 3, 4], 0.25, "top"), [true, false, false, false]);
  assert.deepEqual(inExtremeFraction([5, 1, 3, 4], 0.5, "bottom"), [false, true, true, false]);
  // 0.25 of 5 is 1.25 → 2 ranks; 0.3 of 10 is 3 ranks despite 0.3 * 10 = 3.0000000000000004.
  assert.deepEqual(inExtremeFraction([1, 2, 3, 4, 5], 0.25, "top"), [false, false, false, true, true]);
  const ten = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  assert.equal(inExtremeFraction(ten, 0.3, "top").filter(Boolean).length, 3);
  // Ties with the k-th value are all in, whatever their position.
  assert.deepEqual(inExtremeFraction([3, 1, 3, 0], 0.25, "top"), [true, false, true, false]);
  assert.deepEqual(inExtremeFraction([3, 1, 3, 0], 0, "top"), [false, false, false, false]);
  assert.deepEqual(inExtremeFraction([3, 1], 1, "bottom"), [true, true]);
});

Deno.test("shaping: percentile filter keeps the extremes and zeroes the rest", () => {
  assert.deepEqual(percentileFilter([5, 1, 3, 4], { top: 0.25, bottom: 0.25 }), [5, 1, 0, 0]);
  assert.deepEqual(percentileFilter([5, 1, 3, 4], { top: 0.5, bottom: 0 }), [5, 0, 0, 4]);
  assert.deepEqual(percentileFilter([3, 3, 1, 0], { top: 0.25, bottom: 0 }), [3, 3, 0, 0]);
  assert.deepEqual(percentileFilter([2, 2, 2], { top: 0.34, bottom: 0 }), [2, 2, 2]);
  assert.deepEqual(percentileFilter([5, 1], { top: 0, bottom: 0 }), [0, 0]);
});

Deno.test("shaping: percentile mask keeps the extremes, ties at a cut together", async () => {
  assert.deepEqual(percentileMask([5, 1, 3, 4], { top: 0.25, bottom: 0.25 }), [true, true, false, false]);
  assert.deepEqual(percentileMask([5, 1, 3, 4], { top: 0.5, bottom: 0 }), [true, false, false, true]);
  assert.deepEqual(percentileMask([3, 3, 1, 0], { top: 0.25, bottom: 0 }), [true, true, false, false]);
  assert.deepEqual(percentileMask([5, 1], { top: 0, bottom: 0 }), [false, false]);
  await assertThrowsWith(() => percentileMask([1, NaN], { top: 0.5, bottom: 0 }), "value 1 is NaN");
  await assertThrowsWith(() => percentileMask([1, 2], { top: 25, bottom: 0 }), "top must be a fraction");
});

Deno.test("shaping: only the percentile shaping carries a keep-mask, from the raw values", () => {
  const percentile = shapingFromConfig({ name: "percentile", top: 0.25, bottom: 0.25 });
  assert.deepEqual(percentile([5, 1, 3, 4]), [5, 1, 0, 0]);
  assert.deepEqual(percentile.keep?.([5, 1, 3, 4]), [true, true, false, false]);
  for (
    const config of [
      { name: "none" },
      { name: "zscore", eps: 1e-6, std: "sample" },
      { name: "minmax" },
      { name: "discretize", top: 0.5, bottom: 0.5, middle: 0.5 },
    ] as const
  ) {
    if (shapingFromConfig(config).keep) throw new Error(`${config.name} should keep every rollout`);
  }
});

Deno.test("shaping: discretize gives 1 / 0 at the extremes and the middle value elsewhere", () => {
  assert.deepEqual(discretize([0.9, 0.1, 0.5, 0.7], { top: 0.25, bottom: 0.25 }), [1, 0, 0.5, 0.5]);
  assert.deepEqual(discretize([0.9, 0.1, 0.5, 0.7], { top: 0.5, bottom: 0.5 }), [1, 0, 0, 1]);
  assert.deepEqual(discretize([0.9, 0.1, 0.5, 0.7], { top: 0.25, bottom: 0.25, middle: 0 }), [1, 0, 0, 0]);
  assert.deepEqual(discretize([2, 2, 2], { top: 0.5, bottom: 0.5 }), [0.5, 0.5, 0.5]);
  // The tied zeros reach both cuts, so they carry no preference.
  assert.deepEqual(discretize([1, 0, 0, 0], { top: 0.5, bottom: 0.5 }), [1, 0.5, 0.5, 0.5]);
});

Deno.test("shaping: bad input names the function and value", async () => {
  await assertThrowsWith(() => zScore([1, NaN]), "zScore", "value 1 is NaN");
  await assertThrowsWith(() => minMax([Infinity]), "minMax", "value 0");
  await assertThrowsWith(
    () => percentileFilter([1], { top: 25, bottom: 0 }),
    "top must be a fraction",
    "got 25",
  );
  await assertThrowsWith(() => discretize([1], { top: 0.5, bottom: -1 }), "bottom");
  await assertThrowsWith(() => zScore([1], { std: "biased" as "sample" }), '"sample" or "population"');
  await assertThrowsWith(() => zScore([1], { eps: -1 }), "eps");
});

Deno.test("shaping: hybrid sums weighted, individually shaped rewards", async () => {
  const a: RewardFn = () => [1, 0, 1];
  const b: RewardFn = () => [2, 4, 3];
  const g = group(["x", "y", "z"]);
  assert.deepEqual(hybrid([{ fn: a, weight: 0.5 }, { fn: b, weight: 2 }])(g), [4.5, 8, 6.5]);
  assert.deepEqual(hybrid([{ fn: a, weight: 1 }, { fn: b, weight: -1, shaping: minMax }])(g), [1, -1, 0.5]);
  assertClose(
    hybrid([{ fn: b, weight: 1, shaping: (v) => zScore(v, { std: "population", eps: 0 }) }])(g),
    [-1.224744871391589, 1.224744871391589, 0],
    EXACT,
    "z",
  );
  await assertThrowsWith(
    () => hybrid([{ fn: () => [1], weight: 1, name: "short" }])(g),
    "short returned 1 values",
    "3 rollouts",
  );
  await assertThrowsWith(() => hybrid([{ fn: a, weight: NaN }]), "component 0", "weight NaN");
  await assertThrowsWith(() => hybrid([]), "at least one component");
  await assertThrowsWith(
    () => hybrid([{ fn: () => [NaN, 0, 0], weight: 1, name: "bad" }])(g),
    "hybrid: bad",
    "value 0 is NaN",
  );
});

import assert from "node:assert/strict";
import { selfCertainty } from "../../lib/rewards/self_certainty.ts";
import { negativeEntropy } from "../../lib/rewards/entropy.ts";
import {
  meanLogprob,
  normalizedSequenceProbability,
  sequenceProbability,
  trajectoryLogprob,
} from "../../lib/rewards/trajectory.ts";
import { topGap } from "../../lib/rewards/top_gap.ts";
import { coeC, coeD1, coeD1D2, coeD2, coeR } from "../../lib/rewards/coe.ts";
import type { CompletionStats } from "../../lib/rewards/types.ts";
import { assertClose, assertThrowsWith } from "../support/numeric.ts";
import { group, stats } from "./fixtures.ts";

const g = group(["a", "b"], {
  stats: [
    stats(),
    stats({
      selfCertainty: 1.5,
      meanTokenEntropy: 2,
      trajectoryLogprob: -10,
      meanLogprob: -0.25,
      topGap: 0.2,
      coe: { d1: 0.1, d2: 0.2, mag: 0, ang: 0, r: -0.3, c: 0.9 },
    }),
  ],
});

Deno.test("intrinsic: each reward reads its own statistic", () => {
  assert.deepEqual(selfCertainty(g), [3, 1.5]);
  assert.deepEqual(negativeEntropy(g), [-0.5, -2]);
  assert.deepEqual(trajectoryLogprob(g), [-2, -10]);
  assert.deepEqual(meanLogprob(g), [-1, -0.25]);
  assert.deepEqual(topGap(g), [0.45, 0.2]);
  assert.deepEqual(coeD1(g), [0.8, 0.1]);
  assert.deepEqual(coeD2(g), [0.3, 0.2]);
  assertClose(coeD1D2(g), [1.1, 0.3], { atol: 1e-15 }, "coeD1D2");
  assert.deepEqual(coeR(g), [0.4, -0.3]);
  assert.deepEqual(coeC(g), [0.7, 0.9]);
});

Deno.test("intrinsic: sequence probabilities are exp of the sum and of the mean", () => {
  assertClose(
    sequenceProbability(g),
    [0.1353352832366127, 4.5399929762484854e-5],
    { atol: 0, rtol: 1e-15 },
    "seq",
  );
  assertClose(normalizedSequenceProbability(g), [0.36787944117144233, 0.7788007830714049], {
    atol: 0,
    rtol: 1e-15,
  }, "norm");
  // Long completions underflow, as RLSC's objective does; the normalised form does not.
  const long = group(["x"], { stats: [stats({ trajectoryLogprob: -800, meanLogprob: -0.4 })] });
  assert.deepEqual(sequenceProbability(long), [0]);
  assertClose(normalizedSequenceProbability(long), [Math.exp(-0.4)], { atol: 0, rtol: 1e-15 }, "norm long");
});

Deno.test("intrinsic: an empty group gives no rewards", () => {
  assert.deepEqual(selfCertainty(group([])), []);
});

Deno.test("intrinsic: a rollout without stats is an error naming the reward and rollout", async () => {
  const partial = group(["a", "b"], { stats: [stats(), undefined] });
  await assertThrowsWith(
    () => selfCertainty(partial),
    "selfCertainty",
    "rollout 1 of 2",
    "no stats",
    "scoring pass",
  );
  await assertThrowsWith(() => coeD1D2(partial), "coeD1D2", "rollout 1");
});

Deno.test("intrinsic: non-finite or absent statistics are errors naming the field", async () => {
  await assertThrowsWith(
    () => selfCertainty(group(["a"], { stats: [stats({ selfCertainty: NaN })] })),
    "stats.selfCertainty is NaN",
  );
  await assertThrowsWith(
    () => negativeEntropy(group(["a"], { stats: [stats({ meanTokenEntropy: Infinity })] })),
    "stats.meanTokenEntropy",
  );
  const noCoe = { ...stats(), coe: undefined } as unknown as CompletionStats;
  await assertThrowsWith(
    () => coeR(group(["a"], { stats: [noCoe] })),
    "coeR",
    "rollout 0",
    "stats.coe.r is undefined",
  );
  await assertThrowsWith(
    () => coeD1D2(group(["a"], { stats: [noCoe] })),
    "stats.coe.d1 + coe.d2 is undefined",
  );
});

Deno.test("intrinsic: top_gap over the answer span averages the per-token gaps of the answer only", async () => {
  const g = group(["a \\boxed{1}", "b \\boxed{2}", "no answer"], {
    stats: [
      stats({ tokenTopGap: [0, 0.5, 1, 0.25] }),
      stats({ tokenTopGap: [0.3, 0.6] }),
      stats({ tokenTopGap: [0.9] }),
    ],
  });
  g.rollouts[0].answerSpan = { start: 1, end: 4 };
  g.rollouts[1].answerSpan = { start: 0, end: 1 };
  g.rollouts[2].answerSpan = null;
  // The whole-completion mean (stats.topGap, 0.45) is not what the answer span gives.
  assertClose(
    topGap(g, { span: "answer" }),
    [(0.5 + 1 + 0.25) / 3, 0.3, 0],
    { atol: 1e-15, rtol: 0 },
    "answer span",
  );
  delete g.rollouts[1].answerSpan;
  await assertThrowsWith(() => topGap(g, { span: "answer" }), "rollout 1 has no answerSpan");
  g.rollouts[1].answerSpan = { start: 1, end: 5 };
  await assertThrowsWith(() => topGap(g, { span: "answer" }), "outside its 2 tokens");
  g.rollouts[1].stats = stats();
  await assertThrowsWith(() => topGap(g, { span: "answer" }), "rollout 1 has no stats.tokenTopGap");
});

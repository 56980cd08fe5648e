import assert from "node:assert/strict";
import {
  aupr,
  auroc,
  averageRanks,
  avgAtK,
  erfc,
  fprAt95,
  fprAtTpr,
  highestScoreCorrect,
  labelAccuracy,
  majAtK,
  majorityAnswer,
  majorityShare,
  mannWhitneyU,
  modelCollapseStep,
  passAtK,
  pointBiserial,
  rewardAccuracy,
} from "../../lib/metrics/metrics.ts";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} is not ${b}`);

Deno.test("auroc: pairs ranked correctly, ties counting one half", () => {
  close(auroc([0.9, 0.8, 0.3, 0.1], [true, false, true, false]), 0.75);
  close(auroc([1, 1, 1, 1], [1, 0, 1, 0]), 0.5);
  // pairs: 2>1, 2>0, 1=1 (half), 1>0 → 3.5 of 4
  close(auroc([2, 1, 1, 0], [true, true, false, false]), 0.875);
  close(auroc([0, 1], [true, false]), 0);
});

Deno.test("aupr: step-wise average precision over distinct thresholds", () => {
  // 0.9 (P=1, R=.5), 0.8 miss, 0.3 (P=2/3, R=1)
  close(aupr([0.9, 0.8, 0.3, 0.1], [true, false, true, false]), 0.5 * 1 + 0.5 * (2 / 3));
  // A tie at 1 holds one of each: P=1/2 at R=1/2, then P=2/3 at R=1.
  close(aupr([1, 1, 0], [true, false, true]), 0.25 + 0.5 * (2 / 3));
  close(aupr([3, 2, 1], [true, true, false]), 1);
});

Deno.test("fprAt95: FPR at the first threshold reaching 95% TPR", () => {
  close(fprAt95([5, 4, 3, 2, 1], [true, true, false, true, false]), 0.5);
  close(fprAt95([0.9, 0.8, 0.7, 0.1], [true, true, false, false]), 0);
  // 19 of 20 positives is exactly 95%.
  const scores = [...Array.from({ length: 19 }, (_, i) => 100 - i), 50, 40, 30];
  const labels = [...Array(19).fill(true), false, true, false];
  close(fprAt95(scores, labels), 0);
  close(fprAtTpr([4, 3, 2, 1], [1, 0, 1, 0], 1), 0.5);
  assert.throws(() => fprAtTpr([1, 0], [1, 0], 0), /tpr is 0/);
});

Deno.test("mannWhitneyU: U, tie-corrected normal p-value and effect size", () => {
  const { u, p, r, z } = mannWhitneyU([1.2, 1.5, 1.9, 2.4], [0.3, 0.8, 1.1, 1.3]);
  assert.equal(u, 15);
  // σ² = 4·4/12·9 = 12; z_test = (15 − 8 − 0.5)/√12; p = 2·P(Z > z_test)
  close(z, 7 / Math.sqrt(12));
  close(p, 2 * 0.5 * erfc(6.5 / Math.sqrt(12) / Math.SQRT2));
  close(p, 0.06060196971200607, 1e-12);
  close(r, 7 / Math.sqrt(12) / Math.sqrt(8));
  const reversed = mannWhitneyU([0.3, 0.8, 1.1, 1.3], [1.2, 1.5, 1.9, 2.4]);
  assert.equal(reversed.u, 1);
  close(reversed.p, p);
  close(reversed.r, -r);
  const tied = mannWhitneyU([1, 1], [1, 1, 1]);
  assert.deepEqual(tied, { u: 3, p: 1, r: 0, z: 0 });
});

Deno.test("mannWhitneyU greater: one-sided p, half the two-sided one in the expected direction", () => {
  const a = [1.2, 1.5, 1.9, 2.4], b = [0.3, 0.8, 1.1, 1.3];
  const greater = mannWhitneyU(a, b, { alternative: "greater" });
  close(greater.p, 0.5 * erfc(6.5 / Math.sqrt(12) / Math.SQRT2));
  close(greater.p, mannWhitneyU(a, b).p / 2);
  // Against the expected direction the one-sided p is near 1, the two-sided one is not.
  const against = mannWhitneyU(b, a, { alternative: "greater" });
  close(against.p, 0.5 * erfc((1 - 8 - 0.5) / Math.sqrt(12) / Math.SQRT2));
  assert.ok(against.p > 0.97);
  assert.throws(
    () => mannWhitneyU(a, b, { alternative: "less" as "greater" }),
    /alternative "less" must be "two-sided" or "greater"/,
  );
});

Deno.test("pointBiserial: Pearson r of the signal against 0/1 correctness", () => {
  // scores 3,2 | 1,0: M1 − M0 = 2, population std √1.25, √(2·2/16) = 0.5
  close(pointBiserial([3, 2, 1, 0], [true, true, false, false]), (2 / Math.sqrt(1.25)) * 0.5);
  close(pointBiserial([0, 1, 2, 3], [1, 1, 0, 0]), -(2 / Math.sqrt(1.25)) * 0.5);
  assert.equal(pointBiserial([5, 5, 5], [true, false, true]), 0);
  assert.throws(() => pointBiserial([1, 2], [true, true]), /pointBiserial: needs both classes/);
});

Deno.test("majorityShare (p_maj) and highestScoreCorrect (certainty label, URLVR eq. 43)", () => {
  close(majorityShare(["4", "5", "4", null]), 0.5);
  close(majorityShare([null, null]), 0);
  close(majorityShare(["0.5", ".5", "2"], (x, y) => Number(x) === Number(y)), 2 / 3);
  assert.throws(() => majorityShare([]), /no answers/);
  assert.equal(highestScoreCorrect([0.2, 0.9, 0.5], [true, false, true]), false);
  assert.equal(highestScoreCorrect([0.9, 0.9, 0.5], [true, false, false]), true);
  assert.equal(highestScoreCorrect([0.1, 0.3], [true, null]), null);
  assert.throws(() => highestScoreCorrect([1, 2], [true]), /2 scores but 1 correctness/);
});

Deno.test("averageRanks gives tied values the mean rank", () => {
  assert.deepEqual(averageRanks([10, 20, 20, 5]), { ranks: [2, 3.5, 3.5, 1], tieSizes: [1, 1, 2] });
});

Deno.test("erfc matches known values", () => {
  close(erfc(0), 1);
  close(erfc(1), 0.15729920705028513, 1e-15);
  close(erfc(3), 2.209049699858544e-5, 1e-19);
  close(erfc(-1), 1.8427007929497148, 1e-15);
  close(erfc(10) / 2.088487583762545e-45, 1, 1e-12);
});

Deno.test("avgAtK: the fraction of the first k samples correct", () => {
  assert.equal(avgAtK([true, false, true, true], 4), 0.75);
  assert.equal(avgAtK([true, false, true, true], 2), 0.5);
  assert.equal(avgAtK([false], 1), 0);
  assert.throws(() => avgAtK([true, false], 3), /avgAtK: k = 3 must be between 1 and 2/);
  assert.throws(() => avgAtK([true], 0), /between 1 and 1/);
  assert.throws(() => avgAtK([true], 0.5), /non-negative integer/);
});

Deno.test("passAtK: unbiased estimator", () => {
  close(passAtK(10, 3, 1), 0.3);
  close(passAtK(10, 3, 5), 1 - 21 / 252);
  assert.equal(passAtK(5, 5, 1), 1);
  assert.equal(passAtK(5, 0, 3), 0);
  assert.equal(passAtK(4, 1, 4), 1);
  assert.throws(() => passAtK(4, 5, 1), /exceeds/);
  assert.throws(() => passAtK(4, 1, 5), /between 1 and n/);
  assert.throws(() => passAtK(4.5, 1, 1), /non-negative integer/);
});

Deno.test("majorityAnswer and majAtK: earliest answer wins ties, null abstains", () => {
  assert.deepEqual(majorityAnswer(["4", "5", "4", null]), { answer: "4", index: 0, count: 2 });
  assert.deepEqual(majorityAnswer(["5", "4"]), { answer: "5", index: 0, count: 1 });
  assert.deepEqual(majorityAnswer([null, null]), { answer: null, index: -1, count: 0 });
  const samples = [
    { answer: "4", correct: true },
    { answer: "5", correct: false },
    { answer: "5", correct: false },
    { answer: "4", correct: true },
    { answer: "4", correct: true },
  ];
  assert.equal(majAtK(samples, 1), 1);
  assert.equal(majAtK(samples, 3), 0);
  assert.equal(majAtK(samples, 5), 1);
  assert.equal(majAtK([{ answer: null, correct: false }], 1), 0);
  assert.throws(() => majAtK(samples, 6), /between 1 and 5/);
  // A custom equality merges equivalent spellings.
  const loose = (a: string, b: string) => Number(a) === Number(b);
  assert.equal(
    majAtK(
      [{ answer: "0.5", correct: true }, { answer: "2", correct: false }, { answer: ".5", correct: true }],
      3,
      loose,
    ),
    1,
  );
});

Deno.test("label accuracy, reward accuracy and the Model Collapse Step", () => {
  close(labelAccuracy(["4", "7", null], ["4", "8", "2"]), 1 / 3);
  close(rewardAccuracy([1, 0, 1, 1], [true, false, false, true]), 0.75);
  close(rewardAccuracy([0.7, 0.2], [true, true], 0.5), 0.5);
  assert.equal(
    modelCollapseStep([{ step: 3, value: 0.004 }, { step: 1, value: 0.6 }, { step: 2, value: 0.2 }]),
    3,
  );
  assert.equal(modelCollapseStep([{ step: 1, value: 0.5 }]), null);
  assert.equal(modelCollapseStep([{ step: 1, value: 0.05 }], 0.1), 1);
  assert.throws(() => labelAccuracy(["1"], ["1", "2"]), /1 pseudo-labels but 2/);
  assert.throws(() => modelCollapseStep([{ step: 1, value: NaN }]), /series\[0\]/);
});

Deno.test("invalid inputs fail with a clear message", () => {
  assert.throws(() => auroc([1, NaN], [true, false]), /auroc: scores\[1\] is NaN/);
  assert.throws(() => auroc([1, 2, 3], [true, false]), /3 elements but labels has 2/);
  assert.throws(() => auroc([1, 2], [true, true]), /needs both classes, got 2 positive and 0 negative/);
  assert.throws(() => aupr([1, 2], [false, false]), /every response is incorrect/);
  assert.throws(() => fprAt95([], []), /empty/);
  assert.throws(() => auroc([1, 2], [true, "yes" as unknown as boolean]), /labels\[1\] is "yes"/);
  assert.throws(() => mannWhitneyU([], [1]), /at least one value/);
  assert.throws(() => mannWhitneyU([1, Infinity], [1]), /a\[1\] is Infinity/);
  assert.throws(() => rewardAccuracy([1], [true, false]), /1 rewards but 2/);
});

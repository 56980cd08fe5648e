/**
 * Metrics for "does the signal track correctness": AUROC, AUPR (average precision), FPR at 95% TPR,
 * the Mann–Whitney U test with effect size, pass@k, maj@k, label and reward accuracy of pseudo-labels
 * and the Model Collapse Step. Ties are handled exactly (average ranks, one ROC point per distinct
 * score); invalid input throws an error that names the function and the offending element.
 *
 * @module
 */

/** A binary label: `true`/`1` is the positive class (a correct response), `false`/`0` the negative. */
export type BinaryLabel = boolean | 0 | 1;

function validateScores(fn: string, scores: ArrayLike<number>, name = "scores"): number[] {
  if (scores === null || typeof scores !== "object" || typeof scores.length !== "number") {
    throw new TypeError(`${fn}: ${name} must be an array of numbers`);
  }
  const out: number[] = new Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new RangeError(`${fn}: ${name}[${i}] is ${String(v)}; every value must be a finite number`);
    }
    out[i] = v;
  }
  return out;
}

function validateBinary(fn: string, scores: ArrayLike<number>, labels: ArrayLike<BinaryLabel>) {
  const s = validateScores(fn, scores);
  if (labels === null || typeof labels !== "object" || typeof labels.length !== "number") {
    throw new TypeError(`${fn}: labels must be an array of booleans or 0/1`);
  }
  if (labels.length !== s.length) {
    throw new RangeError(
      `${fn}: scores has ${s.length} elements but labels has ${labels.length}; they must match`,
    );
  }
  if (s.length === 0) throw new RangeError(`${fn}: scores and labels are empty`);
  const y: boolean[] = new Array(s.length);
  let positives = 0;
  for (let i = 0; i < s.length; i++) {
    const l = labels[i];
    if (l !== true && l !== false && l !== 0 && l !== 1) {
      throw new TypeError(`${fn}: labels[${i}] is ${JSON.stringify(l)}; labels must be true/false or 1/0`);
    }
    y[i] = l === true || l === 1;
    if (y[i]) positives++;
  }
  const negatives = s.length - positives;
  if (positives === 0 || negatives === 0) {
    throw new RangeError(
      `${fn}: needs both classes, got ${positives} positive and ${negatives} negative labels ` +
        `(the metric is undefined when every response is ${positives === 0 ? "incorrect" : "correct"})`,
    );
  }
  return { scores: s, labels: y, positives, negatives };
}

/** Average ranks (1-based, ties share the mean of their ranks) and the sizes of the tie groups. */
export function averageRanks(values: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  const tieSizes: number[] = [];
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    tieSizes.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, tieSizes };
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative,
 * ties counting one half (equal to scikit-learn's `roc_auc_score`).
 *
 * @example
 * ```ts
 * import { auroc } from "./mod.ts";
 * auroc([0.9, 0.8, 0.3, 0.1], [true, false, true, false]); // 0.75
 * ```
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<BinaryLabel>): number {
  const v = validateBinary("auroc", scores, labels);
  const { ranks } = averageRanks(v.scores);
  let rankSum = 0;
  for (let i = 0; i < ranks.length; i++) if (v.labels[i]) rankSum += ranks[i];
  return (rankSum - (v.positives * (v.positives + 1)) / 2) / (v.positives * v.negatives);
}

/** One ROC / precision–recall point per distinct score, from the highest score down. */
interface CurvePoint {
  threshold: number;
  tp: number;
  fp: number;
}

function curve(scores: number[], labels: boolean[]): CurvePoint[] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const points: CurvePoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    if (labels[order[k]]) tp++;
    else fp++;
    const next = order[k + 1];
    if (next === undefined || scores[next] !== scores[order[k]]) {
      points.push({ threshold: scores[order[k]], tp, fp });
    }
  }
  return points;
}

/**
 * Average precision, the step-wise area under the precision–recall curve as scikit-learn's
 * `average_precision_score` computes it: Σ (Rₖ − Rₖ₋₁)·Pₖ over distinct thresholds.
 *
 * @example
 * ```ts
 * import { aupr } from "./mod.ts";
 * aupr([0.9, 0.8, 0.3, 0.1], [true, false, true, false]); // 0.8333…
 * ```
 */
export function aupr(scores: ArrayLike<number>, labels: ArrayLike<BinaryLabel>): number {
  const v = validateBinary("aupr", scores, labels);
  let ap = 0;
  let previousRecall = 0;
  for (const p of curve(v.scores, v.labels)) {
    const recall = p.tp / v.positives;
    ap += (recall - previousRecall) * (p.tp / (p.tp + p.fp));
    previousRecall = recall;
  }
  return ap;
}

/**
 * False-positive rate at the first threshold (scanning from the highest score down, one point per
 * distinct score) whose true-positive rate reaches `tpr`.
 *
 * @example
 * ```ts
 * import { fprAtTpr } from "./mod.ts";
 * fprAtTpr([4, 3, 2, 1], [1, 0, 1, 0], 0.5); // 0
 * ```
 */
export function fprAtTpr(scores: ArrayLike<number>, labels: ArrayLike<BinaryLabel>, tpr: number): number {
  if (typeof tpr !== "number" || !(tpr > 0 && tpr <= 1)) {
    throw new RangeError(`fprAtTpr: tpr is ${tpr}; it must be in (0, 1]`);
  }
  const v = validateBinary("fprAtTpr", scores, labels);
  for (const p of curve(v.scores, v.labels)) {
    // The small slack keeps 19/20 from missing 0.95 through rounding.
    if (p.tp / v.positives >= tpr - 1e-12) return p.fp / v.negatives;
  }
  return 1;
}

/**
 * FPR@95: the false-positive rate at the first threshold reaching 95% true-positive rate. Lower is
 * better; a signal that ranks every correct response first scores 0.
 *
 * @example
 * ```ts
 * import { fprAt95 } from "./mod.ts";
 * fprAt95([0.9, 0.8, 0.7, 0.1], [true, true, false, false]); // 0
 * ```
 */
export function fprAt95(scores: ArrayLike<number>, labels: ArrayLike<BinaryLabel>): number {
  return fprAtTpr(scores, labels, 0.95);
}

/** Result of {@link mannWhitneyU}. */
export interface MannWhitneyResult {
  /** U statistic of the first sample: the number of (a, b) pairs with a > b, ties counting ½. */
  u: number;
  /** p-value of the chosen alternative, normal approximation with tie and continuity correction. */
  p: number;
  /** Effect size r = z/√N, signed: positive when the first sample tends to be larger. */
  r: number;
  /** Signed z statistic (without continuity correction) behind r. */
  z: number;
}

/**
 * The alternative hypothesis of {@link mannWhitneyU}: `"two-sided"` (the samples differ) or `"greater"`
 * (the first sample tends to be larger — Intuitor's one-sided test that correct responses get higher
 * self-certainty than incorrect ones).
 */
export type MannWhitneyAlternative = "two-sided" | "greater";

/** Options of {@link mannWhitneyU}. */
export interface MannWhitneyOptions {
  /** The alternative hypothesis (default `"two-sided"`). */
  alternative?: MannWhitneyAlternative;
}

/**
 * Mann–Whitney U test of sample `a` against sample `b` (normal approximation with tie correction and
 * continuity correction, as SciPy's `mannwhitneyu(method="asymptotic")` with the same `alternative`),
 * with the effect size r = z/√(n₁+n₂).
 *
 * @example
 * ```ts
 * import { mannWhitneyU } from "./mod.ts";
 * const { u, p, r } = mannWhitneyU([1.2, 1.5, 1.9, 2.4], [0.3, 0.8, 1.1, 1.3]);
 * // u = 15 (every a above every b but 1.2 < 1.3), p ≈ 0.061, r ≈ 0.71
 * mannWhitneyU([1.2, 1.5, 1.9, 2.4], [0.3, 0.8, 1.1, 1.3], { alternative: "greater" }).p; // ≈ 0.030
 * ```
 */
export function mannWhitneyU(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: MannWhitneyOptions = {},
): MannWhitneyResult {
  const alternative = options.alternative ?? "two-sided";
  if (alternative !== "two-sided" && alternative !== "greater") {
    throw new RangeError(
      `mannWhitneyU: alternative ${JSON.stringify(alternative)} must be "two-sided" or "greater"`,
    );
  }
  const x = validateScores("mannWhitneyU", a, "a");
  const y = validateScores("mannWhitneyU", b, "b");
  if (x.length === 0 || y.length === 0) {
    throw new RangeError(
      `mannWhitneyU: both samples need at least one value (got ${x.length} and ${y.length})`,
    );
  }
  const n1 = x.length;
  const n2 = y.length;
  const n = n1 + n2;
  const { ranks, tieSizes } = averageRanks([...x, ...y]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i];
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const mu = (n1 * n2) / 2;
  const tieTerm = tieSizes.reduce((s, t) => s + t * t * t - t, 0);
  const variance = n > 1 ? ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))) : 0;
  if (!(variance > 0)) return { u: u1, p: 1, r: 0, z: 0 };
  const sigma = Math.sqrt(variance);
  const p = alternative === "greater"
    ? normalSf((u1 - mu - 0.5) / sigma)
    : Math.min(1, 2 * normalSf((Math.max(u1, n1 * n2 - u1) - mu - 0.5) / sigma));
  const z = (u1 - mu) / sigma;
  return { u: u1, p, r: z / Math.sqrt(n), z };
}

/**
 * Point-biserial correlation between a signal and binary correctness (URLVR App. B.3): Pearson's r
 * of the scores against labels coded 1 (correct) and 0 (incorrect), equal to SciPy's `pointbiserialr`.
 * Positive when correct responses score higher; 0 when the scores are constant.
 *
 * @example
 * ```ts
 * import { pointBiserial } from "./mod.ts";
 * pointBiserial([3, 2, 1, 0], [true, true, false, false]); // 0.894…
 * ```
 */
export function pointBiserial(scores: ArrayLike<number>, labels: ArrayLike<BinaryLabel>): number {
  const v = validateBinary("pointBiserial", scores, labels);
  const n = v.scores.length;
  const mean = v.scores.reduce((s, x) => s + x, 0) / n;
  let sum1 = 0;
  let ss = 0;
  v.scores.forEach((x, i) => {
    if (v.labels[i]) sum1 += x;
    ss += (x - mean) ** 2;
  });
  if (ss === 0) return 0;
  const mean1 = sum1 / v.positives;
  const mean0 = (mean * n - sum1) / v.negatives;
  // r_pb = (M₁ − M₀)/s_n · √(n₁n₀/n²), the Pearson correlation with a 0/1 variable.
  return ((mean1 - mean0) / Math.sqrt(ss / n)) * Math.sqrt((v.positives * v.negatives) / (n * n));
}

/** Complementary error function, accurate to ~1e-15 relative (series below 3, continued fraction above). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 3) {
    // erf(x) = 2/√π · e^{-x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)); every term is positive.
    let term = x;
    let sum = x;
    for (let k = 1; k < 200; k++) {
      term *= (2 * x * x) / (2 * k + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  // erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from the tail.
  let f = x;
  for (let k = 60; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** Upper tail of the standard normal distribution, P(Z > z). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

function validateCount(fn: string, name: string, v: number) {
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`${fn}: ${name} is ${v}; it must be a non-negative integer`);
  }
}

/**
 * Unbiased pass@k estimator (Chen et al., 2021): the probability that at least one of k samples
 * drawn without replacement from n, of which c are correct, is correct: 1 − C(n−c, k)/C(n, k).
 *
 * @example
 * ```ts
 * import { passAtK } from "./mod.ts";
 * passAtK(10, 3, 1); // 0.3
 * passAtK(10, 3, 5); // 0.9166…
 * ```
 */
export function passAtK(n: number, c: number, k: number): number {
  validateCount("passAtK", "n", n);
  validateCount("passAtK", "c", c);
  validateCount("passAtK", "k", k);
  if (c > n) throw new RangeError(`passAtK: c = ${c} correct exceeds n = ${n} samples`);
  if (k < 1 || k > n) throw new RangeError(`passAtK: k = ${k} must be between 1 and n = ${n}`);
  if (n - c < k) return 1;
  let miss = 1;
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - k / i;
  return 1 - miss;
}

/**
 * avg@k for one problem: the fraction of its first k samples that are correct. Averaged over problems
 * it is the accuracy URLVR reports as avg@32 (32 samples at temperature 0.6, top-p 0.95; URLVR §4.1.1).
 *
 * @example
 * ```ts
 * import { avgAtK } from "./metrics.ts";
 * avgAtK([true, false, true, true], 4); // 0.75
 * ```
 */
export function avgAtK(correct: readonly boolean[], k: number): number {
  validateCount("avgAtK", "k", k);
  if (k < 1 || k > correct.length) {
    throw new RangeError(`avgAtK: k = ${k} must be between 1 and ${correct.length}`);
  }
  let hits = 0;
  for (let i = 0; i < k; i++) if (correct[i]) hits++;
  return hits / k;
}

/** The winner of a majority vote and its support. */
export interface MajorityAnswer {
  /** The most frequent answer (the earliest one among equally frequent answers), or null. */
  answer: string | null;
  /** Index of the first sample that gave it, or -1. */
  index: number;
  /** How many samples agree with it. */
  count: number;
}

/**
 * Majority vote over answers; null answers abstain. Answers are grouped by `equals` (default: equal
 * strings after trimming), so a mathematical equivalence can merge `0.5` and `\frac12`.
 *
 * @example
 * ```ts
 * import { majorityAnswer } from "./mod.ts";
 * majorityAnswer(["4", "5", "4", null]); // { answer: "4", index: 0, count: 2 }
 * ```
 */
export function majorityAnswer(
  answers: ReadonlyArray<string | null>,
  equals: (a: string, b: string) => boolean = (a, b) => a.trim() === b.trim(),
): MajorityAnswer {
  const groups: { answer: string; index: number; count: number }[] = [];
  answers.forEach((answer, index) => {
    if (answer === null || answer === undefined) return;
    const group = groups.find((g) => equals(answer, g.answer));
    if (group) group.count++;
    else groups.push({ answer, index, count: 1 });
  });
  let best: MajorityAnswer = { answer: null, index: -1, count: 0 };
  for (const g of groups) if (g.count > best.count) best = g;
  return best;
}

/**
 * p_maj (URLVR §3 and App. A.1): the share of a group's responses whose answer is the majority answer,
 * the sample estimate of the policy's probability mass on it. Responses without an answer count in the
 * denominator (they are part of the policy's mass); 0 when no response has an answer.
 *
 * @example
 * ```ts
 * import { majorityShare } from "./mod.ts";
 * majorityShare(["4", "5", "4", null]); // 0.5
 * ```
 */
export function majorityShare(
  answers: ReadonlyArray<string | null>,
  equals?: (a: string, b: string) => boolean,
): number {
  if (answers.length === 0) throw new RangeError("majorityShare: the group has no answers");
  return majorityAnswer(answers, equals).count / answers.length;
}

/**
 * Whether the highest-scoring response of a group is correct: one term of the label accuracy of a
 * certainty-based reward (URLVR App. B.2.3, eq. 43, j* = argmax_j r_cert). Ties go to the earliest
 * response, as `argmax` does; null when that response's correctness is unknown.
 *
 * @example
 * ```ts
 * import { highestScoreCorrect } from "./mod.ts";
 * highestScoreCorrect([0.2, 0.9, 0.5], [true, false, true]); // false
 * ```
 */
export function highestScoreCorrect(
  scores: ArrayLike<number>,
  correct: ArrayLike<boolean | null>,
): boolean | null {
  const s = validateScores("highestScoreCorrect", scores);
  if (s.length === 0) throw new RangeError("highestScoreCorrect: the group is empty");
  if (correct.length !== s.length) {
    throw new RangeError(
      `highestScoreCorrect: ${s.length} scores but ${correct.length} correctness labels; they must match`,
    );
  }
  let best = 0;
  for (let i = 1; i < s.length; i++) if (s[i] > s[best]) best = i;
  return correct[best] ?? null;
}

/** One graded sample for {@link majAtK}. */
export interface VotedSample {
  /** The extracted answer, null when none was found. */
  answer: string | null;
  /** Whether that answer is correct. */
  correct: boolean;
}

/**
 * maj@k for one problem: 1 when the majority answer among the first k samples is correct, else 0.
 *
 * @example
 * ```ts
 * import { majAtK } from "./mod.ts";
 * majAtK([{ answer: "4", correct: true }, { answer: "5", correct: false }, { answer: "4", correct: true }], 3); // 1
 * ```
 */
export function majAtK(
  samples: ReadonlyArray<VotedSample>,
  k: number,
  equals?: (a: string, b: string) => boolean,
): number {
  validateCount("majAtK", "k", k);
  if (k < 1 || k > samples.length) {
    throw new RangeError(`majAtK: k = ${k} must be between 1 and ${samples.length}`);
  }
  const first = samples.slice(0, k);
  const vote = majorityAnswer(first.map((s) => s.answer), equals);
  return vote.index >= 0 && first[vote.index].correct ? 1 : 0;
}

/**
 * Label accuracy of pseudo-labels (e.g. majority-vote answers used as training targets): the
 * fraction of prompts whose pseudo-label equals the ground truth. A null pseudo-label is wrong.
 *
 * @example
 * ```ts
 * import { labelAccuracy } from "./mod.ts";
 * labelAccuracy(["4", "7", null], ["4", "8", "2"]); // 0.333…
 * ```
 */
export function labelAccuracy(
  pseudoLabels: ReadonlyArray<string | null>,
  groundTruth: ReadonlyArray<string>,
  equals: (a: string, b: string) => boolean = (a, b) => a.trim() === b.trim(),
): number {
  if (pseudoLabels.length !== groundTruth.length) {
    throw new RangeError(
      `labelAccuracy: ${pseudoLabels.length} pseudo-labels but ${groundTruth.length} ground-truth labels`,
    );
  }
  if (pseudoLabels.length === 0) throw new RangeError("labelAccuracy: no labels");
  let hits = 0;
  pseudoLabels.forEach((p, i) => {
    if (p !== null && equals(p, groundTruth[i])) hits++;
  });
  return hits / pseudoLabels.length;
}

/**
 * Reward accuracy: the fraction of rollouts whose reward agrees with correctness, a reward counting
 * as positive when it exceeds `threshold` (0.5 suits 0/1 rewards).
 *
 * @example
 * ```ts
 * import { rewardAccuracy } from "./mod.ts";
 * rewardAccuracy([1, 0, 1, 1], [true, false, false, true]); // 0.75
 * ```
 */
export function rewardAccuracy(
  rewards: ArrayLike<number>,
  correct: ArrayLike<BinaryLabel>,
  threshold = 0.5,
): number {
  const r = validateScores("rewardAccuracy", rewards, "rewards");
  if (correct.length !== r.length) {
    throw new RangeError(`rewardAccuracy: ${r.length} rewards but ${correct.length} correctness labels`);
  }
  if (r.length === 0) throw new RangeError("rewardAccuracy: no rewards");
  let agree = 0;
  for (let i = 0; i < r.length; i++) {
    const c = correct[i];
    if (c !== true && c !== false && c !== 0 && c !== 1) {
      throw new TypeError(
        `rewardAccuracy: correct[${i}] is ${JSON.stringify(c)}; expected true/false or 1/0`,
      );
    }
    if ((r[i] > threshold) === (c === true || c === 1)) agree++;
  }
  return agree / r.length;
}

/**
 * Model Collapse Step: the first training step at which a series falls below `threshold` (1% by
 * default), or null when it never does. URLVR §6 defines it on the reward accuracy of majority-vote
 * training; fed another series (training accuracy) it is that series' collapse step, and reports
 * should name it so.
 *
 * @example
 * ```ts
 * import { modelCollapseStep } from "./mod.ts";
 * modelCollapseStep([{ step: 1, value: 0.6 }, { step: 2, value: 0.2 }, { step: 3, value: 0.004 }]); // 3
 * ```
 */
export function modelCollapseStep(
  series: ReadonlyArray<{ step: number; value: number }>,
  threshold = 0.01,
): number | null {
  series.forEach((p, i) => {
    if (!Number.isFinite(p?.step) || !Number.isFinite(p?.value)) {
      throw new RangeError(
        `modelCollapseStep: series[${i}] is ${
          JSON.stringify(p)
        }; expected { step, value } with finite numbers`,
      );
    }
  });
  const sorted = [...series].sort((a, b) => a.step - b.step);
  for (const p of sorted) if (p.value < threshold) return p.step;
  return null;
}

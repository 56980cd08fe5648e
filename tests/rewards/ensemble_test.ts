import assert from "node:assert/strict";
import { majorityVote, majorityVoteOutcome } from "../../lib/rewards/majority_vote.ts";
import { bordaVote, bordaVoteOutcome, descendingRanks } from "../../lib/rewards/borda_vote.ts";
import { classifyAnswers, extractAnswers, pickWinner } from "../../lib/rewards/answer_classes.ts";
import { assertThrowsWith } from "../support/numeric.ts";
import { group, stats } from "./fixtures.ts";

const boxed = (a: string) => `so the answer is \\boxed{${a}}`;

Deno.test("vote: answers are the last box, trimmed; empty or missing boxes are no answer", () => {
  const g = group(["\\boxed{1} then \\boxed{ 2 }", "no box", "\\boxed{}", "\\boxed{3", boxed("x")]);
  assert.deepEqual(extractAnswers(g), ["2", null, null, null, "x"]);
});

Deno.test("vote: equivalent answers share a class labelled by its first member", () => {
  const { classes, classOf } = classifyAnswers(["\\frac{1}{2}", "3", null, "0.5", "3", "1/2"]);
  assert.deepEqual(classOf, [0, 1, -1, 0, 1, 0]);
  assert.deepEqual(classes.map((c) => [c.answer, c.members]), [["\\frac{1}{2}", [0, 3, 5]], ["3", [1, 4]]]);
});

Deno.test("majority: the largest class wins; its members get 1, everyone else 0", () => {
  const g = group([boxed("2"), boxed("3"), boxed("2.0"), "I give up", boxed("3"), boxed("2")], {
    groundTruth: "2",
  });
  const out = majorityVoteOutcome(g);
  assert.deepEqual(out.rewards, [1, 0, 1, 0, 0, 1]);
  assert.equal(out.label, "2");
  assert.equal(out.labelCorrect, true);
  assert.deepEqual(out.answers, ["2", "3", "2.0", null, "3", "2"]);
  assert.deepEqual(out.classOf, [0, 1, 0, -1, 1, 0]);
  assert.deepEqual(out.classes.map((c) => c.weight), [3, 2]);
  assert.equal(out.winner, 0);
  assert.deepEqual(majorityVote(g), out.rewards);
  assert.equal(majorityVoteOutcome({ ...g, groundTruth: "3" }).labelCorrect, false);
  assert.equal(majorityVoteOutcome({ ...g, groundTruth: null }).labelCorrect, null);
});

Deno.test("majority: ties go to the class that appeared first", () => {
  assert.deepEqual(majorityVote(group([boxed("7"), boxed("5"), boxed("5"), boxed("7")])), [1, 0, 0, 1]);
  assert.deepEqual(majorityVote(group([boxed("5"), boxed("7"), boxed("7"), boxed("5")])), [1, 0, 0, 1]);
  assert.deepEqual(majorityVote(group(["none", boxed("9"), boxed("8")])), [0, 1, 0]);
});

Deno.test("majority: no answers at all means no label and zero rewards", () => {
  const out = majorityVoteOutcome(group(["a", "b"], { groundTruth: "1" }));
  assert.deepEqual(out.rewards, [0, 0]);
  assert.equal(out.label, null);
  assert.equal(out.labelCorrect, null);
  assert.equal(out.winner, -1);
  assert.deepEqual(majorityVote(group([])), []);
});

Deno.test("borda: ranks are descending with ties sharing their mean rank", () => {
  assert.deepEqual(descendingRanks([9, 1, 2]), [1, 3, 2]);
  assert.deepEqual(descendingRanks([5, 5, 1]), [1.5, 1.5, 3]);
  assert.deepEqual(descendingRanks([2, 2, 2, 2]), [2.5, 2.5, 2.5, 2.5]);
  assert.deepEqual(descendingRanks([]), []);
});

Deno.test("borda: (N - r + 1)^p weights decide the winner", () => {
  // A, B, B with self-certainty 9, 1, 2 → ranks 1, 3, 2 of N = 3.
  const g = group([boxed("10"), boxed("20"), boxed("20")], {
    stats: [stats({ selfCertainty: 9 }), stats({ selfCertainty: 1 }), stats({ selfCertainty: 2 })],
  });
  const sqrt = bordaVoteOutcome(g);
  // p = 0.5: A = √3 ≈ 1.732; B = √1 + √2 ≈ 2.414.
  assert.deepEqual(sqrt.rewards, [0, 1, 1]);
  assert.equal(sqrt.label, "20");
  assert.ok(Math.abs(sqrt.classes[0].weight - Math.sqrt(3)) < 1e-15);
  assert.ok(Math.abs(sqrt.classes[1].weight - (1 + Math.SQRT2)) < 1e-15);
  // p = 2: A = 9 beats B = 1 + 4.
  assert.deepEqual(bordaVote(g, { power: 2 }), [1, 0, 0]);
  assert.deepEqual(bordaVoteOutcome(g, { power: 2 }).classes.map((c) => c.weight), [9, 5]);
  // p = 0: every vote weighs 1, i.e. majority voting.
  assert.deepEqual(bordaVote(g, { power: 0 }), [0, 1, 1]);
});

Deno.test("borda: tied certainty shares ranks; weight ties fall to more members, then first appearance", () => {
  // Certainties 5, 5, 1 → ranks 1.5, 1.5, 3; p = 1 weights 2.5, 2.5, 1 → A (0, 2) = 3.5, B = 2.5.
  const tiedCertainty = group([boxed("A"), boxed("B"), boxed("A")], {
    stats: [stats({ selfCertainty: 5 }), stats({ selfCertainty: 5 }), stats({ selfCertainty: 1 })],
  });
  assert.deepEqual(bordaVoteOutcome(tiedCertainty, { power: 1 }).classes.map((c) => c.weight), [3.5, 2.5]);
  assert.deepEqual(bordaVote(tiedCertainty, { power: 1 }), [1, 0, 1]);
  // p = 1: A alone (rank 1) weighs 3, B (ranks 2, 3) weighs 2 + 1 = 3; B has more members.
  const weightTie = group([boxed("A"), boxed("B"), boxed("B")], {
    stats: [stats({ selfCertainty: 9 }), stats({ selfCertainty: 2 }), stats({ selfCertainty: 1 })],
  });
  assert.deepEqual(bordaVote(weightTie, { power: 1 }), [0, 1, 1]);
  // Equal weight and size: the first class wins.
  const fullTie = group([boxed("B"), boxed("A")], { stats: [stats(), stats()] });
  assert.equal(bordaVoteOutcome(fullTie).label, "B");
  // Weights equal up to rounding count as tied, so summation order cannot pick the winner.
  assert.equal(
    pickWinner([{ answer: "x", members: [0], weight: 1 }, { answer: "y", members: [1], weight: 1 + 1e-14 }]),
    0,
  );
  assert.equal(
    pickWinner([{ answer: "x", members: [0], weight: 1 }, { answer: "y", members: [1], weight: 1 + 1e-9 }]),
    1,
  );
  assert.equal(pickWinner([]), -1);
});

Deno.test("borda: only answering rollouts vote, count toward N and need stats", async () => {
  // Rollout 1 has no answer and no stats; N = 2: ranks of 3 and 8 are 2 and 1.
  const g = group([boxed("4"), "thinking...", boxed("5")], {
    stats: [stats({ selfCertainty: 3 }), undefined, stats({ selfCertainty: 8 })],
    groundTruth: "5",
  });
  const out = bordaVoteOutcome(g, { power: 1 });
  assert.deepEqual(out.classes.map((c) => c.weight), [1, 2]);
  assert.deepEqual(out.rewards, [0, 0, 1]);
  assert.equal(out.labelCorrect, true);
  const noStats = group([boxed("4"), boxed("5")], { stats: [stats(), undefined] });
  await assertThrowsWith(() => bordaVote(noStats), "bordaVote", "rollout 1", "no stats");
  await assertThrowsWith(() => bordaVote(g, { power: -1 }), "power must be a finite number >= 0");
  const nan = group([boxed("4")], { stats: [stats({ selfCertainty: NaN })] });
  await assertThrowsWith(() => bordaVote(nan), "selfCertainty is NaN");
});

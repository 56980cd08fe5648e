import { groupAdvantages, groupRewardStats } from "../../lib/rl/advantages.ts";
import { assertClose, assertThrowsWith } from "../support/numeric.ts";

Deno.test("group advantages use the group mean and the sample (n − 1) std, eps 1e-6", () => {
  // Group 1: [1, 0], mean 0.5, sample std √0.5; group 2: [1, 1], std 0 → advantages 0.
  const s = Math.SQRT1_2;
  assertClose(
    groupAdvantages([1, 0, 1, 1], 2),
    [0.5 / (s + 1e-6), -0.5 / (s + 1e-6), 0, 0],
    { atol: 1e-15 },
    "group",
  );
  // [3, 6, 9]: mean 6, sample std 3.
  assertClose(
    groupAdvantages([3, 6, 9], 3, { eps: 1e-4 }),
    [-3 / 3.0001, 0, 3 / 3.0001],
    { atol: 1e-15 },
    "eps",
  );
});

Deno.test("batch std scaling keeps the group mean and divides by the batch's sample std", () => {
  // Batch [1, 0, 1, 1]: mean 0.75, sample std √(0.75 / 3) = 0.5.
  assertClose(
    groupAdvantages([1, 0, 1, 1], 2, { stdScaling: "batch" }),
    [0.5 / 0.500001, -0.5 / 0.500001, 0, 0],
    { atol: 1e-15 },
    "batch",
  );
  assertClose(
    groupAdvantages([1, 0, 4, 2], 2, { stdScaling: "none" }),
    [0.5, -0.5, 1, -1],
    { atol: 0 },
    "none",
  );
});

Deno.test("group reward stats report the zero-std fraction", () => {
  const st = groupRewardStats([1, 0, 1, 1, 2, 2], 2);
  assertClose(st.mean, [0.5, 1, 2], { atol: 0 }, "mean");
  assertClose(st.std, [Math.SQRT1_2, 0, 0], { atol: 1e-15 }, "std");
  assertClose([st.zeroStdFraction], [2 / 3], { atol: 1e-15 }, "zero std");
});

Deno.test("group advantages reject what GRPO cannot use", async () => {
  await assertThrowsWith(() => groupAdvantages([1, 2], 1), "GRPO needs at least 2 samples per prompt");
  await assertThrowsWith(() => groupAdvantages([1, 2, 3], 2), "3 rewards do not split into groups of 2");
  await assertThrowsWith(() => groupAdvantages([1, NaN], 2), "reward 1 (group 0, sample 1) is NaN");
  await assertThrowsWith(() => groupAdvantages([1, 2], 2, { eps: 0 }), "eps 0");
  await assertThrowsWith(
    () => groupAdvantages([1, 2], 2, { stdScaling: "max" as "group" }),
    'stdScaling "max" is not one of group, batch, none',
  );
});

Deno.test("masked advantages: masked completions get 0; mean and std are over the kept ones", () => {
  const mask = [true, false, false, true, true, true, false, true];
  // Group 1 keeps [1, 4]: mean 2.5, sample std √4.5; group 2 keeps [2, 0, 7]: mean 3, sample std √13.
  const s1 = Math.sqrt(4.5), s2 = Math.sqrt(13);
  const adv = groupAdvantages([1, 2, 3, 4, 2, 0, 9, 7], 4, { mask });
  assertClose(
    adv,
    [-1.5 / (s1 + 1e-6), 0, 0, 1.5 / (s1 + 1e-6), -1 / (s2 + 1e-6), -3 / (s2 + 1e-6), 0, 4 / (s2 + 1e-6)],
    { atol: 1e-15 },
    "group",
  );
  // Under the old behaviour the middle ones had reward 0 and moved the mean: [1, 0, 0, 4] has mean 1.25.
  if (adv[1] !== 0 || adv[2] !== 0 || adv[6] !== 0) throw new Error(`masked advantages ${adv}`);
  // A masked reward's value changes nothing.
  const moved = groupAdvantages([1, 1e6, -3, 4, 2, 0, 0, 7], 4, { mask });
  if (moved.some((a, i) => !Object.is(a, adv[i]))) {
    throw new Error(`masked rewards moved ${moved} from ${adv}`);
  }
  // Batch scaling: the std of the five kept rewards [1, 4, 2, 0, 7] (mean 2.8, sample std √7.7).
  const sb = Math.sqrt(7.7);
  assertClose(
    groupAdvantages([1, 2, 3, 4, 2, 0, 9, 7], 4, { mask, stdScaling: "batch" }),
    [-1.5 / (sb + 1e-6), 0, 0, 1.5 / (sb + 1e-6), -1 / (sb + 1e-6), -3 / (sb + 1e-6), 0, 4 / (sb + 1e-6)],
    { atol: 1e-15 },
    "batch",
  );
  assertClose(
    groupAdvantages([1, 2, 3, 4], 4, { mask: [true, false, false, true], stdScaling: "none" }),
    [-1.5, 0, 0, 1.5],
    { atol: 0 },
    "none",
  );
});

Deno.test("masked advantages: a group with one or no kept completion gets zeros; all-kept is no mask, bitwise", () => {
  assertClose(
    groupAdvantages([5, 1, 2, 3], 2, { mask: [true, false, false, false] }),
    [0, 0, 0, 0],
    { atol: 0 },
    "one and none kept",
  );
  const st = groupRewardStats([5, 1, 2, 3], 2, [true, false, false, false]);
  assertClose(st.mean, [5, 0], { atol: 0 }, "mean");
  assertClose(st.std, [0, 0], { atol: 0 }, "std");
  const rewards = [0.1, 0.7, 0.3, 0.9, 0.2, 0.6];
  for (const stdScaling of ["group", "batch", "none"] as const) {
    const plain = groupAdvantages(rewards, 3, { stdScaling });
    const all = groupAdvantages(rewards, 3, { stdScaling, mask: rewards.map(() => true) });
    if (all.some((a, i) => !Object.is(a, plain[i]))) throw new Error(`${stdScaling}: ${all} vs ${plain}`);
  }
});

Deno.test("masked advantages: a mask of the wrong length or type is refused, naming it", async () => {
  await assertThrowsWith(
    () => groupAdvantages([1, 2, 3, 4], 2, { mask: [true, false] }),
    "mask has 2 entries for 4 rewards",
  );
  await assertThrowsWith(
    () => groupAdvantages([1, 2], 2, { mask: [true, 1 as unknown as boolean] }),
    "mask[1] is 1",
  );
});

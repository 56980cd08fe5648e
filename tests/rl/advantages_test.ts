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

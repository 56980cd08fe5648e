import { chainOfEmbedding } from "../../lib/model/coe.ts";
import { assertClose } from "../support/numeric.ts";

const close = (got: number, want: number, what: string) =>
  assertClose([got], [want], { atol: 1e-12, rtol: 1e-12 }, what);

Deno.test("coe: a straight chain of equal steps (hand-computed)", () => {
  // h0=(1,0) h1=(2,0) h2=(3,0): steps 1,1; net 2; curvature 0; all angles 0.
  const c = chainOfEmbedding([[1, 0], [2, 0], [3, 0]]);
  close(c.d1, 1 / (2 + 1e-8), "d1");
  close(c.mag, 0.5, "mag");
  close(c.d2, 0, "d2");
  close(c.ang, 0, "ang (parallel states: normalised to 0, not NaN)");
  close(c.r, 0.5, "r");
  close(c.c, 0.5, "c = |mean mag_l| when every angle is 0");
});

Deno.test("coe: a right-angle turn (hand-computed)", () => {
  // h0=(1,0) h1=(1,1) h2=(0,1): steps 1,1; net √2; curvature ‖(0,1)−2(1,1)+(1,0)‖ = ‖(−1,−1)‖ = √2.
  // angles: ∠(h1,h0) = π/4, ∠(h2,h1) = π/4, ∠(h2,h0) = π/2 → ang_l = 1/2 each.
  const c = chainOfEmbedding([[1, 0], [1, 1], [0, 1]]);
  const net = Math.SQRT2;
  close(c.d1, 1 / (net + 1e-8), "d1");
  close(c.d2, Math.SQRT2 / (net + 1e-8), "d2");
  close(c.mag, 1 / net, "mag");
  close(c.ang, 0.5, "ang");
  close(c.r, 1 / net - 0.5, "r");
  // mag_l = 1/√2 for both layers, ang_l = 1/2: |mean| = (1/√2)·|e^{i/2}| = 1/√2.
  close(c.c, 1 / net, "c");
});

Deno.test("coe: fewer than two states is refused", () => {
  let threw = false;
  try {
    chainOfEmbedding([[1, 2]]);
  } catch (e) {
    threw = (e as Error).message.includes("at least 2");
  }
  if (!threw) throw new Error("expected a clear error");
});

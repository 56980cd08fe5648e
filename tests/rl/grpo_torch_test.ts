/**
 * Checks the float64 host reference grpoTokenLoss (grpo_host.ts, which the GPU loss kernels are tested
 * against) against torch.autograd on verl's formulas (tests/rl/grpo_torch_reference.py),
 * including the points where finite differences cannot decide: ties of torch.maximum inside the clip
 * range, clamp bounds hit exactly, |d| at 0, the ±20 log-ratio clamp. Skips itself, saying why, when
 * no Python with torch is available.
 */
import { LOSS_AGGS, lossNormalizer, sequenceLengths } from "../../lib/rl/grpo.ts";
import type { KlEstimator } from "../../lib/rl/kl.ts";
import { type GrpoLossConfig, grpoTokenLoss } from "./grpo_host.ts";
import { assertClose, rng } from "../support/numeric.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";

const SCRIPT = new URL("./grpo_torch_reference.py", import.meta.url);

const python = await findPython("torch");
if (python === null) skipNote("the torch.autograd comparison", "torch");

interface Case {
  rows: number;
  width: number;
  logpNew: number[];
  logpOld: number[];
  logpRef: number[];
  mask: number[];
  advantages: number[];
  cfg: GrpoLossConfig & { tokens: number; sequences: number; normLength: number };
}

function makeCase(
  rows: number,
  width: number,
  tokens: (t: number) => { x: number; xo: number; xr: number; m: number },
  advantages: number[],
  cfg: GrpoLossConfig,
): Case {
  const c: Case = {
    rows,
    width,
    logpNew: [],
    logpOld: [],
    logpRef: [],
    mask: [],
    advantages,
    cfg: { ...cfg, tokens: 0, sequences: 0, normLength: width },
  };
  for (let t = 0; t < rows * width; t++) {
    const { x, xo, xr, m } = tokens(t);
    c.logpNew.push(x);
    c.logpOld.push(xo);
    c.logpRef.push(xr);
    c.mask.push(m);
  }
  const norm = lossNormalizer(sequenceLengths(rows * width, { sequences: rows, mask: c.mask }));
  c.cfg.tokens = norm.tokens;
  c.cfg.sequences = norm.sequences;
  return c;
}

function cases(): Case[] {
  const out: Case[] = [];
  const estimators: KlEstimator[] = [
    "k1",
    "k2",
    "k3",
    "low_var_kl",
    "abs",
    "k1+",
    "k3+",
    "low_var_kl+",
    "abs+",
  ];
  let seed = 10;
  for (const lossAgg of LOSS_AGGS) {
    for (const klEstimator of estimators) {
      for (const dualClip of [null, 2]) {
        const rand = rng(seed++);
        const lengths = [5, 2, 0, 4];
        out.push(makeCase(
          4,
          5,
          (t) => {
            const x = -0.05 - 4 * rand();
            return {
              x,
              xo: x - (rand() * 2 - 1), // ratios between e^−1 and e^1: both sides of both clip bounds
              xr: x + (rand() * 8 - 4), // low_var_kl clamps beyond ref − x ≈ 2.6
              m: t % 5 < lengths[Math.floor(t / 5)] ? 1 : 0,
            };
          },
          [1.1, -0.6, 0.4, -1.9],
          { clipLow: 0.2, clipHigh: 0.28, klCoef: 0.3, klEstimator, lossAgg, dualClip },
        ));
      }
    }
  }
  // Exact ties and clamp bounds (identical in both float64 implementations):
  // ratio 1 with clipLow = clipHigh = 0 (clamp bounds hit, torch.maximum tie), A = 0, logp_ref = logp_new
  // (|d| at 0), log-ratios of exactly ±20 (gradient passes) and beyond (gradient stops).
  const edge: Array<[number, number]> = [[-1, -1], [-5, -25], [-30, -10], [-1, -30], [-30, -1], [-2, -2]];
  for (const klEstimator of ["abs", "abs+", "k1", "low_var_kl"] as KlEstimator[]) {
    for (const lossAgg of LOSS_AGGS) {
      out.push(makeCase(
        2,
        6,
        (t) => {
          const [x, xo] = edge[t % 6];
          return { x, xo, xr: t % 2 === 0 ? x : x + 0.5, m: 1 };
        },
        [-0.7, 0],
        { clipLow: 0, clipHigh: 0, klCoef: 0.2, klEstimator, lossAgg, dualClip: 3 },
      ));
      out.push(makeCase(
        2,
        6,
        (t) => {
          const [x, xo] = edge[t % 6];
          return { x, xo, xr: x, m: 1 };
        },
        [0.9, -1.3],
        { clipLow: 0.2, clipHigh: 0.2, klCoef: 0.2, klEstimator, lossAgg, dualClip: null },
      ));
    }
  }
  return out;
}

Deno.test({
  name: "grpoTokenLoss equals torch.autograd on verl's formulas (every mode × KL, ties and clamp bounds)",
  ignore: python === null,
  async fn() {
    const all = cases();
    const want = await runPythonJson(python!, SCRIPT, all) as Array<{ loss: number; grad: number[] }>;
    all.forEach((c, k) => {
      const what = `case ${k} (${c.cfg.lossAgg}, ${c.cfg.klEstimator}, dual ${c.cfg.dualClip})`;
      const got = grpoTokenLoss(
        {
          logpNew: c.logpNew,
          logpOld: c.logpOld,
          logpRef: c.logpRef,
          advantages: c.advantages,
          mask: c.mask,
        },
        c.cfg,
        { tokens: c.cfg.tokens, sequences: c.cfg.sequences, normLength: c.cfg.normLength },
      );
      // verl divides per-sequence sums by (count + 1e-8) in seq-mean-token-mean; we divide by count.
      const rtol = c.cfg.lossAgg === "seq-mean-token-mean" ? 1e-8 : 1e-12;
      assertClose([got.loss], [want[k].loss], { atol: 1e-14, rtol }, `${what}: loss`);
      assertClose(got.dLogp, want[k].grad, { atol: 1e-14, rtol }, `${what}: dLogp`);
    });
  },
});

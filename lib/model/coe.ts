/**
 * Chain-of-embedding features of one completion: how the mean-pooled hidden state moves through the layers
 * (h_0 = embedding output, h_1 … h_L = decoder layer outputs, h_L after the final norm).
 *
 * @module
 */
import type { CoeStats } from "../rewards/types.ts";

const Z_EPS = 1e-8;

function diffNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/** arccos of the cosine similarity, with the cosine clamped to [−1, 1] against rounding. */
function angle(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  const denom = Math.sqrt(aa * bb);
  return denom === 0 ? 0 : Math.acos(Math.min(1, Math.max(-1, ab / denom)));
}

/**
 * CoE features of the pooled hidden states h_0 … h_L (at least two). Degenerate chains (h_L = h_0, or all
 * states parallel) give 0 rather than NaN for the ratio that would divide by zero.
 *
 * @example
 * ```ts
 * chainOfEmbedding([[0, 0], [1, 0], [2, 0]]).d1; // 0.5: two unit steps, net displacement 2
 * ```
 */
export function chainOfEmbedding(hidden: readonly ArrayLike<number>[]): CoeStats {
  const layers = hidden.length - 1;
  if (layers < 1) {
    throw new RangeError(`chainOfEmbedding: needs at least 2 hidden states, got ${hidden.length}`);
  }
  const net = diffNorm(hidden[layers], hidden[0]);
  const netAngle = angle(hidden[layers], hidden[0]);
  let step = 0, curve = 0, angSum = 0, re = 0, im = 0;
  for (let l = 0; l < layers; l++) {
    const s = diffNorm(hidden[l + 1], hidden[l]);
    const a = angle(hidden[l + 1], hidden[l]);
    step += s;
    angSum += a;
    const magL = net > 0 ? s / net : 0;
    const angL = netAngle > 0 ? a / netAngle : 0;
    re += magL * Math.cos(angL);
    im += magL * Math.sin(angL);
    if (l >= 1) {
      let sq = 0;
      for (let i = 0; i < hidden[l].length; i++) {
        sq += (hidden[l + 1][i] - 2 * hidden[l][i] + hidden[l - 1][i]) ** 2;
      }
      curve += Math.sqrt(sq);
    }
  }
  const z = net + Z_EPS;
  const mag = net > 0 ? step / layers / net : 0;
  const ang = netAngle > 0 ? angSum / layers / netAngle : 0;
  return {
    d1: step / layers / z,
    d2: layers > 1 ? curve / (layers - 1) / z : 0,
    mag,
    ang,
    r: mag - ang,
    c: Math.hypot(re / layers, im / layers),
  };
}

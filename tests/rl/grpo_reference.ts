/**
 * An independent float64 reference of the GRPO loss, written the way verl's core_algos.py computes it
 * (padded matrices, pg_losses1 / pg_losses2 / maximum, kl_penalty, agg_loss), used to check
 * the float64 host loss (grpo_host.ts) by value and by finite differences.
 */

/** A padded batch: `rows × width` row-major per-token arrays. */
export interface RefBatch {
  rows: number;
  width: number;
  logpOld: Float64Array;
  logpRef: Float64Array;
  mask: Float64Array;
  advantages: Float64Array;
}

/** Loss hyper-parameters for the reference. */
export interface RefConfig {
  clipLow: number;
  clipHigh: number;
  klCoef: number;
  klEstimator: string;
  lossAgg: string;
  dualClip?: number | null;
  /** Mini-batch counts; default: this batch's. */
  tokens?: number;
  sequences?: number;
  normLength?: number;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Per-token KL value of verl's kl_penalty_forward (k3 unclamped, as TRL); `+` names have the base's value. */
export function refKl(name: string, lp: number, ref: number): number {
  switch (name.replace(/\+$/, "")) {
    case "k1":
    case "kl":
      return lp - ref;
    case "abs":
      return Math.abs(lp - ref);
    case "k2":
    case "mse":
      return 0.5 * (lp - ref) ** 2;
    case "k3": {
      const k = ref - lp;
      return Math.exp(k) - k - 1;
    }
    case "low_var_kl": {
      const k = clamp(ref - lp, -20, 20);
      return clamp(Math.exp(k) - k - 1, -10, 10);
    }
  }
  throw new Error(`reference: unknown KL ${name}`);
}

/** The aggregated loss as a function of `logpNew`. */
export function refLoss(logpNew: Float64Array, b: RefBatch, cfg: RefConfig): number {
  const mat: number[][] = [];
  for (let i = 0; i < b.rows; i++) {
    const row: number[] = [];
    for (let j = 0; j < b.width; j++) {
      const t = i * b.width + j;
      const a = b.advantages[i];
      const ratio = Math.exp(clamp(logpNew[t] - b.logpOld[t], -20, 20));
      const pg1 = -a * ratio;
      const pg2 = -a * clamp(ratio, 1 - cfg.clipLow, 1 + cfg.clipHigh);
      let pg = Math.max(pg1, pg2);
      if (cfg.dualClip != null && a < 0) pg = Math.min(pg, -a * cfg.dualClip);
      row.push(pg + cfg.klCoef * refKl(cfg.klEstimator, logpNew[t], b.logpRef[t]));
    }
    mat.push(row);
  }
  const m = (i: number, j: number) => b.mask[i * b.width + j];
  const seqSum = (i: number) => mat[i].reduce((s, v, j) => s + v * m(i, j), 0);
  const seqLen = (i: number) => mat[i].reduce((s, _, j) => s + m(i, j), 0);
  const nonEmpty = [...Array(b.rows).keys()].filter((i) => seqLen(i) > 0);
  const sequences = cfg.sequences ?? nonEmpty.length;
  switch (cfg.lossAgg) {
    case "token-mean": {
      let s = 0, n = 0;
      for (let i = 0; i < b.rows; i++) [s, n] = [s + seqSum(i), n + seqLen(i)];
      return s / (cfg.tokens ?? n);
    }
    case "seq-mean-token-mean":
      return nonEmpty.reduce((s, i) => s + seqSum(i) / seqLen(i), 0) / sequences;
    case "seq-mean-token-sum":
      return nonEmpty.reduce((s, i) => s + seqSum(i), 0) / sequences;
    case "seq-mean-token-sum-norm":
      return nonEmpty.reduce((s, i) => s + seqSum(i), 0) / sequences / (cfg.normLength ?? b.width);
  }
  throw new Error(`reference: unknown aggregation ${cfg.lossAgg}`);
}

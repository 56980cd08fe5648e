import assert from "node:assert/strict";
import { aupr, auroc, fprAt95, mannWhitneyU, passAtK, pointBiserial } from "../../lib/metrics/metrics.ts";
import { findPython, runPythonJson, skipNote } from "../support/python.ts";

// Independent reference values from scikit-learn and SciPy (Debian's python3-sklearn and
// python3-scipy on /usr/bin/python3). The test skips itself when they are not installed.
const python = await findPython("sklearn", "scipy");
if (python === null) skipNote("metrics vs scikit-learn and SciPy", "sklearn", "scipy");

const SCRIPT = `
import json, sys
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, roc_curve
from scipy.stats import mannwhitneyu, pointbiserialr
from scipy.special import comb
cases = json.load(sys.stdin)
out = []
for c in cases:
    s = np.array(c["scores"], dtype=float); y = np.array(c["labels"], dtype=int)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    i = int(np.argmax(tpr >= 0.95))
    mw = mannwhitneyu(s[y == 1], s[y == 0], alternative="two-sided", method="asymptotic", use_continuity=True)
    greater = mannwhitneyu(s[y == 1], s[y == 0], alternative="greater", method="asymptotic", use_continuity=True)
    n, k = c["n"], c["k"]
    out.append({
        "auroc": roc_auc_score(y, s),
        "aupr": average_precision_score(y, s),
        "fpr95": float(fpr[i]),
        "u": float(mw.statistic),
        "p": float(mw.pvalue),
        "pGreater": float(greater.pvalue),
        "rpb": float(pointbiserialr(y, s).statistic),
        "pass": [1.0 - comb(n - cc, k, exact=True) / comb(n, k, exact=True) for cc in range(n + 1)],
    })
json.dump(out, sys.stdout)
`;

function makeCases() {
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
  return Array.from({ length: 40 }, (_, t) => {
    const size = 5 + Math.floor(random() * 60);
    // Coarse scores on some cases make many ties.
    const levels = t % 3 === 0 ? 4 : 1000;
    const labels = Array.from({ length: size }, () => (random() < 0.4 ? 1 : 0));
    labels[0] = 1;
    labels[1] = 0;
    const scores = labels.map((l) => Math.floor((random() + 0.3 * l) * levels) / levels);
    return { scores, labels, n: 3 + (t % 10), k: 1 + (t % 3) };
  });
}

Deno.test({
  name: "metrics agree with scikit-learn and SciPy",
  ignore: python === null,
  async fn() {
    const cases = makeCases();
    const reference = await runPythonJson(python!, SCRIPT, cases) as Array<{
      auroc: number;
      aupr: number;
      fpr95: number;
      u: number;
      p: number;
      pGreater: number;
      rpb: number;
      pass: number[];
    }>;
    cases.forEach((c, i) => {
      const ref = reference[i];
      const bool = c.labels.map((l) => l === 1);
      const near = (a: number, b: number, what: string) =>
        assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `case ${i} ${what}: ${a} vs ${b}`);
      near(auroc(c.scores, bool), ref.auroc, "auroc");
      near(aupr(c.scores, bool), ref.aupr, "aupr");
      near(fprAt95(c.scores, bool), ref.fpr95, "fpr@95");
      const mw = mannWhitneyU(c.scores.filter((_, j) => bool[j]), c.scores.filter((_, j) => !bool[j]));
      near(mw.u, ref.u, "U");
      near(mw.p, ref.p, "p");
      const pos = c.scores.filter((_, j) => bool[j]), neg = c.scores.filter((_, j) => !bool[j]);
      near(mannWhitneyU(pos, neg, { alternative: "greater" }).p, ref.pGreater, "one-sided p");
      near(pointBiserial(c.scores, bool), ref.rpb, "point-biserial r");
      for (let cc = 0; cc <= c.n; cc++) {
        if (c.k <= c.n) near(passAtK(c.n, cc, c.k), ref.pass[cc], `pass@${c.k} with c=${cc}`);
      }
    });
  },
});

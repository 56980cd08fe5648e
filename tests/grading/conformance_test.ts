import assert from "node:assert/strict";
import { isEquivalent } from "../../lib/grading/equivalence.ts";

// Verdicts from public graders' test suites. `equal` is the verdict of the suite a case comes from;
// `other_graders` records what four other graders answer, so cases where all of them agree with
// `equal` are unambiguous and must be matched exactly.
const CANDIDATES = [
  new URL("../fixtures/eval/math_equivalence_cases.jsonl", import.meta.url),
  new URL("../../../shared/conformance/math_equivalence_cases.jsonl", import.meta.url),
];

interface Case {
  gold: string;
  pred: string;
  equal: boolean;
  source?: string;
  tags?: string[];
  other_graders?: Record<string, boolean> | null;
}

function loadCases(): Case[] {
  for (const url of CANDIDATES) {
    try {
      const text = Deno.readTextFileSync(url);
      return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Case);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  throw new Error(`no conformance cases at ${CANDIDATES.map((u) => u.pathname).join(" or ")}`);
}

const cases = loadCases();

Deno.test({
  name: "conformance: agreement with public graders' verdicts",
  fn() {
    const all = cases;
    let agree = 0;
    let unanimous = 0;
    let unanimousAgree = 0;
    const byTag = new Map<string, [number, number]>();
    const misses: string[] = [];
    for (const [i, c] of all.entries()) {
      const got = isEquivalent(c.pred, c.gold);
      const ok = got === c.equal;
      if (ok) agree++;
      const others = c.other_graders ? Object.values(c.other_graders) : [];
      const isUnanimous = others.length > 0 && others.every((v) => v === c.equal);
      if (isUnanimous) {
        unanimous++;
        if (ok) unanimousAgree++;
        else {misses.push(
            `line ${i + 1}: ${JSON.stringify(c.pred)} vs ${JSON.stringify(c.gold)} should be ${c.equal}`,
          );}
      }
      for (const tag of c.tags ?? []) {
        const t = byTag.get(tag) ?? [0, 0];
        byTag.set(tag, [t[0] + (ok ? 1 : 0), t[1] + 1]);
      }
    }
    const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}% (${a}/${b})`;
    console.log(`conformance: overall agreement ${pct(agree, all.length)}`);
    console.log(`conformance: where all graders agree ${pct(unanimousAgree, unanimous)}`);
    console.log(
      `conformance: by tag ${[...byTag].sort().map(([t, [a, b]]) => `${t} ${a}/${b}`).join(", ")}`,
    );
    assert.deepEqual(misses, [], "every case on which all graders agree must be matched");
    assert.ok(agree / all.length >= 0.9, `overall agreement fell to ${pct(agree, all.length)}`);
  },
});

import assert from "node:assert/strict";

/** One conformance case: a full response (graded by `<name>Grade`) or an extracted `pred`. */
export interface GraderCase {
  response?: string;
  pred?: string;
  gold: string;
  expected: boolean;
  source: string;
  grader?: string;
}

/** The cases of tests/fixtures/grading/<name>_cases.jsonl. */
export function loadGraderCases(name: string): GraderCase[] {
  const url = new URL(`../fixtures/grading/${name}_cases.jsonl`, import.meta.url);
  return Deno.readTextFileSync(url).split("\n").filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l) as GraderCase
  );
}

/**
 * Runs every case through `verdict`, prints `name: a/n agree (p%)` and the disagreements, and asserts
 * the agreement is at least `minimum` and that no case outside `knownMisses` (keys
 * `JSON.stringify([pred ?? response, gold])`) disagrees.
 */
export function assertAgreement(
  name: string,
  cases: GraderCase[],
  verdict: (c: GraderCase) => boolean,
  knownMisses: Map<string, string> = new Map(),
  minimum = 0.95,
): void {
  let agree = 0;
  const unexpected: string[] = [];
  for (const c of cases) {
    const got = verdict(c);
    if (got === c.expected) {
      agree++;
      continue;
    }
    const key = JSON.stringify([c.pred ?? c.response, c.gold]);
    const reason = knownMisses.get(key);
    console.log(`  miss: ${key} expected ${c.expected} (${reason ?? "UNEXPECTED"})`);
    if (reason === undefined) unexpected.push(key);
  }
  const pct = (100 * agree / cases.length).toFixed(1);
  console.log(`${name}: ${agree}/${cases.length} agree (${pct}%)`);
  assert.ok(agree / cases.length >= minimum, `${name}: agreement ${pct}% is under ${100 * minimum}%`);
  assert.deepEqual(unexpected, [], `${name}: disagreements without a documented reason`);
}

/** Asserts `fn` returns within `limitMs` for each adversarial input, and returns the worst time. */
export function assertBounded(
  name: string,
  inputs: [string, string][],
  fn: (a: string, b: string) => unknown,
  limitMs = 2000,
): number {
  let worst = 0;
  for (const [a, b] of inputs) {
    const t0 = performance.now();
    fn(a, b);
    const dt = performance.now() - t0;
    worst = Math.max(worst, dt);
    assert.ok(dt < limitMs, `${name}: ${dt.toFixed(0)} ms on ${JSON.stringify(a.slice(0, 40))}…`);
  }
  console.log(`${name}: worst adversarial call ${worst.toFixed(1)} ms`);
  return worst;
}

/** Inputs every grader must survive quickly: deep nesting, megabyte strings, huge powers and factorials. */
export const ADVERSARIAL: [string, string][] = [
  ["\\boxed{" + "{".repeat(10_000) + "1" + "}".repeat(10_000) + "}", "1"],
  ["{".repeat(10_000) + "1" + "}".repeat(10_000), "1"],
  ["\\boxed{" + "x".repeat(1_000_000) + "}", "x"],
  ["Answer: " + "$".repeat(1_000_000), "$".repeat(1_000_000)],
  ["\\boxed{10^10^10}", "10^10^10"],
  ["\\boxed{10**10**10}", "10**10**10"],
  ["\\boxed{1000000!}", "1"],
  ["\\boxed{2**99999999}", "1"],
  ["\\boxed{2**99999/3**60000}", "x"],
  ["\\boxed{" + "(2**9999)*".repeat(150) + "1}", "x"],
  ["\\boxed{" + "(".repeat(50_000) + "1" + ")".repeat(50_000) + "}", "1"],
  ["\\boxed{" + "\\frac{".repeat(5_000) + "}", "1"],
  ["\\boxed{" + "\\sqrt{".repeat(5_000) + "2" + "}".repeat(5_000) + "}", "2"],
  ["#### " + "1,".repeat(500_000), "1"],
  ["\\text{".repeat(200_000), "\\text{".repeat(200_000)],
  ["1,000".repeat(200_000), "1"],
  ["\\boxed{" + "1,000".repeat(100_000) + "}", "1" + "000".repeat(100_000)],
];

/**
 * The shared conformance file's answer with an enclosing `$…$` dropped: its public-grader verdicts match
 * the references only under that reading.
 */
export function dropMathDollars(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t[0] === "$" && t[t.length - 1] === "$" ? t.slice(1, -1) : s;
}

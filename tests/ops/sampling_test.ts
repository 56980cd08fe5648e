import { getDevice, type Gpu } from "../../lib/gpu/device.ts";
import type { Tensor } from "../../lib/gpu/tensor.ts";
import {
  philox4x32,
  sampleTokens,
  samplingBits,
  type SamplingOptions,
  seedWords,
} from "../../lib/ops/sampling.ts";
import { assertClose, assertThrowsWith, f32, randn, rng } from "../support/numeric.ts";

// Upper 0.1% points of the chi-square distribution (df = 1..4): every goodness-of-fit test below is
// at significance α = 0.001, with fixed seeds so the outcome is reproducible, not flaky.
const CHI2_CRIT = [NaN, 10.828, 13.816, 16.266, 18.467];

interface Reference {
  token: number;
  logprob: number;
  kept: Set<number>;
  /** Gap between the best and second-best perturbed score: near-ties may round either way in f32. */
  margin: number;
}

/**
 * Float64 model of the sampler: keys and thresholds on z rounded to f32 (as the kernel orders them),
 * the noise from the same Philox words but with −log(−log1p(−w)) in float64.
 */
function refSample(
  x: ArrayLike<number>,
  opts: SamplingOptions,
  stream: number,
  step: number,
  seed = opts.seed!,
): Reference {
  const { temperature = 1, topK = 0, topP = 1 } = opts;
  const t = temperature === 0 ? 1 : Math.fround(temperature);
  const z = Array.from(x, (v) => Math.fround(v / t));
  const vocab = z.length;
  const m = z.reduce((a, b) => Math.max(a, b), -Infinity);
  const s = z.reduce((a, v) => a + Math.exp(v - m), 0);
  const logprobOf = (i: number) => x[i] / t - m - Math.log(s);
  const first = z.indexOf(m);
  if (temperature === 0) {
    return { token: first, logprob: logprobOf(first), kept: new Set([first]), margin: Infinity };
  }
  const desc = [...z].sort((a, b) => b - a);
  let tau = -Infinity;
  if (topK > 0 && topK < vocab) tau = desc[topK - 1];
  if (topP < 1) {
    const massK = z.reduce((a, v) => a + (v >= tau ? Math.exp(v - m) : 0), 0);
    let cum = 0;
    for (const [i, v] of desc.entries()) {
      cum += Math.exp(v - m);
      if (desc[i + 1] === v) continue; // a tie group enters or leaves as a whole
      if (cum >= topP * massK) {
        tau = Math.max(tau, v);
        break;
      }
    }
  }
  const kept = new Set<number>();
  let best = -Infinity, second = -Infinity, token = -1;
  for (let i = 0; i < vocab; i++) {
    if (z[i] < tau) continue;
    kept.add(i);
    const w = (samplingBits(seed, stream, step, i) + 0.5) / 2 ** 32;
    const score = z[i] - Math.log(-Math.log1p(-w));
    if (score > best) [second, best, token] = [best, score, i];
    else if (score > second) second = score;
  }
  return { token, logprob: logprobOf(token), kept, margin: best - second };
}

async function run(
  gpu: Gpu,
  x: ArrayLike<number>,
  shape: [number, number],
  streams: ArrayLike<number>,
  steps: ArrayLike<number>,
  opts: SamplingOptions,
  rowSeeds?: readonly number[],
): Promise<{ tokens: Int32Array; logprobs: Float32Array }> {
  const tensors: Tensor[] = [
    gpu.fromArray(x, shape),
    gpu.fromArray(streams, [shape[0]], "u32"),
    gpu.fromArray(steps, [shape[0]], "u32"),
  ];
  if (rowSeeds) tensors.push(gpu.fromArray(seedWords(rowSeeds), [shape[0], 2], "u32"));
  const out = sampleTokens(
    gpu,
    tensors[0],
    tensors[1],
    tensors[2],
    rowSeeds ? { ...opts, seeds: tensors[3] } : opts,
  );
  const tokens = await out.tokens.read() as Int32Array;
  const logprobs = await out.logprobs.read() as Float32Array;
  for (const t of [...tensors, out.tokens, out.logprobs]) t.release();
  return { tokens, logprobs };
}

function chiSquare(counts: number[], probs: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((a, c, i) => a + (c - n * probs[i]) ** 2 / (n * probs[i]), 0);
}

Deno.test("sampling: host Philox-4x32-10 reproduces the Random123 known-answer vectors", () => {
  const hex = (a: Uint32Array) => Array.from(a, (v) => v.toString(16).padStart(8, "0")).join(" ");
  const cases = [
    [[0, 0, 0, 0], [0, 0], "6627e8d5 e169c58d bc57ac4c 9b00dbd8"],
    [[~0, ~0, ~0, ~0], [~0, ~0], "408f276d 41c83b0e a20bc7c6 6d5451fd"],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      "d16cfe09 94fdcceb 5001e420 24126ea1",
    ],
  ] as const;
  for (const [ctr, key, want] of cases) {
    const got = hex(philox4x32(ctr, key));
    if (got !== want) throw new Error(`philox(${ctr}, ${key}) = ${got}, want ${want}`);
  }
});

for (const vocab of [1, 7, 130, 50_000]) {
  Deno.test(`sampling: GPU draws equal the float64 Gumbel-max reference, V=${vocab}`, async () => {
    const gpu = await getDevice();
    const rows = vocab === 50_000 ? 3 : 33;
    const r = rng(vocab);
    const x = f32(randn(r, rows * vocab, 2));
    // Plant ties at the top-k boundary and duplicate maxima: ties at the threshold are all kept.
    for (let row = 0; row < rows && vocab >= 7; row++) {
      const at = row * vocab;
      x[at + 3] = x[at + 5] = x[at + 6];
    }
    const streams = Array.from({ length: rows }, (_, i) => 1000 + 7 * i);
    const steps = Array.from({ length: rows }, (_, i) => i * i);
    let compared = 0;
    const configs: SamplingOptions[] = [];
    for (const temperature of [1, 0.7, 1.3]) {
      for (const [topK, topP] of [[0, 1], [5, 1], [0, 0.9], [5, 0.8], [1, 1]]) {
        configs.push({ temperature, topK, topP, seed: 12345 + 2 ** 40 * topK });
      }
    }
    for (const opts of configs) {
      const got = await run(gpu, x, [rows, vocab], streams, steps, opts);
      for (let row = 0; row < rows; row++) {
        const ref = refSample(x.subarray(row * vocab, (row + 1) * vocab), opts, streams[row], steps[row]);
        const what = `row ${row} ${JSON.stringify(opts)}`;
        const tok = got.tokens[row];
        if (!ref.kept.has(tok)) throw new Error(`${what}: token ${tok} is outside the kept set`);
        // Scores differ from the reference by f32 roundings of z and of the noise (~1e-5 at most).
        if (ref.margin > 1e-3) {
          if (tok !== ref.token) throw new Error(`${what}: GPU token ${tok}, reference ${ref.token}`);
          compared++;
        }
        // log p = (z_t − m) − log s: roundings of z (ε·|z|, |z| ≲ 10 here) and the relative error of
        // the f32 sum s over ≤ ceil(V/256) + 8 chained terms (≤ 204·ε ≈ 1.2e-5 at V = 50,000).
        assertClose([got.logprobs[row]], [ref.logprob], { atol: 2e-5, rtol: 1e-6 }, `${what} logprob`);
      }
    }
    // Nearly every draw must be decided by a clear margin, or the comparison proves little.
    if (compared < configs.length * rows * 0.9) throw new Error(`only ${compared} draws had a clear margin`);
  });
}

Deno.test("sampling: temperature 0 is the argmax with the lowest index among ties", async () => {
  const gpu = await getDevice();
  const [rows, vocab] = [7, 300];
  const x = f32(randn(rng(3), rows * vocab));
  x[0 * vocab + 290] = x[0 * vocab + 17] = 9; // tie across threads 17 and 34 (V = 300 runs 64 threads)
  x[1 * vocab + 299] = 9;
  x[2 * vocab + 3] = x[2 * vocab + 258] = 9; // the higher index belongs to the lower thread (2 vs 3)
  const got = await run(gpu, x, [rows, vocab], new Array(rows).fill(0), new Array(rows).fill(0), {
    temperature: 0,
    topK: 3,
    topP: 0.5,
    seed: 1,
  });
  for (let row = 0; row < rows; row++) {
    const ref = refSample(x.subarray(row * vocab, (row + 1) * vocab), { temperature: 0, seed: 1 }, 0, 0);
    if (got.tokens[row] !== ref.token) throw new Error(`row ${row}: ${got.tokens[row]}, argmax ${ref.token}`);
    // Greedy reports log softmax(logits) at T = 1.
    assertClose([got.logprobs[row]], [ref.logprob], { atol: 2e-6, rtol: 0 }, `row ${row} logprob`);
  }
  if (got.tokens[0] !== 17 || got.tokens[1] !== 299 || got.tokens[2] !== 3) {
    throw new Error(`ties: ${got.tokens}`);
  }
});

Deno.test("sampling: same seed repeats, another seed or step changes the draws", async () => {
  const gpu = await getDevice();
  const [rows, vocab] = [64, 130];
  const x = f32(randn(rng(5), rows * vocab, 0.1)); // near-uniform: a repeat by chance has p ≈ 1/130
  const streams = Array.from({ length: rows }, (_, i) => i);
  const zeros = new Array(rows).fill(0);
  const a = await run(gpu, x, [rows, vocab], streams, zeros, { seed: 7 });
  const b = await run(gpu, x, [rows, vocab], streams, zeros, { seed: 7 });
  const c = await run(gpu, x, [rows, vocab], streams, zeros, { seed: 8 });
  const d = await run(gpu, x, [rows, vocab], streams, zeros.map(() => 1), { seed: 7 });
  const e = await run(gpu, x, [rows, vocab], streams, zeros, { seed: 7 + 2 ** 32 }); // high seed word
  assertClose(a.tokens, b.tokens, { atol: 0 }, "same seed");
  assertClose(a.logprobs, b.logprobs, { atol: 0 }, "same seed logprobs");
  for (const [name, other] of [["seed", c], ["step", d], ["seed high word", e]] as const) {
    const same = a.tokens.filter((t, i) => t === other.tokens[i]).length;
    // Expected ≈ 64/130 ≈ 0.5 coincidences; 8 or more has probability < 1e-5.
    if (same >= 8) throw new Error(`another ${name} repeated ${same} of ${rows} tokens`);
  }
});

Deno.test("sampling: a row's draw does not depend on its batch position or neighbours", async () => {
  const gpu = await getDevice();
  const vocab = 130;
  const count = 20;
  const rowsX = Array.from({ length: count }, (_, i) => f32(randn(rng(100 + i), vocab)));
  const streams = Array.from({ length: count }, (_, i) => 5000 + i);
  const steps = Array.from({ length: count }, (_, i) => 3 * i + 1);
  const opts = { temperature: 0.9, topP: 0.95, seed: 99 };
  const batch = async (order: number[]) => {
    const x = new Float32Array(order.length * vocab);
    order.forEach((k, i) => x.set(rowsX[k], i * vocab));
    const out = await run(
      gpu,
      x,
      [order.length, vocab],
      order.map((k) => streams[k]),
      order.map((k) => steps[k]),
      opts,
    );
    const byRow = new Map<number, number>();
    order.forEach((k, i) => byRow.set(k, out.tokens[i]));
    return byRow;
  };
  const all = await batch(Array.from({ length: count }, (_, i) => i));
  const reversed = await batch(Array.from({ length: count }, (_, i) => count - 1 - i));
  const evens = await batch([18, 2, 0, 6, 4]);
  for (let k = 0; k < count; k++) {
    for (const other of [reversed, evens]) {
      if (other.has(k) && other.get(k) !== all.get(k)) {
        throw new Error(`row ${k}: ${all.get(k)} in one batch, ${other.get(k)} in another`);
      }
    }
  }
});

for (const rows of [1, 5, 33]) {
  Deno.test(`sampling: per-row seeds equal the reference with each row's own seed, B=${rows}`, async () => {
    const gpu = await getDevice();
    const vocab = 130;
    const x = f32(randn(rng(40 + rows), rows * vocab, 2));
    const streams = Array.from({ length: rows }, (_, i) => 3 * i);
    const steps = Array.from({ length: rows }, (_, i) => 7 + i);
    // Both words vary: low words, a high word, and the largest seed.
    const seeds = Array.from(
      { length: rows },
      (_, i) => i === rows - 1 ? Number.MAX_SAFE_INTEGER : 17 + i * 2 ** 33 + i,
    );
    for (const opts of [{ temperature: 1 }, { temperature: 0.8, topK: 9, topP: 0.9 }]) {
      const got = await run(gpu, x, [rows, vocab], streams, steps, opts, seeds);
      let compared = 0;
      for (let row = 0; row < rows; row++) {
        const ref = refSample(
          x.subarray(row * vocab, (row + 1) * vocab),
          opts,
          streams[row],
          steps[row],
          seeds[row],
        );
        if (ref.margin > 1e-3) {
          if (got.tokens[row] !== ref.token) {
            throw new Error(`row ${row} seed ${seeds[row]}: GPU ${got.tokens[row]}, reference ${ref.token}`);
          }
          compared++;
        }
      }
      if (compared < rows * 0.8) throw new Error(`only ${compared} of ${rows} draws had a clear margin`);
      // A row under its own seed draws as a one-seed dispatch of that seed does.
      for (const row of new Set([0, rows - 1])) {
        const alone = await run(gpu, x.subarray(row * vocab, (row + 1) * vocab), [1, vocab], [streams[row]], [
          steps[row],
        ], {
          ...opts,
          seed: seeds[row],
        });
        if (alone.tokens[0] !== got.tokens[row]) {
          throw new Error(`row ${row}: ${got.tokens[row]} vs alone ${alone.tokens[0]}`);
        }
        assertClose([got.logprobs[row]], [alone.logprobs[0]], { atol: 0 }, `row ${row} logprob`);
      }
    }
  });
}

/** Draws `n` tokens of one row of logits `z` (streams 0..n−1) and returns per-token counts. */
async function histogram(gpu: Gpu, z: number[], n: number, opts: SamplingOptions): Promise<number[]> {
  const x = new Float32Array(n * z.length);
  for (let i = 0; i < n; i++) x.set(z, i * z.length);
  const streams = Array.from({ length: n }, (_, i) => i);
  const steps = Array.from({ length: n }, (_, i) => i % 3);
  const { tokens } = await run(gpu, x, [n, z.length], streams, steps, opts);
  const counts = new Array(z.length).fill(0);
  for (const t of tokens) counts[t]++;
  return counts;
}

function softmax(z: number[], t: number): number[] {
  const e = z.map((v) => Math.exp(Math.fround(v / Math.fround(t))));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

Deno.test("sampling: 20,000 draws over V=5 fit softmax(z/T), and top-k / top-p their renormalised laws", async () => {
  const gpu = await getDevice();
  const n = 20_000;
  const probs = [0.15, 0.4, 0.05, 0.3, 0.1];
  const z = probs.map((p) => Math.fround(Math.log(p) + 1));
  const check = (what: string, counts: number[], allowed: number[], law: number[]) => {
    counts.forEach((c, i) => {
      if (!allowed.includes(i) && c > 0) throw new Error(`${what}: token ${i} drawn ${c} times, not allowed`);
    });
    const stat = chiSquare(allowed.map((i) => counts[i]), law);
    const crit = CHI2_CRIT[allowed.length - 1];
    if (!(stat < crit)) {
      throw new Error(`${what}: chi-square ${stat.toFixed(2)} ≥ ${crit} (counts ${counts})`);
    }
  };
  for (const t of [1, 0.7, 1.3]) {
    check(`T=${t}`, await histogram(gpu, z, n, { temperature: t, seed: 11 }), [0, 1, 2, 3, 4], softmax(z, t));
  }
  const renorm = (idx: number[]) => {
    const s = idx.reduce((a, i) => a + probs[i], 0);
    return idx.map((i) => probs[i] / s);
  };
  check("top-k 2", await histogram(gpu, z, n, { topK: 2, seed: 12 }), [1, 3], renorm([1, 3]));
  // Cumulative 0.4, 0.7, 0.85: the smallest top set with mass ≥ 0.75 holds three tokens.
  check("top-p 0.75", await histogram(gpu, z, n, { topP: 0.75, seed: 13 }), [1, 3, 0], renorm([1, 3, 0]));
  // Renormalised top-3 is 0.47, 0.35, 0.18: top-p 0.8 of it keeps two.
  check(
    "top-k 3 + top-p 0.8",
    await histogram(gpu, z, n, { topK: 3, topP: 0.8, seed: 14 }),
    [1, 3],
    renorm([1, 3]),
  );
  // Ties at the k-th value are all kept: top-2 of [2, 1, 1, 1, 0] keeps four tokens.
  const tied = [2, 1, 1, 1, 0];
  const law = softmax(tied.slice(0, 4), 1);
  check("top-k 2 with ties", await histogram(gpu, tied, n, { topK: 2, seed: 15 }), [0, 1, 2, 3], law);
});

Deno.test("sampling: bad arguments name the kernel and the argument", async () => {
  const gpu = await getDevice();
  const x = gpu.zeros([3, 5]);
  const u = gpu.zeros([3], "u32");
  const i = gpu.zeros([3], "i32");
  const k = "sampling.sample";
  await assertThrowsWith(() => sampleTokens(gpu, x, i, u, { seed: 1 }), k, `"streams"`, "u32");
  await assertThrowsWith(
    () => sampleTokens(gpu, x, u, gpu.zeros([4], "u32"), { seed: 1 }),
    k,
    `"steps"`,
    "[3]",
  );
  await assertThrowsWith(() => sampleTokens(gpu, x.reshape([15]), u, u, { seed: 1 }), k, `"logits"`);
  await assertThrowsWith(() => sampleTokens(gpu, x, u, u, { seed: -1 }), k, `"seed"`);
  await assertThrowsWith(() => sampleTokens(gpu, x, u, u, { seed: 1.5 }), k, `"seed"`);
  await assertThrowsWith(() => sampleTokens(gpu, x, u, u, {}), k, `"seed"`, "exactly one");
  await assertThrowsWith(() => sampleTokens(gpu, x, u, u, { seeds: u }), k, `"seeds"`, "[3, 2]");
  await assertThrowsWith(() => sampleTokens(gpu, x, u, u, { seed: 1, temperature: -1 }), k, `"temperature"`);
  await assertThrowsWith(() => sampleTokens(gpu, x, u, u, { seed: 1, topK: 2.5 }), k, `"topK"`);
  await assertThrowsWith(() => sampleTokens(gpu, x, u, u, { seed: 1, topP: 0 }), k, `"topP"`);
  await assertThrowsWith(() => sampleTokens(gpu, x, u, u, { seed: 1 }, { tokens: u }), k, `"tokens"`, "i32");
  await assertThrowsWith(
    () => sampleTokens(gpu, x, u, u, { seed: 1 }, { logprobs: i }),
    k,
    `"logprobs"`,
    "f32",
  );
  for (const t of [x, u, i]) t.release();
});

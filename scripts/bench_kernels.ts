/**
 * Kernel benchmark: for every kernel and shape in the table below, the time per call, GFLOP/s and
 * effective GB/s (the bytes a call must at least move: inputs read once, outputs written once). Matmul
 * cases time every candidate tiling (4×4 blocks on 64-wide tiles, the double-buffered large-tile kernel
 * with 8×8 / 8×4 / 4×8 blocks), mark the one the library chooses for the shape (from the tuning file, or
 * the fixed rule when the file has no entry), and time two baselines on the same shapes in the same run:
 * a naive WGSL kernel (one thread per output) and a plain TypeScript triple loop on Float32Array. With
 * --tune the fastest candidate of each matmul shape becomes its shape class's entry in the tuning file.
 * Flags and timing: see the flag table below (`deno task bench:kernels --help`).
 *
 * @module
 */

import { getDevice, type Gpu } from "../lib/gpu/device.ts";
import type { Tensor } from "../lib/gpu/tensor.ts";
import { adamwUpdate, gradNorm } from "../lib/ops/adamw.ts";
import { attentionBackward, attentionForward } from "../lib/ops/attention.ts";
import { recordStep } from "../lib/ops/decode.ts";
import { kvWrite } from "../lib/ops/decode_layer.ts";
import { add, axpy, scale } from "../lib/ops/elementwise.ts";
import { embeddingBackward, embeddingForward, embeddingGradPlan } from "../lib/ops/embedding.ts";
import { LOGIT_STAT_COUNT, logitStats, logitStatsBackward } from "../lib/ops/logit_stats.ts";
import { linearBackward, matmul } from "../lib/ops/matmul.ts";
import type { MatmulTiles } from "../lib/ops/matmul_tiles.ts";
import { rmsnormBackward, rmsnormForward } from "../lib/ops/rmsnorm.ts";
import { ropeBackward, ropeForward } from "../lib/ops/rope.ts";
import { copyColumns, gatherRows, maskedMeanRows, scatterAddRows } from "../lib/ops/rows.ts";
import { sampleTokens } from "../lib/ops/sampling.ts";
import { swigluBackward, swigluBackwardFused, swigluForward, swigluForwardFused } from "../lib/ops/swiglu.ts";
import { runMain, ScriptCli } from "./_cli.ts";
import { z } from "zod";
import { UsageError } from "../lib/errors.ts";
import { QWEN25_05B } from "../lib/model/qwen25_config.ts";
// The naive kernel is a baseline for this benchmark only, so it is not part of the public API.
import { matmulNaive } from "../lib/ops/matmul.ts";
import {
  adapterKey,
  chooseMatmulTiles,
  type MatmulShape,
  matmulShapeClass,
  matmulTuning,
  type MatmulTuningEntry,
  matmulTuningPath,
  setMatmulTuning,
  tilesName,
  tilesProblem,
  writeMatmulTuning,
} from "../lib/ops/matmul_tiles.ts";
import { syncLatencyMs, timeGpuCall, tuneMatmul } from "../lib/ops/matmul_tuner.ts";

const cli = new ScriptCli({
  task: "bench:kernels",
  summary: "Times every kernel (matmul tilings, attention, norms, RoPE, logit statistics, …) per call, in " +
    "GFLOP/s and GB/s beside baselines on the same shapes, and with --tune picks the fastest matmul tiling of each shape for this adapter.",
  flags: {
    reps: {
      arg: "N",
      doc: "calls per timed batch; on a fast GPU the batch grows until it lasts --min-ms",
      default: "3",
    },
    filter: {
      arg: "TEXT",
      doc: 'only cases whose "family name shape" contains TEXT (e.g. --filter matmul, --filter q_proj)',
      defaultText: "every case",
    },
    large: {
      doc:
        "GPU-sized shapes (2048 tokens, the full 151936-row LM head in chunks); default shapes are small " +
        "enough for Mesa's software rasterizer to finish each case in seconds",
    },
    tune: {
      doc: "write the fastest candidate of every matmul shape to the tuning file for this adapter " +
        "($RLIF_MATMUL_TILES, else $XDG_CACHE_HOME/rlif/matmul-tiles.json, else ~/.cache/rlif/matmul-tiles.json); " +
        "matmul, linear and linearBackward then use it",
    },
    tiles: {
      arg: "SPEC",
      doc: "time only this matmul tiling instead of the candidates: WGXxWGYxBK with an optional xTMxTN " +
        "register block, e.g. 16x16x16 or 16x16x8x8x8 (threads along N x threads along M x K step x rows " +
        "x columns per thread)",
      defaultText: "every candidate",
    },
    "min-ms": { arg: "MS", doc: "shortest timed batch in milliseconds", default: "200" },
    "cpu-gflop": {
      arg: "G",
      doc: "largest TypeScript-loop run in GFLOP before it is timed on a subset of rows",
      default: "0.3",
    },
  },
  notes: {
    "shapes": 'Matmul shapes read "[batch x] M x N x K", with Aᵀ / Bᵀ for transposed operands (Bᵀ: a ' +
      "weight [N, K]).",
    "timing": "One warm-up call (compiles pipelines, fills the buffer pool), then calls recorded into one " +
      "submit and awaited with gpu.sync() (wall time; the idle latency of a sync, ~10 ms in Deno's WebGPU, " +
      "is measured first and subtracted). CPU baselines of more than --cpu-gflop work time a subset of the " +
      "output rows and scale up (a triple loop's time is linear in the row count); such rows are marked. " +
      "Timings on a software adapter (llvmpipe) say nothing about which tiling a GPU prefers: tune on the " +
      "GPU itself.",
  },
  examples: ["deno task bench:kernels --filter matmul", "deno task bench:kernels --large --tune"],
});
const { values: flags } = cli.parse();
const reps = cli.number("reps", z.number().int().min(1));
const minMs = cli.number("min-ms", z.number().min(0));
const cpuBudget = cli.number("cpu-gflop", z.number().positive()) * 1e9;
const tiles: MatmulTiles | undefined = flags.tiles ? parseTiles(flags.tiles) : undefined;
if (tiles && flags.tune) cli.fail("--tune times every candidate tiling; it cannot be combined with --tiles");

function parseTiles(s: string): MatmulTiles {
  const m = /^(\d+)x(\d+)x(\d+)(?:x([48])x([48]))?$/.exec(s);
  if (!m) {
    return cli.fail(`--tiles must look like 16x16x16 or 16x16x8x8x8 (wgX x wgY x bk [x tm x tn]), got ${s}`);
  }
  const t = { wgX: Number(m[1]), wgY: Number(m[2]), bk: Number(m[3]) };
  return m[4] ? { ...t, tm: Number(m[4]) as 4 | 8, tn: Number(m[5]) as 4 | 8 } : t;
}

// ---------------------------------------------------------------------------------------------------
// The table. Each case builds its tensors once and returns the implementations to time; the first is
// the kernel under test, any others are baselines it is compared against.

/** One implementation of a case: `run` records one call (GPU) or computes it (CPU). */
interface Impl {
  readonly label: string;
  readonly cpu?: boolean;
  /** Fraction of the case's work one run does (CPU baselines on a subset of rows); default 1. */
  readonly share?: number;
  readonly run: () => void;
}

interface Case {
  /** Op family, used by --filter ("matmul", "elementwise", ...). */
  readonly family: string;
  readonly name: string;
  readonly shape: string;
  /** Floating point operations per call (a multiply-add counts 2). */
  readonly flops: number;
  /** Minimum bytes per call: every input read once, every output written once. */
  readonly bytes: number;
  /** Matmul cases: the product whose tiling is selected and tuned (see {@link Setup}.tiled). */
  readonly product?: MatmulShape;
  readonly setup: (gpu: Gpu) => Setup;
}

/** A case's tensors: the implementations to time and how to free them. */
interface Setup {
  /** Baselines, or the kernel under test for cases without a `product`. */
  readonly impls: Impl[];
  /** Matmul cases: one call of the product on the given tiles (each candidate is timed through it). */
  readonly tiled?: (tiles: MatmulTiles) => void;
  /** A line printed under the case (the tilings a composite call selects). */
  readonly note?: () => string;
  readonly release: () => void;
}

const F32 = 4;
const QWEN = {
  hidden: QWEN25_05B.hiddenSize,
  inter: QWEN25_05B.intermediateSize,
  heads: QWEN25_05B.numHeads,
  kvHeads: QWEN25_05B.numKvHeads,
  headDim: QWEN25_05B.headDim,
  vocab: QWEN25_05B.vocabSize,
};

/** Deterministic pseudo-random values in [-1, 1): timing does not need real data, only no NaN/denormals. */
function noise(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * The plain TypeScript baseline: rows [0, rows) of C = op(A)·op(B) for every batch, with the loop order
 * that keeps the innermost access contiguous (dot products over rows of B when B is transposed, rows of
 * B scaled into rows of C otherwise).
 */
function cpuMatmul(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  d: { m: number; n: number; k: number; batch: number; transA: boolean; transB: boolean; batchedB: boolean },
  rows: number,
): void {
  const { m, n, k, transA, transB } = d;
  const [sai, saq] = transA ? [1, m] : [k, 1];
  for (let z = 0; z < d.batch; z++) {
    const oa = z * m * k, ob = d.batchedB ? z * k * n : 0, oc = z * m * n;
    for (let i = 0; i < rows; i++) {
      const ai = oa + i * sai, ci = oc + i * n;
      if (transB) {
        for (let j = 0; j < n; j++) {
          const bj = ob + j * k;
          let s = 0;
          for (let q = 0; q < k; q++) s += a[ai + q * saq] * b[bj + q];
          c[ci + j] = s;
        }
      } else {
        c.fill(0, ci, ci + n);
        for (let q = 0; q < k; q++) {
          const av = a[ai + q * saq], bq = ob + q * n;
          for (let j = 0; j < n; j++) c[ci + j] += av * b[bq + j];
        }
      }
    }
  }
}

interface MatmulCaseSpec {
  name: string;
  m: number;
  n: number;
  k: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  /** B shared across the batch (rank 2) instead of batched. */
  sharedB?: boolean;
  /** Bias [N] added (linear layers with bias). */
  bias?: boolean;
}

/** A matmul case: the tiled kernel against the naive WGSL kernel and the TypeScript loop. */
function matmulCase(s: MatmulCaseSpec): Case {
  const batch = s.batch ?? 1, transA = s.transA ?? false, transB = s.transB ?? false;
  const batchedB = batch > 1 && !s.sharedB;
  const { m, n, k } = s;
  const sizeB = (batchedB ? batch : 1) * k * n;
  return {
    family: "matmul",
    name: s.name,
    shape: `${batch > 1 ? `${batch}x` : ""}${m}x${n}x${k}${transA ? " Aᵀ" : ""}${transB ? " Bᵀ" : ""}`,
    flops: 2 * batch * m * n * k,
    bytes: F32 * (batch * m * k + sizeB + batch * m * n),
    product: { m, n, k, batch, transA, transB, weights: "f32" },
    setup(gpu) {
      const lead = batch > 1 ? [batch] : [];
      const ha = noise(batch * m * k, 1), hb = noise(sizeB, 2);
      const a = gpu.fromArray(ha, [...lead, ...(transA ? [k, m] : [m, k])]);
      const b = gpu.fromArray(hb, [...(batchedB ? [batch] : []), ...(transB ? [n, k] : [k, n])]);
      const bias = s.bias ? gpu.fromArray(noise(n, 3), [n]) : undefined;
      const out = gpu.empty([...lead, m, n]);
      const opts = { transA, transB, bias, out };
      const hc = new Float32Array(batch * m * n);
      const rows = Math.max(1, Math.min(m, Math.floor(cpuBudget / (2 * batch * n * k))));
      const dims = { m, n, k, batch, transA, transB, batchedB };
      return {
        tiled: (tiles) => matmul(gpu, a, b, { ...opts, tiles }),
        impls: [
          { label: "naive wgsl", run: () => matmulNaive(gpu, a, b, opts) },
          { label: "ts loop", cpu: true, share: rows / m, run: () => cpuMatmul(ha, hb, hc, dims, rows) },
        ],
        release: () => [a, b, out, bias].forEach((t) => t?.release()),
      };
    },
  };
}

/** The LM head over the whole vocabulary in chunks of `chunk` rows (each chunk's weight one tensor). */
function lmHeadCase(tokens: number, vocab: number, chunk: number): Case {
  const d = QWEN.hidden, chunks = Math.ceil(vocab / chunk);
  return {
    family: "matmul",
    name: `lm_head in ${chunks} chunks of ${chunk}`,
    shape: `${tokens}x${vocab}x${d} Bᵀ`,
    flops: 2 * tokens * vocab * d,
    bytes: F32 * (tokens * d + vocab * d + tokens * vocab),
    product: { m: tokens, n: chunk, k: d, batch: 1, transA: false, transB: true, weights: "f32" },
    setup(gpu) {
      const hx = noise(tokens * d, 1), hw = noise(chunk * d, 2);
      const x = gpu.fromArray(hx, [tokens, d]);
      const ws = Array.from({ length: chunks }, (_, i) => {
        const rows = Math.min(chunk, vocab - i * chunk);
        return gpu.fromArray(hw.subarray(0, rows * d), [rows, d]);
      });
      // Every chunk overwrites one logits buffer (a narrower one for the last), as a fused consumer that
      // reduces each chunk before the next would; 2048 x 151936 f32 logits exceed most binding limits.
      const sizes = [...new Set(ws.map((w) => w.shape[0]))];
      const bufs = new Map(sizes.map((n) => [n, gpu.empty([tokens, n])]));
      const outs = ws.map((w) => bufs.get(w.shape[0])!);
      const hy = new Float32Array(tokens * chunk);
      const rows = Math.max(1, Math.min(tokens, Math.floor(cpuBudget / (2 * chunk * d))));
      const dims = { m: tokens, n: chunk, k: d, batch: 1, transA: false, transB: true, batchedB: false };
      return {
        tiled: (tiles) => ws.forEach((w, i) => matmul(gpu, x, w, { transB: true, out: outs[i], tiles })),
        impls: [
          {
            label: "naive wgsl",
            run: () => ws.forEach((w, i) => matmulNaive(gpu, x, w, { transB: true, out: outs[i] })),
          },
          {
            label: "ts loop",
            cpu: true,
            share: (rows / tokens) * (chunk / vocab),
            run: () => cpuMatmul(hx, hw, hy, dims, rows),
          },
        ],
        release: () => [x, ...ws, ...bufs.values()].forEach((t) => t.release()),
      };
    },
  };
}

/** The backward of a linear layer: dX and dW (and db) in one call, as the model's backward issues it. */
function linearBackwardCase(name: string, m: number, n: number, k: number): Case {
  return {
    family: "matmul",
    name,
    shape: `dy ${m}x${n}, x ${m}x${k}`,
    flops: 2 * 2 * m * n * k + m * n,
    bytes: F32 * (m * n + m * k + n * k) + F32 * (m * k + n * k + n),
    setup(gpu) {
      const dy = gpu.fromArray(noise(m * n, 1), [m, n]);
      const x = gpu.fromArray(noise(m * k, 2), [m, k]);
      const w = gpu.fromArray(noise(n * k, 3), [n, k]);
      const dx = gpu.empty([m, k]), dw = gpu.empty([n, k]), db = gpu.empty([n]);
      const selected = (p: MatmulShape) => {
        const c = chooseMatmulTiles(p, matmulTuning(gpu), gpu.limits);
        return `${tilesName(c.tiles)} (${c.tuned ? "tuned" : "default rule"})`;
      };
      const f32 = { batch: 1, transB: false, weights: "f32" } as const;
      return {
        impls: [{ label: "selected", run: () => linearBackward(gpu, dy, x, w, { dx, dw, db }) }],
        note: () =>
          `dX ${m}x${k}x${n}: ${selected({ ...f32, m, n: k, k: n, transA: false })}; ` +
          `dW ${n}x${k}x${m} Aᵀ: ${selected({ ...f32, m: n, n: k, k: m, transA: true })}`,
        release: () => [dy, x, w, dx, dw, db].forEach((t) => t.release()),
      };
    },
  };
}

/** A case with a single GPU implementation over fresh tensors of the given shapes. */
function gpuCase(
  family: string,
  name: string,
  shape: string,
  flops: number,
  bytes: number,
  build: (gpu: Gpu) => { run: () => void; tensors: Tensor[] },
): Case {
  return {
    family,
    name,
    shape,
    flops,
    bytes,
    setup(gpu) {
      const { run, tensors } = build(gpu);
      return { impls: [{ label: "kernel", run }], release: () => tensors.forEach((t) => t.release()) };
    },
  };
}

function cases(large: boolean): Case[] {
  const { hidden: d, inter, heads, kvHeads, headDim } = QWEN;
  const t = large ? 2048 : 64; // tokens of a training micro-batch
  const tBig = large ? 512 : 16; // tokens for the 4864-wide MLP projections
  const s = large ? 512 : 64; // sequence length for attention
  const n = large ? 1 << 24 : 1 << 20; // elementwise length
  const list: Case[] = [
    matmulCase({ name: "linear q_proj", m: t, n: d, k: d, transB: true, bias: true }),
    matmulCase({ name: "linear gate_proj", m: tBig, n: inter, k: d, transB: true }),
    matmulCase({ name: "linear down_proj", m: tBig, n: d, k: inter, transB: true }),
    matmulCase({ name: "dX = dY·W (q_proj)", m: t, n: d, k: d }),
    matmulCase({ name: "dW = dYᵀ·X (q_proj)", m: d, n: d, k: t, transA: true }),
    matmulCase({ name: "attention Q·Kᵀ per head", m: s, n: s, k: headDim, batch: heads, transB: true }),
    matmulCase({ name: "attention P·V per head", m: s, n: headDim, k: s, batch: heads }),
    lmHeadCase(large ? 2048 : 8, large ? QWEN.vocab : 16384, 8192),
    linearBackwardCase("linearBackward q_proj (dX, dW, db)", t, d, d),
  ];
  if (large) {
    list.splice(
      3,
      0,
      matmulCase({ name: "linear gate_proj", m: t, n: inter, k: d, transB: true }),
      matmulCase({ name: "linear down_proj", m: t, n: d, k: inter, transB: true }),
    );
  }
  list.push(
    gpuCase("elementwise", "add", `${n}`, n, 3 * F32 * n, (gpu) => {
      const a = gpu.fromArray(noise(n, 1), [n]), b = gpu.fromArray(noise(n, 2), [n]), o = gpu.empty([n]);
      return { run: () => add(gpu, a, b, o), tensors: [a, b, o] };
    }),
    gpuCase("elementwise", "axpy", `${n}`, 2 * n, 3 * F32 * n, (gpu) => {
      const x = gpu.fromArray(noise(n, 1), [n]), y = gpu.fromArray(noise(n, 2), [n]);
      return { run: () => axpy(gpu, 1e-3, x, y), tensors: [x, y] };
    }),
    gpuCase("elementwise", "scale", `${n}`, n, 2 * F32 * n, (gpu) => {
      const v = gpu.fromArray(noise(n, 1), [n]);
      return { run: () => scale(gpu, v, 1), tensors: [v] };
    }),
  );

  // Per-token layers of the transformer block on t tokens: embedding, RMSNorm, RoPE, SwiGLU.
  const vocab = 32768; // the table size does not change the traffic of a lookup (t rows are touched)
  const ids = Int32Array.from({ length: t }, (_, i) => (i * 7919) % vocab);
  list.push(
    gpuCase("embedding", "embeddingForward", `${t} of ${vocab}x${d}`, 0, F32 * (2 * t * d + t), (gpu) => {
      const table = gpu.fromArray(noise(vocab * d), [vocab, d]);
      const idsT = gpu.fromArray(ids, [t], "i32");
      const out = gpu.empty([t, d]);
      return { run: () => embeddingForward(gpu, table, idsT, out), tensors: [table, idsT, out] };
    }),
    gpuCase(
      "embedding",
      "embeddingBackward (uploads its plan)",
      `${t} into ${vocab}x${d}`,
      t * d,
      F32 * 3 * t * d,
      (gpu) => {
        const dy = gpu.fromArray(noise(t * d), [t, d]);
        const dTable = gpu.zeros([vocab, d]);
        const plan = embeddingGradPlan(ids, vocab);
        return { run: () => embeddingBackward(gpu, dy, ids, dTable, plan), tensors: [dy, dTable] };
      },
    ),
    gpuCase("norm", "rmsnormForward", `${t}x${d}`, 4 * t * d, F32 * (2 * t * d + d + t), (gpu) => {
      const x = gpu.fromArray(noise(t * d, 1), [t, d]), w = gpu.fromArray(noise(d, 2), [d]);
      const y = gpu.empty([t, d]), rstd = gpu.empty([t]);
      return { run: () => rmsnormForward(gpu, x, w, 1e-6, { y, rstd }), tensors: [x, w, y, rstd] };
    }),
    gpuCase(
      "norm",
      "rmsnormBackward (dx, dw)",
      `${t}x${d}`,
      10 * t * d,
      F32 * (3 * t * d + 2 * d + t),
      (gpu) => {
        const x = gpu.fromArray(noise(t * d, 1), [t, d]), w = gpu.fromArray(noise(d, 2), [d]);
        const dy = gpu.fromArray(noise(t * d, 3), [t, d]);
        const { y, rstd } = rmsnormForward(gpu, x, w, 1e-6);
        const dx = gpu.empty([t, d]), dw = gpu.zeros([d]);
        return {
          run: () => rmsnormBackward(gpu, dy, x, w, rstd, dw, { dx }),
          tensors: [x, w, dy, y, rstd, dx, dw],
        };
      },
    ),
  );
  const qkWidth = (heads + kvHeads) * headDim;
  for (const dir of ["ropeForward", "ropeBackward"] as const) {
    list.push(
      gpuCase(
        "rope",
        `${dir} (q and k, in place)`,
        `${t}x${heads}+${kvHeads}x${headDim}`,
        3 * t * qkWidth,
        F32 * (2 * t * qkWidth + t),
        (gpu) => {
          const q = gpu.fromArray(noise(t * heads * headDim, 1), [t, heads * headDim]);
          const k = gpu.fromArray(noise(t * kvHeads * headDim, 2), [t, kvHeads * headDim]);
          const positions = gpu.fromArray(Int32Array.from({ length: t }, (_, i) => i), [t], "i32");
          const opts = { headDim, theta: 1e6, inPlace: true };
          const f = dir === "ropeForward" ? ropeForward : ropeBackward;
          return { run: () => f(gpu, q, k, positions, opts), tensors: [q, k, positions] };
        },
      ),
    );
  }
  const ti = t * inter;
  list.push(
    gpuCase("swiglu", "swigluForward", `${t}x${inter}`, 5 * ti, F32 * 3 * ti, (gpu) => {
      const g = gpu.fromArray(noise(ti, 1), [t, inter]), u = gpu.fromArray(noise(ti, 2), [t, inter]);
      const y = gpu.empty([t, inter]);
      return { run: () => swigluForward(gpu, g, u, y), tensors: [g, u, y] };
    }),
    gpuCase("swiglu", "swigluForwardFused", `${t}x2·${inter}`, 5 * ti, F32 * 3 * ti, (gpu) => {
      const gu = gpu.fromArray(noise(2 * ti, 1), [t, 2 * inter]), y = gpu.empty([t, inter]);
      return { run: () => swigluForwardFused(gpu, gu, y), tensors: [gu, y] };
    }),
    gpuCase("swiglu", "swigluBackward", `${t}x${inter}`, 10 * ti, F32 * 5 * ti, (gpu) => {
      const g = gpu.fromArray(noise(ti, 1), [t, inter]), u = gpu.fromArray(noise(ti, 2), [t, inter]);
      const dy = gpu.fromArray(noise(ti, 3), [t, inter]);
      const dgate = gpu.empty([t, inter]), dup = gpu.empty([t, inter]);
      return { run: () => swigluBackward(gpu, dy, g, u, { dgate, dup }), tensors: [g, u, dy, dgate, dup] };
    }),
    gpuCase("swiglu", "swigluBackwardFused", `${t}x2·${inter}`, 10 * ti, F32 * 5 * ti, (gpu) => {
      const gu = gpu.fromArray(noise(2 * ti, 1), [t, 2 * inter]),
        dy = gpu.fromArray(noise(ti, 3), [t, inter]);
      const d = gpu.empty([t, 2 * inter]);
      return { run: () => swigluBackwardFused(gpu, dy, gu, d), tensors: [gu, dy, d] };
    }),
  );

  // Rows: gathers and scatters of hidden-state rows, and the per-sequence mean used for CoE pooling.
  const rows = large ? 8192 : 512, seqs = large ? 16 : 4;
  list.push(
    gpuCase("rows", "gatherRows", `${rows} of ${2 * rows}x${d}`, 0, F32 * (2 * rows * d + rows), (gpu) => {
      const src = gpu.fromArray(noise(2 * rows * d), [2 * rows, d]);
      const index = gpu.fromArray(
        Array.from({ length: rows }, (_, i) => (i * 7919) % (2 * rows)),
        [rows],
        "i32",
      );
      const out = gpu.empty([rows, d]);
      return { run: () => gatherRows(gpu, src, index, out), tensors: [src, index, out] };
    }),
    gpuCase(
      "rows",
      "scatterAddRows",
      `${rows} into ${2 * rows}x${d}`,
      rows * d,
      F32 * (3 * rows * d + rows),
      (gpu) => {
        const src = gpu.fromArray(noise(rows * d), [rows, d]);
        const index = gpu.fromArray(Array.from({ length: rows }, (_, i) => 2 * i), [rows], "i32");
        const dst = gpu.zeros([2 * rows, d]);
        return { run: () => scatterAddRows(gpu, src, index, dst), tensors: [src, index, dst] };
      },
    ),
    gpuCase(
      "rows",
      "maskedMeanRows",
      `${seqs}x${rows / seqs}x${d}`,
      2 * rows * d,
      F32 * (rows * d + rows),
      (gpu) => {
        const x = gpu.fromArray(noise(rows * d), [rows, d]);
        const mask = gpu.fromArray(Array.from({ length: rows }, (_, i) => i % 3 === 0 ? 0 : 1), [rows]);
        const out = gpu.empty([seqs, d]);
        return { run: () => maskedMeanRows(gpu, x, mask, seqs, out), tensors: [x, mask, out] };
      },
    ),
    gpuCase(
      "rows",
      "copyColumns (q of a fused qkv)",
      `${t}x${heads * headDim} of ${t}x${qkWidth + kvHeads * headDim}`,
      0,
      F32 * 2 * t * heads * headDim,
      (gpu) => {
        const fused = qkWidth + kvHeads * headDim;
        const src = gpu.fromArray(noise(t * fused), [t, fused]), dst = gpu.empty([t, heads * headDim]);
        return { run: () => copyColumns(gpu, src, 0, dst, 0, heads * headDim), tensors: [src, dst] };
      },
    ),
  );

  // Causal grouped-query attention over a training batch (flop counts take the causal half), and a
  // decode step against a KV cache.
  const B = large ? 4 : 2, S = s;
  const attn = {
    batch: B,
    queryLen: S,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    kvBatchStride: S * kvHeads * headDim,
  };
  const qkvBytes = F32 * B * S * (2 * heads + 2 * kvHeads) * headDim;
  const attnTensors = (gpu: Gpu) => {
    const q = gpu.fromArray(noise(B * S * heads * headDim, 1), [B * S, heads * headDim]);
    const k = gpu.fromArray(noise(B * S * kvHeads * headDim, 2), [B * S, kvHeads * headDim]);
    const v = gpu.fromArray(noise(B * S * kvHeads * headDim, 3), [B * S, kvHeads * headDim]);
    const pastLen = gpu.fromArray(new Int32Array(B), [B], "i32");
    const kvLen = gpu.fromArray(new Int32Array(B).fill(S), [B], "i32");
    return { q, k, v, pastLen, kvLen };
  };
  list.push(
    gpuCase(
      "attention",
      "attentionForward",
      `B${B} S${S} H${heads}/${kvHeads} D${headDim}`,
      2 * B * heads * S * S * headDim,
      qkvBytes,
      (gpu) => {
        const { q, k, v, pastLen, kvLen } = attnTensors(gpu);
        const o = gpu.empty(q.shape), lse = gpu.empty([B * S, heads]);
        return {
          run: () => attentionForward(gpu, q, k, v, pastLen, kvLen, attn, { o, lse }),
          tensors: [q, k, v, pastLen, kvLen, o, lse],
        };
      },
    ),
    gpuCase(
      "attention",
      "attentionBackward",
      `B${B} S${S} H${heads}/${kvHeads} D${headDim}`,
      5 * B * heads * S * S * headDim,
      2 * qkvBytes,
      (gpu) => {
        const { q, k, v, pastLen, kvLen } = attnTensors(gpu);
        const { o, lse } = attentionForward(gpu, q, k, v, pastLen, kvLen, attn);
        const dO = gpu.fromArray(noise(q.size, 4), q.shape);
        const dq = gpu.empty(q.shape), dk = gpu.empty(k.shape), dv = gpu.empty(v.shape);
        return {
          run: () => attentionBackward(gpu, dO, q, k, v, o, lse, pastLen, kvLen, attn, { dq, dk, dv }),
          tensors: [q, k, v, pastLen, kvLen, o, lse, dO, dq, dk, dv],
        };
      },
    ),
  );
  const G = large ? 64 : 8, cache = large ? 2048 : 256, kvWidth = kvHeads * headDim;
  list.push(
    gpuCase(
      "attention",
      "attentionForward decode",
      `B${G} cache ${cache}`,
      4 * G * heads * cache * headDim,
      F32 * 2 * G * cache * kvWidth,
      (gpu) => {
        const q = gpu.fromArray(noise(G * heads * headDim, 1), [G, heads * headDim]);
        const k = gpu.fromArray(noise(G * cache * kvWidth, 2), [G, cache, kvWidth]);
        const v = gpu.fromArray(noise(G * cache * kvWidth, 3), [G, cache, kvWidth]);
        const pastLen = gpu.fromArray(new Int32Array(G).fill(cache - 1), [G], "i32");
        const kvLen = gpu.fromArray(new Int32Array(G).fill(cache), [G], "i32");
        const o = gpu.empty(q.shape), lse = gpu.empty([G, heads]);
        const opts = { ...attn, batch: G, queryLen: 1, kvBatchStride: cache * kvWidth };
        return {
          run: () => attentionForward(gpu, q, k, v, pastLen, kvLen, opts, { o, lse }),
          tensors: [q, k, v, pastLen, kvLen, o, lse],
        };
      },
    ),
  );

  // Logits: the per-row statistics every intrinsic reward reads, their gradient, and sampling. A chunk
  // of rows over the whole vocabulary is what the fused head processes at a time.
  const lr = large ? 128 : 8, lv = large ? QWEN.vocab : 32768, lrv = lr * lv;
  const logitsOf = (gpu: Gpu) => gpu.fromArray(noise(lrv).map((x) => 4 * x), [lr, lv]);
  list.push(
    gpuCase("logits", "logitStats", `${lr}x${lv}`, 6 * lrv, F32 * (lrv + 8 * lr), (gpu) => {
      const logits = logitsOf(gpu);
      const targets = gpu.fromArray(Int32Array.from({ length: lr }, (_, i) => i * 101), [lr], "i32");
      const out = gpu.empty([lr, LOGIT_STAT_COUNT]);
      return { run: () => logitStats(gpu, logits, targets, 1, out), tensors: [logits, targets, out] };
    }),
    gpuCase("logits", "logitStatsBackward", `${lr}x${lv}`, 5 * lrv, F32 * (2 * lrv + 2 * lr), (gpu) => {
      const logits = logitsOf(gpu);
      const targets = gpu.fromArray(Int32Array.from({ length: lr }, (_, i) => i * 101), [lr], "i32");
      const weights = gpu.fromArray(noise(lr), [lr]);
      const out = gpu.empty([lr, lv]);
      return {
        run: () => logitStatsBackward(gpu, logits, targets, weights, 1, out),
        tensors: [logits, targets, weights, out],
      };
    }),
    gpuCase("logits", "sampleTokens (T=1, top-p 0.95)", `${lr}x${lv}`, 0, F32 * (lrv + 4 * lr), (gpu) => {
      const logits = logitsOf(gpu);
      const streams = gpu.fromArray(Uint32Array.from({ length: lr }, (_, i) => i), [lr], "u32");
      const steps = gpu.zeros([lr], "u32");
      const out = { tokens: gpu.empty([lr], "i32"), logprobs: gpu.empty([lr]) };
      const opts = { temperature: 1, topP: 0.95, seed: 1 };
      return {
        run: () => sampleTokens(gpu, logits, streams, steps, opts, out),
        tensors: [logits, streams, steps, out.tokens, out.logprobs],
      };
    }),
  );

  // Optimizer: the global gradient norm and one AdamW update over n parameters.
  list.push(
    gpuCase("adamw", "gradNorm (4 tensors)", `${n}`, 2 * n, F32 * n, (gpu) => {
      const grads = [0, 1, 2, 3].map((i) => gpu.fromArray(noise(n / 4, i + 1), [n / 4]));
      const out = { norm: gpu.empty([1]), clip: gpu.empty([1]) };
      return { run: () => gradNorm(gpu, grads, 1, out), tensors: [...grads, out.norm, out.clip] };
    }),
    gpuCase("adamw", "adamwUpdate", `${n}`, 15 * n, F32 * 7 * n, (gpu) => {
      const p = gpu.fromArray(noise(n, 1), [n]), g = gpu.fromArray(noise(n, 2), [n]);
      const m = gpu.zeros([n]), v = gpu.zeros([n]), clip = gpu.fromArray([1], [1]);
      const hyper = { lr: 1e-6, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 };
      return { run: () => adamwUpdate(gpu, p, g, m, v, clip, hyper), tensors: [p, g, m, v, clip] };
    }),
  );

  // Decode bookkeeping: appending a step's keys to the cache, and recording the sampled tokens.
  list.push(
    gpuCase("decode", "kvWrite", `B${G} 1 row into ${cache}x${kvWidth}`, 0, F32 * 2 * G * kvWidth, (gpu) => {
      const src = gpu.fromArray(noise(G * kvWidth), [G, kvWidth]);
      const pastLen = gpu.fromArray(new Int32Array(G).fill(cache / 2), [G], "i32");
      const kv = gpu.zeros([G, cache, kvWidth]);
      return { run: () => kvWrite(gpu, src, pastLen, kv, 1), tensors: [src, pastLen, kv] };
    }),
    gpuCase("decode", "recordStep", `B${G}`, 0, F32 * 8 * G, (gpu) => {
      const maxNew = 16;
      const state = {
        outIds: gpu.zeros([G, maxNew], "i32"),
        outLogprob: gpu.zeros([G, maxNew]),
        done: gpu.zeros([G], "u32"),
        positions: gpu.zeros([G], "i32"),
        kvLen: gpu.zeros([G], "i32"),
        eos: gpu.fromArray([0, 1], [2], "i32"),
      };
      const sampled = gpu.fromArray(new Int32Array(G).fill(5), [G], "i32");
      const logprob = gpu.fromArray(noise(G), [G]);
      return {
        run: () => recordStep(gpu, state, sampled, logprob, 0, 0),
        tensors: [...Object.values(state), sampled, logprob],
      };
    }),
  );
  return list;
}

// ---------------------------------------------------------------------------------------------------
// Timing and printing.

function timeCpu(run: () => void): number {
  run();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  return (performance.now() - t0) / reps;
}

const fmt = (v: number, digits = 2) =>
  !Number.isFinite(v) ? "-" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(digits);

await runMain(async () => {
  const gpu = await getDevice();
  const info = gpu.adapterInfo;
  const latency = await syncLatencyMs(gpu);
  const timing = { reps, minMs, latencyMs: latency };
  const tuningPath = matmulTuningPath();
  if (flags.tune && tuningPath === null) {
    throw new UsageError("--tune: no tuning file path; set RLIF_MATMUL_TILES, XDG_CACHE_HOME or HOME");
  }
  if (tiles) {
    const problem = tilesProblem(tiles, gpu.limits);
    if (problem) cli.fail(`--tiles ${flags.tiles}: ${problem}`);
  }
  console.log(
    `adapter: ${info.description || info.device || info.vendor}; shader-f16=${gpu.features.f16}; ` +
      `reps ${reps}; min batch ${minMs} ms; idle sync latency ${latency.toFixed(1)} ms (subtracted); ` +
      `matmul tiles ${
        tiles ? tilesName(tiles) : `candidates, * = chosen; tuning file ${tuningPath ?? "none"}`
      }${flags.large ? "; large shapes" : ""}`,
  );
  const header = ["family", "case", "shape", "impl", "ms/call", "GFLOP/s", "GB/s", "note"];
  const widths = [9, 36, 20, 18, 10, 9, 8, 20];
  const line = (cells: string[]) =>
    console.log(
      cells.map((c, i) => (i >= 4 && i < 7 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" ")
        .trimEnd(),
    );
  line(header);

  const tuned: Record<string, MatmulTuningEntry> = {};
  const selected = cases(flags.large).filter((c) =>
    `${c.family} ${c.name} ${c.shape}`.toLowerCase().includes((flags.filter ?? "").toLowerCase())
  );
  for (const c of selected) {
    const setup = c.setup(gpu);
    const row = (label: string, ms: number, note: string) =>
      line([
        c.family,
        c.name,
        c.shape,
        label,
        fmt(ms),
        c.flops ? fmt(c.flops / ms / 1e6) : "-",
        fmt(c.bytes / ms / 1e6),
        note,
      ]);
    // The kernel under test: the chosen tiling of a matmul case, else the case's first implementation.
    let main: { label: string; ms: number };
    if (c.product && setup.tiled) {
      const run = setup.tiled;
      if (tiles) {
        main = { label: tilesName(tiles), ms: await timeGpuCall(gpu, () => run(tiles), timing) };
        row(main.label, main.ms, "--tiles");
      } else {
        const result = await tuneMatmul(gpu, c.product, `${c.shape} (${c.name})`, run, timing);
        const cls = matmulShapeClass(c.product);
        if (flags.tune) {
          tuned[cls] = result.entry;
          setMatmulTuning(gpu, new Map([...matmulTuning(gpu), [cls, result.best]]));
        }
        const choice = chooseMatmulTiles(c.product, matmulTuning(gpu), gpu.limits);
        const chosen = tilesName(choice.tiles);
        const how = flags.tune
          ? "* chosen (fastest, tuned now)"
          : `* chosen (${choice.tuned ? "tuned" : "default rule"})`;
        for (const t of result.timings) row(t.candidate.name, t.ms, t.candidate.name === chosen ? how : "");
        const hit = result.timings.find((t) => t.candidate.name === chosen);
        if (!hit) {
          console.log(`${"".padEnd(widths[0])} -> chosen ${chosen} is not among the candidates timed here`);
        }
        main = { label: chosen, ms: hit?.ms ?? NaN };
      }
    } else {
      const first = setup.impls[0];
      main = { label: first.label, ms: await timeGpu(first.run) };
      row(first.label, main.ms, "");
    }
    const baselines = c.product ? setup.impls : setup.impls.slice(1);
    const times: number[] = [];
    for (const impl of baselines) {
      const ms = impl.cpu ? timeCpu(impl.run) / (impl.share ?? 1) : await timeGpu(impl.run);
      times.push(ms);
      const scaled = impl.cpu && (impl.share ?? 1) < 1 ? " (row subset, scaled)" : "";
      row(impl.label, ms, `${main.label} ${fmt(ms / main.ms)}x vs this${scaled}`);
    }
    if (baselines.length > 0) {
      const best = times.indexOf(Math.min(...times));
      console.log(
        `${"".padEnd(widths[0])} -> ${main.label} vs best baseline (${baselines[best].label}): ${
          fmt(times[best] / main.ms)
        }x`,
      );
    }
    if (setup.note) console.log(`${"".padEnd(widths[0])} -> ${setup.note()}`);
    setup.release();
    await gpu.sync();
  }
  if (flags.tune && tuningPath !== null) {
    await writeMatmulTuning(tuningPath, adapterKey(info), tuned);
    console.log(`wrote ${Object.keys(tuned).length} matmul shape classes for this adapter to ${tuningPath}`);
  }

  function timeGpu(run: () => void): Promise<number> {
    return timeGpuCall(gpu, run, timing);
  }
});

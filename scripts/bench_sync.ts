/**
 * What `rollout.sync: disk` costs per step (docs/scale-out.md, "Rollout engines"): the sync folder of the
 * bundled arith-tiny written and loaded back as `deno task serve` loads it on /update_weights_from_disk,
 * then the bandwidth of writing (fsync included) and reading a large bf16 safetensors file here, and the
 * write and read times that bandwidth implies for the bf16 weights of Qwen2.5-1.5B and -7B (extrapolated by
 * bytes, not measured).
 *
 *   deno task bench:sync [options]   (deno task bench:sync --help lists them)
 */
import { join } from "node:path";
import { z } from "zod";
import { runMain, ScriptCli } from "./_cli.ts";
import { getDevice } from "../lib/gpu/device.ts";
import { halfWidthCopy } from "../lib/model/half_width.ts";
import { loadModel } from "../lib/model/model.ts";
import { readSafetensors, writeSafetensors } from "../lib/model/safetensors.ts";
import { writeFileAtomic } from "../lib/log/atomic.ts";
import { writeSyncFolder } from "../lib/rl/rollout_sync.ts";

const cli = new ScriptCli({
  task: "bench:sync",
  summary:
    "What rollout.sync disk costs per step: the arith-tiny sync folder written and reloaded, the disk's " +
    "safetensors write and read bandwidth, and the times they imply for Qwen2.5-1.5B and -7B (extrapolated).",
  flags: {
    mib: { arg: "MIB", doc: "size of the file the bandwidth is measured on", default: "512" },
    dir: {
      arg: "DIR",
      doc: "where to write (the disk the sync folder would be on)",
      defaultText: "a temporary folder",
    },
  },
  examples: ["deno task bench:sync", "deno task bench:sync --mib 2048 --dir /scratch/sync"],
});
const { values } = cli.parse();
const mib = cli.number("mib", z.number().int().min(16).max(16384));

/** Parameters of the models the page extrapolates to, counted from their config.json shapes. */
const MODELS = [["Qwen2.5-1.5B", 1_543_714_304], ["Qwen2.5-7B", 7_615_616_512]] as const;

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

await runMain(async () => {
  const root = values.dir ?? await Deno.makeTempDir({ prefix: "rlif-bench-sync-" });
  try {
    const gpu = await getDevice();
    const policy = await loadModel("scripts/assets/arith-tiny", { gpu, weights: "f32" });
    const sampler = halfWidthCopy(policy);
    const writes: number[] = [], loads: number[] = [];
    let bytes = 0;
    for (let step = 1; step <= 5; step++) {
      let dir = "";
      writes.push(
        await seconds(
          async () => ({ dir, bytes } = await writeSyncFolder(sampler, join(root, "sync"), step)),
        ),
      );
      loads.push(await seconds(async () => (await loadModel(dir, { gpu })).release()));
    }
    sampler.release();
    policy.release();
    console.log(
      `arith-tiny sync folder (${(bytes / 2 ** 20).toFixed(2)} MiB): write ${median(writes).toFixed(3)} s, ` +
        `load ${median(loads).toFixed(3)} s (median of 5)`,
    );

    // One file of `mib` MiB of bf16 weights, in 64 MiB tensors, written as the sync folder writes them.
    const perTensor = 32 * 2 ** 20; // bf16 values: 64 MiB each
    const tensors = new Map<string, { shape: number[]; data: Float32Array; dtype: "BF16" }>();
    const data = Float32Array.from({ length: perTensor }, (_, i) => Math.sin(i) * 0.02);
    for (let i = 0; i < mib / 64; i++) tensors.set(`w${i}`, { shape: [perTensor], data, dtype: "BF16" });
    const file = join(root, "big.safetensors");
    const written = tensors.size * perTensor * 2;
    const w = await seconds(() => writeSafetensors(file, tensors));
    const r = await seconds(() => readSafetensors(file));
    // The same bytes as they are, to tell the disk's share from the conversion's.
    const rawFile = join(root, "raw.bin");
    const rw = await seconds(() => writeFileAtomic(rawFile, new Uint8Array(written).fill(7)));
    const rr = await seconds(() => Deno.readFile(rawFile));
    const rate = (s: number) => `${(written / s / 2 ** 20).toFixed(0)} MiB/s`;
    const size = `${(written / 2 ** 20).toFixed(0)} MiB`;
    console.log(`${size} bf16 safetensors: write (f32 → bf16, fsync) ${w.toFixed(2)} s = ${rate(w)}`);
    console.log(`${size} bf16 safetensors: read (bf16 → f32) ${r.toFixed(2)} s = ${rate(r)}`);
    console.log(`${size} unconverted bytes: write (fsync) ${rw.toFixed(2)} s = ${rate(rw)}`);
    console.log(`${size} unconverted bytes: read ${rr.toFixed(2)} s = ${rate(rr)}`);
    for (const [name, params] of MODELS) {
      const bytes = params * 2;
      const at = (s: number) => (bytes / (written / s)).toFixed(1);
      console.log(
        `${name}, ${(bytes / 1e9).toFixed(2)} GB bf16, extrapolated by bytes: write ${at(w)} s ` +
          `(disk alone ${at(rw)} s), read ${at(r)} s (disk alone ${at(rr)} s)`,
      );
    }
  } finally {
    if (!values.dir) await Deno.remove(root, { recursive: true });
  }
});

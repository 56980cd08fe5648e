import { getDevice } from "../../lib/gpu/device.ts";
import { type KernelSpec, PRELUDE_FILE, reflectParams } from "../../lib/gpu/kernel_registry.ts";
import { DECODE_MAX_HEAD_DIM } from "../../lib/ops/decode_layer.ts";
import { assertThrowsWith } from "../support/numeric.ts";

const SCALE: KernelSpec = { name: "test.scale", file: "elementwise.wgsl", entry: "scale", bindings: ["v"] };

Deno.test("params: the struct at @binding(0) is reflected in order, with the fields each entry point reads", async () => {
  const gpu = await getDevice();
  const spec = (entry: string, file = "rmsnorm.wgsl"): KernelSpec => ({
    name: entry,
    file,
    entry,
    bindings: [],
  });
  const forward = gpu.kernels.params(spec("rmsnorm_forward"))!;
  const fields = forward.fields.map((f) => `${f.name}:${f.type}`).join(" ");
  if (forward.struct !== "Params" || fields !== "rows:u32 cols:u32 eps:f32 blocks:u32 accumulate:u32") {
    throw new Error(`rmsnorm: ${forward.struct} ${fields}`);
  }
  const read = (entry: string, file?: string) =>
    [...gpu.kernels.params(spec(entry, file))!.read].sort().join(" ");
  if (read("rmsnorm_forward") !== "cols eps rows") {
    throw new Error(`forward reads ${read("rmsnorm_forward")}`);
  }
  if (read("rmsnorm_backward_dw_reduce") !== "accumulate blocks cols") throw new Error("dw_reduce");
  // A file with one uniform per group of entry points: the one the entry point reaches, also through helpers.
  const block = gpu.kernels.params(spec("copy_columns", "rows.wgsl"))!;
  if (block.struct !== "BlockParams" || block.fields.length !== 6) {
    throw new Error(`copy_columns: ${block.struct}`);
  }
  if (gpu.kernels.params(spec("gather_rows", "rows.wgsl"))!.struct !== "Params") {
    throw new Error("gather_rows");
  }
  if (read("qkv_proj", "decode_layer.wgsl") !== "eps has_bias k n nkv nq rows") {
    throw new Error(`qkv_proj reads ${read("qkv_proj", "decode_layer.wgsl")}`);
  }
});

Deno.test("params: a dispatch whose params do not fit the WGSL struct fails naming kernel, file and fields", async () => {
  const gpu = await getDevice();
  const v = gpu.fromArray([1, 2, 3], [3]);
  const dispatch = (params: Record<string, number>) => () =>
    gpu.dispatch(SCALE, { bindings: [v], params, workgroups: 1 });
  const where = [
    "test.scale",
    "kernels/elementwise.wgsl",
    "entry scale",
    "struct Params { n: u32, alpha: f32 }",
  ];
  await assertThrowsWith(dispatch({ n: 3, alpha: 2, beta: 1 }), ...where, `unknown "beta"`);
  await assertThrowsWith(dispatch({ n: 3 }), ...where, `missing "alpha" (f32, read by scale)`);
  await assertThrowsWith(dispatch({ n: -1, alpha: 2 }), ...where, `"n" is u32, got -1`);
  await assertThrowsWith(dispatch({ n: 2.5, alpha: 2 }), ...where, `"n" is u32, got 2.5`);
  await assertThrowsWith(dispatch({ n: 3, alpha: NaN }), ...where, `"alpha" is f32, got NaN`);
  // Nothing was recorded by the refused dispatches: the right one still scales once.
  dispatch({ n: 3, alpha: 2 })();
  if ((await v.read()).join() !== "2,4,6") throw new Error("scale after the refused dispatches");
  v.release();
});

Deno.test("params: a struct the recorder cannot lay out is refused at load, naming the field", async () => {
  const source = `
struct Params { n: u32, v: vec4f }
@group(0) @binding(0) var<uniform> p: Params;
@compute @workgroup_size(1) fn main() { let x = p.n; }`;
  await assertThrowsWith(
    () => reflectParams(source, specOf("main")),
    "test.main",
    `field "v: vec4f"`,
    "u32, i32 or f32",
  );
  const lacking = `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
fn helper() -> u32 { return p.m; }
@compute @workgroup_size(1) fn main() { let x = helper(); }`;
  await assertThrowsWith(
    () => reflectParams(lacking, specOf("main")),
    "test.main",
    "reads p.m, which Params lacks",
  );
});

function specOf(entry: string): KernelSpec {
  return { name: `test.${entry}`, file: "inline.wgsl", entry, bindings: [] };
}

Deno.test("prelude: no helper function is defined in more than one WGSL file", async () => {
  const dir = new URL("../../kernels/", import.meta.url);
  const seen = new Map<string, string>();
  const twice: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".wgsl")) continue;
    const src = await Deno.readTextFile(new URL(e.name, dir));
    // Entry points (after @compute and its attributes) may share names across files; helpers may not.
    for (const m of src.matchAll(/(@compute[^;{]*?)?\bfn\s+(\w+)\s*\(/g)) {
      if (m[1]) continue;
      const other = seen.get(m[2]);
      if (other !== undefined) twice.push(`${m[2]} (${other}, ${e.name})`);
      seen.set(m[2], e.name);
    }
  }
  if (twice.length > 0) throw new Error(`helpers defined twice: ${twice.join("; ")}`);
  if (seen.get("wg_sum") !== PRELUDE_FILE) throw new Error("wg_sum is not in the prelude");
});

Deno.test("constants: a kernel file's literal constants are read from the WGSL, and a missing one is named", async () => {
  const gpu = await getDevice();
  if (gpu.kernels.constant("decode_layer.wgsl", "MAX_D") !== DECODE_MAX_HEAD_DIM) {
    throw new Error(`MAX_D ${gpu.kernels.constant("decode_layer.wgsl", "MAX_D")} != DECODE_MAX_HEAD_DIM`);
  }
  if (gpu.kernels.constant("decode_layer.wgsl", "MT") !== 8) throw new Error("MT");
  await assertThrowsWith(
    () => gpu.kernels.constant("decode_layer.wgsl", "NOPE"),
    "kernels/decode_layer.wgsl",
    "NOPE",
  );
});

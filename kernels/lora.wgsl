// LoRA merge: out = W + scale * B * A, with W [rows, cols] at the weights' width (f32, f16 or bf16), A f32
// [rank, cols] and B f32 [rows, rank]; out is f32 (a half-width copy rounds it once, through convert.wgsl).
// The adapter's forward and backward need no kernel of their own: they are two thin matmuls each
// (lib/ops/lora.ts). One thread per element: the rank is small (8 to 64), so each thread reads a row of B
// and a column of A that neighbouring threads share through the cache, and W is read once, at its width.

struct Params { rows: u32, cols: u32, rank: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> w: array<WS>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn lora_merge(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) li: u32) {
  let i = flat_wg(wg, nwg) * 256u + li;
  if (i >= p.rows * p.cols) { return; }
  let row = i / p.cols;
  let col = i % p.cols;
  var acc = 0.0;
  for (var k = 0u; k < p.rank; k++) {
    acc += b[row * p.rank + k] * a[k * p.cols + col];
  }
  out[i] = w_at(i) + p.scale * acc;
}

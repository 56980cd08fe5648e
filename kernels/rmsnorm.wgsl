// RMSNorm over the rows of x [rows, cols]: y = w * (x * rstd), rstd = 1 / sqrt(mean(x²) + eps), in the
// operation order of Hugging Face's Qwen2RMSNorm / LlamaRMSNorm so rounding matches f32 PyTorch closely.
// The weight's element type is the alias WT; x, y, rstd and every gradient are f32.
//
// Reductions are fixed-order (tree in workgroup memory; then sequential over row blocks), never atomic,
// so every output is bitwise reproducible.

const WG: u32 = 256u;
// Rows per partial column sum of dw, set by lib/ops/rmsnorm.ts. Fixed (not derived from the device) so
// results do not depend on it.
override ROWS_PER_BLOCK: u32;

struct Params { rows: u32, cols: u32, eps: f32, blocks: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<WT>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;

// One workgroup per row.
@compute @workgroup_size(WG)
fn rmsnorm_forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) li: u32) {
  let row = flat_wg(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var ss = 0.0;
  for (var c = li; c < p.cols; c += WG) {
    let v = x[base + c];
    ss += v * v;
  }
  let r = inverseSqrt(wg_sum(li, WG, ss) / f32(p.cols) + p.eps);
  if (li == 0u) { rstd[row] = r; }
  for (var c = li; c < p.cols; c += WG) {
    y[base + c] = f32(w[c]) * (x[base + c] * r);
  }
}

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> xs: array<f32>;
@group(0) @binding(3) var<storage, read> ws: array<WT>;
@group(0) @binding(4) var<storage, read> rs: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// dx = rstd * (g - x̂ * mean(g * x̂)) with g = dy * w and x̂ = x * rstd; one workgroup per row.
@compute @workgroup_size(WG)
fn rmsnorm_backward_dx(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                       @builtin(local_invocation_index) li: u32) {
  let row = flat_wg(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let r = rs[row];
  var d = 0.0;
  for (var c = li; c < p.cols; c += WG) {
    d += (dy[base + c] * f32(ws[c])) * (xs[base + c] * r);
  }
  let m = wg_sum(li, WG, d) / f32(p.cols);
  for (var c = li; c < p.cols; c += WG) {
    let xh = xs[base + c] * r;
    dx[base + c] = r * (dy[base + c] * f32(ws[c]) - xh * m);
  }
}

@group(0) @binding(3) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

// Pass 1 of dw: grid (column blocks, row blocks). Each invocation owns one column and sums dy * x̂ over
// its block of rows in row order; a warp reads consecutive columns of one row, so loads coalesce.
@compute @workgroup_size(WG)
fn rmsnorm_backward_dw_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * WG + li;
  if (c >= p.cols) { return; }
  let r0 = wg.y * ROWS_PER_BLOCK;
  let r1 = min(p.rows, r0 + ROWS_PER_BLOCK);
  var s = 0.0;
  for (var row = r0; row < r1; row++) {
    let i = row * p.cols + c;
    s += dy[i] * (xs[i] * rstd_in[row]);
  }
  partial[wg.y * p.cols + c] = s;
}

@group(0) @binding(1) var<storage, read> parts: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;

// Pass 2 of dw: each column's partial sums in block order, then added into dw (or stored over it).
@compute @workgroup_size(WG)
fn rmsnorm_backward_dw_reduce(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                              @builtin(local_invocation_index) li: u32) {
  let c = flat_wg(wg, nwg) * WG + li;
  if (c >= p.cols) { return; }
  var s = 0.0;
  for (var b = 0u; b < p.blocks; b++) {
    s += parts[b * p.cols + c];
  }
  if (p.accumulate != 0u) {
    dw[c] = dw[c] + s;
  } else {
    dw[c] = s;
  }
}

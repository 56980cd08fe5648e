// Row gather / scatter over [rows, width] f32 matrices, and masked mean pooling of rows per sequence.
// The model computes logits only for the rows it needs (a compact [R, H] gathered from [T, H]) and
// scatters their gradients back; indices are unique, so the scatter-add is race-free and deterministic.

struct Params { rows: u32, width: u32, seq_len: u32, batch: u32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// dst[r, :] = src[index[r], :]   grid: (ceil(width / 64), rows)
@compute @workgroup_size(64)
fn gather_rows(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * 64u + li;
  let r = wg.y;
  if (c >= p.width || r >= p.rows) { return; }
  dst[r * p.width + c] = src[u32(index[r]) * p.width + c];
}

// dst[index[r], :] += src[r, :]   grid: (ceil(width / 64), rows); indices must be unique
@compute @workgroup_size(64)
fn scatter_add_rows(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * 64u + li;
  let r = wg.y;
  if (c >= p.width || r >= p.rows) { return; }
  let at = u32(index[r]) * p.width + c;
  dst[at] = dst[at] + src[r * p.width + c];
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> pooled: array<f32>;

// pooled[b, :] = sum_i mask[b, i] x[b, i, :] / max(sum_i mask[b, i], tiny); x is [batch, seq_len, width].
// grid: (ceil(width / 64), batch). Sums run in token order, so results are deterministic.
@compute @workgroup_size(64)
fn masked_mean_rows(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * 64u + li;
  let b = wg.y;
  if (c >= p.width || b >= p.batch) { return; }
  var acc = 0.0;
  var total = 0.0;
  for (var i = 0u; i < p.seq_len; i++) {
    let m = mask[b * p.seq_len + i];
    acc += m * x[(b * p.seq_len + i) * p.width + c];
    total += m;
  }
  pooled[b * p.width + c] = select(0.0, acc / total, total > 0.0);
}

struct BlockParams { rows: u32, width: u32, src_stride: u32, src_offset: u32, dst_stride: u32, dst_offset: u32 }
@group(0) @binding(0) var<uniform> bp: BlockParams;
@group(0) @binding(1) var<storage, read> block_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> block_dst: array<f32>;

// dst[r, dst_offset + c] = src[r, src_offset + c] for c < width: moves a block of columns between row-major
// matrices of different widths (a vocabulary shard's logits into the full logits row, and back).
// grid: (ceil(width / 64), rows)
@compute @workgroup_size(64)
fn copy_columns(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * 64u + li;
  let r = wg.y;
  if (c >= bp.width || r >= bp.rows) { return; }
  block_dst[r * bp.dst_stride + bp.dst_offset + c] = block_src[r * bp.src_stride + bp.src_offset + c];
}

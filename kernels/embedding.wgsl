// Token embedding lookup and its gradient. The table is a weight binding (f32 master weights, or f16 / bf16
// for inference, read through table_at); gathered rows and gradients are always f32.
//
// Backward needs no atomics: the host groups token positions by id (CSR: unique ids, offsets, order),
// so each unique id belongs to exactly one workgroup, which sums its tokens' dy rows in ascending token
// order and adds the sum into its table row. Same ids and dy give bitwise the same gradient.

const WG: u32 = 256u;

// A table larger than one storage binding is split into row shards; `first` is the shard's first row id
// and `total` the full vocabulary. With one shard, first = 0 and total = vocab.
struct Params { tokens: u32, cols: u32, vocab: u32, unique: u32, first: u32, total: u32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> table: array<WS>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// One workgroup per token; threads stride over the row so reads of the table row and writes of the
// output row are both contiguous across a warp. Ids outside [0, vocab) are clamped: ids sampled on the GPU
// never reach the host before this runs, and a clamped row is a visible, bounded error where an
// unchecked index would read another buffer. Tokens whose row lies in another shard are left untouched.
@compute @workgroup_size(WG)
fn embedding_forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_index) li: u32) {
  let t = flat_wg(wg, nwg);
  if (t >= p.tokens) { return; }
  let id = u32(clamp(ids[t], 0, i32(p.total) - 1));
  if (id < p.first || id >= p.first + p.vocab) { return; }
  let src = (id - p.first) * p.cols;
  let dst = t * p.cols;
  for (var c = li; c < p.cols; c += WG) {
    out[dst + c] = table_at(src + c);
  }
}

@group(0) @binding(1) var<storage, read> dy: array<f32>;
// [uniqueIds (unique) | offsets (unique + 1) | order (tokens)], packed so the plan is one upload.
@group(0) @binding(2) var<storage, read> plan: array<i32>;
@group(0) @binding(3) var<storage, read_write> dtable: array<f32>;

// One workgroup per unique id. The host validated the plan; the guard only keeps a corrupt plan from
// writing outside the table.
@compute @workgroup_size(WG)
fn embedding_backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                      @builtin(local_invocation_index) li: u32) {
  let u = flat_wg(wg, nwg);
  if (u >= p.unique) { return; }
  let id = plan[u];
  if (id < 0 || u32(id) >= p.vocab) { return; }
  let start = u32(plan[p.unique + u]);
  let end = u32(plan[p.unique + u + 1u]);
  let order = 2u * p.unique + 1u;
  let row = u32(id) * p.cols;
  for (var c = li; c < p.cols; c += WG) {
    var s = 0.0;
    for (var k = start; k < end; k++) {
      s += dy[u32(plan[order + k]) * p.cols + c];
    }
    dtable[row + c] = dtable[row + c] + s;
  }
}

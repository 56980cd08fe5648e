// Bookkeeping of the GPU-resident generation loop: per-step token recording (KV-cache writes are in
// decode_layer.wgsl).
// Positions, cache lengths and finished flags live on the GPU, so many decode steps can be recorded
// into one submit without reading anything back.

struct Params { batch: u32, rows_per_seq: u32, width: u32, max_len: u32, step: u32, max_new: u32, num_eos: u32, pad_id: i32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> sampled: array<i32>;
@group(0) @binding(2) var<storage, read> sampled_logprob: array<f32>;
@group(0) @binding(3) var<storage, read> eos: array<i32>;
@group(0) @binding(4) var<storage, read_write> out_ids: array<i32>;
@group(0) @binding(5) var<storage, read_write> out_logprob: array<f32>;
@group(0) @binding(6) var<storage, read_write> done: array<u32>;
@group(0) @binding(7) var<storage, read_write> positions: array<i32>;
@group(0) @binding(8) var<storage, read_write> kv_len: array<i32>;

// After sampling at `step`: store the token (pad once the row is done), mark rows that produced an EOS id,
// and advance the row's position so the next step appends after it. positions[b] doubles as the
// past length of the cache: the next step writes its K/V at positions[b] and attends to kv_len[b] keys.
@compute @workgroup_size(64)
fn record_step(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= p.batch) { return; }
  let at = b * p.max_new + p.step;
  if (done[b] != 0u) {
    out_ids[at] = p.pad_id;
    out_logprob[at] = 0.0;
    return;
  }
  let tok = sampled[b];
  out_ids[at] = tok;
  out_logprob[at] = sampled_logprob[b];
  for (var e = 0u; e < p.num_eos; e++) {
    if (eos[e] == tok) { done[b] = 1u; }
  }
  positions[b] = positions[b] + 1;
  kv_len[b] = positions[b] + 1;
}

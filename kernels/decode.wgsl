// Bookkeeping of the GPU-resident generation loop: KV-cache writes and per-step token recording.
// Positions, cache lengths and finished flags live on the GPU, so many decode steps can be recorded
// into one submit without reading anything back.

struct Params { batch: u32, rows_per_seq: u32, width: u32, max_len: u32, step: u32, max_new: u32, num_eos: u32, pad_id: i32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> past_len: array<i32>;
@group(0) @binding(3) var<storage, read_write> cache: array<f32>;

// cache[b, past_len[b] + i, :] = src[b * rows_per_seq + i, :]; cache is [batch, max_len, width].
// Rows that would land past max_len are dropped (the caller sizes the cache to prompt + max new tokens).
// grid: (ceil(width / 64), batch * rows_per_seq)
@compute @workgroup_size(64)
fn kv_write(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = wg.x * 64u + li;
  let row = wg.y;
  if (c >= p.width || row >= p.batch * p.rows_per_seq) { return; }
  let b = row / p.rows_per_seq;
  let pos = u32(past_len[b]) + row % p.rows_per_seq;
  if (pos >= p.max_len) { return; }
  cache[(b * p.max_len + pos) * p.width + c] = src[row * p.width + c];
}

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

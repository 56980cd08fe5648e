// Per-row statistics of temperature-scaled logits z = logits / T, and the gradient of a weighted
// target log-probability. Every intrinsic reward (self-certainty, entropy, probability, top-2 margin)
// and the policy-gradient loss are views over these, so one read of each logits row serves them all.
//
// One workgroup per row: V reaches 151,936, so the threads (256 for such rows) stride over the row
// (coalesced), each keeping an online-softmax state: running max m, s = Σ exp(z - m) and
// t = Σ exp(z - m)·(z - m). The states merge in a fixed-order shared-memory tree, so results are
// bitwise reproducible. The online form reads the row once instead of once for the max and once for
// the sums; the entropy comes out as log s - t / s without cancellation against a large lse.
//
// stats[r, :] = [logsumexp, mean z, entropy, p(top-1) - p(top-2), log p(target), argmax as f32]
// Targets outside [0, V) (padding, e.g. -100) give log p = 0 and a zero gradient.
// Logits must be finite: WGSL lets implementations assume no infinities or NaNs.

struct Params { rows: u32, vocab: u32, temperature: f32 }
@group(0) @binding(0) var<uniform> p: Params;

// Threads per row, a power of two chosen by the wrapper: 256 for real vocabularies, fewer for tiny ones.
override WG: u32 = 256u;
// A finite stand-in for -inf (see ONLINE_LOWEST in the prelude).
const LOWEST: f32 = ONLINE_LOWEST;
const NO_INDEX: u32 = 0xffffffffu;

var<workgroup> sh_weight: f32;

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) li: u32) {
  let row = flat_wg(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.vocab;
  var st = online_empty();
  var sum = 0.0;
  var top2 = LOWEST;
  var idx = NO_INDEX;
  for (var i = li; i < p.vocab; i += WG) {
    let z = logits[base + i] / p.temperature;
    // Strict comparisons and ascending i keep the lowest index among ties; a tie with the maximum
    // becomes the runner-up, so tied top tokens give a zero top-2 gap.
    if (z > st.m) {
      top2 = st.m;
      idx = i;
    } else if (z > top2) {
      top2 = z;
    }
    online_push(&st, z);
    sum += z;
  }
  let row_st = wg_online(li, WG, st);
  let row_sum = wg_sum(li, WG, sum);
  let top = wg_top2(li, WG, st.m, idx, top2);
  if (li == 0u) {
    let m = row_st.m;
    let s = row_st.s;
    let log_s = log(s);
    // exp(top-1 - lse) = 1 / s; a missing runner-up (V = 1) has top2 = LOWEST, so exp gives 0.
    let gap = select((1.0 - exp(top.second - m)) / s, 0.0, top.second == m);
    let tgt = targets[row];
    var logp = 0.0;
    if (tgt >= 0 && u32(tgt) < p.vocab) {
      logp = (logits[base + u32(tgt)] / p.temperature - m) - log_s;
    }
    let o = row * 6u;
    stats[o] = m + log_s;
    stats[o + 1u] = row_sum / f32(p.vocab);
    stats[o + 2u] = log_s - row_st.t / s;
    stats[o + 3u] = gap;
    stats[o + 4u] = logp;
    stats[o + 5u] = f32(top.i);
  }
}

fn push_max_sum(st: ptr<function, Online>, z: f32) {
  if (z > (*st).m) {
    (*st).s *= exp((*st).m - z);
    (*st).m = z;
  }
  (*st).s += exp(z - (*st).m);
}

// The row's weight, zeroed for out-of-range targets, made uniform so a zero row can skip the
// softmax and still leave through uniform control flow.
fn row_weight(li: u32, row: u32, w: f32, tgt: i32) -> f32 {
  if (li == 0u) {
    sh_weight = select(0.0, w, tgt >= 0 && u32(tgt) < p.vocab);
  }
  return workgroupUniformLoad(&sh_weight);
}

@group(0) @binding(1) var<storage, read_write> logits_grad: array<f32>;
@group(0) @binding(2) var<storage, read> bw_targets: array<i32>;
@group(0) @binding(3) var<storage, read> bw_weights: array<f32>;

// dL/dlogits = w · (onehot(target) - softmax(z)) / T for L = Σ_r w_r log p_r(target_r), written over
// the logits themselves so the chunk needs no second [R, V] buffer.
@compute @workgroup_size(WG)
fn backward_inplace(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_index) li: u32) {
  let row = flat_wg(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.vocab;
  let tgt = bw_targets[row];
  let w = row_weight(li, row, bw_weights[row], tgt);
  if (w == 0.0) {
    for (var i = li; i < p.vocab; i += WG) { logits_grad[base + i] = 0.0; }
    return;
  }
  var st = online_empty();
  for (var i = li; i < p.vocab; i += WG) { push_max_sum(&st, logits_grad[base + i] / p.temperature); }
  let ms = wg_online(li, WG, st);
  let inv_s = 1.0 / ms.s;
  let scale = w / p.temperature;
  for (var i = li; i < p.vocab; i += WG) {
    let q = exp(logits_grad[base + i] / p.temperature - ms.m) * inv_s;
    logits_grad[base + i] = scale * (select(0.0, 1.0, i == u32(tgt)) - q);
  }
}

@group(0) @binding(1) var<storage, read> bw_logits: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

// The same gradient into a separate buffer, leaving the logits intact.
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) li: u32) {
  let row = flat_wg(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.vocab;
  let tgt = bw_targets[row];
  let w = row_weight(li, row, bw_weights[row], tgt);
  if (w == 0.0) {
    for (var i = li; i < p.vocab; i += WG) { grad[base + i] = 0.0; }
    return;
  }
  var st = online_empty();
  for (var i = li; i < p.vocab; i += WG) { push_max_sum(&st, bw_logits[base + i] / p.temperature); }
  let ms = wg_online(li, WG, st);
  let inv_s = 1.0 / ms.s;
  let scale = w / p.temperature;
  for (var i = li; i < p.vocab; i += WG) {
    let q = exp(bw_logits[base + i] / p.temperature - ms.m) * inv_s;
    grad[base + i] = scale * (select(0.0, 1.0, i == u32(tgt)) - q);
  }
}

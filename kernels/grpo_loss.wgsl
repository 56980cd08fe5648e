// The GRPO loss of each LM-head row and its gradient to the logits, over one logits chunk, and the
// fixed-order reduction of the per-token terms into the step's statistics (lib/rl/grpo.ts has the
// formulas and torch's tie / clamp-boundary conventions; lib/rl/kl.ts the KL estimators).
//
// One workgroup per row: an online softmax over z = logits / T gives logp_new = z[target] - lse and the
// entropy; thread 0 turns logp_new, the token's logp_old, logp_ref, advantage and aggregation weight
// into the clipped surrogate, the KL term and g = dL/dlogp_new; then every thread writes
// g · (onehot(target) - softmax(z)) / T over the logits (the chunk is dead once its gradient exists).
// Per-token terms go to token_stats[token, 0..8) so the step's statistics are reduced once, in a fixed
// order, after the last micro-batch: results are bitwise reproducible and nothing is read back early.
//
// The sequence ratio (algorithm.ratio: sequence) needs each sequence's Σ_t (logp_new − logp_old) before
// any of its tokens' gradients: log_ratio writes each token's term over the logit chunks first (one extra
// LM-head forward per chunk, no decoder work), sequence_sums adds them up per sequence, then loss_backward
// runs with seq_ratio = 1. All of it is recorded on the GPU; nothing is read back in between.

struct Params {
  rows: u32,
  vocab: u32,
  temperature: f32,
  first: u32,       // token index (into tokens / token_stats) of the chunk's row 0
  lo: f32,          // 1 - clip_low
  hi: f32,          // 1 + clip_high
  kl_coef: f32,
  dual_clip: f32,   // c > 1, or 0 when dual-clip is off
  estimator: u32,   // 0 k1, 1 abs, 2 k2, 3 k3, 4 low_var_kl
  straight: u32,    // 1: verl's straight-through "+" variant (k2's gradient)
  has_ref: u32,     // 0: no reference log-probs, no KL term
  seq_ratio: u32,   // 1: one ratio per sequence, from the sums sequence_sums left in token_stats
}
@group(0) @binding(0) var<uniform> p: Params;

override WG: u32 = 256u;
// Columns of token_stats: w·pg, w·kl, kl, clipped (0/1), ratio, entropy, logp_new, dL/dlogp_new.
const STATS: u32 = 8u;

var<workgroup> sh_g: f32;

struct Kl { value: f32, grad: f32 }

// One token's KL estimate and d/dlogp_new; clamp gradients pass where min <= x <= max, as torch.clamp.
fn kl_term(x: f32, r: f32) -> Kl {
  let d = x - r;
  var k = Kl(0.0, 0.0);
  switch p.estimator {
    case 0u: { k = Kl(d, 1.0); }
    case 1u: { k = Kl(abs(d), sign(d)); }
    case 2u: { k = Kl(0.5 * d * d, d); }
    case 3u: {
      let e = exp(-d);
      k = Kl(e + d - 1.0, 1.0 - e);
    }
    default: {
      let raw = r - x;
      let kk = clamp(raw, -20.0, 20.0);
      let e = exp(kk);
      let kld = e - kk - 1.0;
      let passes = raw >= -20.0 && raw <= 20.0 && kld >= -10.0 && kld <= 10.0;
      k = Kl(clamp(kld, -10.0, 10.0), select(0.0, 1.0 - e, passes));
    }
  }
  if (p.straight != 0u) { k.grad = d; }
  return k;
}

@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
// Per token: logp_old, logp_ref, advantage, aggregation weight.
@group(0) @binding(3) var<storage, read> tokens: array<f32>;
@group(0) @binding(4) var<storage, read_write> token_stats: array<f32>;

// Writes token_stats for this row and returns g = dL/dlogp_new (0 for a target outside [0, V)).
fn token_loss(row: u32, m: f32, s: f32, t: f32) -> f32 {
  let tok = p.first + row;
  let tgt = targets[row];
  let valid = tgt >= 0 && u32(tgt) < p.vocab;
  let log_s = log(s);
  let x = logits[row * p.vocab + select(0u, u32(tgt), valid)] / p.temperature - m - log_s;
  let xo = tokens[tok * 4u];
  let xr = tokens[tok * 4u + 1u];
  let a = tokens[tok * 4u + 2u];
  let w = select(0.0, tokens[tok * 4u + 3u], valid);

  let o = tok * STATS;
  // The sequence ratio (CoE thesis §3.2: ρ = π(y|x) / π_old(y|x)) is the same for every token of the
  // sequence; its surrogate Σ_t w_t·pg(ρ) has d/dlogp_new_t = (Σ_t w_t) · dpg/dlog ρ.
  let seq = p.seq_ratio != 0u;
  let log_ratio = select(x - xo, token_stats[o + 4u], seq);
  let w_pg = token_stats[o + 7u];
  let ratio = exp(clamp(log_ratio, -20.0, 20.0));
  let d_ratio = select(0.0, ratio, log_ratio >= -20.0 && log_ratio <= 20.0);
  let pg1 = -a * ratio;
  let dpg1 = -a * d_ratio;
  let pg2 = -a * clamp(ratio, p.lo, p.hi);
  let dpg2 = select(0.0, -a * d_ratio, ratio >= p.lo && ratio <= p.hi);
  // -min(r·A, clip(r)·A) as torch.maximum: a tie splits the gradient between both branches.
  var pg = pg1;
  var dpg = 0.5 * (dpg1 + dpg2);
  var clipped = 0.0;
  if (pg1 > pg2) {
    dpg = dpg1;
  } else if (pg2 > pg1) {
    pg = pg2;
    dpg = dpg2;
    clipped = 1.0;
  }
  if (p.dual_clip > 0.0 && a < 0.0) {
    let pg3 = -a * p.dual_clip;
    if (pg3 < pg) {
      pg = pg3;
      dpg = 0.0;
    } else if (pg3 == pg) {
      dpg *= 0.5;
    }
  }
  var kl = 0.0;
  var d_kl = 0.0;
  if (p.has_ref != 0u) {
    let k = kl_term(x, xr);
    kl = k.value;
    d_kl = p.kl_coef * k.grad;
  }
  var g = w * (dpg + d_kl);
  if (seq) { g = select(0.0, w_pg * dpg + w * d_kl, valid); }
  let v = select(0.0, 1.0, valid);
  token_stats[o] = w * pg;
  token_stats[o + 1u] = w * kl;
  token_stats[o + 2u] = v * kl;
  token_stats[o + 3u] = v * clipped;
  token_stats[o + 4u] = v * ratio;
  token_stats[o + 5u] = v * (log_s - t / s);
  token_stats[o + 6u] = v * x;
  token_stats[o + 7u] = g;
  return g;
}

@compute @workgroup_size(WG)
fn loss_backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) li: u32) {
  let row = flat_wg(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.vocab;
  var st = online_empty();
  for (var i = li; i < p.vocab; i += WG) { online_push(&st, logits[base + i] / p.temperature); }
  let row_st = wg_online(li, WG, st);
  let m = row_st.m;
  let s = row_st.s;
  if (li == 0u) { sh_g = token_loss(row, m, s, row_st.t); }
  let g = workgroupUniformLoad(&sh_g);
  let tgt = targets[row];
  let inv_s = 1.0 / s;
  let scale = g / p.temperature;
  for (var i = li; i < p.vocab; i += WG) {
    let q = exp(logits[base + i] / p.temperature - m) * inv_s;
    logits[base + i] = scale * (select(0.0, 1.0, i32(i) == tgt) - q);
  }
}

struct LogRatioParams { rows: u32, vocab: u32, temperature: f32, first: u32 }
@group(0) @binding(0) var<uniform> lp: LogRatioParams;

// The first pass of the sequence ratio over one logits chunk, before any gradient: token_stats[token, 6]
// gets logp_new − logp_old and token_stats[token, 7] the aggregation weight (both 0 for a target outside
// [0, V)), for sequence_sums to add up. The logits are only read.
@compute @workgroup_size(WG)
fn log_ratio(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let row = flat_wg(wg, nwg);
  if (row >= lp.rows) { return; }
  let base = row * lp.vocab;
  var st = online_empty();
  for (var i = li; i < lp.vocab; i += WG) { online_push(&st, logits[base + i] / lp.temperature); }
  let row_st = wg_online(li, WG, st);
  if (li != 0u) { return; }
  let tok = lp.first + row;
  let tgt = targets[row];
  let valid = tgt >= 0 && u32(tgt) < lp.vocab;
  let x = logits[base + select(0u, u32(tgt), valid)] / lp.temperature - row_st.m - log(row_st.s);
  token_stats[tok * STATS + 6u] = select(0.0, x - tokens[tok * 4u], valid);
  token_stats[tok * STATS + 7u] = select(0.0, tokens[tok * 4u + 3u], valid);
}

struct SeqParams { sequences: u32, first: u32 }
@group(0) @binding(0) var<uniform> sp: SeqParams;
@group(0) @binding(1) var<storage, read_write> seq_stats: array<f32>;
// Token offsets of each sequence from `first` (length sequences + 1).
@group(0) @binding(2) var<storage, read> seq_offsets: array<i32>;

// One workgroup per sequence: the fixed-order sums of log_ratio's two columns over the sequence's tokens,
// Σ (logp_new − logp_old) = log ρ and Σ w, written into columns 4 and 7 of each of its tokens, where
// loss_backward (seq_ratio = 1) reads them before overwriting both with the token's ratio and gradient.
@compute @workgroup_size(WG)
fn sequence_sums(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) li: u32) {
  let s = flat_wg(wg, nwg);
  if (s >= sp.sequences) { return; }
  let a = sp.first + u32(seq_offsets[s]);
  let b = sp.first + u32(seq_offsets[s + 1u]);
  var lr = 0.0;
  var w = 0.0;
  for (var t = a + li; t < b; t += WG) {
    lr += seq_stats[t * STATS + 6u];
    w += seq_stats[t * STATS + 7u];
  }
  let log_rho = wg_sum(li, WG, lr);
  let weight = wg_sum(li, WG, w);
  for (var t = a + li; t < b; t += WG) {
    seq_stats[t * STATS + 4u] = log_rho;
    seq_stats[t * STATS + 7u] = weight;
  }
}

struct ReduceParams { tokens: u32, kl_coef: f32 }
@group(0) @binding(0) var<uniform> rp: ReduceParams;
@group(0) @binding(1) var<storage, read> all_stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> report: array<f32>;
@group(0) @binding(3) var<storage, read> norm: array<f32>;
@group(0) @binding(4) var<storage, read_write> clip: array<f32>;

// report[c] = Σ_tokens token_stats[·, c] for c < 8, report[8] = the gradient norm: the step's one
// readback. A non-finite loss sets the clip coefficient to -1, AdamW's flag to skip the update.
@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_index) li: u32) {
  for (var c = 0u; c < STATS; c++) {
    var acc = 0.0;
    for (var i = li; i < rp.tokens; i += WG) { acc += all_stats[i * STATS + c]; }
    let total = wg_sum(li, WG, acc);
    if (li == 0u) { report[c] = total; }
  }
  if (li == 0u) {
    report[STATS] = norm[0];
    if (!is_finite(report[0] + rp.kl_coef * report[1])) { clip[0] = -1.0; }
  }
}

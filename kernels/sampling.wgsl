// Next-token sampling, one workgroup per row of logits [B, V]: temperature, top-k, top-p, and a
// counter-based RNG, so the generation loop can sample many steps per submit without readbacks.
//
// Sampling is the Gumbel-max trick over the kept tokens: token = argmax_i z_i + G_i with z = logits / T
// and G_i = -log(E_i), E_i ~ Exp(1). One pass, no sort, and every row's draw depends only on
// (seed, stream[row], step[row], token index) through Philox-4x32-10 with
//   key = (seed_lo, seed_hi), counter = (token / 4, step, stream, 0),
// output word token % 4 — so a row samples the same token whatever else is in the batch. The seed is the
// dispatch's, or the row's own (seeds[2·row], seeds[2·row + 1]) when per_row_seed is set, so rows of
// requests with different seeds can share a batch.
//
// Top-k / top-p find a logit threshold τ and keep every token with z ≥ τ (ties at τ are all kept, so
// more than k tokens may survive). τ is found exactly by a 4-bit-per-pass radix select on the
// order-preserving u32 image of z (8 passes over the row), counting tokens for top-k and summing
// exp(z - max) for top-p; per-thread bins and fixed-order sums keep it deterministic. Top-p applies to
// the distribution renormalised over the top-k survivors (the order of Hugging Face and vLLM).
//
// T = 0 is greedy: the lowest index of the maximum logit; top-k and top-p do not apply.
// The returned log-probability is that of the full distribution softmax(logits / T) before filtering
// (softmax(logits) when T = 0).

struct Params {
  rows: u32,
  vocab: u32,
  temperature: f32,
  top_k: u32,
  top_p: f32,
  seed_lo: u32,
  seed_hi: u32,
  per_row_seed: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> streams: array<u32>;
@group(0) @binding(3) var<storage, read> steps: array<u32>;
// Per-row seeds as (low word, high word) pairs; only read when p.per_row_seed is set.
@group(0) @binding(4) var<storage, read> seeds: array<u32>;
@group(0) @binding(5) var<storage, read_write> tokens: array<i32>;
@group(0) @binding(6) var<storage, read_write> logprobs: array<f32>;

// Threads per row, a power of two ≥ 16 chosen by the wrapper: 256 for real vocabularies, fewer for
// the tiny ones of tests so idle threads do not dominate.
override WG: u32 = 256u;
const BINS: u32 = 16u;
const LOWEST: f32 = -3.0e38;
const NO_INDEX: u32 = 0xffffffffu;

// 32x32 -> 64-bit product as (hi, lo) from 16-bit halves: WGSL has no wide multiply.
fn mulhilo(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2u(a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), a * b);
}

fn philox4x32_10(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let x = mulhilo(0xD2511F53u, c.x);
    let y = mulhilo(0xCD9E8D57u, c.z);
    c = vec4u(y.x ^ c.y ^ k.x, y.y, x.x ^ c.w ^ k.y, x.y);
    k += vec2u(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

// An Exp(1) variate E = -log(1 - w) from 32 random bits, with w carrying full f32 relative precision
// down to 2^-33. The winning tokens are those whose E is tiny, and there `log` near 1 is only accurate
// to an absolute 2^-21 — a relative error of 10% at E = 1e-5 that would visibly distort the
// distribution — so small w goes through 2·atanh(w / (2 - w)) = -log(1 - w) as a series instead.
fn exponential(bits: u32) -> f32 {
  let w = min((f32(bits) + 0.5) * 2.3283064365386963e-10, 0.99999994);
  if (w >= 0.5) {
    return -log(1.0 - w); // 1 - w is exact here and at most 0.5, where log is relatively accurate
  }
  let s = w / (2.0 - w); // s ≤ 1/3: eight odd terms reach 1e-8 relative
  let s2 = s * s;
  let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 *
    (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0)))))));
  return 2.0 * s * series;
}

// Order-preserving map of f32 to u32 (−0 folded onto +0 so equal values share a key).
fn order_key(z: f32) -> u32 {
  var b = bitcast<u32>(z);
  if (b == 0x80000000u) { b = 0u; }
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

var<workgroup> sh_bins: array<f32, BINS * WG>; // bin b of thread i at b * WG + i
var<workgroup> sh_prefix: u32;
var<workgroup> sh_above: f32;

// The largest key τ with Σ_{key(z) ≥ τ} weight(z) ≥ goal, weight = 1 (counts, exact in f32 below
// 2^24) or exp(z - m) (mass). Each pass fixes 4 more bits of τ: bins hold the weight of the tokens that
// share the bits fixed so far, split by their next 4 bits, and a walk down from the top bin finds the
// bin where the cumulative weight first reaches the goal. If rounding keeps it from ever reaching it,
// the walk ends in the lowest bin, which only keeps more tokens.
fn select_threshold(li: u32, base: u32, t: f32, m: f32, mass: bool, goal: f32) -> u32 {
  if (li == 0u) {
    sh_prefix = 0u;
    sh_above = 0.0;
  }
  var prefix = 0u;
  var mask = 0u;
  for (var round = 0u; round < 8u; round++) {
    let shift = 28u - 4u * round;
    for (var b = 0u; b < BINS; b++) { sh_bins[b * WG + li] = 0.0; }
    for (var i = li; i < p.vocab; i += WG) {
      let z = logits[base + i] / t;
      let key = order_key(z);
      if ((key & mask) == prefix) {
        let slot = ((key >> shift) & 15u) * WG + li;
        sh_bins[slot] += select(1.0, exp(z - m), mass);
      }
    }
    workgroupBarrier();
    // Thread li adds 16 consecutive per-thread slots of one bin; the walk then adds WG / 16 parts per bin.
    // The per-part sums live in the prelude's red_a, which kept_mass's wg_sum also uses.
    let parts = WG / BINS;
    let bin = li / parts;
    let part = li % parts;
    var acc = 0.0;
    for (var j = 0u; j < 16u; j++) { acc += sh_bins[bin * WG + part * 16u + j]; }
    red_a[li] = acc;
    workgroupBarrier();
    if (li == 0u) {
      var cum = sh_above;
      var before = cum;
      var chosen = 0u;
      for (var k = 0u; k < BINS; k++) {
        let b = BINS - 1u - k;
        var total = 0.0;
        for (var j = 0u; j < parts; j++) { total += red_a[b * parts + j]; }
        before = cum;
        cum += total;
        chosen = b;
        if (cum >= goal) { break; }
      }
      sh_prefix |= chosen << shift;
      sh_above = before;
    }
    prefix = workgroupUniformLoad(&sh_prefix);
    mask |= 15u << shift;
  }
  return prefix;
}

// Σ exp(z - m) over tokens with key ≥ tau, as a fixed-order tree.
fn kept_mass(li: u32, base: u32, t: f32, m: f32, tau: u32) -> f32 {
  var acc = 0.0;
  for (var i = li; i < p.vocab; i += WG) {
    let z = logits[base + i] / t;
    if (order_key(z) >= tau) { acc += exp(z - m); }
  }
  return wg_sum(li, WG, acc);
}

@compute @workgroup_size(WG)
fn sample(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  let row = flat_wg(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.vocab;
  let greedy = p.temperature == 0.0;
  let t = select(p.temperature, 1.0, greedy);

  // Max, Σ exp(z - max) and the first argmax in one online pass.
  var m = LOWEST;
  var s = 0.0;
  var idx = NO_INDEX;
  for (var i = li; i < p.vocab; i += WG) {
    let z = logits[base + i] / t;
    if (z > m) {
      s *= exp(m - z);
      m = z;
      idx = i;
    }
    s += exp(z - m);
  }
  // (max, Σ exp) merge as online softmax states (t unused); the first argmax in a fixed-order tree.
  let lse = wg_online(li, WG, Online(m, s, 0.0));
  let row_max = lse.m;
  let log_s = log(lse.s);
  let total = lse.s;
  var token = wg_argmax(li, WG, m, idx).i;

  if (!greedy) {
    var tau = 0u; // every key is ≥ 0: keep all
    let use_k = p.top_k > 0u && p.top_k < p.vocab;
    if (use_k) {
      tau = select_threshold(li, base, t, row_max, false, f32(p.top_k));
    }
    if (p.top_p < 1.0) {
      var mass_k = total;
      if (use_k) { mass_k = kept_mass(li, base, t, row_max, tau); }
      tau = max(tau, select_threshold(li, base, t, row_max, true, p.top_p * mass_k));
    }

    var key = vec2u(p.seed_lo, p.seed_hi);
    if (p.per_row_seed != 0u) { key = vec2u(seeds[2u * row], seeds[2u * row + 1u]); }
    let step = steps[row];
    let stream = streams[row];
    var best = LOWEST;
    var best_i = NO_INDEX;
    let groups = (p.vocab + 3u) / 4u;
    for (var g = li; g < groups; g += WG) {
      var z: array<f32, 4>;
      var kept = 0u;
      for (var j = 0u; j < 4u; j++) {
        let i = 4u * g + j;
        if (i < p.vocab) {
          z[j] = logits[base + i] / t;
          if (order_key(z[j]) >= tau) { kept |= 1u << j; }
        }
      }
      // Tokens cut by top-k / top-p need no noise: with a small k most groups skip Philox.
      if (kept != 0u) {
        let bits = philox4x32_10(vec4u(g, step, stream, 0u), key);
        for (var j = 0u; j < 4u; j++) {
          if ((kept & (1u << j)) != 0u) {
            let score = z[j] - log(exponential(bits[j]));
            if (score > best) {
              best = score;
              best_i = 4u * g + j;
            }
          }
        }
      }
    }
    token = wg_argmax(li, WG, best, best_i).i;
  }

  if (li == 0u) {
    tokens[row] = i32(token);
    logprobs[row] = (logits[base + token] / t - row_max) - log_s;
  }
}

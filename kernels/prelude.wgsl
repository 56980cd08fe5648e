// Shared by every kernel file: the registry compiles each file with this prelude in front, so grid index
// helpers, workgroup reductions and the math several kernels need are written once. naga refuses
// functions that take pointers to workgroup memory, so the reductions own module-scope scratch arrays;
// an entry point only gets the workgroup memory of the arrays it reaches.

// The workgroup's linear index: undoes the recorder's flattening of a large 1-D grid into (x, y).
fn flat_wg(wg: vec3u, nwg: vec3u) -> u32 { return wg.x + wg.y * nwg.x + wg.z * nwg.x * nwg.y; }

// Largest workgroup the reductions serve.
const RED_N: u32 = 256u;
var<workgroup> red_a: array<f32, RED_N>;
var<workgroup> red_b: array<f32, RED_N>;
var<workgroup> red_c: array<f32, RED_N>;
var<workgroup> red_i: array<u32, RED_N>;

// Σ of `v` over invocations [0, n) (n a power of two ≤ RED_N, li the local index), returned to all of
// them: a fixed-order pairwise tree, so results are bitwise reproducible and the rounding error grows
// with log2(n), not n. Every invocation must call it (it synchronises the workgroup). It ends with a
// barrier, so any wg_* reduction may follow at once, and its scratch red_a may hold other data between
// calls; the same holds for every reduction below.
fn wg_sum(li: u32, n: u32, v: f32) -> f32 {
  red_a[li] = v;
  for (var s = n / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (li < s) { red_a[li] += red_a[li + s]; }
  }
  let total = workgroupUniformLoad(&red_a[0]);
  workgroupBarrier();
  return total;
}

// A value and the index it came with.
struct ArgMax { v: f32, i: u32 }

// The largest `v` over invocations [0, n) with its index `i`, the lowest index among equal values.
fn wg_argmax(li: u32, n: u32, v: f32, i: u32) -> ArgMax {
  red_a[li] = v;
  red_i[li] = i;
  for (var stride = n / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (li < stride) {
      let j = li + stride;
      if (red_a[j] > red_a[li] || (red_a[j] == red_a[li] && red_i[j] < red_i[li])) {
        red_a[li] = red_a[j];
        red_i[li] = red_i[j];
      }
    }
  }
  let r = ArgMax(workgroupUniformLoad(&red_a[0]), workgroupUniformLoad(&red_i[0]));
  workgroupBarrier();
  return r;
}

// The largest value, the index it came with and the runner-up.
struct Top2 { first: f32, i: u32, second: f32 }

// wg_argmax that also keeps the runner-up: each invocation gives its own largest value `first` (at index
// `i`) and runner-up `second`. A tie with the largest value becomes the runner-up (so tied top values
// give first == second), and the lowest index wins the tie.
fn wg_top2(li: u32, n: u32, first: f32, i: u32, second: f32) -> Top2 {
  red_a[li] = first;
  red_b[li] = second;
  red_i[li] = i;
  for (var stride = n / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (li < stride) {
      let j = li + stride;
      if (red_a[j] > red_a[li] || (red_a[j] == red_a[li] && red_i[j] < red_i[li])) {
        red_b[li] = max(red_a[li], red_b[j]);
        red_a[li] = red_a[j];
        red_i[li] = red_i[j];
      } else {
        red_b[li] = max(red_b[li], red_a[j]);
      }
    }
  }
  let r = Top2(workgroupUniformLoad(&red_a[0]), workgroupUniformLoad(&red_i[0]), workgroupUniformLoad(&red_b[0]));
  workgroupBarrier();
  return r;
}

// Online softmax state over values z seen so far: running max m, s = Σ exp(z − m), t = Σ exp(z − m)·(z − m)
// (t gives the entropy log s − t / s without cancellation against a large logsumexp).
struct Online { m: f32, s: f32, t: f32 }

// A finite stand-in for −inf: exp(ONLINE_LOWEST − z) underflows to 0 and ONLINE_LOWEST · 0 stays 0, so
// empty states merge without NaNs.
const ONLINE_LOWEST: f32 = -3.0e38;

fn online_empty() -> Online { return Online(ONLINE_LOWEST, 0.0, 0.0); }

fn online_push(st: ptr<function, Online>, z: f32) {
  if (z > (*st).m) {
    let d = (*st).m - z;
    let c = exp(d);
    (*st).t = c * ((*st).t + d * (*st).s);
    (*st).s = c * (*st).s;
    (*st).m = z;
  }
  let d = z - (*st).m;
  let e = exp(d);
  (*st).s += e;
  (*st).t += e * d;
}

fn online_merge(a: Online, b: Online) -> Online {
  let m = max(a.m, b.m);
  let da = a.m - m;
  let db = b.m - m;
  let ca = exp(da);
  let cb = exp(db);
  return Online(m, ca * a.s + cb * b.s, ca * (a.t + da * a.s) + cb * (b.t + db * b.s));
}

// The merge of every invocation's state over [0, n), as wg_sum (fixed-order tree, uniform result,
// callable by every invocation in uniform control flow), in red_a, red_b and red_c.
fn wg_online(li: u32, n: u32, st: Online) -> Online {
  red_a[li] = st.m;
  red_b[li] = st.s;
  red_c[li] = st.t;
  for (var stride = n / 2u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (li < stride) {
      let j = li + stride;
      let c = online_merge(Online(red_a[li], red_b[li], red_c[li]), Online(red_a[j], red_b[j], red_c[j]));
      red_a[li] = c.m;
      red_b[li] = c.s;
      red_c[li] = c.t;
    }
  }
  let r = Online(workgroupUniformLoad(&red_a[0]), workgroupUniformLoad(&red_b[0]), workgroupUniformLoad(&red_c[0]));
  workgroupBarrier();
  return r;
}

// By the bits: WGSL lets compilers assume floats are finite, so x != x may be folded away.
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }

// (sigmoid(x), 1 − sigmoid(x)), each without cancellation, through exp(−|x|), which never overflows: large
// |x| gives exact 0 / 1 limits instead of inf / NaN (WGSL does not promise IEEE infinities).
fn sigmoid2(x: f32) -> vec2f {
  let e = exp(-abs(x));
  let d = 1.0 / (1.0 + e);
  let ed = e * d;
  return select(vec2f(ed, d), vec2f(d, ed), x >= 0.0);
}

// (sin a, cos a) for RoPE angles. Cody–Waite reduction by π/2 with the constant split into three 7-bit
// parts and an f32 tail: j·P1, j·P2 and j·P3 are exact for |j| < 2^17, so the reduced argument keeps
// ~1e-7 absolute accuracy for |a| up to ~2e5 radians (positions past 128k at inv_freq = 1). Cephes
// sinf/cosf polynomials on [−π/4, π/4]. An f32 emulation of this code stays within 9.2e-8 (0.8 ulp of 1)
// of float64 sin/cos over |a| <= 2e5. WGSL only bounds the built-ins on [−π, π], so these keep the same
// results on every GPU.
fn sin_cos(a: f32) -> vec2f {
  let j = round(a * 0.636619772367581343);
  var r = a - j * 1.5625;
  r = r - j * 0.0081787109375;
  r = r - j * 0.00011730194091796875;
  r = r - j * 3.1391647326017846e-7;
  let z = r * r;
  let s = r + r * z * ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1);
  let cp = (2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2;
  let c = 1.0 - 0.5 * z + z * z * cp;
  // Quadrant: two's complement & 3 is j mod 4 for negative j too.
  let q = u32(i32(j)) & 3u;
  let sc = select(vec2f(s, c), vec2f(c, -s), (q & 1u) != 0u);
  return select(sc, -sc, q >= 2u);
}

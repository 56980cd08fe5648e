// The decode step of one decoder layer in seven dispatches, for M rows (one new token per sequence):
//   qkv_proj      q | k | v = rmsnorm(x) · [Wq; Wk; Wv]ᵀ + b      (norm folded in, three weights bound)
//   rope_kv       rotate q in place; rotate k and write k, v into the cache at each row's position
//   attn_partial  softmax(q·Kᵀ·scale)·V over one chunk of the cache per workgroup (split-K) …
//   attn_combine  … and the merge of the chunks
//   proj_residual x += o · Woᵀ (+ b)                           (also down_proj: x += act · Wdᵀ)
//   gate_up       act = silu(h · Wgᵀ) ⊙ (h · Wuᵀ), h = rmsnorm(x) (norm folded in)
// Qwen3 and OLMo-2 normalise q and k before RoPE: norm_rope_kv takes rope_kv's place with the norm folded
// in (over each head for Qwen3, over the whole projection for OLMo-2), so both keep seven dispatches.
// OLMo-2 normalises each sublayer's output y before its residual add, x ← x + rmsnorm(y)·g, and no
// column-split projection sees a whole row of y. So the add is deferred: o_proj and down_proj store y
// (proj_residual with overwrite), and the next reader, qkv_proj_post or gate_up_post, first sums y² per
// row, then reads its input as x + rstd(y)·g·y and writes that row back for the layer's later kernels.
// After the last layer norm_residual adds the last deferred output in place.
// plus kv_write, the prefill's conversion of f32 keys/values into the cache.
//
// Weights (`array<WS>`) are f32, f16 or bf16, read through the registry's loaders; the KV cache has the
// weights' width too (`kw_cache_store2` writes element pairs, so no two threads share a packed word).
// Everything accumulates in f32.
//
// Matrix-vector products: a workgroup owns NC output columns × MT rows; its 64 threads split K, each
// reads the weight rows with vec4 loads (when K % 4 == 0) and keeps NC·MT partial dots, and one fixed-order
// workgroup reduction finishes them (deterministic, no atomics). The row block is the grid's x, so the
// workgroups reading the same weight rows for different row blocks (batch > MT) are dispatched together
// and share them through the cache instead of streaming the weights from memory once per row block. Folding RMSNorm costs nothing extra: the
// threads read x anyway, so they also sum x² and the row's rstd scales the finished dot:
//   rmsnorm(x)·w = rstd · Σ_k x_k g_k w_k.

const WG: u32 = 64u;
const NC: u32 = 4u; // output columns per workgroup (qkv_proj, proj_residual)
const NG: u32 = 2u; // output columns per workgroup in gate_up: two weights each
const MT: u32 = 8u; // rows per workgroup
const NV: u32 = 40u; // values a thread reduces: NC·MT (= 2·NG·MT) dots + MT sums of squares
// Cache positions per attention workgroup (split), set by lib/ops/decode_layer.ts (DECODE_ATTENTION_CHUNK);
// its GMAX·CHUNK scores and GMAX·WG partials must fit `red`.
override CHUNK: u32;
// Largest head dimension: lib/ops/decode_layer.ts reads it (naga cannot size q_s by an override).
const MAX_D: u32 = 128u;
const NEG: f32 = -3.0e38;

struct Params {
  rows: u32, k: u32, n: u32, nq: u32, nkv: u32, has_bias: u32, eps: f32,
  heads: u32, kv_heads: u32, head_dim: u32, max_len: u32, splits: u32, scale: f32, rows_per_seq: u32,
  // overwrite: proj_residual stores the product instead of adding it (OLMo-2's sublayer outputs).
  overwrite: u32,
  // norm_rope_kv: q and k split into seg_q and seg_k normalised segments of seg_len_q and seg_len_k values.
  seg_q: u32, seg_k: u32, seg_len_q: u32, seg_len_k: u32,
  // qkv_proj_post, gate_up_post: whether a deferred sublayer output waits to be added (0 at layer 0).
  pending: u32,
  // kv_write: the cache sequence of the call's first sequence (a prefill split into passes).
  first_seq: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

var<workgroup> red: array<f32, NV * WG>;

// Sums each thread's NV values over the workgroup: afterwards red[v · WG] holds the total of value v.
// Thread v sums row v in index order, so results do not depend on scheduling.
fn reduce_values(li: u32, vals: ptr<function, array<f32, NV>>) {
  for (var v = 0u; v < NV; v++) { red[v * WG + li] = (*vals)[v]; }
  workgroupBarrier();
  if (li < NV) {
    var s = 0.0;
    for (var t = 0u; t < WG; t++) { s += red[li * WG + t]; }
    red[li * WG] = s;
  }
  workgroupBarrier();
}

fn rstd_of(m: u32) -> f32 {
  return inverseSqrt(red[(NC * MT + m) * WG] / f32(p.k) + p.eps);
}

// ---------------------------------------------------------------------------------------------------
// qkv_proj. Grid: (ceil(rows / MT), ceil(n / NC)); n = nq + 2·nkv columns, q then k then v.

@group(0) @binding(1) var<storage, read> qx: array<f32>;
@group(0) @binding(2) var<storage, read> qnorm: array<f32>;
@group(0) @binding(3) var<storage, read> wq: array<WS>;
@group(0) @binding(4) var<storage, read> wk: array<WS>;
@group(0) @binding(5) var<storage, read> wv: array<WS>;
@group(0) @binding(6) var<storage, read> bq: array<f32>;
@group(0) @binding(7) var<storage, read> bk: array<f32>;
@group(0) @binding(8) var<storage, read> bv: array<f32>;
@group(0) @binding(9) var<storage, read_write> qkv_out: array<f32>;

fn wqkv_at4(n: u32, k: u32) -> vec4f {
  if (n < p.nq) { return wq_at4(n * p.k + k); }
  if (n < p.nq + p.nkv) { return wk_at4((n - p.nq) * p.k + k); }
  return wv_at4((n - p.nq - p.nkv) * p.k + k);
}

fn wqkv_at(n: u32, k: u32) -> f32 {
  if (n < p.nq) { return wq_at(n * p.k + k); }
  if (n < p.nq + p.nkv) { return wk_at((n - p.nq) * p.k + k); }
  return wv_at((n - p.nq - p.nkv) * p.k + k);
}

fn bias_qkv(n: u32) -> f32 {
  if (p.has_bias == 0u) { return 0.0; }
  if (n < p.nq) { return bq[n]; }
  if (n < p.nq + p.nkv) { return bk[n - p.nq]; }
  return bv[n - p.nq - p.nkv];
}

@compute @workgroup_size(WG)
fn qkv_proj(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c0 = wg.y * NC;
  let m0 = wg.x * MT;
  let nc = min(NC, p.n - c0);
  let mt = min(MT, p.rows - m0);
  var vals: array<f32, NV>;
  if (p.k % 4u == 0u) {
    for (var k = li * 4u; k < p.k; k += WG * 4u) {
      let g = vec4f(qnorm[k], qnorm[k + 1u], qnorm[k + 2u], qnorm[k + 3u]);
      var w: array<vec4f, NC>;
      for (var c = 0u; c < nc; c++) { w[c] = wqkv_at4(c0 + c, k); }
      for (var m = 0u; m < mt; m++) {
        let r = (m0 + m) * p.k + k;
        let xv = vec4f(qx[r], qx[r + 1u], qx[r + 2u], qx[r + 3u]);
        vals[NC * MT + m] += dot(xv, xv);
        let xg = xv * g;
        for (var c = 0u; c < nc; c++) { vals[c * MT + m] += dot(w[c], xg); }
      }
    }
  } else {
    for (var k = li; k < p.k; k += WG) {
      var w: array<f32, NC>;
      for (var c = 0u; c < nc; c++) { w[c] = wqkv_at(c0 + c, k); }
      for (var m = 0u; m < mt; m++) {
        let xv = qx[(m0 + m) * p.k + k];
        vals[NC * MT + m] += xv * xv;
        let xg = xv * qnorm[k];
        for (var c = 0u; c < nc; c++) { vals[c * MT + m] += w[c] * xg; }
      }
    }
  }
  reduce_values(li, &vals);
  let c = li / MT;
  let m = li % MT;
  if (c < nc && m < mt) {
    let n = c0 + c;
    qkv_out[(m0 + m) * p.n + n] = red[li * WG] * rstd_of(m) + bias_qkv(n);
  }
}

// ---------------------------------------------------------------------------------------------------
// The deferred residual of OLMo-2 (qkv_proj_post, gate_up_post): the input row m is
// x[m] + rstd(y[m])·g·y[m], x the residual stream, y the last sublayer's stored output, g its norm weight.
// post_rstd sums y² over the workgroup's rows and returns each row's rstd (1 and unused with no pending
// y); post_input4 and post_input build the input at k, and the column-block-0 workgroups write it to
// x_out, so that every element of the new stream is written once. Workgroups of other column blocks only
// read x and y: the stream goes to another buffer, never in place.

fn post_rstd(li: u32, m0: u32, mt: u32, y: ptr<function, array<f32, MT>>) {
  if (p.pending == 0u) { return; }
  var vals: array<f32, NV>;
  for (var k = li; k < p.k; k += WG) {
    for (var m = 0u; m < mt; m++) {
      let v = post_y[(m0 + m) * p.k + k];
      vals[NC * MT + m] += v * v;
    }
  }
  reduce_values(li, &vals);
  for (var m = 0u; m < MT; m++) { (*y)[m] = inverseSqrt(red[(NC * MT + m) * WG] / f32(p.k) + p.eps); }
  workgroupBarrier(); // red is reused by the caller's reduction
}

fn post_input4(r: u32, k: u32, rstd: f32) -> vec4f {
  let x = vec4f(post_x[r], post_x[r + 1u], post_x[r + 2u], post_x[r + 3u]);
  if (p.pending == 0u) { return x; }
  let g = vec4f(post_g[k], post_g[k + 1u], post_g[k + 2u], post_g[k + 3u]);
  return x + rstd * g * vec4f(post_y[r], post_y[r + 1u], post_y[r + 2u], post_y[r + 3u]);
}

fn post_input(r: u32, k: u32, rstd: f32) -> f32 {
  if (p.pending == 0u) { return post_x[r]; }
  return post_x[r] + rstd * post_g[k] * post_y[r];
}

@group(0) @binding(1) var<storage, read> post_x: array<f32>;
@group(0) @binding(2) var<storage, read> post_g: array<f32>;
@group(0) @binding(6) var<storage, read> post_y: array<f32>;
@group(0) @binding(7) var<storage, read_write> post_x_out: array<f32>;
@group(0) @binding(8) var<storage, read_write> post_qkv: array<f32>;

// qkv_proj for OLMo-2: q | k | v of the deferred-residual input (no input norm, no biases). Grid as
// qkv_proj's.
@compute @workgroup_size(WG)
fn qkv_proj_post(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c0 = wg.y * NC;
  let m0 = wg.x * MT;
  let nc = min(NC, p.n - c0);
  let mt = min(MT, p.rows - m0);
  let store = wg.y == 0u;
  var rstd: array<f32, MT>;
  post_rstd(li, m0, mt, &rstd);
  var vals: array<f32, NV>;
  if (p.k % 4u == 0u) {
    for (var k = li * 4u; k < p.k; k += WG * 4u) {
      var w: array<vec4f, NC>;
      for (var c = 0u; c < nc; c++) { w[c] = wqkv_at4(c0 + c, k); }
      for (var m = 0u; m < mt; m++) {
        let r = (m0 + m) * p.k + k;
        let xv = post_input4(r, k, rstd[m]);
        if (store) {
          post_x_out[r] = xv.x;
          post_x_out[r + 1u] = xv.y;
          post_x_out[r + 2u] = xv.z;
          post_x_out[r + 3u] = xv.w;
        }
        for (var c = 0u; c < nc; c++) { vals[c * MT + m] += dot(w[c], xv); }
      }
    }
  } else {
    for (var k = li; k < p.k; k += WG) {
      var w: array<f32, NC>;
      for (var c = 0u; c < nc; c++) { w[c] = wqkv_at(c0 + c, k); }
      for (var m = 0u; m < mt; m++) {
        let r = (m0 + m) * p.k + k;
        let xv = post_input(r, k, rstd[m]);
        if (store) { post_x_out[r] = xv; }
        for (var c = 0u; c < nc; c++) { vals[c * MT + m] += w[c] * xv; }
      }
    }
  }
  reduce_values(li, &vals);
  let c = li / MT;
  let m = li % MT;
  if (c < nc && m < mt) { post_qkv[(m0 + m) * p.n + c0 + c] = red[li * WG]; }
}

// ---------------------------------------------------------------------------------------------------
// gate_up. Grid: (ceil(rows / MT), ceil(n / NG)); n = intermediate size.

@group(0) @binding(1) var<storage, read> gx: array<f32>;
@group(0) @binding(2) var<storage, read> gnorm: array<f32>;
@group(0) @binding(3) var<storage, read> wg_gate: array<WS>;
@group(0) @binding(4) var<storage, read> wg_up: array<WS>;
@group(0) @binding(5) var<storage, read_write> act_out: array<f32>;

@compute @workgroup_size(WG)
fn gate_up(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c0 = wg.y * NG;
  let m0 = wg.x * MT;
  let nc = min(NG, p.n - c0);
  let mt = min(MT, p.rows - m0);
  // vals[(2c) · MT + m]: gate dot of column c, row m; vals[(2c + 1) · MT + m]: its up dot.
  var vals: array<f32, NV>;
  if (p.k % 4u == 0u) {
    for (var k = li * 4u; k < p.k; k += WG * 4u) {
      let g = vec4f(gnorm[k], gnorm[k + 1u], gnorm[k + 2u], gnorm[k + 3u]);
      var w: array<vec4f, 4>; // 2·NG
      for (var c = 0u; c < nc; c++) {
        w[2u * c] = wg_gate_at4((c0 + c) * p.k + k);
        w[2u * c + 1u] = wg_up_at4((c0 + c) * p.k + k);
      }
      for (var m = 0u; m < mt; m++) {
        let r = (m0 + m) * p.k + k;
        let xv = vec4f(gx[r], gx[r + 1u], gx[r + 2u], gx[r + 3u]);
        vals[NC * MT + m] += dot(xv, xv);
        let xg = xv * g;
        for (var c = 0u; c < 2u * nc; c++) { vals[c * MT + m] += dot(w[c], xg); }
      }
    }
  } else {
    for (var k = li; k < p.k; k += WG) {
      var w: array<f32, 4>;
      for (var c = 0u; c < nc; c++) {
        w[2u * c] = wg_gate_at((c0 + c) * p.k + k);
        w[2u * c + 1u] = wg_up_at((c0 + c) * p.k + k);
      }
      for (var m = 0u; m < mt; m++) {
        let xv = gx[(m0 + m) * p.k + k];
        vals[NC * MT + m] += xv * xv;
        let xg = xv * gnorm[k];
        for (var c = 0u; c < 2u * nc; c++) { vals[c * MT + m] += w[c] * xg; }
      }
    }
  }
  reduce_values(li, &vals);
  let c = li / MT;
  let m = li % MT;
  if (c < nc && m < mt) {
    let rstd = rstd_of(m);
    let gate = red[(2u * c * MT + m) * WG] * rstd;
    let up = red[((2u * c + 1u) * MT + m) * WG] * rstd;
    act_out[(m0 + m) * p.n + c0 + c] = gate * sigmoid2(gate).x * up;
  }
}

// gate_up for OLMo-2: the MLP's first half on the deferred-residual input (no norm). Grid as gate_up's.
@compute @workgroup_size(WG)
fn gate_up_post(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c0 = wg.y * NG;
  let m0 = wg.x * MT;
  let nc = min(NG, p.n - c0);
  let mt = min(MT, p.rows - m0);
  let store = wg.y == 0u;
  var rstd: array<f32, MT>;
  post_rstd(li, m0, mt, &rstd);
  var vals: array<f32, NV>;
  if (p.k % 4u == 0u) {
    for (var k = li * 4u; k < p.k; k += WG * 4u) {
      var w: array<vec4f, 4>; // 2·NG
      for (var c = 0u; c < nc; c++) {
        w[2u * c] = wg_gate_at4((c0 + c) * p.k + k);
        w[2u * c + 1u] = wg_up_at4((c0 + c) * p.k + k);
      }
      for (var m = 0u; m < mt; m++) {
        let r = (m0 + m) * p.k + k;
        let xv = post_input4(r, k, rstd[m]);
        if (store) {
          post_x_out[r] = xv.x;
          post_x_out[r + 1u] = xv.y;
          post_x_out[r + 2u] = xv.z;
          post_x_out[r + 3u] = xv.w;
        }
        for (var c = 0u; c < 2u * nc; c++) { vals[c * MT + m] += dot(w[c], xv); }
      }
    }
  } else {
    for (var k = li; k < p.k; k += WG) {
      var w: array<f32, 4>;
      for (var c = 0u; c < nc; c++) {
        w[2u * c] = wg_gate_at((c0 + c) * p.k + k);
        w[2u * c + 1u] = wg_up_at((c0 + c) * p.k + k);
      }
      for (var m = 0u; m < mt; m++) {
        let r = (m0 + m) * p.k + k;
        let xv = post_input(r, k, rstd[m]);
        if (store) { post_x_out[r] = xv; }
        for (var c = 0u; c < 2u * nc; c++) { vals[c * MT + m] += w[c] * xv; }
      }
    }
  }
  reduce_values(li, &vals);
  let c = li / MT;
  let m = li % MT;
  if (c < nc && m < mt) {
    let gate = red[(2u * c * MT + m) * WG];
    let up = red[((2u * c + 1u) * MT + m) * WG];
    act_out[(m0 + m) * p.n + c0 + c] = gate * sigmoid2(gate).x * up;
  }
}

// ---------------------------------------------------------------------------------------------------
// proj_residual: x[m, n] += Σ_k in[m, k] · w[n, k] (+ bias[n]), in place: each element of x is read and
// written by one thread, and x is not the product's input. Grid: (ceil(rows / MT), ceil(n / NC)).

@group(0) @binding(1) var<storage, read> pin: array<f32>;
@group(0) @binding(2) var<storage, read> pw: array<WS>;
@group(0) @binding(3) var<storage, read> pbias: array<f32>;
@group(0) @binding(4) var<storage, read_write> pres: array<f32>;

@compute @workgroup_size(WG)
fn proj_residual(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c0 = wg.y * NC;
  let m0 = wg.x * MT;
  let nc = min(NC, p.n - c0);
  let mt = min(MT, p.rows - m0);
  var vals: array<f32, NV>;
  if (p.k % 4u == 0u) {
    for (var k = li * 4u; k < p.k; k += WG * 4u) {
      var w: array<vec4f, NC>;
      for (var c = 0u; c < nc; c++) { w[c] = pw_at4((c0 + c) * p.k + k); }
      for (var m = 0u; m < mt; m++) {
        let r = (m0 + m) * p.k + k;
        let xv = vec4f(pin[r], pin[r + 1u], pin[r + 2u], pin[r + 3u]);
        for (var c = 0u; c < nc; c++) { vals[c * MT + m] += dot(w[c], xv); }
      }
    }
  } else {
    for (var k = li; k < p.k; k += WG) {
      var w: array<f32, NC>;
      for (var c = 0u; c < nc; c++) { w[c] = pw_at((c0 + c) * p.k + k); }
      for (var m = 0u; m < mt; m++) {
        let xv = pin[(m0 + m) * p.k + k];
        for (var c = 0u; c < nc; c++) { vals[c * MT + m] += w[c] * xv; }
      }
    }
  }
  reduce_values(li, &vals);
  let c = li / MT;
  let m = li % MT;
  if (c < nc && m < mt) {
    let n = c0 + c;
    let b = select(0.0, pbias[n], p.has_bias != 0u);
    let at = (m0 + m) * p.n + n;
    pres[at] = select(pres[at], 0.0, p.overwrite != 0u) + (red[li * WG] + b);
  }
}

// ---------------------------------------------------------------------------------------------------
// rope_kv. Rows are [q (nq) | k (nkv) | v (nkv)] of width n. Threads [0, heads·D/2) rotate one q pair in
// place; the next kv_heads·D/2 threads each rotate two adjacent k elements and store them, and the two v
// elements beside them, as one pair into the cache row at the row's position. Grid:
// (ceil((heads + kv_heads)·D/2 / WG), rows).

@group(0) @binding(1) var<storage, read> rpos: array<i32>;
@group(0) @binding(2) var<storage, read> rfreq: array<f32>;
@group(0) @binding(3) var<storage, read_write> rqkv: array<f32>;
@group(0) @binding(4) var<storage, read_write> kw_cache: array<WS>;
@group(0) @binding(5) var<storage, read_write> vw_cache: array<WS>;

// Element c (within a row section starting at `base`) of a head-major row after rotate-half RoPE.
fn rotated(base: u32, c: u32, pos: f32) -> f32 {
  let half = p.head_dim / 2u;
  let j = c % p.head_dim;
  if (j < half) {
    let sc = sin_cos(pos * rfreq[j]);
    return rqkv[base + c] * sc.y - rqkv[base + c + half] * sc.x;
  }
  let sc = sin_cos(pos * rfreq[j - half]);
  return rqkv[base + c] * sc.y + rqkv[base + c - half] * sc.x;
}

@compute @workgroup_size(WG)
fn rope_kv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let t = wg.x * WG + li;
  let m = wg.y;
  let half = p.head_dim / 2u;
  let pairs_q = p.heads * half;
  let pos = rpos[m];
  if (t < pairs_q) {
    let a = m * p.n + (t / half) * p.head_dim + t % half;
    let sc = sin_cos(f32(pos) * rfreq[t % half]);
    let x0 = rqkv[a];
    let x1 = rqkv[a + half];
    rqkv[a] = x0 * sc.y - x1 * sc.x;
    rqkv[a + half] = x1 * sc.y + x0 * sc.x;
    return;
  }
  let e = t - pairs_q;
  if (e >= p.nkv / 2u || pos < 0 || u32(pos) >= p.max_len) { return; }
  let c = 2u * e;
  let kb = m * p.n + p.nq;
  let vb = kb + p.nkv;
  let dst = (m * p.max_len + u32(pos)) * p.nkv + c;
  kw_cache_store2(dst, rotated(kb, c, f32(pos)), rotated(kb, c + 1u, f32(pos)));
  vw_cache_store2(dst, rqkv[vb + c], rqkv[vb + c + 1u]);
}

// Sum of one value per thread over the workgroup, tree-ordered (deterministic); every thread gets it.
fn wg_total(li: u32, v: f32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

// ---------------------------------------------------------------------------------------------------
// norm_rope_kv: rope_kv with RMSNorm of q and k folded in. Workgroup (segment, row): segments
// [0, seg_q) are q's, [seg_q, seg_q + seg_k) k's, each seg_len values of whole heads (one head for Qwen3,
// the whole projection for OLMo-2) scaled by the norm weight at the value's place in its segment. The
// workgroup first sums its segment's squares (all reads before the barrier), then rotates q in place, or
// stores the rotated k and the v beside it in element pairs into the cache as rope_kv does.
// Grid: (seg_q + seg_k, rows).

@group(0) @binding(6) var<storage, read> rqn: array<f32>;
@group(0) @binding(7) var<storage, read> rkn: array<f32>;

// Element c of the normalised k section after rotate-half RoPE (k section of row `kb`, segment from `s0`).
fn rotated_k(kb: u32, s0: u32, c: u32, rstd: f32, pos: f32) -> f32 {
  let half = p.head_dim / 2u;
  let j = c % p.head_dim;
  let x = rqkv[kb + c] * rstd * rkn[c - s0];
  if (j < half) {
    let sc = sin_cos(pos * rfreq[j]);
    return x * sc.y - rqkv[kb + c + half] * rstd * rkn[c + half - s0] * sc.x;
  }
  let sc = sin_cos(pos * rfreq[j - half]);
  return x * sc.y + rqkv[kb + c - half] * rstd * rkn[c - half - s0] * sc.x;
}

@compute @workgroup_size(WG)
fn norm_rope_kv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let m = wg.y;
  let is_q = wg.x < p.seg_q;
  let seg = select(wg.x - p.seg_q, wg.x, is_q);
  let len = select(p.seg_len_k, p.seg_len_q, is_q);
  let s0 = seg * len; // first column of the segment within its section
  let base = m * p.n + select(p.nq, 0u, is_q) + s0;
  var ss = 0.0;
  for (var e = li; e < len; e += WG) {
    let v = rqkv[base + e];
    ss += v * v;
  }
  let rstd = inverseSqrt(wg_total(li, ss) / f32(len) + p.eps);
  let pos = rpos[m];
  let half = p.head_dim / 2u;
  if (is_q) {
    for (var t = li; t < len / 2u; t += WG) {
      let c = (t / half) * p.head_dim + t % half; // column within the segment
      let sc = sin_cos(f32(pos) * rfreq[t % half]);
      let x0 = rqkv[base + c] * rstd * rqn[c];
      let x1 = rqkv[base + c + half] * rstd * rqn[c + half];
      rqkv[base + c] = x0 * sc.y - x1 * sc.x;
      rqkv[base + c + half] = x1 * sc.y + x0 * sc.x;
    }
    return;
  }
  if (pos < 0 || u32(pos) >= p.max_len) { return; }
  let kb = m * p.n + p.nq;
  let vb = kb + p.nkv;
  for (var e = li; e < len / 2u; e += WG) {
    let c = s0 + 2u * e;
    let dst = (m * p.max_len + u32(pos)) * p.nkv + c;
    kw_cache_store2(dst, rotated_k(kb, s0, c, rstd, f32(pos)), rotated_k(kb, s0, c + 1u, rstd, f32(pos)));
    vw_cache_store2(dst, rqkv[vb + c], rqkv[vb + c + 1u]);
  }
}

// ---------------------------------------------------------------------------------------------------
// norm_residual: x[m] += rmsnorm(t[m]) · w over k values per row (OLMo-2's last deferred residual).
// Grid: (rows).

@group(0) @binding(1) var<storage, read> nt: array<f32>;
@group(0) @binding(2) var<storage, read> nw: array<f32>;
@group(0) @binding(3) var<storage, read_write> nx: array<f32>;

@compute @workgroup_size(WG)
fn norm_residual(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wg.x * p.k;
  var ss = 0.0;
  for (var k = li; k < p.k; k += WG) {
    let v = nt[row + k];
    ss += v * v;
  }
  let rstd = inverseSqrt(wg_total(li, ss) / f32(p.k) + p.eps);
  for (var k = li; k < p.k; k += WG) { nx[row + k] = nx[row + k] + nt[row + k] * rstd * nw[k]; }
}

// ---------------------------------------------------------------------------------------------------
// attn_partial: workgroup (split s, head group, row m) attends the query heads of one group — up to GMAX
// heads sharing one kv head (GQA) — to cache positions [s·CHUNK, min((s+1)·CHUNK, kv_len[m])) and writes,
// per head, the unnormalised output Σ_j e^(score_j − max)·v_j with (max, Σ_j e^(score_j − max)); an empty
// chunk writes (NEG, 0) and zeros. Serving the whole group from one workgroup reads each cached key and
// value once instead of once per query head. Grid: (splits, kv_heads · ceil(G / GMAX), rows), G =
// heads / kv_heads. Scores stay in workgroup memory (the matrix-vector kernels' `red`, reused).

const GMAX: u32 = 8u; // query heads per attention workgroup: GMAX·CHUNK scores and GMAX·WG partials fit `red`

@group(0) @binding(1) var<storage, read> aqkv: array<f32>;
@group(0) @binding(2) var<storage, read> alen: array<i32>;
@group(0) @binding(3) var<storage, read> kc: array<WS>;
@group(0) @binding(4) var<storage, read> vc: array<WS>;
@group(0) @binding(5) var<storage, read_write> part_o: array<f32>;
@group(0) @binding(6) var<storage, read_write> part_ml: array<f32>;

var<workgroup> q_s: array<f32, GMAX * MAX_D>;
override R_BASE: u32 = GMAX * CHUNK; // red[0, R_BASE): scores; red[R_BASE, R_BASE + GMAX·WG): reductions

// Per-head workgroup max (is_max) or sum of one value per thread and head, tree-ordered (deterministic).
fn wg_reduce_heads(li: u32, v: ptr<function, array<f32, GMAX>>, is_max: bool) {
  for (var g = 0u; g < GMAX; g++) { red[R_BASE + g * WG + li] = (*v)[g]; }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) {
      for (var g = 0u; g < GMAX; g++) {
        let a = red[R_BASE + g * WG + li];
        let b = red[R_BASE + g * WG + li + s];
        red[R_BASE + g * WG + li] = select(a + b, max(a, b), is_max);
      }
    }
    workgroupBarrier();
  }
  for (var g = 0u; g < GMAX; g++) { (*v)[g] = red[R_BASE + g * WG]; }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn attn_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let split = wg.x;
  let m = wg.z;
  let d_n = p.head_dim;
  let group = p.heads / p.kv_heads;
  let blocks = (group + GMAX - 1u) / GMAX;
  let kvh = wg.y / blocks;
  let h0 = kvh * group + (wg.y % blocks) * GMAX;
  let ng = min(GMAX, (kvh + 1u) * group - h0);
  let kv_base = kvh * d_n;
  for (var i = li; i < ng * d_n; i += WG) { q_s[i] = aqkv[m * p.n + h0 * d_n + i]; }
  workgroupBarrier();
  let len = u32(clamp(alen[m], 0, i32(p.max_len)));
  let start = split * CHUNK;
  let end = min(start + CHUNK, len);
  var mx: array<f32, GMAX>;
  for (var g = 0u; g < GMAX; g++) { mx[g] = NEG; }
  for (var j = start + li; j < end; j += WG) {
    let base = (m * p.max_len + j) * p.nkv + kv_base;
    // Zeroed explicitly: some compilers hoist a loop body's `var` and zero it only once.
    var s: array<f32, GMAX>;
    for (var g = 0u; g < ng; g++) { s[g] = 0.0; }
    if (d_n % 4u == 0u) {
      for (var d = 0u; d < d_n; d += 4u) {
        let k = kc_at4(base + d);
        for (var g = 0u; g < ng; g++) {
          let q = g * d_n + d;
          s[g] += dot(k, vec4f(q_s[q], q_s[q + 1u], q_s[q + 2u], q_s[q + 3u]));
        }
      }
    } else {
      for (var d = 0u; d < d_n; d++) {
        let k = kc_at(base + d);
        for (var g = 0u; g < ng; g++) { s[g] += k * q_s[g * d_n + d]; }
      }
    }
    for (var g = 0u; g < ng; g++) {
      let sc = s[g] * p.scale;
      red[g * CHUNK + j - start] = sc;
      mx[g] = max(mx[g], sc);
    }
  }
  wg_reduce_heads(li, &mx, true);
  var l: array<f32, GMAX>;
  for (var j = start + li; j < end; j += WG) {
    for (var g = 0u; g < ng; g++) {
      let e = exp(red[g * CHUNK + j - start] - mx[g]);
      red[g * CHUNK + j - start] = e;
      l[g] += e;
    }
  }
  wg_reduce_heads(li, &l, false);
  for (var i = li; i < ng * d_n; i += WG) {
    let g = i / d_n;
    let d = i % d_n;
    var acc = 0.0;
    for (var j = start; j < end; j++) {
      acc += red[g * CHUNK + j - start] * vc_at((m * p.max_len + j) * p.nkv + kv_base + d);
    }
    part_o[((m * p.heads + h0 + g) * p.splits + split) * d_n + d] = acc;
  }
  if (li < ng) {
    let slot = (m * p.heads + h0 + li) * p.splits + split;
    part_ml[2u * slot] = mx[li];
    part_ml[2u * slot + 1u] = l[li];
  }
}

// attn_combine: o[m, h] = Σ_s e^(max_s − M)·out_s / Σ_s e^(max_s − M)·l_s. Grid: (heads, rows).

@group(0) @binding(1) var<storage, read> cpart_o: array<f32>;
@group(0) @binding(2) var<storage, read> cpart_ml: array<f32>;
@group(0) @binding(3) var<storage, read_write> co: array<f32>;

@compute @workgroup_size(WG)
fn attn_combine(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let h = wg.x;
  let m = wg.y;
  let first = (m * p.heads + h) * p.splits;
  var mx = NEG;
  for (var s = 0u; s < p.splits; s++) { mx = max(mx, cpart_ml[2u * (first + s)]); }
  var l = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    l += cpart_ml[2u * (first + s) + 1u] * exp(cpart_ml[2u * (first + s)] - mx);
  }
  for (var d = li; d < p.head_dim; d += WG) {
    var acc = 0.0;
    for (var s = 0u; s < p.splits; s++) {
      acc += cpart_o[(first + s) * p.head_dim + d] * exp(cpart_ml[2u * (first + s)] - mx);
    }
    co[(m * p.heads + h) * p.head_dim + d] = select(0.0, acc / l, l > 0.0);
  }
}

// ---------------------------------------------------------------------------------------------------
// kv_write: cache[b, past_len[b] + i, :] = src[b·rows_per_seq + i, :] converted to the cache's width,
// for a cache of [batch, max_len, n] (n even); rows past max_len are dropped. One thread per element
// pair. Grid: (ceil(n / 2 / WG), batch·rows_per_seq); p.rows = batch·rows_per_seq.

@group(0) @binding(1) var<storage, read> ksrc: array<f32>;
@group(0) @binding(2) var<storage, read> kpast: array<i32>;
@group(0) @binding(3) var<storage, read_write> kcache: array<WS>;

@compute @workgroup_size(WG)
fn kv_write(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let c = 2u * (wg.x * WG + li);
  let row = wg.y;
  if (c >= p.n || row >= p.rows) { return; }
  let b = row / p.rows_per_seq;
  let pos = u32(kpast[b]) + row % p.rows_per_seq;
  if (pos >= p.max_len) { return; }
  kcache_store2(((b + p.first_seq) * p.max_len + pos) * p.n + c, ksrc[row * p.n + c], ksrc[row * p.n + c + 1u]);
}

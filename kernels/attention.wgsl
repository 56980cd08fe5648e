// Causal grouped-query attention, flash-attention style: scores live only in tiles of workgroup memory,
// softmax is computed online (running max and sum), accumulation is f32, and nothing S×S ever reaches
// global memory.
//
// Packing: the query heads of one kv group share that group's keys and values, so a workgroup owns one
// (sequence, kv head) and a block of TILE "query slots" m = i·G + g (query row i, head g of the group).
// Every key/value tile is then read once for all G heads, which is what makes decode (one query row,
// G heads) bandwidth-efficient instead of G times over.
//
// Masks: query row i of sequence b sits at position pos = pastLen[b] + i; it is valid when
// 0 <= pos < kvLen[b] and attends keys j <= pos. Invalid rows output zeros. Keys past the valid range
// are loaded as zeros, so whatever a padded cache slot holds (even NaN) cannot reach a valid row.
//
// Threads: 64 per workgroup as 8 row groups × 8 lanes. A thread owns RT rows of the tile (rg·RT + a) and,
// within a row, the keys lane + 8·bb and the head-dim columns lane + 8·t, so lanes read consecutive
// workgroup words and rows are padded to an odd stride (KP) to keep a warp's column reads off one bank.
//
// Exponentials are base 2: queries are pre-scaled by scale·log2(e), so p = exp2(s - m) and the stored
// logsumexp is converted back to natural log on the way out.

struct Params {
  batch: u32,
  sq: u32,        // query rows per sequence
  nh: u32,        // query heads
  nkv: u32,       // kv heads
  kv_stride: u32, // elements between sequences in k/v
  kv_cap: u32,    // key rows per sequence that the k/v buffers hold
  scale: f32,     // softmax scale (natural units)
  splits: u32,    // forward split-K count
  chunk: u32,     // keys per split (multiple of TILE)
}
@group(0) @binding(0) var<uniform> p: Params;

override HD: u32 = 64u;            // head dim, <= 128
override RT: u32 = 4u;             // rows per thread: TILE = 8·RT rows and 8·RT keys per tile
override TILE: u32 = 8u * RT;
override NT: u32 = (HD + 7u) / 8u; // head-dim columns per lane
override KP: u32 = (8u * NT) | 1u; // row stride of Q/K/V/dO tiles: holds every lane's columns, odd
override TP: u32 = TILE + 1u;      // row stride of the score tiles
override TKP: u32 = TILE * KP;
override TTP: u32 = TILE * TP;
override T8: u32 = TILE * 8u;

const RT_MAX: u32 = 4u;
const NT_MAX: u32 = 16u;
const NEG: f32 = -1.0e30;          // "minus infinity" that keeps exp2(NEG - m) = 0 and NEG - NEG = 0
const HALF_NEG: f32 = -5.0e29;
const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;

var<workgroup> tq: array<f32, TKP>;
var<workgroup> tk: array<f32, TKP>;
var<workgroup> tv: array<f32, TKP>;
var<workgroup> td: array<f32, TKP>;
var<workgroup> tp: array<f32, TTP>;
var<workgroup> tp2: array<f32, TTP>;
var<workgroup> red: array<f32, T8>;
var<workgroup> row_l: array<f32, TILE>;
var<workgroup> row_d: array<f32, TILE>;

fn group_size() -> u32 { return p.nh / p.nkv; }

// Index of (query row i of sequence b, head h) in the [B·Sq, nH] row-head space.
fn row_head(b: u32, m: u32) -> u32 {
  let g = group_size();
  return (b * p.sq + m / g) * p.nh + m % g;
}

fn kv_len_of(b: u32, kv_len: i32) -> i32 { return clamp(kv_len, 0, i32(p.kv_cap)); }

// ---------------------------------------------------------------------------------------------------
// Forward. Grid: (query-slot blocks, batch·nkv, splits). With splits = 1 it writes o and lse; otherwise
// each split writes its own normalised partial output and logsumexp (NEG where it saw no key) for
// `combine` to merge.

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> past_len: array<i32>;
@group(0) @binding(5) var<storage, read> kv_len: array<i32>;
@group(0) @binding(6) var<storage, read_write> o: array<f32>;
@group(0) @binding(7) var<storage, read_write> lse: array<f32>;

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = group_size();
  let b = wg.y / p.nkv;
  let kvh = wg.y % p.nkv;
  let m_count = p.sq * g;
  let m0 = wg.x * TILE;
  let past = past_len[b];
  let kvl = kv_len_of(b, kv_len[b]);
  let rg = li / 8u;
  let lane = li % 8u;
  let kv_row = p.nkv * HD;
  let kv_base = b * p.kv_stride + kvh * HD;
  let qscale = p.scale * LOG2E;

  // Key range of this block and split: causal bound of the block's last row, valid length, split.
  let last_row = i32(min(m0 + TILE, m_count) - 1u) / i32(g);
  let causal_end = clamp(past + last_row + 1, 0, kvl);
  let j_begin = wg.z * p.chunk;
  let j_end = u32(min(causal_end, i32(min(j_begin + p.chunk, p.kv_cap))));

  var pos: array<i32, RT_MAX>;
  var ok_row: array<bool, RT_MAX>;
  for (var a = 0u; a < RT; a++) {
    let m = m0 + rg * RT + a;
    pos[a] = past + i32(m / g);
    ok_row[a] = m < m_count && pos[a] >= 0 && pos[a] < kvl;
  }

  for (var idx = li; idx < TILE * HD; idx += 64u) {
    let r = idx / HD;
    let d = idx % HD;
    let m = m0 + r;
    var x = 0.0;
    if (m < m_count) {
      let pr = past + i32(m / g);
      if (pr >= 0 && pr < kvl) { x = q[row_head(b, m) * HD + kvh * g * HD + d] * qscale; }
    }
    tq[r * KP + d] = x;
  }

  var acc: array<array<f32, NT_MAX>, RT_MAX>;
  var m_run: array<f32, RT_MAX>;
  var l_part: array<f32, RT_MAX>;
  for (var a = 0u; a < RT; a++) {
    m_run[a] = NEG;
    l_part[a] = 0.0;
    for (var t = 0u; t < NT; t++) { acc[a][t] = 0.0; }
  }

  for (var j0 = j_begin; j0 < j_end; j0 += TILE) {
    for (var idx = li; idx < TILE * HD; idx += 64u) {
      let r = idx / HD;
      let j = j0 + r;
      var x = 0.0;
      if (j < j_end) { x = k[kv_base + j * kv_row + idx % HD]; }
      tk[r * KP + idx % HD] = x;
    }
    workgroupBarrier();

    var s: array<array<f32, RT_MAX>, RT_MAX>;
    for (var a = 0u; a < RT; a++) {
      for (var bb = 0u; bb < RT; bb++) { s[a][bb] = 0.0; }
    }
    for (var d = 0u; d < HD; d++) {
      var qa: array<f32, RT_MAX>;
      for (var a = 0u; a < RT; a++) { qa[a] = tq[(rg * RT + a) * KP + d]; }
      for (var bb = 0u; bb < RT; bb++) {
        let kx = tk[(lane + 8u * bb) * KP + d];
        for (var a = 0u; a < RT; a++) { s[a][bb] = fma(qa[a], kx, s[a][bb]); }
      }
    }
    for (var a = 0u; a < RT; a++) {
      var mx = NEG;
      for (var bb = 0u; bb < RT; bb++) {
        let j = j0 + lane + 8u * bb;
        let ok = ok_row[a] && j < j_end && i32(j) <= pos[a];
        s[a][bb] = select(NEG, s[a][bb], ok);
        mx = max(mx, s[a][bb]);
      }
      red[(rg * RT + a) * 8u + lane] = mx;
    }
    workgroupBarrier();

    for (var a = 0u; a < RT; a++) {
      let row = rg * RT + a;
      var mx = m_run[a];
      for (var c = 0u; c < 8u; c++) { mx = max(mx, red[row * 8u + c]); }
      let alpha = exp2(m_run[a] - mx);
      m_run[a] = mx;
      var ls = 0.0;
      for (var bb = 0u; bb < RT; bb++) {
        let pr = select(0.0, exp2(s[a][bb] - mx), s[a][bb] > HALF_NEG);
        ls += pr;
        tp[row * TP + lane + 8u * bb] = pr;
      }
      l_part[a] = l_part[a] * alpha + ls;
      for (var t = 0u; t < NT; t++) { acc[a][t] *= alpha; }
    }
    // Every thread is past its reads of tk (the barrier above), so V can take its place.
    for (var idx = li; idx < TILE * HD; idx += 64u) {
      let r = idx / HD;
      let j = j0 + r;
      var x = 0.0;
      if (j < j_end) { x = v[kv_base + j * kv_row + idx % HD]; }
      tk[r * KP + idx % HD] = x;
    }
    workgroupBarrier();

    for (var jj = 0u; jj < TILE; jj++) {
      var pa: array<f32, RT_MAX>;
      for (var a = 0u; a < RT; a++) { pa[a] = tp[(rg * RT + a) * TP + jj]; }
      for (var t = 0u; t < NT; t++) {
        let vx = tk[jj * KP + lane + 8u * t];
        for (var a = 0u; a < RT; a++) { acc[a][t] = fma(pa[a], vx, acc[a][t]); }
      }
    }
    workgroupBarrier();
  }

  for (var a = 0u; a < RT; a++) { red[(rg * RT + a) * 8u + lane] = l_part[a]; }
  workgroupBarrier();

  let split_rows = p.batch * p.sq * p.nh;
  for (var a = 0u; a < RT; a++) {
    let m = m0 + rg * RT + a;
    if (m >= m_count) { continue; }
    var l = 0.0;
    for (var c = 0u; c < 8u; c++) { l += red[(rg * RT + a) * 8u + c]; }
    let live = ok_row[a] && l > 0.0;
    let inv = select(0.0, 1.0 / l, live);
    let rh = wg.z * split_rows + row_head(b, m) + kvh * g;
    for (var t = 0u; t < NT; t++) {
      let d = lane + 8u * t;
      if (d < HD) { o[rh * HD + d] = acc[a][t] * inv; }
    }
    if (lane == 0u) {
      let dead = select(NEG, 0.0, p.splits == 1u);
      lse[rh] = select(dead, (m_run[a] + log2(l)) * LN2, live);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Split-K merge: o = Σ_s exp(lse_s - lse)·o_s with lse = log Σ_s exp(lse_s). One thread per output
// element; rows no split saw (padding rows) get zeros, like the unsplit path.

@group(0) @binding(1) var<storage, read> o_part: array<f32>;
@group(0) @binding(2) var<storage, read> lse_part: array<f32>;
@group(0) @binding(3) var<storage, read_write> o_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse_out: array<f32>;

@compute @workgroup_size(256)
fn combine(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) li: u32) {
  let rows = p.batch * p.sq * p.nh;
  let idx = flat_wg(wg, nwg) * 256u + li;
  if (idx >= rows * HD) { return; }
  let rh = idx / HD;
  var mx = NEG;
  for (var s = 0u; s < p.splits; s++) { mx = max(mx, lse_part[s * rows + rh]); }
  var sum = 0.0;
  var acc = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    let ls = lse_part[s * rows + rh];
    let w = select(0.0, exp(ls - mx), ls > HALF_NEG);
    sum += w;
    acc = fma(w, o_part[s * rows * HD + idx], acc);
  }
  let live = sum > 0.0;
  o_out[idx] = select(0.0, acc / sum, live);
  if (idx % HD == 0u) { lse_out[rh] = select(0.0, mx + log(sum), live); }
}

// ---------------------------------------------------------------------------------------------------
// Backward, step 1: delta[row, h] = Σ_d dO·O, the softmax-backward correction term (0 on padding rows).

@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> o_in: array<f32>;
@group(0) @binding(3) var<storage, read> past_len_d: array<i32>;
@group(0) @binding(4) var<storage, read> kv_len_d: array<i32>;
@group(0) @binding(5) var<storage, read_write> delta: array<f32>;

@compute @workgroup_size(256)
fn backward_delta(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) li: u32) {
  let rh = flat_wg(wg, nwg) * 256u + li;
  if (rh >= p.batch * p.sq * p.nh) { return; }
  let row = rh / p.nh;
  let b = row / p.sq;
  let pos = past_len_d[b] + i32(row % p.sq);
  var sum = 0.0;
  if (pos >= 0 && pos < kv_len_of(b, kv_len_d[b])) {
    for (var d = 0u; d < HD; d++) { sum = fma(dout[rh * HD + d], o_in[rh * HD + d], sum); }
  }
  delta[rh] = sum;
}

// Loads this block's Q (pre-scaled), dO, log2-domain lse and delta into workgroup memory; zeros for
// query slots that are past the end or whose row is a padding row.
fn load_query_block(b: u32, kvh: u32, m0: u32, li: u32) {
  let g = group_size();
  let m_count = p.sq * g;
  let past = past_len_b[b];
  let kvl = kv_len_of(b, kv_len_b[b]);
  let qscale = p.scale * LOG2E;
  for (var idx = li; idx < TILE * HD; idx += 64u) {
    let r = idx / HD;
    let d = idx % HD;
    let m = m0 + r;
    var xq = 0.0;
    var xd = 0.0;
    if (m < m_count) {
      let pr = past + i32(m / g);
      if (pr >= 0 && pr < kvl) {
        let at = (row_head(b, m) + kvh * g) * HD + d;
        xq = q_b[at] * qscale;
        xd = dout_b[at];
      }
    }
    tq[r * KP + d] = xq;
    td[r * KP + d] = xd;
  }
  for (var r = li; r < TILE; r += 64u) {
    let m = m0 + r;
    var xl = 0.0;
    var xd = 0.0;
    if (m < m_count) {
      let pr = past + i32(m / g);
      if (pr >= 0 && pr < kvl) {
        let at = row_head(b, m) + kvh * g;
        xl = lse_b[at] * LOG2E;
        xd = delta_b[at];
      }
    }
    row_l[r] = xl;
    row_d[r] = xd;
  }
}

// Loads keys/values [j0, j0 + TILE) of (b, kvh) into tk/tv, zeros from j_end on.
fn load_kv_block(b: u32, kvh: u32, j0: u32, j_end: u32, li: u32) {
  let kv_row = p.nkv * HD;
  let kv_base = b * p.kv_stride + kvh * HD;
  for (var idx = li; idx < TILE * HD; idx += 64u) {
    let r = idx / HD;
    let d = idx % HD;
    let j = j0 + r;
    var xk = 0.0;
    var xv = 0.0;
    if (j < j_end) {
      xk = k_b[kv_base + j * kv_row + d];
      xv = v_b[kv_base + j * kv_row + d];
    }
    tk[r * KP + d] = xk;
    tv[r * KP + d] = xv;
  }
}

@group(0) @binding(1) var<storage, read> q_b: array<f32>;
@group(0) @binding(2) var<storage, read> k_b: array<f32>;
@group(0) @binding(3) var<storage, read> v_b: array<f32>;
@group(0) @binding(4) var<storage, read> past_len_b: array<i32>;
@group(0) @binding(5) var<storage, read> kv_len_b: array<i32>;
@group(0) @binding(6) var<storage, read> dout_b: array<f32>;
@group(0) @binding(7) var<storage, read> lse_b: array<f32>;
@group(0) @binding(8) var<storage, read> delta_b: array<f32>;
@group(0) @binding(9) var<storage, read_write> dk_out: array<f32>;
@group(0) @binding(10) var<storage, read_write> dv_out: array<f32>;

// ---------------------------------------------------------------------------------------------------
// Backward, step 2: dK and dV. Grid: (key blocks over kv_cap, batch·nkv). A workgroup keeps its TILE
// keys and values in workgroup memory and walks every query slot (all rows × all heads of the group)
// that can see them, so the group's sum over heads happens in registers in a fixed order.
//   P = exp(S - lse), dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP - delta), dK += dSᵀ·Q·scale.
// Every key row below kv_cap is written, zeros where no query attends.

@compute @workgroup_size(64)
fn backward_dkdv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = group_size();
  let b = wg.y / p.nkv;
  let kvh = wg.y % p.nkv;
  let n0 = wg.x * TILE;
  let past = past_len_b[b];
  let kvl = kv_len_of(b, kv_len_b[b]);
  let rg = li / 8u;
  let lane = li % 8u;
  let m_count = p.sq * g;

  load_kv_block(b, kvh, n0, u32(kvl), li);

  // Query slots that see any key of the block: rows with pos >= n0, and pos < kvl.
  let i_lo = max(i32(n0) - past, 0);
  let i_hi = clamp(kvl - past, 0, i32(p.sq));
  let m_lo = u32(i_lo) * g;
  let m_hi = select(0u, u32(i_hi) * g, i_lo < i_hi && i32(n0) < kvl);

  var dk: array<array<f32, NT_MAX>, RT_MAX>;
  var dv: array<array<f32, NT_MAX>, RT_MAX>;
  for (var a = 0u; a < RT; a++) {
    for (var t = 0u; t < NT; t++) {
      dk[a][t] = 0.0;
      dv[a][t] = 0.0;
    }
  }

  for (var m0 = m_lo; m0 < m_hi; m0 += TILE) {
    workgroupBarrier();
    load_query_block(b, kvh, m0, li);
    workgroupBarrier();

    var s: array<array<f32, RT_MAX>, RT_MAX>;
    var dp: array<array<f32, RT_MAX>, RT_MAX>;
    for (var a = 0u; a < RT; a++) {
      for (var bb = 0u; bb < RT; bb++) {
        s[a][bb] = 0.0;
        dp[a][bb] = 0.0;
      }
    }
    for (var d = 0u; d < HD; d++) {
      var ka: array<f32, RT_MAX>;
      var va: array<f32, RT_MAX>;
      for (var a = 0u; a < RT; a++) {
        ka[a] = tk[(rg * RT + a) * KP + d];
        va[a] = tv[(rg * RT + a) * KP + d];
      }
      for (var bb = 0u; bb < RT; bb++) {
        let qx = tq[(lane + 8u * bb) * KP + d];
        let dx = td[(lane + 8u * bb) * KP + d];
        for (var a = 0u; a < RT; a++) {
          s[a][bb] = fma(ka[a], qx, s[a][bb]);
          dp[a][bb] = fma(va[a], dx, dp[a][bb]);
        }
      }
    }
    for (var bb = 0u; bb < RT; bb++) {
      let mr = lane + 8u * bb;
      let m = m0 + mr;
      let pos = past + i32(m / g);
      let row_ok = m < m_count && pos >= 0 && pos < kvl;
      for (var a = 0u; a < RT; a++) {
        let j = i32(n0 + rg * RT + a);
        let ok = row_ok && j <= pos && j < kvl;
        let pr = select(0.0, exp2(s[a][bb] - row_l[mr]), ok);
        tp[(rg * RT + a) * TP + mr] = pr;
        tp2[(rg * RT + a) * TP + mr] = pr * (dp[a][bb] - row_d[mr]);
      }
    }
    workgroupBarrier();

    for (var mm = 0u; mm < TILE; mm++) {
      var pa: array<f32, RT_MAX>;
      var sa: array<f32, RT_MAX>;
      for (var a = 0u; a < RT; a++) {
        pa[a] = tp[(rg * RT + a) * TP + mm];
        sa[a] = tp2[(rg * RT + a) * TP + mm];
      }
      for (var t = 0u; t < NT; t++) {
        let dx = td[mm * KP + lane + 8u * t];
        let qx = tq[mm * KP + lane + 8u * t];
        for (var a = 0u; a < RT; a++) {
          dv[a][t] = fma(pa[a], dx, dv[a][t]);
          dk[a][t] = fma(sa[a], qx, dk[a][t]);
        }
      }
    }
  }

  // Q was scaled by scale·log2(e); dK wants scale alone.
  let kv_row = p.nkv * HD;
  let kv_base = b * p.kv_stride + kvh * HD;
  for (var a = 0u; a < RT; a++) {
    let j = n0 + rg * RT + a;
    if (j >= p.kv_cap) { continue; }
    for (var t = 0u; t < NT; t++) {
      let d = lane + 8u * t;
      if (d < HD) {
        dk_out[kv_base + j * kv_row + d] = dk[a][t] * LN2;
        dv_out[kv_base + j * kv_row + d] = dv[a][t];
      }
    }
  }
}

@group(0) @binding(9) var<storage, read_write> dq_out: array<f32>;

// ---------------------------------------------------------------------------------------------------
// Backward, step 3: dQ. Grid: (query-slot blocks, batch·nkv). The block's Q and dO stay in workgroup
// memory while key/value tiles stream through; dQ += dS·K·scale.

@compute @workgroup_size(64)
fn backward_dq(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = group_size();
  let b = wg.y / p.nkv;
  let kvh = wg.y % p.nkv;
  let m0 = wg.x * TILE;
  let past = past_len_b[b];
  let kvl = kv_len_of(b, kv_len_b[b]);
  let rg = li / 8u;
  let lane = li % 8u;
  let m_count = p.sq * g;

  load_query_block(b, kvh, m0, li);

  let last_row = i32(min(m0 + TILE, m_count) - 1u) / i32(g);
  let j_end = u32(clamp(past + last_row + 1, 0, kvl));

  var pos: array<i32, RT_MAX>;
  var ok_row: array<bool, RT_MAX>;
  for (var a = 0u; a < RT; a++) {
    let m = m0 + rg * RT + a;
    pos[a] = past + i32(m / g);
    ok_row[a] = m < m_count && pos[a] >= 0 && pos[a] < kvl;
  }

  var dq: array<array<f32, NT_MAX>, RT_MAX>;
  for (var a = 0u; a < RT; a++) {
    for (var t = 0u; t < NT; t++) { dq[a][t] = 0.0; }
  }

  for (var j0 = 0u; j0 < j_end; j0 += TILE) {
    workgroupBarrier();
    load_kv_block(b, kvh, j0, j_end, li);
    workgroupBarrier();

    var s: array<array<f32, RT_MAX>, RT_MAX>;
    var dp: array<array<f32, RT_MAX>, RT_MAX>;
    for (var a = 0u; a < RT; a++) {
      for (var bb = 0u; bb < RT; bb++) {
        s[a][bb] = 0.0;
        dp[a][bb] = 0.0;
      }
    }
    for (var d = 0u; d < HD; d++) {
      var qa: array<f32, RT_MAX>;
      var da: array<f32, RT_MAX>;
      for (var a = 0u; a < RT; a++) {
        qa[a] = tq[(rg * RT + a) * KP + d];
        da[a] = td[(rg * RT + a) * KP + d];
      }
      for (var bb = 0u; bb < RT; bb++) {
        let kx = tk[(lane + 8u * bb) * KP + d];
        let vx = tv[(lane + 8u * bb) * KP + d];
        for (var a = 0u; a < RT; a++) {
          s[a][bb] = fma(qa[a], kx, s[a][bb]);
          dp[a][bb] = fma(da[a], vx, dp[a][bb]);
        }
      }
    }
    for (var a = 0u; a < RT; a++) {
      let row = rg * RT + a;
      for (var bb = 0u; bb < RT; bb++) {
        let j = j0 + lane + 8u * bb;
        let ok = ok_row[a] && j < j_end && i32(j) <= pos[a];
        let pr = select(0.0, exp2(s[a][bb] - row_l[row]), ok);
        tp[row * TP + lane + 8u * bb] = pr * (dp[a][bb] - row_d[row]);
      }
    }
    workgroupBarrier();

    for (var jj = 0u; jj < TILE; jj++) {
      var sa: array<f32, RT_MAX>;
      for (var a = 0u; a < RT; a++) { sa[a] = tp[(rg * RT + a) * TP + jj]; }
      for (var t = 0u; t < NT; t++) {
        let kx = tk[jj * KP + lane + 8u * t];
        for (var a = 0u; a < RT; a++) { dq[a][t] = fma(sa[a], kx, dq[a][t]); }
      }
    }
  }

  for (var a = 0u; a < RT; a++) {
    let m = m0 + rg * RT + a;
    if (m >= m_count) { continue; }
    let at = (row_head(b, m) + kvh * g) * HD;
    for (var t = 0u; t < NT; t++) {
      let d = lane + 8u * t;
      if (d < HD) { dq_out[at + d] = select(0.0, dq[a][t] * p.scale, ok_row[a]); }
    }
  }
}

// General matmul C = alpha * op(A) * op(B) (+ bias[N] over rows) (+ beta * C), batched over grid z.
// op(A) is [M, K] and op(B) is [K, N]; TRANS_A means A is stored [K, M], TRANS_B means B is stored [N, K].
// A batch stride of 0 broadcasts a rank-2 operand across the batch. B is a weight binding (`array<WS>`,
// read through b_s_at) so inference can read f16 and bf16 weights; every sum is accumulated in f32. The
// vec4 view b_v (element type WT) serves f32 and native f16 only: packed half-width B takes the scalar
// entry points.
//
// Tiled kernel (matmul_*): a WG_X x WG_Y workgroup computes a BM x BN tile of C with BM = 4 WG_Y and
// BN = 4 WG_X, each thread a 4 x 4 register block (rows 4 ty.., columns 4 tx..). Per step of BK along K
// both operand tiles are staged in workgroup memory k-major, so the inner loop reads one vec4 of A and
// one vec4 of B for 16 FMAs. The 4 x 4 block is fixed because function-scope arrays cannot be
// override-sized.
// Large-tile kernel (matmul_big_*): each thread owns TM4 x TN4 blocks of 4 x 4 (TM4, TN4 in {1, 2}: an
// 8 x 8, 8 x 4 or 4 x 8 register block), so BM = 4 TM4 WG_Y and BN = 4 TN4 WG_X (128 x 128 for 16 x 16
// threads and 8 x 8 blocks): twice or four times the FMAs per workgroup-memory read. Its tiles are
// double-buffered (BUFS = 2): the next K step is loaded into one buffer while the current one is
// multiplied from the other, one barrier per step. Every output element is still summed in increasing
// k from zero with the same multiply-add, so both kernels give bitwise the same C.
// Global loads come in four entry points per kernel, one per choice of vec4 or scalar loads for A and
// for B: a vec4 path needs the operand's contiguous dimension to be a multiple of 4 (K for A, N for B,
// M for A transposed, K for B transposed), and a single entry point cannot statically use both views of
// one binding.

struct Params {
  m: u32,
  n: u32,
  k: u32,
  stride_a: u32, // elements between batches of A (0: broadcast)
  stride_b: u32,
  alpha: f32,
  beta: f32, // 0: C is not read, so an uninitialised output cannot leak NaN into the result
  has_bias: u32,
}
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> a_s: array<f32>;
@group(0) @binding(1) var<storage, read> a_v: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b_s: array<WS>;
@group(0) @binding(2) var<storage, read> b_v: array<vec4<WT>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

override WG_X: u32 = 16u; // threads along N
override WG_Y: u32 = 16u; // threads along M
override BK: u32 = 16u; // K step staged per barrier; a multiple of 4
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override TM4: u32 = 1u; // 4-row groups per thread (large-tile kernel; 1 for the tiled kernel)
override TN4: u32 = 1u; // 4-column groups per thread
override BUFS: u32 = 1u; // workgroup tile buffers: 2 for the double-buffered large-tile kernel

// Tiles are k-major: a_tile[off + k * AW + i] holds rows 4i..4i+3 of the A tile at depth k, where off
// is the start of the buffer in use (buf * BK * AW).
override AW: u32 = TM4 * WG_Y; // vec4s per k-row of the A tile (BM / 4)
override BW: u32 = TN4 * WG_X; // vec4s per k-row of the B tile (BN / 4)
override A_TILE: u32 = BUFS * BK * AW;
override B_TILE: u32 = BUFS * BK * BW;
var<workgroup> a_tile: array<vec4<f32>, A_TILE>;
var<workgroup> b_tile: array<vec4<f32>, B_TILE>;

// One epilogue for every variant, so the tiled and naive kernels round the same way after the sum.
fn write_c(batch: u32, m: u32, n: u32, acc: f32) {
  let i = (batch * p.m + m) * p.n + n;
  var v = p.alpha * acc;
  if (p.has_bias != 0u) {
    v += bias[n];
  }
  if (p.beta != 0.0) {
    v += p.beta * c[i];
  }
  c[i] = v;
}

fn load_a_scalar(batch: u32, m0: u32, k0: u32, li: u32, buf: u32) {
  let bm = 4u * AW;
  let off = buf * BK * AW;
  let base = batch * p.stride_a;
  for (var e = li; e < BK * bm; e += WG_X * WG_Y) {
    var m: u32;
    var k: u32;
    // Consecutive threads walk the stored contiguous dimension, so global reads coalesce.
    if (TRANS_A) {
      k = e / bm;
      m = e % bm;
    } else {
      m = e / BK;
      k = e % BK;
    }
    let gm = m0 + m;
    let gk = k0 + k;
    var v = 0.0;
    if (gm < p.m && gk < p.k) {
      if (TRANS_A) {
        v = a_s[base + gk * p.m + gm];
      } else {
        v = a_s[base + gm * p.k + gk];
      }
    }
    a_tile[off + k * AW + m / 4u][m % 4u] = v;
  }
}

fn load_a_vec4(batch: u32, m0: u32, k0: u32, li: u32, buf: u32) {
  let base = batch * p.stride_a;
  let off = buf * BK * AW;
  for (var e = li; e < BK * AW; e += WG_X * WG_Y) {
    if (TRANS_A) {
      let k = e / AW;
      let mq = e % AW;
      let gk = k0 + k;
      let gm = m0 + 4u * mq;
      var v = vec4<f32>();
      if (gm < p.m && gk < p.k) {
        v = a_v[(base + gk * p.m + gm) / 4u];
      }
      a_tile[off + k * AW + mq] = v;
    } else {
      let m = e / (BK / 4u);
      let k = 4u * (e % (BK / 4u));
      let gm = m0 + m;
      let gk = k0 + k;
      var v = vec4<f32>();
      if (gm < p.m && gk < p.k) {
        v = a_v[(base + gm * p.k + gk) / 4u];
      }
      let i = off + k * AW + m / 4u;
      let j = m % 4u;
      a_tile[i][j] = v.x;
      a_tile[i + AW][j] = v.y;
      a_tile[i + 2u * AW][j] = v.z;
      a_tile[i + 3u * AW][j] = v.w;
    }
  }
}

fn load_b_scalar(batch: u32, n0: u32, k0: u32, li: u32, buf: u32) {
  let bn = 4u * BW;
  let off = buf * BK * BW;
  let base = batch * p.stride_b;
  for (var e = li; e < BK * bn; e += WG_X * WG_Y) {
    var n: u32;
    var k: u32;
    if (TRANS_B) {
      n = e / BK;
      k = e % BK;
    } else {
      k = e / bn;
      n = e % bn;
    }
    let gn = n0 + n;
    let gk = k0 + k;
    var v = 0.0;
    if (gn < p.n && gk < p.k) {
      if (TRANS_B) {
        v = b_s_at(base + gn * p.k + gk);
      } else {
        v = b_s_at(base + gk * p.n + gn);
      }
    }
    b_tile[off + k * BW + n / 4u][n % 4u] = v;
  }
}

fn load_b_vec4(batch: u32, n0: u32, k0: u32, li: u32, buf: u32) {
  let base = batch * p.stride_b;
  let off = buf * BK * BW;
  for (var e = li; e < BK * BW; e += WG_X * WG_Y) {
    if (TRANS_B) {
      let n = e / (BK / 4u);
      let k = 4u * (e % (BK / 4u));
      let gn = n0 + n;
      let gk = k0 + k;
      var v = vec4<f32>();
      if (gn < p.n && gk < p.k) {
        v = vec4<f32>(b_v[(base + gn * p.k + gk) / 4u]);
      }
      let i = off + k * BW + n / 4u;
      let j = n % 4u;
      b_tile[i][j] = v.x;
      b_tile[i + BW][j] = v.y;
      b_tile[i + 2u * BW][j] = v.z;
      b_tile[i + 3u * BW][j] = v.w;
    } else {
      let k = e / BW;
      let nq = e % BW;
      let gk = k0 + k;
      let gn = n0 + 4u * nq;
      var v = vec4<f32>();
      if (gn < p.n && gk < p.k) {
        v = vec4<f32>(b_v[(base + gk * p.n + gn) / 4u]);
      }
      b_tile[off + k * BW + nq] = v;
    }
  }
}

// acc[r] holds columns 4 tx..4 tx+3 of row 4 ty + r; k runs in increasing order (deterministic sums).
fn multiply_tiles(tx: u32, ty: u32, acc: ptr<function, array<vec4<f32>, 4>>) {
  for (var k = 0u; k < BK; k++) {
    let av = a_tile[k * WG_Y + ty];
    let bv = b_tile[k * WG_X + tx];
    (*acc)[0] += av.x * bv;
    (*acc)[1] += av.y * bv;
    (*acc)[2] += av.z * bv;
    (*acc)[3] += av.w * bv;
  }
}

fn store_block(batch: u32, m0: u32, n0: u32, tx: u32, ty: u32, acc: ptr<function, array<vec4<f32>, 4>>) {
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + 4u * ty + r;
    if (m >= p.m) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + 4u * tx + j;
      if (n < p.n) {
        write_c(batch, m, n, (*acc)[r][j]);
      }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_ss(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 4u * WG_Y;
  let n0 = wg.x * 4u * WG_X;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    load_a_scalar(wg.z, m0, k0, li, 0u);
    load_b_scalar(wg.z, n0, k0, li, 0u);
    workgroupBarrier();
    multiply_tiles(lid.x, lid.y, &acc);
    workgroupBarrier();
  }
  store_block(wg.z, m0, n0, lid.x, lid.y, &acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_vs(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 4u * WG_Y;
  let n0 = wg.x * 4u * WG_X;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    load_a_vec4(wg.z, m0, k0, li, 0u);
    load_b_scalar(wg.z, n0, k0, li, 0u);
    workgroupBarrier();
    multiply_tiles(lid.x, lid.y, &acc);
    workgroupBarrier();
  }
  store_block(wg.z, m0, n0, lid.x, lid.y, &acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_sv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 4u * WG_Y;
  let n0 = wg.x * 4u * WG_X;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    load_a_scalar(wg.z, m0, k0, li, 0u);
    load_b_vec4(wg.z, n0, k0, li, 0u);
    workgroupBarrier();
    multiply_tiles(lid.x, lid.y, &acc);
    workgroupBarrier();
  }
  store_block(wg.z, m0, n0, lid.x, lid.y, &acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_vv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 4u * WG_Y;
  let n0 = wg.x * 4u * WG_X;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    load_a_vec4(wg.z, m0, k0, li, 0u);
    load_b_vec4(wg.z, n0, k0, li, 0u);
    workgroupBarrier();
    multiply_tiles(lid.x, lid.y, &acc);
    workgroupBarrier();
  }
  store_block(wg.z, m0, n0, lid.x, lid.y, &acc);
}

// acc[(4g + r) * 2 + h] holds columns 4 (tx + h WG_X)..+3 of row 4 (ty + g WG_Y) + r: strided groups
// keep the vec4 reads of neighbouring threads contiguous. Same per-element k order and multiply-add as
// multiply_tiles.
fn multiply_big(tx: u32, ty: u32, buf: u32, acc: ptr<function, array<vec4<f32>, 16>>) {
  let ao = buf * BK * AW;
  let bo = buf * BK * BW;
  for (var k = 0u; k < BK; k++) {
    var bv: array<vec4<f32>, 2>;
    for (var h = 0u; h < TN4; h++) {
      bv[h] = b_tile[bo + k * BW + tx + h * WG_X];
    }
    for (var g = 0u; g < TM4; g++) {
      let av = a_tile[ao + k * AW + ty + g * WG_Y];
      for (var h = 0u; h < TN4; h++) {
        (*acc)[8u * g + h] += av.x * bv[h];
        (*acc)[8u * g + 2u + h] += av.y * bv[h];
        (*acc)[8u * g + 4u + h] += av.z * bv[h];
        (*acc)[8u * g + 6u + h] += av.w * bv[h];
      }
    }
  }
}

fn store_big(batch: u32, m0: u32, n0: u32, tx: u32, ty: u32, acc: ptr<function, array<vec4<f32>, 16>>) {
  for (var g = 0u; g < TM4; g++) {
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + 4u * (ty + g * WG_Y) + r;
      if (m >= p.m) {
        break;
      }
      for (var h = 0u; h < TN4; h++) {
        for (var j = 0u; j < 4u; j++) {
          let n = n0 + 4u * (tx + h * WG_X) + j;
          if (n < p.n) {
            write_c(batch, m, n, (*acc)[(4u * g + r) * 2u + h][j]);
          }
        }
      }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_big_ss(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 4u * AW;
  let n0 = wg.x * 4u * BW;
  var acc: array<vec4<f32>, 16>;
  let steps = (p.k + BK - 1u) / BK;
  load_a_scalar(wg.z, m0, 0u, li, 0u);
  load_b_scalar(wg.z, n0, 0u, li, 0u);
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    // The buffer written here was last read in step s - 1, which ended with a barrier.
    if (s + 1u < steps) {
      load_a_scalar(wg.z, m0, (s + 1u) * BK, li, (s + 1u) % 2u);
      load_b_scalar(wg.z, n0, (s + 1u) * BK, li, (s + 1u) % 2u);
    }
    multiply_big(lid.x, lid.y, s % 2u, &acc);
    workgroupBarrier();
  }
  store_big(wg.z, m0, n0, lid.x, lid.y, &acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_big_vs(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 4u * AW;
  let n0 = wg.x * 4u * BW;
  var acc: array<vec4<f32>, 16>;
  let steps = (p.k + BK - 1u) / BK;
  load_a_vec4(wg.z, m0, 0u, li, 0u);
  load_b_scalar(wg.z, n0, 0u, li, 0u);
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    // The buffer written here was last read in step s - 1, which ended with a barrier.
    if (s + 1u < steps) {
      load_a_vec4(wg.z, m0, (s + 1u) * BK, li, (s + 1u) % 2u);
      load_b_scalar(wg.z, n0, (s + 1u) * BK, li, (s + 1u) % 2u);
    }
    multiply_big(lid.x, lid.y, s % 2u, &acc);
    workgroupBarrier();
  }
  store_big(wg.z, m0, n0, lid.x, lid.y, &acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_big_sv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 4u * AW;
  let n0 = wg.x * 4u * BW;
  var acc: array<vec4<f32>, 16>;
  let steps = (p.k + BK - 1u) / BK;
  load_a_scalar(wg.z, m0, 0u, li, 0u);
  load_b_vec4(wg.z, n0, 0u, li, 0u);
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    // The buffer written here was last read in step s - 1, which ended with a barrier.
    if (s + 1u < steps) {
      load_a_scalar(wg.z, m0, (s + 1u) * BK, li, (s + 1u) % 2u);
      load_b_vec4(wg.z, n0, (s + 1u) * BK, li, (s + 1u) % 2u);
    }
    multiply_big(lid.x, lid.y, s % 2u, &acc);
    workgroupBarrier();
  }
  store_big(wg.z, m0, n0, lid.x, lid.y, &acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_big_vv(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * 4u * AW;
  let n0 = wg.x * 4u * BW;
  var acc: array<vec4<f32>, 16>;
  let steps = (p.k + BK - 1u) / BK;
  load_a_vec4(wg.z, m0, 0u, li, 0u);
  load_b_vec4(wg.z, n0, 0u, li, 0u);
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    // The buffer written here was last read in step s - 1, which ended with a barrier.
    if (s + 1u < steps) {
      load_a_vec4(wg.z, m0, (s + 1u) * BK, li, (s + 1u) % 2u);
      load_b_vec4(wg.z, n0, (s + 1u) * BK, li, (s + 1u) % 2u);
    }
    multiply_big(lid.x, lid.y, s % 2u, &acc);
    workgroupBarrier();
  }
  store_big(wg.z, m0, n0, lid.x, lid.y, &acc);
}

// Baseline for benchmarks and a second opinion in tests: one thread per output element, no tiling.
@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  let m = gid.y;
  if (m >= p.m || n >= p.n) {
    return;
  }
  let base_a = gid.z * p.stride_a;
  let base_b = gid.z * p.stride_b;
  var acc = 0.0;
  for (var k = 0u; k < p.k; k++) {
    var av: f32;
    var bv: f32;
    if (TRANS_A) {
      av = a_s[base_a + k * p.m + m];
    } else {
      av = a_s[base_a + m * p.k + k];
    }
    if (TRANS_B) {
      bv = b_s_at(base_b + n * p.k + k);
    } else {
      bv = b_s_at(base_b + k * p.n + n);
    }
    acc += av * bv;
  }
  write_c(gid.z, m, n, acc);
}

// Bias gradient: db[n] (+)= sum over rows of dy[:, n]. Each column is summed by 4 lanes over interleaved
// rows, then the lanes are added in a fixed order, so the result is deterministic without atomics.
// Uses p.m (rows), p.n (columns) and p.beta (1: accumulate into db).
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;
var<workgroup> lane_sums: array<f32, 256>;

@compute @workgroup_size(64, 4)
fn bias_grad(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let n = flat_wg(wg, nwg) * 64u + lid.x;
  var s = 0.0;
  if (n < p.n) {
    for (var r = lid.y; r < p.m; r += 4u) {
      s += dy[r * p.n + n];
    }
  }
  lane_sums[lid.y * 64u + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && n < p.n) {
    var total = ((lane_sums[lid.x] + lane_sums[64u + lid.x]) + lane_sums[128u + lid.x]) + lane_sums[192u + lid.x];
    if (p.beta != 0.0) {
      total += db[n];
    }
    db[n] = total;
  }
}

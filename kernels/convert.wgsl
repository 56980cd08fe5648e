// Narrowing of f32 values to bfloat16 or IEEE binary16, round to nearest even, bit-identical to the host
// encoders (f32ToBf16Bits; Float16Array). WGSL's half type is never named here: the registry enables the
// half-precision shader feature for any module that names it, and these kernels need none. Both sides are
// bound as u32 words: reading the source as f32 could flush subnormals or canonicalise NaN, and two
// half-width outputs share one word, so one thread converts the pair of elements 2w, 2w + 1 and writes
// word w whole (an odd count leaves the last high half zero).

struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

// Every NaN becomes the quiet NaN 0x7fc0, as torch rounds.
fn bf16_bits(x: u32) -> u32 {
  if ((x & 0x7fffffffu) > 0x7f800000u) { return 0x7fc0u; }
  return (x + 0x7fffu + ((x >> 16u) & 1u)) >> 16u;
}

// IEEE binary16: overflow past the largest finite value's halfway point becomes ±Inf, values under 2^-14
// become subnormals (rounded in units of 2^-24), NaN keeps its sign as a quiet NaN.
fn f16_bits(x: u32) -> u32 {
  let sign = (x >> 16u) & 0x8000u;
  let a = x & 0x7fffffffu;
  if (a > 0x7f800000u) { return sign | 0x7e00u; }
  if (a >= 0x477ff000u) { return sign | 0x7c00u; }
  if (a >= 0x38800000u) {
    let r = a - 0x38000000u; // rebias the exponent from 127 to 15
    return sign | ((r + 0x0fffu + ((r >> 13u) & 1u)) >> 13u);
  }
  if (a <= 0x33000000u) { return sign; } // at most half the smallest subnormal: ties to even, 0
  let m = (a & 0x7fffffu) | 0x800000u;
  let shift = 126u - (a >> 23u); // 14 ..= 24
  let q = m >> shift;
  let rem = m & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  let up = rem > half || (rem == half && (q & 1u) == 1u);
  return sign | (q + select(0u, 1u, up));
}

@compute @workgroup_size(256)
fn f32_to_bf16(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) li: u32) {
  let w = flat_wg(wg, nwg) * 256u + li;
  let i = 2u * w;
  if (i >= p.n) { return; }
  var hi = 0u;
  if (i + 1u < p.n) { hi = bf16_bits(src[i + 1u]); }
  dst[w] = bf16_bits(src[i]) | (hi << 16u);
}

@compute @workgroup_size(256)
fn f32_to_f16(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) li: u32) {
  let w = flat_wg(wg, nwg) * 256u + li;
  let i = 2u * w;
  if (i >= p.n) { return; }
  var hi = 0u;
  if (i + 1u < p.n) { hi = f16_bits(src[i + 1u]); }
  dst[w] = f16_bits(src[i]) | (hi << 16u);
}

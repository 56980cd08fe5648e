// Rotary position embedding, Hugging Face rotate-half convention: within each head of width D = 2·half,
// element i pairs with i + half and rotates by angle pos · inv_freq[i]:
//   out[i]        = x[i] · cos − x[i + half] · sin
//   out[i + half] = x[i + half] · cos + x[i] · sin
// Backward is the same rotation by −angle (sign = −1), the transpose of an orthogonal map.
//
// inv_freq comes from the host (exactly HF's f32 values, and room for scaled variants); the angle is one
// f32 product, as in HF. cos/sin are computed here with an explicit range reduction and polynomials
// instead of the built-ins: WGSL only bounds built-in sin/cos on [−π, π], and angles reach thousands of
// radians, so this keeps ~1 ulp accuracy on every GPU and the same results on every GPU.

const WG: u32 = 256u;

struct Params { pairs: u32, half: u32, heads: u32, sign: f32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> pos: array<i32>;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;

// (sin a, cos a). Cody–Waite reduction by π/2 with the constant split into three 7-bit parts and an f32
// tail: j·P1, j·P2 and j·P3 are exact for |j| < 2^17, so the reduced argument keeps ~1e-7 absolute
// accuracy for |a| up to ~2e5 radians (positions past 128k at inv_freq = 1). Cephes sinf/cosf
// polynomials on [−π/4, π/4]. An f32 emulation of this code stays within 9.2e-8 (0.8 ulp of 1) of
// float64 sin/cos over |a| <= 2e5.
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

// Pair g (flattened over tokens, heads and i < half) holding (a, b), rotated.
fn rotate(g: u32, a: f32, b: f32) -> vec2f {
  let i = g % p.half;
  let t = g / p.half / p.heads;
  let sc = sin_cos(f32(pos[t]) * inv_freq[i]);
  let s = p.sign * sc.x;
  return vec2f(a * sc.y - b * s, b * sc.y + a * s);
}

// First element of pair g: row-major [tokens, heads, 2·half], so consecutive invocations touch consecutive
// addresses in each half of a head.
fn first(g: u32) -> u32 {
  return (g / p.half) * 2u * p.half + g % p.half;
}

@group(0) @binding(3) var<storage, read_write> xio: array<f32>;

@compute @workgroup_size(WG)
fn rope_inplace(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) li: u32) {
  let g = flat_wg(wg, nwg) * WG + li;
  if (g >= p.pairs) { return; }
  let k = first(g);
  let o = rotate(g, xio[k], xio[k + p.half]);
  xio[k] = o.x;
  xio[k + p.half] = o.y;
}

@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn rope_out(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) li: u32) {
  let g = flat_wg(wg, nwg) * WG + li;
  if (g >= p.pairs) { return; }
  let k = first(g);
  let o = rotate(g, src[k], src[k + p.half]);
  dst[k] = o.x;
  dst[k + p.half] = o.y;
}

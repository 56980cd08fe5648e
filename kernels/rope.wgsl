// Rotary position embedding, Hugging Face rotate-half convention: within each head of width D = 2·half,
// element i pairs with i + half and rotates by angle pos · inv_freq[i]:
//   out[i]        = x[i] · cos − x[i + half] · sin
//   out[i + half] = x[i + half] · cos + x[i] · sin
// Backward is the same rotation by −angle (sign = −1), the transpose of an orthogonal map.
//
// inv_freq comes from the host (exactly HF's f32 values, and room for scaled variants); the angle is one
// f32 product, as in HF. cos/sin are computed here with an explicit range reduction and polynomials
// instead of the built-ins: WGSL only bounds built-in sin/cos on [−π, π], and angles reach thousands of
// radians, so this keeps ~1 ulp accuracy on every GPU and the same results on every GPU (sin_cos, in
// the prelude, which the fused decode step shares).

const WG: u32 = 256u;

struct Params { pairs: u32, half: u32, heads: u32, sign: f32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> pos: array<i32>;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;

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

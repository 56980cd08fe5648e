// Elementwise ops over flat f32 arrays. One thread per element; 1-D grids may be flattened (flat_wg).
// Residual add's backward is the identity (both inputs get dy), so it needs no kernel of its own;
// gradient accumulation uses axpy.

struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// out = a + b
@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_index) li: u32) {
  let i = flat_wg(wg, nwg) * 256u + li;
  if (i < p.n) { out[i] = a[i] + b[i]; }
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// y += alpha * x
@compute @workgroup_size(256)
fn axpy(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = flat_wg(wg, nwg) * 256u + li;
  if (i < p.n) { y[i] = y[i] + p.alpha * x[i]; }
}

@group(0) @binding(1) var<storage, read_write> v: array<f32>;

// v *= alpha
@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) li: u32) {
  let i = flat_wg(wg, nwg) * 256u + li;
  if (i < p.n) { v[i] = v[i] * p.alpha; }
}

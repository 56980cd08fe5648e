// SwiGLU: y = silu(gate) · up, elementwise over [rows, cols]. gate and up are addressed as
// row · stride + offset + col, so one kernel serves separate [rows, cols] tensors (stride = cols,
// offset 0) and one fused [rows, 2·cols] tensor holding gate then up in each row (the layout of a
// projection whose weight stacks gate_proj over up_proj); the fused tensor is bound to both read slots.
//
// sigmoid is evaluated through exp(−|x|), which never overflows, so large |gate| gives exact 0 / 1 limits
// instead of inf / NaN (WGSL does not promise IEEE infinities).

const WG: u32 = 256u;

struct Params { n: u32, cols: u32, g_stride: u32, g_off: u32, u_stride: u32, u_off: u32 }
@group(0) @binding(0) var<uniform> p: Params;

fn gate_index(i: u32) -> u32 { return (i / p.cols) * p.g_stride + p.g_off + i % p.cols; }
fn up_index(i: u32) -> u32 { return (i / p.cols) * p.u_stride + p.u_off + i % p.cols; }

@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn swiglu_forward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) li: u32) {
  let i = flat_wg(wg, nwg) * WG + li;
  if (i >= p.n) { return; }
  let g = gate[gate_index(i)];
  y[i] = g * sigmoid2(g).x * up[up_index(i)];
}

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> gate_b: array<f32>;
@group(0) @binding(3) var<storage, read> up_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;

// d silu(g)/dg = s · (1 + g · (1 − s)).
fn grads(i: u32) -> vec2f {
  let g = gate_b[gate_index(i)];
  let u = up_b[up_index(i)];
  let s = sigmoid2(g);
  let d = dy[i];
  return vec2f(d * u * (s.x * (1.0 + g * s.y)), d * (g * s.x));
}

// Separate gradients; dgate and dup are [rows, cols].
@compute @workgroup_size(WG)
fn swiglu_backward(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) li: u32) {
  let i = flat_wg(wg, nwg) * WG + li;
  if (i >= p.n) { return; }
  let gr = grads(i);
  dgate[i] = gr.x;
  dup[i] = gr.y;
}

@group(0) @binding(4) var<storage, read_write> dfused: array<f32>;

// Fused gradient [rows, 2·cols] in the input's layout. One writable binding: WebGPU forbids binding one
// buffer twice when either binding is writable.
@compute @workgroup_size(WG)
fn swiglu_backward_fused(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                         @builtin(local_invocation_index) li: u32) {
  let i = flat_wg(wg, nwg) * WG + li;
  if (i >= p.n) { return; }
  let gr = grads(i);
  dfused[gate_index(i)] = gr.x;
  dfused[up_index(i)] = gr.y;
}

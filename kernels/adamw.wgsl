// AdamW with global gradient-norm clipping, the arithmetic of torch.nn.utils.clip_grad_norm_ followed
// by torch.optim.AdamW (decoupled weight decay). The whole step stays on the GPU: the norm is reduced
// in a fixed order (per-tensor partial sums, then one workgroup over all partials), the clip factor
// lands in a 1-element buffer the update reads, and the trainer reads the norm back with its other
// logged scalars instead of stalling the step on it. A non-finite norm (or a loss flagged non-finite by
// the caller) sets the clip factor to -1, and the update then leaves every weight and moment unchanged:
// the run stops before a bad update is applied, and the host learns why from its one readback.

const WG: u32 = 256u;
// Elements per partial sum, set by lib/ops/adamw.ts (a multiple of WG): 16 per thread keeps the
// partials buffer ~4096x smaller than the model.
override CHUNK: u32;

struct PartialParams { n: u32, first: u32 }
@group(0) @binding(0) var<uniform> pp: PartialParams;
@group(0) @binding(1) var<storage, read> sq_grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

// partials[first + w] = Σ grad[i]² over chunk w of one tensor.
@compute @workgroup_size(256)
fn grad_norm_partial(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_index) li: u32) {
  let w = flat_wg(wg, nwg);
  let start = w * CHUNK;
  if (start >= pp.n) { return; }
  var acc = 0.0;
  for (var j = 0u; j < CHUNK / WG; j++) {
    let i = start + j * WG + li;
    if (i < pp.n) {
      let g = sq_grad[i];
      acc += g * g;
    }
  }
  let total = wg_sum(li, WG, acc);
  if (li == 0u) { partials[pp.first + w] = total; }
}

struct FinalParams { count: u32, max_norm: f32 }
@group(0) @binding(0) var<uniform> pf: FinalParams;
@group(0) @binding(1) var<storage, read> all_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> clip: array<f32>;

// norm = sqrt(Σ partials); clip = min(1, max_norm / (norm + 1e-6)), or 1 when max_norm <= 0 (off);
// -1 when the norm is not finite (the update's skip flag).
@compute @workgroup_size(256)
fn grad_norm_finalize(@builtin(local_invocation_index) li: u32) {
  var acc = 0.0;
  for (var i = li; i < pf.count; i += WG) { acc += all_partials[i]; }
  let total = wg_sum(li, WG, acc);
  if (li == 0u) {
    let n = sqrt(total);
    norm[0] = n;
    clip[0] = select(1.0, min(1.0, pf.max_norm / (n + 1e-6)), pf.max_norm > 0.0);
    if (!is_finite(n)) { clip[0] = -1.0; }
  }
}

struct UpdateParams {
  n: u32,
  decay: f32,       // 1 - lr * weight_decay
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  step_size: f32,   // lr / (1 - beta1^t)
  bc2_sqrt: f32,    // sqrt(1 - beta2^t)
  eps: f32,
}
@group(0) @binding(0) var<uniform> pu: UpdateParams;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(5) var<storage, read> clip_coef: array<f32>;

// One element per thread, in torch's operation order so results agree to an ulp or two; nothing changes
// when the clip factor is the skip flag (negative) or not finite.
@compute @workgroup_size(256)
fn update(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  let i = flat_wg(wg, nwg) * WG + li;
  let c = clip_coef[0];
  if (i >= pu.n || c < 0.0 || !is_finite(c)) { return; }
  let g = grad[i] * c;
  let m = pu.beta1 * exp_avg[i] + pu.one_minus_beta1 * g;
  let v = pu.beta2 * exp_avg_sq[i] + pu.one_minus_beta2 * (g * g);
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  let denom = sqrt(v) / pu.bc2_sqrt + pu.eps;
  param[i] = param[i] * pu.decay - pu.step_size * (m / denom);
}

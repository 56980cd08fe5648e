"""Float64 PyTorch reference of the Hugging Face Qwen2 / Qwen3 / Llama / OLMo-2 decoders, with autograd gradients.

Written from transformers' modeling_qwen2.py, modeling_qwen3.py (RMSNorm over each head of q and k before
RoPE), modeling_llama.py and modeling_olmo2.py (no input norms; RMSNorm over the whole q and k projections;
RMSNorm on the attention and MLP outputs before each residual add).

Reads a JSON request on stdin:
  {"model_dir": DIR, "sequences": [[ids...], ...], "weights": [[w_t...], ...], "temperature": T,
   "adapter_dir": PEFT_DIR (optional)}
where weights[s][t] weighs log p(ids[s][t+1] | ids[s][:t+1]) in the scalar loss
  L = sum_s sum_t weights[s][t] * logp_s,t.
With adapter_dir, a LoRA adapter in PEFT's layout (adapter_config.json: r, lora_alpha, use_rslora;
adapter_model.safetensors: base_model.model.<module>.lora_A.weight / lora_B.weight) adapts each named
projection to W + s * B @ A, s = lora_alpha / r (lora_alpha / sqrt(r) with use_rslora).
Writes JSON on stdout: logits per sequence, hidden states (output_hidden_states convention), the loss,
and dL/dparam for every parameter (by Hugging Face name; the adapter's factors by PEFT name).
Loads *.safetensors itself (BF16 widened through its bit pattern) since Debian ships no safetensors module.
"""
import json
import math
import os
import struct
import sys

import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = bytearray(data[a:b])
        if info["dtype"] == "F32":
            t = torch.frombuffer(raw, dtype=torch.float32)
        elif info["dtype"] == "F16":
            t = torch.frombuffer(raw, dtype=torch.float16).to(torch.float32)
        elif info["dtype"] == "BF16":
            bits = torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) & 0xFFFF
            t = (bits << 16).view(torch.float32)
        else:
            raise ValueError(f"{path}: tensor {name}: dtype {info['dtype']}")
        out[name] = t.reshape(info["shape"]).to(torch.float64)
    return out


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    params = {}
    for f in files:
        params.update(read_safetensors(os.path.join(model_dir, f)))
    return cfg, params


def load_adapter(adapter_dir):
    """Weight name -> (A, B, s) of a PEFT LoRA folder, and its factors by PEFT name (for gradients)."""
    cfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    r, alpha = cfg["r"], cfg["lora_alpha"]
    s = alpha / math.sqrt(r) if cfg.get("use_rslora", False) else alpha / r
    tensors = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    lora = {}
    for name in tensors:
        if name.endswith(".lora_A.weight"):
            module = name[len("base_model.model."):-len(".lora_A.weight")]
            b = name[:-len("lora_A.weight")] + "lora_B.weight"
            lora[module + ".weight"] = (tensors[name], tensors[b], s)
    return lora, tensors


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def llama3_scaled(inv, scaling):
    """Llama 3 RoPE scaling by its definition: keep short wavelengths, slow long ones, blend between."""
    if not scaling or scaling.get("rope_type", scaling.get("type")) != "llama3":
        return inv
    factor, ctx = scaling["factor"], scaling["original_max_position_embeddings"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    wavelen = 2 * math.pi / inv
    smooth = (ctx / wavelen - low) / (high - low)
    blended = (1 - smooth) * inv / factor + smooth * inv
    out = torch.where(wavelen > ctx / low, inv / factor, blended)
    return torch.where(wavelen < ctx / high, inv, out)


def forward(cfg, p, ids, lora=None):
    lora = lora or {}

    def weight(name):
        if name not in lora:
            return p[name]
        a, b, s = lora[name]
        return p[name] + s * (b @ a)

    h = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    d = cfg.get("head_dim") or h // nh
    eps = cfg["rms_norm_eps"]
    theta = cfg.get("rope_theta", 10000.0)
    family = cfg["model_type"]
    qwen = family == "qwen2"
    olmo = family == "olmo2"
    attn_bias = qwen or cfg.get("attention_bias", False)
    s = len(ids)
    x = p["model.embed_tokens.weight"][torch.tensor(ids)]
    hidden = [x]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    inv = llama3_scaled(inv, cfg.get("rope_scaling"))
    ang = torch.arange(s, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
    mask = torch.full((s, s), float("-inf"), dtype=torch.float64).triu(1)
    L = cfg["num_hidden_layers"]
    for i in range(L):
        pre = f"model.layers.{i}."
        a = x if olmo else rmsnorm(x, p[pre + "input_layernorm.weight"], eps)

        def proj(name, bias):
            y = a @ weight(pre + f"self_attn.{name}.weight").T
            return y + p[pre + f"self_attn.{name}.bias"] if bias else y

        q, k = proj("q_proj", attn_bias), proj("k_proj", attn_bias)
        if olmo:
            q = rmsnorm(q, p[pre + "self_attn.q_norm.weight"], eps)
            k = rmsnorm(k, p[pre + "self_attn.k_norm.weight"], eps)
        q = q.view(s, nh, d)
        k = k.view(s, nkv, d)
        if family == "qwen3":
            q = rmsnorm(q, p[pre + "self_attn.q_norm.weight"], eps)
            k = rmsnorm(k, p[pre + "self_attn.k_norm.weight"], eps)
        v = proj("v_proj", attn_bias).view(s, nkv, d)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(d) + mask
        o = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(s, nh * d)
        o = o @ weight(pre + "self_attn.o_proj.weight").T
        if not qwen and cfg.get("attention_bias", False):
            o = o + p[pre + "self_attn.o_proj.bias"]
        if olmo:
            o = rmsnorm(o, p[pre + "post_attention_layernorm.weight"], eps)
        x = x + o
        m = x if olmo else rmsnorm(x, p[pre + "post_attention_layernorm.weight"], eps)
        g = m @ weight(pre + "mlp.gate_proj.weight").T
        u = m @ weight(pre + "mlp.up_proj.weight").T
        mlp = (torch.nn.functional.silu(g) * u) @ weight(pre + "mlp.down_proj.weight").T
        if olmo:
            mlp = rmsnorm(mlp, p[pre + "post_feedforward_layernorm.weight"], eps)
        x = x + mlp
        if i < L - 1:
            hidden.append(x)
    final = rmsnorm(x, p["model.norm.weight"], eps)
    hidden.append(final)
    head = p["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else p["lm_head.weight"]
    return final @ head.T, hidden


def main():
    req = json.load(sys.stdin)
    cfg, params = load(req["model_dir"])
    if cfg.get("tie_word_embeddings", False):
        params.pop("lm_head.weight", None)
    lora, factors = load_adapter(req["adapter_dir"]) if req.get("adapter_dir") else ({}, {})
    for t in [*params.values(), *factors.values()]:
        t.requires_grad_(True)
    temp = req.get("temperature", 1.0)
    loss = torch.zeros((), dtype=torch.float64)
    logits_out, hidden_out = [], []
    for ids, w in zip(req["sequences"], req.get("weights") or [[] for _ in req["sequences"]]):
        logits, hidden = forward(cfg, params, ids, lora)
        logits_out.append(logits.detach().reshape(-1).tolist())
        hidden_out.append([hs.detach().reshape(-1).tolist() for hs in hidden])
        if w:
            logp = (logits[:-1] / temp).log_softmax(-1)
            tgt = torch.tensor(ids[1:])
            picked = logp[torch.arange(len(ids) - 1), tgt]
            loss = loss + (torch.tensor(w, dtype=torch.float64) * picked).sum()
    grads = {}
    if loss.requires_grad:
        loss.backward()
        named = [*params.items(), *factors.items()]
        grads = {n: t.grad.reshape(-1).tolist() for n, t in named if t.grad is not None}
    json.dump({"logits": logits_out, "hidden": hidden_out, "loss": loss.item(), "grads": grads}, sys.stdout)


if __name__ == "__main__":
    main()

"""One GRPO optimiser step in float64 PyTorch, as an independent reference for rlif's trainer update.

Reads JSON on stdin: {"model_dir", "prompts": [[ids]], "completions": [[ids]], "old": [[logp]],
"ref": [[logp]], "advantages": [a], "temperature", "clip_low", "clip_high", "kl_coef", "lr", "betas",
"eps", "weight_decay", "grad_clip"}. Loss: token-mean over all completion tokens of
-min(r A, clip(r, 1-cl, 1+ch) A) + kl_coef * k3, k3 = exp(ref - logp) - (ref - logp) - 1.
AdamW (torch.optim.AdamW) after clip_grad_norm_; biases and norm weights get no weight decay.
Writes {"params": {name: [...]}, "grad_norm": g} for the updated parameters.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import forward, load  # noqa: E402


def main():
    req = json.load(sys.stdin)
    cfg, params = load(req["model_dir"])
    if cfg.get("tie_word_embeddings", False):
        params.pop("lm_head.weight", None)
    for t in params.values():
        t.requires_grad_(True)
    terms = []
    for s, (p, c) in enumerate(zip(req["prompts"], req["completions"])):
        seq = p + c
        logits, _ = forward(cfg, params, seq)
        logp_all = (logits[len(p) - 1 : len(seq) - 1] / req["temperature"]).log_softmax(-1)
        logp = logp_all[torch.arange(len(c)), torch.tensor(c)]
        old = torch.tensor(req["old"][s], dtype=torch.float64)
        ref = torch.tensor(req["ref"][s], dtype=torch.float64)
        a = req["advantages"][s]
        ratio = torch.exp(logp - old)
        clipped = torch.clamp(ratio, 1 - req["clip_low"], 1 + req["clip_high"])
        surrogate = -torch.minimum(ratio * a, clipped * a)
        k3 = torch.exp(ref - logp) - (ref - logp) - 1
        terms.append(surrogate + req["kl_coef"] * k3)
    loss = torch.cat(terms).mean()
    loss.backward()
    names = list(params.keys())
    grad_norm = torch.nn.utils.clip_grad_norm_([params[n] for n in names], req["grad_clip"])
    decay = [params[n] for n in names if not (n.endswith(".bias") or "norm" in n)]
    no_decay = [params[n] for n in names if n.endswith(".bias") or "norm" in n]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": req["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=req["lr"], betas=tuple(req["betas"]), eps=req["eps"],
    )
    opt.step()
    json.dump({"params": {n: params[n].detach().reshape(-1).tolist() for n in names},
               "grad_norm": float(grad_norm), "loss": loss.item()}, sys.stdout)


if __name__ == "__main__":
    main()

"""GRPO optimiser steps in float64 PyTorch, as an independent reference for rlif's trainer update.

Reads JSON on stdin: {"model_dir", "prompts": [[ids]], "completions": [[ids]], "old": [[logp]],
"ref": [[logp]], "advantages": [a], "temperature", "clip_low", "clip_high", "kl_coef", "norm_length",
"lr", "betas", "eps", "weight_decay", "grad_clip", "cases": [{"loss_agg", "kl_estimator", "dual_clip",
"ratio"}]} ("ratio": "token", the default, or "sequence": r = exp of the sequence's summed log-ratio).
For each case, from the checkpoint: per token -min(r A, clip(r, 1-cl, 1+ch) A) (dual-clip: min with -A c
where A < 0) + kl_coef * KL (verl's kl_penalty; k3 unclamped as TRL, "+" names straight-through),
aggregated as verl's agg_loss; autograd; clip_grad_norm_; torch.optim.AdamW with no weight decay on
biases and norm weights. Writes [{"params": {name: [...]}, "grad_norm": g, "loss": l}] in case order.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import forward, load  # noqa: E402


def kl_value(name, logp, ref):
    d = logp - ref
    if name in ("k1", "kl"):
        return d
    if name == "abs":
        return d.abs()
    if name in ("k2", "mse"):
        return 0.5 * d * d
    if name == "k3":
        return torch.exp(-d) + d - 1
    if name == "low_var_kl":
        k = torch.clamp(ref - logp, -20, 20)
        return torch.clamp(torch.exp(k) - k - 1, -10, 10)
    raise ValueError(name)


def kl_term(name, logp, ref):
    if name.endswith("+"):
        k2 = kl_value("k2", logp, ref)
        return k2 - k2.detach() + kl_value(name[:-1], logp, ref).detach()
    return kl_value(name, logp, ref)


def aggregate(mode, terms, norm_length):
    if mode == "token-mean":
        return torch.cat(terms).mean()
    if mode == "seq-mean-token-mean":
        return torch.stack([t.mean() for t in terms]).mean()
    if mode == "seq-mean-token-sum":
        return torch.stack([t.sum() for t in terms]).mean()
    if mode == "seq-mean-token-sum-norm":
        return torch.stack([t.sum() for t in terms]).mean() / norm_length
    raise ValueError(mode)


def step(req, case):
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
        log_ratio = logp - old
        if case.get("ratio", "token") == "sequence":
            # rho = P(y|x) / P_old(y|x) (CoE thesis section 3.2), the same for every token of the sequence
            log_ratio = log_ratio.sum().expand(len(c))
        ratio = torch.exp(torch.clamp(log_ratio, -20, 20))
        clipped = torch.clamp(ratio, 1 - req["clip_low"], 1 + req["clip_high"])
        surrogate = -torch.minimum(ratio * a, clipped * a)
        if case["dual_clip"] is not None and a < 0:
            surrogate = torch.minimum(surrogate, torch.full_like(surrogate, -a * case["dual_clip"]))
        terms.append(surrogate + req["kl_coef"] * kl_term(case["kl_estimator"], logp, ref))
    loss = aggregate(case["loss_agg"], terms, req["norm_length"])
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
    return {"params": {n: params[n].detach().reshape(-1).tolist() for n in names},
            "grad_norm": float(grad_norm), "loss": loss.item()}


def main():
    req = json.load(sys.stdin)
    json.dump([step(req, case) for case in req["cases"]], sys.stdout)


if __name__ == "__main__":
    main()

"""verl's GRPO loss in torch float64 with autograd, for tests/rl/grpo_torch_test.ts.

Reads a JSON list of cases on stdin, writes [{"loss": float, "grad": [...]}] on stdout. The formulas
follow verl/trainer/ppo/core_algos.py: compute_policy_loss_vanilla (log-ratio clamp, pg_losses1/2,
torch.maximum, dual-clip with torch.min and torch.where), kl_penalty / kl_penalty_forward (with the
straight-through "+" names; "k3" is Schulman's unclamped estimator as in TRL), and agg_loss with the
global normalisers (batch_num_tokens, global_batch_size, loss_scale_factor).
"""
import json
import sys

import torch


def kl_penalty_forward(logprob, ref_logprob, name):
    if name in ("kl", "k1"):
        return logprob - ref_logprob
    if name == "abs":
        return (logprob - ref_logprob).abs()
    if name in ("mse", "k2"):
        return 0.5 * (logprob - ref_logprob).square()
    if name == "k3":
        kl = ref_logprob - logprob
        return torch.exp(kl) - kl - 1
    if name == "low_var_kl":
        kl = ref_logprob - logprob
        kl = torch.clamp(kl, min=-20, max=20)
        ratio = torch.exp(kl)
        kld = (ratio - kl - 1).contiguous()
        return torch.clamp(kld, min=-10, max=10)
    raise ValueError(name)


def kl_penalty(logprob, ref_logprob, name):
    base = name[:-1] if name.endswith("+") else name
    forward_score = kl_penalty_forward(logprob, ref_logprob, base)
    if not name.endswith("+") or base in ("mse", "k2"):
        return forward_score
    backward_score = 0.5 * (logprob - ref_logprob).square()
    return backward_score - backward_score.detach() + forward_score.detach()


def agg_loss(loss_mat, loss_mask, mode, batch_num_tokens, global_batch_size, loss_scale_factor):
    if mode == "token-mean":
        return (loss_mat * loss_mask).sum() / batch_num_tokens
    if mode in ("seq-mean-token-sum", "seq-mean-token-sum-norm"):
        seq_losses = torch.sum(loss_mat * loss_mask, dim=-1)
        seq_mask = (torch.sum(loss_mask, dim=-1) > 0).double()
        loss = (seq_losses * seq_mask).sum() / global_batch_size
        if mode == "seq-mean-token-sum-norm":
            loss = loss / loss_scale_factor
        return loss
    if mode == "seq-mean-token-mean":
        seq_mask = torch.sum(loss_mask, dim=-1)
        seq_losses = torch.sum(loss_mat * loss_mask, dim=-1) / (seq_mask + 1e-8)
        seq_mask = (seq_mask > 0).double()
        return (seq_losses * seq_mask).sum() / global_batch_size
    raise ValueError(mode)


def case_loss(c):
    rows, width = c["rows"], c["width"]
    shape = (rows, width)
    f64 = torch.float64
    log_prob = torch.tensor(c["logpNew"], dtype=f64).reshape(shape).requires_grad_(True)
    old_log_prob = torch.tensor(c["logpOld"], dtype=f64).reshape(shape)
    ref_log_prob = torch.tensor(c["logpRef"], dtype=f64).reshape(shape)
    mask = torch.tensor(c["mask"], dtype=f64).reshape(shape)
    advantages = torch.tensor(c["advantages"], dtype=f64).reshape(rows, 1).expand(shape)
    cfg = c["cfg"]

    negative_approx_kl = torch.clamp(log_prob - old_log_prob, min=-20.0, max=20.0)
    ratio = torch.exp(negative_approx_kl)
    pg_losses1 = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1 - cfg["clipLow"], 1 + cfg["clipHigh"])
    clip_pg_losses1 = torch.maximum(pg_losses1, pg_losses2)
    if cfg.get("dualClip") is not None:
        pg_losses3 = -advantages * cfg["dualClip"]
        clip_pg_losses2 = torch.min(pg_losses3, clip_pg_losses1)
        pg_losses = torch.where(advantages < 0, clip_pg_losses2, clip_pg_losses1)
    else:
        pg_losses = clip_pg_losses1
    kld = kl_penalty(log_prob, ref_log_prob, cfg["klEstimator"])
    loss_mat = pg_losses + cfg["klCoef"] * kld
    loss = agg_loss(loss_mat, mask, cfg["lossAgg"], cfg["tokens"], cfg["sequences"], cfg["normLength"])
    loss.backward()
    return {"loss": loss.item(), "grad": log_prob.grad.reshape(-1).tolist()}


json.dump([case_loss(c) for c in json.load(sys.stdin)], sys.stdout)

"""An exponential moving average of the weights (and BN buffers), with warm-up.

With warm-up the decay at the n-th update is min(decay, (1 + n) / (10 + n)), TensorFlow's
ExponentialMovingAverage(num_updates) rule: early averages forget the random init quickly
instead of carrying it for ~1 / (1 - decay) steps, which a short run never outlives. The
count lives in AveragedModel's n_averaged buffer, so it is saved and resumed with the EMA.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def ema_decay(decay: float, n: torch.Tensor, warmup: bool) -> torch.Tensor:
    """The decay of update n (a tensor, kept on its device: no host sync per step)."""
    if not warmup:
        return torch.full_like(n, decay, dtype=torch.float32)
    return torch.clamp((1.0 + n.float()) / (10.0 + n.float()), max=decay)


def make_ema(model: nn.Module, decay: float, warmup: bool = False) -> AveragedModel:
    """AveragedModel(model) updated as ema <- d ema + (1 - d) w with d = ema_decay(...);
    without warm-up torch's own EMA function, so runs without it compute as before."""
    if not 0 < decay < 1:
        raise ValueError(f"ema must be a decay in (0, 1) (0 = off), got {decay}")
    if not warmup:
        return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    def update(averaged: list, current: list, n: torch.Tensor) -> None:
        d = ema_decay(decay, n, warmup).to(averaged[0].device)
        if averaged[0].is_floating_point():
            torch._foreach_mul_(averaged, d)
            torch._foreach_add_(averaged, torch._foreach_mul(current, 1.0 - d))
        else:  # integer buffers (BN's batch count), as torch's EMA treats them
            for a, c in zip(averaged, current):
                a.copy_(a * d + c * (1.0 - d))

    return AveragedModel(model, multi_avg_fn=update, use_buffers=True)

"""Stochastic depth (Huang et al. 2016, arXiv:1603.09382): drop a block's residual branch.

In training each sample's branch is kept with probability 1 - p and scaled by 1/(1 - p), so
its expected value is unchanged and evaluation (the branch always kept) needs no rescaling.
"""

from __future__ import annotations

import torch
from torch import nn


def drop_path_rates(rate: float, num_blocks: int) -> list[float]:
    """The linear decay rule (Huang et al., Sec. 3): block l of L drops with p_l = l / L * rate,
    so the last block drops at `rate` and the first at rate / L, almost never."""
    check_drop_rate("drop_path_rate", rate)
    return [rate * (i + 1) / num_blocks for i in range(num_blocks)]


def check_drop_rate(key: str, rate: float) -> float:
    """A drop probability in [0, 1); 1 would drop everything, always."""
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"{key} must be in [0, 1), got {rate}")
    return float(rate)


class DropPath(nn.Module):
    """Zero a whole sample's residual branch with probability p in training; identity in eval."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = check_drop_rate("drop_path_rate", p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p:.4g}"

"""Squeeze-and-Excitation (Hu et al. 2018, arXiv:1709.01507, Fig. 3): channel gates from the
global average, through a bottleneck of channels / reduction, multiplied onto the block output.

Laid out as timm's SEModule (fc1/fc2 as 1x1 convs with bias; the reduced width rounded to a
multiple of 8, never below 8), so `seresnet50` matches timm's to the parameter.
"""

from __future__ import annotations

import torch
from torch import nn


def make_divisible(value: float, divisor: int = 8) -> int:
    """value rounded to the nearest multiple of divisor, at least divisor (timm's rule with
    round_limit=0, which SE uses)."""
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


class SqueezeExcite(nn.Module):
    """x * sigmoid(fc2(relu(fc1(mean over H, W of x)))); reduction 16 as in the paper."""

    def __init__(self, channels: int, reduction: int = 16, divisor: int = 8) -> None:
        super().__init__()
        reduced = make_divisible(channels / reduction, divisor)
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(self.relu(self.fc1(s))))


ATTENTION = {"se": SqueezeExcite}


def make_attention(kind: str | None, channels: int) -> nn.Module | None:
    """The attention module a block applies to its branch output, by name (None: none)."""
    if kind is None:
        return None
    if kind not in ATTENTION:
        raise ValueError(f"unknown attn_layer {kind!r}: use one of {sorted(ATTENTION)} or None")
    return ATTENTION[kind](channels)

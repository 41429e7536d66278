"""Residual blocks of the paper (Sec. 3.3, Fig. 2 and Fig. 5) and their shortcuts.

Options the family added, each off by default so the paper's nets are unchanged: grouped 3x3
(`cardinality`, `base_width`: ResNeXt, Xie et al. 2017; Wide ResNet-50-2 is base_width=128),
squeeze-and-excitation on the branch (`attn_layer="se"`) and drop-path on the branch
(`drop_path`, the block's stochastic-depth probability).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.models.drop_path import DropPath
from resnetlab.models.squeeze_excite import make_attention

NormLayer = Callable[[int], nn.Module]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, groups=groups,
                     bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class PadShortcut(nn.Module):
    """Option A: identity with stride-s subsampling and zero channels; no parameters.

    The new channels are split evenly before and after the input's, as in Idelbayev's
    pytorch_resnet_cifar10 (planes//4 on each side for a doubling), so its checkpoints
    give the same outputs here.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        if out_planes < in_planes:
            raise ValueError(f"option A cannot shrink channels ({in_planes} -> {out_planes})")
        self.stride = stride
        self.pad_before = (out_planes - in_planes) // 2
        self.pad_after = out_planes - in_planes - self.pad_before

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad=({self.pad_before}, {self.pad_after})"


SHORTCUT_OPTIONS = ("A", "B", "C")


def check_shortcut(shortcut) -> str:
    """The paper's shortcut option as "A"|"B"|"C" (any case); anything else is an error."""
    option = str(shortcut).upper()
    if option not in SHORTCUT_OPTIONS:
        raise ValueError(f"unknown shortcut {shortcut!r}: use 'A', 'B' or 'C'")
    return option


def make_shortcut(
    shortcut: str,
    in_planes: int,
    out_planes: int,
    stride: int,
    norm_layer: NormLayer | None,
    avg_down: bool = False,
) -> nn.Module | None:
    """The shortcut of one block: None means identity (or no shortcut, in a plain net).

    A: parameter-free where dimensions grow; B: 1x1 projection only there; C: projection on
    every block (paper Sec. 4.1, "Identity vs. Projection Shortcuts"). avg_down: a 2x2
    average pool then a stride-1 projection (ResNet-D, Bag of Tricks Fig. 2c), laid out as
    timm's (downsample.0 pool, .1 conv, .2 bn). norm_layer None: no BN after the projection
    (pre-activation blocks, whose input is already normalised).
    """
    grows = stride != 1 or in_planes != out_planes
    if shortcut == "A":
        return PadShortcut(in_planes, out_planes, stride) if grows else None
    if shortcut == "B" and not grows:
        return None
    if shortcut in ("B", "C"):
        layers: list[nn.Module] = [conv1x1(in_planes, out_planes, 1 if avg_down else stride)]
        if avg_down:
            pool = (nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)
                    if stride > 1 else nn.Identity())
            layers.insert(0, pool)
        if norm_layer is not None:
            layers.append(norm_layer(out_planes))
        return nn.Sequential(*layers)
    if shortcut == "none":
        return None
    raise ValueError(f"unknown shortcut {shortcut!r}: use 'A', 'B' or 'C'")


def group_width(planes: int, cardinality: int, base_width: int) -> int:
    """The bottleneck 3x3's width: cardinality groups of planes * base_width / 64 channels."""
    if cardinality < 1 or base_width < 1:
        raise ValueError(f"cardinality and base_width must be >= 1, got {cardinality} and "
                         f"{base_width}")
    if planes * base_width % 64:
        raise ValueError(
            f"base_width {base_width} gives {planes} * {base_width} / 64 channels per group "
            f"in a stage of {planes} planes, not a whole number: use a multiple of "
            f"{64 // math.gcd(planes, 64)}")
    return planes * base_width // 64 * cardinality


def check_basic(cardinality: int, base_width: int) -> None:
    """Basic blocks have no grouped or widened 3x3 (as in torchvision and timm)."""
    if cardinality != 1 or base_width != 64:
        raise ValueError(
            f"basic blocks have no grouped or widened 3x3: cardinality must be 1 and "
            f"base_width 64 (got {cardinality}, {base_width}); use a bottleneck net")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (paper Fig. 5 left): conv-bn-relu-conv-bn (+x) relu."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
        residual: bool = True,
        stride_in_1x1: bool = True,
        *,
        cardinality: int = 1,
        base_width: int = 64,
        attn_layer: str | None = None,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        check_basic(cardinality, base_width)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.se = make_attention(attn_layer, planes)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else None
        self.downsample = downsample
        self.residual = residual
        self.stride = stride

    def last_bn(self) -> nn.Module:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        if self.residual:
            if self.downsample is not None:
                identity = self.downsample(x)
            out = out + identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 restore (paper Fig. 5 right), expansion 4.

    stride_in_1x1=True puts the stride-2 in the first 1x1 as the paper (and Caffe) did;
    False puts it in the 3x3, torchvision's "v1.5". Same parameters, different compute.
    The 3x3 has cardinality groups of planes * base_width / 64 channels (torchvision's
    width_per_group): 1 and 64 give the paper's block.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
        residual: bool = True,
        stride_in_1x1: bool = True,
        *,
        cardinality: int = 1,
        base_width: int = 64,
        attn_layer: str | None = None,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        width = group_width(planes, cardinality, base_width)
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, width, s1)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, s3, groups=cardinality)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.se = make_attention(attn_layer, planes * self.expansion)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else None
        self.downsample = downsample
        self.residual = residual
        self.stride = stride

    def last_bn(self) -> nn.Module:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se is not None:
            out = self.se(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        if self.residual:
            if self.downsample is not None:
                identity = self.downsample(x)
            out = out + identity
        return self.relu(out)


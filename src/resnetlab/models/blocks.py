"""Residual blocks of the paper (Sec. 3.3, Fig. 2 and Fig. 5) and their shortcuts."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

NormLayer = Callable[[int], nn.Module]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


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
    shortcut: str, in_planes: int, out_planes: int, stride: int, norm_layer: NormLayer
) -> nn.Module | None:
    """The shortcut of one block: None means identity (or no shortcut, in a plain net).

    A: parameter-free where dimensions grow; B: 1x1 projection only there; C: projection on
    every block (paper Sec. 4.1, "Identity vs. Projection Shortcuts").
    """
    grows = stride != 1 or in_planes != out_planes
    if shortcut == "A":
        return PadShortcut(in_planes, out_planes, stride) if grows else None
    if shortcut == "B" and not grows:
        return None
    if shortcut in ("B", "C"):
        return nn.Sequential(conv1x1(in_planes, out_planes, stride), norm_layer(out_planes))
    if shortcut == "none":
        return None
    raise ValueError(f"unknown shortcut {shortcut!r}: use 'A', 'B' or 'C'")


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
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.residual = residual
        self.stride = stride

    def last_bn(self) -> nn.Module:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            if self.downsample is not None:
                identity = self.downsample(x)
            out = out + identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 restore (paper Fig. 5 right), expansion 4.

    stride_in_1x1=True puts the stride-2 in the first 1x1 as the paper (and Caffe) did;
    False puts it in the 3x3, torchvision's "v1.5". Same parameters, different compute.
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
    ) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, planes, s1)
        self.bn1 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes, s3)
        self.bn2 = norm_layer(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
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
        if self.residual:
            if self.downsample is not None:
                identity = self.downsample(x)
            out = out + identity
        return self.relu(out)


BLOCKS: dict[str, type[nn.Module]] = {"basic": BasicBlock, "bottleneck": Bottleneck}

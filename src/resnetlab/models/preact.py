"""Pre-activation blocks (He et al. 2016, "Identity Mappings in Deep Residual Networks",
arXiv:1603.05027, Fig. 4e): BN -> ReLU -> conv on the branch, nothing on the identity path.

The same names for the same things as the post-activation blocks (bn1 ... conv3, downsample,
se, drop_path); here bn_i is the norm that feeds conv_i. As in the paper's code and timm's
PreActBottleneck, a projection shortcut reads the pre-activated input, an identity the raw
one. The net ends with one more BN-ReLU before pooling (ResNet's `norm`, made when the block
says `preact = True`). The stride sits in the 3x3, as in timm.
"""

from __future__ import annotations

import torch
from torch import nn

from resnetlab.models.blocks import NormLayer, check_basic, conv1x1, conv3x3, group_width
from resnetlab.models.drop_path import DropPath
from resnetlab.models.squeeze_excite import make_attention


class _PreActBlock(nn.Module):
    """The shared forward: preact = relu(bn1(x)); branch(preact) (+ shortcut)."""

    expansion = 1
    preact = True

    def _finish(self, x: torch.Tensor, preact: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if self.se is not None:
            out = self.se(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        if not self.residual:
            return out
        shortcut = x if self.downsample is None else self.downsample(preact)
        return out + shortcut


class PreActBasicBlock(_PreActBlock):
    """bn-relu-conv3x3, bn-relu-(dropout)-conv3x3, + x. With `dropout` it is the wide block of
    Zagoruyko & Komodakis (2016, arXiv:1605.07146, Fig. 1d: dropout between the convs)."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
        residual: bool = True,
        stride_in_1x1: bool = False,
        *,
        cardinality: int = 1,
        base_width: int = 64,
        attn_layer: str | None = None,
        drop_path: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_basic(cardinality, base_width)
        self.bn1 = norm_layer(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = norm_layer(planes)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.conv2 = conv3x3(planes, planes)
        self.se = make_attention(attn_layer, planes)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else None
        self.downsample = downsample
        self.residual = residual
        self.stride = stride

    def last_bn(self) -> nn.Module:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        preact = self.relu(self.bn1(x))
        out = self.relu(self.bn2(self.conv1(preact)))
        if self.dropout is not None:
            out = self.dropout(out)
        return self._finish(x, preact, self.conv2(out))


class PreActBottleneck(_PreActBlock):
    """bn-relu-conv1x1, bn-relu-conv3x3 (grouped when cardinality > 1), bn-relu-conv1x1, + x;
    expansion 4 (Identity Mappings, Fig. 4e; ResNet-164 and -1001 on CIFAR)."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
        residual: bool = True,
        stride_in_1x1: bool = False,
        *,
        cardinality: int = 1,
        base_width: int = 64,
        attn_layer: str | None = None,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        width = group_width(planes, cardinality, base_width)
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.bn1 = norm_layer(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv1x1(inplanes, width, s1)
        self.bn2 = norm_layer(width)
        self.conv2 = conv3x3(width, width, s3, groups=cardinality)
        self.bn3 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.se = make_attention(attn_layer, planes * self.expansion)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else None
        self.downsample = downsample
        self.residual = residual
        self.stride = stride

    def last_bn(self) -> nn.Module:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        preact = self.relu(self.bn1(x))
        out = self.relu(self.bn2(self.conv1(preact)))
        out = self.relu(self.bn3(self.conv2(out)))
        return self._finish(x, preact, self.conv3(out))

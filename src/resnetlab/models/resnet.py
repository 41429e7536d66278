"""One ResNet class for every network of the paper: CIFAR (Sec. 4.2) and ImageNet (Table 1).

Parameter names follow torchvision (conv1, bn1, layerN.i.*, downsample.0/1, fc), so its
and timm's checkpoints load with strict=True into the v1.5 form (stride_in_1x1=False).
The paper's v1 bottleneck nets (stride in the 1x1) compute something else with the same
parameters, so they carry one more state_dict entry, V1_MARKER: a strict load of their
weights into torchvision/timm's net, or of those nets' weights into v1, fails naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from resnetlab.models.blocks import (
    BLOCKS,
    BasicBlock,
    Bottleneck,
    NormLayer,
    check_shortcut,
    make_shortcut,
)

V1_MARKER = "paper_v1_stride_in_1x1"  # a 0-d buffer (1.0) in v1 bottleneck nets only


class ResNet(nn.Module):
    """A stem, len(layers) stages of blocks, global average pooling and a classifier.

    stem="cifar": 3x3 conv of widths[0], no max-pool. stem="imagenet": 7x7/2 conv of 64
    and a 3x3/2 max-pool. Every stage after the first halves the resolution.
    residual=False gives the plain twin: the same stacks without any shortcut.
    """

    def __init__(
        self,
        block: str | type[nn.Module],
        layers: Sequence[int],
        widths: Sequence[int] = (64, 128, 256, 512),
        stem: str = "imagenet",
        num_classes: int = 1000,
        in_chans: int = 3,
        shortcut: str = "B",
        residual: bool = True,
        stride_in_1x1: bool = True,
        zero_init_residual: bool = False,
        norm_layer: NormLayer | None = None,
    ) -> None:
        super().__init__()
        block_cls = BLOCKS[block] if isinstance(block, str) else block
        if len(layers) != len(widths):
            raise ValueError(f"{len(layers)} stage depths but {len(widths)} widths")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if in_chans < 1:
            raise ValueError(f"in_chans must be >= 1, got {in_chans}")
        shortcut = check_shortcut(shortcut)
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"unknown stem {stem!r}: use 'cifar' or 'imagenet'")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.num_classes = num_classes
        self.shortcut = shortcut
        self.residual = residual

        if stem == "cifar":
            self.inplanes = widths[0]
            self.conv1 = nn.Conv2d(in_chans, self.inplanes, 3, 1, 1, bias=False)
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.inplanes = 64
            self.conv1 = nn.Conv2d(in_chans, 64, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)

        stages = []
        for i, (depth, width) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            stages.append(
                self._make_layer(
                    block_cls, width, depth, stride, shortcut, residual, stride_in_1x1, norm_layer
                )
            )
        # Named layer1..layerN as torchvision names them.
        # The CIFAR nets have three stages; layer4 is then a parameter-free identity so that
        # one forward serves both families (and TorchScript sees the same attributes).
        for i, stage in enumerate(stages):
            self.add_module(f"layer{i + 1}", stage)
        if len(stages) == 3:
            self.layer4 = nn.Identity()
        elif len(stages) != 4:
            raise ValueError(f"3 or 4 stages are supported, got {len(stages)}")
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = self.inplanes
        self.fc = nn.Linear(self.inplanes, num_classes)
        self.init_weights(zero_init_residual)
        self.stride_in_1x1 = bool(stride_in_1x1 and block_cls is Bottleneck)
        if self.stride_in_1x1 and len(layers) > 1:  # v1 computes otherwise than v1.5: say so
            self.register_buffer(V1_MARKER, torch.ones(()))

    def _make_layer(
        self,
        block: type[nn.Module],
        planes: int,
        blocks: int,
        stride: int,
        shortcut: str,
        residual: bool,
        stride_in_1x1: bool,
        norm_layer: NormLayer,
    ) -> nn.Sequential:
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            out = planes * block.expansion
            kind = shortcut if residual else "none"
            down = make_shortcut(kind, self.inplanes, out, s, norm_layer)
            layers.append(
                block(self.inplanes, planes, s, down, norm_layer, residual, stride_in_1x1)
            )
            self.inplanes = out
        return nn.Sequential(*layers)

    def init_weights(self, zero_init_residual: bool = False) -> None:
        """He init (fan_out) for convs; BN weight 1, bias 0; optionally zero each last BN."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.SyncBatchNorm)):
                if m.weight is not None:
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.blocks():
                bn = m.last_bn()
                if getattr(bn, "weight", None) is not None:
                    nn.init.zeros_(bn.weight)

    def blocks(self) -> list[nn.Module]:
        """Every residual (or plain) block, in forward order."""
        return [m for m in self.modules() if isinstance(m, (BasicBlock, Bottleneck))]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

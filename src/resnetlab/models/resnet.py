"""One ResNet class for every network of the paper: CIFAR (Sec. 4.2) and ImageNet (Table 1),
and, by its options, for the family that followed (pre-activation, Wide, ResNeXt, SE, ResNet-C/D,
stochastic depth).

Parameter names follow torchvision (conv1, bn1, layerN.i.*, downsample.0/1, fc), so its
and timm's checkpoints load with strict=True into the v1.5 form (stride_in_1x1=False).
The paper's v1 bottleneck nets (stride in the 1x1) compute something else with the same
parameters, so they carry one more state_dict entry, V1_MARKER: a strict load of their
weights into torchvision/timm's net, or of those nets' weights into v1, fails naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from resnetlab.models.blocks import BasicBlock, Bottleneck, NormLayer, check_shortcut, make_shortcut
from resnetlab.models.drop_path import check_drop_rate, drop_path_rates
from resnetlab.models.preact import PreActBasicBlock, PreActBottleneck

V1_MARKER = "paper_v1_stride_in_1x1"  # a 0-d buffer (1.0) in v1 bottleneck nets only

BLOCKS: dict[str, type[nn.Module]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
    "preact_basic": PreActBasicBlock,
    "preact_bottleneck": PreActBottleneck,
}
RESIDUAL_BLOCKS = tuple(BLOCKS.values())
BLOCK_ARGS = ("attn_layer", "dropout")  # keys of block_args; dropout: pre-activation basic only


class ResNet(nn.Module):
    """A stem, len(layers) stages of blocks, global average pooling and a classifier.

    stem="cifar": 3x3 conv of stem_width (default widths[0]), no max-pool. stem="imagenet":
    7x7/2 conv of 64 and a 3x3/2 max-pool; stem_type="deep" makes the conv three 3x3s of
    stem_width/2, stem_width/2, stem_width (ResNet-C, Bag of Tricks Fig. 2b; timm's
    conv1.0/.3/.6). Every stage after the first halves the resolution; widths are the
    stages' planes (block output = planes * expansion). residual=False gives the plain twin.

    The family's options, all off by default: cardinality / base_width (ResNeXt, Wide),
    avg_down (ResNet-D's shortcut), block_args=dict(attn_layer="se") (SE) or
    dict(dropout=p) (Wide ResNet's dropout between convs, pre-activation basic blocks),
    drop_path_rate (stochastic depth, linear in depth), dropout (before the classifier).
    A pre-activation block makes the stem conv-only and adds `norm` (BN, then ReLU) before
    pooling (Identity Mappings, Sec. 4).
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
        stride_in_1x1: bool | None = None,
        zero_init_residual: bool = False,
        norm_layer: NormLayer | None = None,
        *,
        stem_type: str = "",
        stem_width: int | None = None,
        avg_down: bool = False,
        cardinality: int = 1,
        base_width: int = 64,
        block_args: dict[str, Any] | None = None,
        drop_path_rate: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        block_cls = BLOCKS[block] if isinstance(block, str) else block
        if len(layers) != len(widths):
            raise ValueError(f"{len(layers)} stage depths but {len(widths)} widths")
        if len(layers) not in (3, 4):
            raise ValueError(f"3 or 4 stages are supported, got {len(layers)}")
        if min(widths) < 1 or (stem_width is not None and stem_width < 1):
            raise ValueError(f"widths must be >= 1, got {list(widths)}, stem_width {stem_width}")
        if min(layers) < 1:
            raise ValueError(f"every stage needs >= 1 block, got {list(layers)}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if in_chans < 1:
            raise ValueError(f"in_chans must be >= 1, got {in_chans}")
        shortcut = check_shortcut(shortcut)
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"unknown stem {stem!r}: use 'cifar' or 'imagenet'")
        if stem_type not in ("", "deep"):
            raise ValueError(f"unknown stem_type {stem_type!r}: use '' (one conv) or 'deep'")
        block_args = dict(block_args or {})
        unknown = sorted(set(block_args) - set(BLOCK_ARGS))
        if unknown:
            raise ValueError(f"unknown block_args {unknown}: valid keys are {list(BLOCK_ARGS)}")
        if "dropout" in block_args:
            check_drop_rate("dropout", block_args["dropout"])
            if block_cls is not PreActBasicBlock:
                raise ValueError("block_args dropout (between the convs) needs pre-activation "
                                 "basic blocks, the wide nets' block")
        preact = bool(getattr(block_cls, "preact", False))
        if preact and stride_in_1x1:
            raise ValueError("pre-activation blocks put the stride in the 3x3: "
                             "stride_in_1x1 must be False")
        stride_in_1x1 = not preact if stride_in_1x1 is None else bool(stride_in_1x1)
        norm_layer = norm_layer or nn.BatchNorm2d
        self.num_classes = num_classes
        self.shortcut = shortcut
        self.residual = residual
        self.preact = preact
        self.num_stages = len(layers)
        self.drop_path_rate = check_drop_rate("drop_path_rate", drop_path_rate)
        self.dropout = check_drop_rate("dropout", dropout)

        self.inplanes = stem_width or (widths[0] if stem == "cifar" else 64)
        self.conv1 = self._stem_conv(stem, stem_type, in_chans, self.inplanes, norm_layer)
        self.maxpool: nn.Module = nn.Identity() if stem == "cifar" else nn.MaxPool2d(3, 2, 1)
        # Pre-activation: the stem is the conv alone; each block normalises its own input.
        self.bn1 = nn.Identity() if preact else norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.feature_info = [dict(num_chs=self.inplanes, reduction=1 if stem == "cifar" else 2,
                                  module="conv1" if preact else "relu")]

        rates = drop_path_rates(self.drop_path_rate, sum(layers))
        block_kwargs = dict(cardinality=cardinality, base_width=base_width, **block_args)
        reduction = self.feature_info[0]["reduction"] * (1 if stem == "cifar" else 2)
        for i, (depth, width) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            reduction *= stride
            stage_rates = rates[sum(layers[:i]): sum(layers[: i + 1])]
            stage = self._make_layer(block_cls, width, depth, stride, shortcut, residual,
                                     stride_in_1x1, norm_layer, avg_down, stage_rates,
                                     block_kwargs)
            self.add_module(f"layer{i + 1}", stage)  # named layer1..layerN as torchvision does
            self.feature_info.append(dict(num_chs=self.inplanes, reduction=reduction,
                                          module=f"layer{i + 1}"))
        # The CIFAR nets have three stages; layer4 is then a parameter-free identity so that
        # one forward serves both families (and TorchScript sees the same attributes).
        if len(layers) == 3:
            self.layer4 = nn.Identity()
        self.norm = norm_layer(self.inplanes) if preact else nn.Identity()
        if preact:
            self.feature_info[-1]["module"] = "norm"
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.num_features = self.inplanes
        self.head_drop = nn.Dropout(self.dropout) if self.dropout > 0 else nn.Identity()
        self.fc = nn.Linear(self.inplanes, num_classes)
        self.init_weights(zero_init_residual)
        self.stride_in_1x1 = bool(stride_in_1x1 and block_cls is Bottleneck)
        if self.stride_in_1x1 and len(layers) > 1:  # v1 computes otherwise than v1.5: say so
            self.register_buffer(V1_MARKER, torch.ones(()))

    @staticmethod
    def _stem_conv(stem: str, stem_type: str, in_chans: int, width: int,
                   norm_layer: NormLayer) -> nn.Module:
        if stem == "cifar":
            return nn.Conv2d(in_chans, width, 3, 1, 1, bias=False)
        if stem_type == "":
            return nn.Conv2d(in_chans, width, 7, 2, 3, bias=False)
        half = width // 2
        return nn.Sequential(
            nn.Conv2d(in_chans, half, 3, 2, 1, bias=False), norm_layer(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, 1, 1, bias=False), norm_layer(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, width, 3, 1, 1, bias=False),
        )

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
        avg_down: bool,
        rates: Sequence[float],
        block_kwargs: dict[str, Any],
    ) -> nn.Sequential:
        layers = []
        shortcut_norm = None if self.preact else norm_layer  # a preact input is normalised
        for i in range(blocks):
            s = stride if i == 0 else 1
            out = planes * block.expansion
            kind = shortcut if residual else "none"
            down = make_shortcut(kind, self.inplanes, out, s, shortcut_norm, avg_down)
            layers.append(block(self.inplanes, planes, s, down, norm_layer, residual,
                                stride_in_1x1, drop_path=rates[i], **block_kwargs))
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
        return [m for m in self.modules() if isinstance(m, RESIDUAL_BLOCKS)]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        """The stem's output before the max-pool (feature index 0)."""
        x = self.conv1(x)
        if not self.preact:
            x = self.relu(self.bn1(x))
        return x

    def forward_final(self, x: torch.Tensor) -> torch.Tensor:
        """The pre-activation nets' last BN-ReLU; identity for the others."""
        if self.preact:
            x = self.relu(self.norm(x))
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.forward_stem(x))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.forward_final(self.layer4(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

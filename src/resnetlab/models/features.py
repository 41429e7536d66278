"""Backbone use in timm's convention: `create_model(name, features_only=True, out_indices=...)`
gives the stage outputs as a list, with `feature_info` listing each one's channels and
reduction (input size / feature map size)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from resnetlab.models.resnet import ResNet


class FeatureInfo(list):
    """A list of {num_chs, reduction, module} dicts, one per feature map, with timm's accessors."""

    def channels(self) -> list[int]:
        return [f["num_chs"] for f in self]

    def reduction(self) -> list[int]:
        return [f["reduction"] for f in self]

    def module_name(self) -> list[str]:
        return [f["module"] for f in self]


class ResNetFeatures(ResNet):
    """A ResNet without its classifier whose forward returns the feature maps at out_indices.

    Index 0 is the stem (before the max-pool), 1..4 the stages layer1..layer4 (ImageNet nets)
    or 1..3 (CIFAR nets, three stages); the default is every stage. The pre-activation nets'
    last stage comes through their final BN-ReLU, as their head sees it. The parameters keep
    the classification net's names, less fc, so its weights load with strict=False."""

    def __init__(self, *args: Any, out_indices: Sequence[int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        valid = range(len(self.feature_info))
        out_indices = tuple(valid[1:] if out_indices is None else out_indices)
        bad = [i for i in out_indices if i not in valid]
        if bad or not out_indices:
            raise ValueError(f"out_indices {list(out_indices)}: this net has feature maps "
                             f"0 (stem) to {valid[-1]} (last stage)")
        self.out_indices = list(out_indices)
        self.feature_info = FeatureInfo(self.feature_info[i] for i in out_indices)
        del self.fc, self.head_drop, self.avgpool

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        x = self.forward_stem(x)
        feats = [x]
        x = self.layer1(self.maxpool(x))
        feats.append(x)
        x = self.layer2(x)
        feats.append(x)
        x = self.layer3(x)
        if self.num_stages == 4:
            feats.append(x)
            x = self.layer4(x)
        feats.append(self.forward_final(x))
        return [feats[i] for i in self.out_indices]


"""The optimizer: SGD with momentum over parameter groups, weight decay off where excluded."""

from __future__ import annotations

import torch
from torch import nn

NORM_TYPES = (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.SyncBatchNorm)


def param_groups(model: nn.Module, weight_decay: float, exclude: list[str]) -> list[dict]:
    """Parameters split into decayed and not decayed (norm weights/biases, biases) groups."""
    skip = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if ("norm" in exclude and isinstance(module, NORM_TYPES)) or (
                    "bias" in exclude and name == "bias"):
                skip.add(id(p))
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if id(p) not in skip]
    rest = [p for p in params if id(p) in skip]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups


def build_optimizer(model: nn.Module, lr: float, momentum: float, weight_decay: float,
                    nesterov: bool = False, wd_exclude: list[str] | tuple[str, ...] = ()
                    ) -> torch.optim.SGD:
    """SGD with momentum (nesterov optional) over param_groups, with the foreach (multi-tensor)
    update; wd_exclude ("norm", "bias") names the parameters kept free of weight decay."""
    groups = param_groups(model, weight_decay, list(wd_exclude))
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov,
                           weight_decay=weight_decay, foreach=True)

"""One optimizer step (forward under autocast, backward, clip, SGD update) and the optimizer.

Shared by fit() and `resnetlab bench train`, so the benchmark measures the engine's own step.
"""

from __future__ import annotations

import torch
from torch import nn

from resnetlab.train.config import TrainConfig
from resnetlab.train.runtime import autocast

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


def build_optimizer(model: nn.Module, config: TrainConfig,
                    device: torch.device | None = None) -> torch.optim.Optimizer:
    """SGD with momentum (nesterov optional) over param_groups, with the foreach (multi-tensor)
    update. `device` is unused (kept for one release)."""
    groups = param_groups(model, config.weight_decay, config.wd_exclude)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                           nesterov=config.nesterov, weight_decay=config.weight_decay,
                           foreach=True)


class TrainStep:
    """step(x, y, lr) -> (loss, correct): detached tensors, no host sync.

    Under torch.distributed the forward runs through DistributedDataParallel (gradients
    averaged over ranks; BN statistics stay per rank, as in the paper's 2-GPU runs).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, config: TrainConfig,
                 device: torch.device, amp_dtype: torch.dtype | None, distributed: bool = False):
        self.model = model
        forward = model
        if distributed:
            ids = [device.index] if device.type == "cuda" else None
            forward = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.forward = torch.compile(forward) if config.compile else forward
        self.optimizer = optimizer
        self.device, self.amp = device, amp_dtype
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.grad_clip = config.grad_clip
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, lr: float):
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with autocast(self.device, self.amp):
            logits = self.forward(x)
            loss = self.criterion(logits, y)
        self.scaler.scale(loss).backward()
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach(), (logits.argmax(1) == y).sum()

"""One optimizer update: forward under autocast, the loss, backward over `accumulate` slices
of the batch, clip, the optimizer's step. Shared by fit's loop and `resnetlab bench train`.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from resnetlab.train import devices
from resnetlab.train.losses import Loss


class TrainStep:
    """step(x, y) -> (loss, correct): one optimizer update at the optimizer's current lr;
    detached tensors, no host sync. y: int64 labels, or soft targets (B×K, e.g. mixup's;
    `correct` then counts the top target).

    accumulate=k: the batch is cut into k equal slices, each forward and backward on its own
    with the loss scaled by 1/k, so the summed gradient is that of the whole batch (up to
    BatchNorm, whose statistics are per slice) and one update follows. Under torch.distributed
    the forward runs through DistributedDataParallel (gradients averaged over ranks, once per
    update: the slices before the last skip the all-reduce; BN statistics stay per rank, as in
    the paper's 2-GPU runs).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 device: torch.device, amp_dtype: torch.dtype | None, *,
                 label_smoothing: float = 0.0, grad_clip: float = 0.0, compile: bool = False,
                 distributed: bool = False, loss: Loss | None = None, accumulate: int = 1):
        self.model, self.optimizer, self.device, self.amp = model, optimizer, device, amp_dtype
        forward = model
        if distributed:
            ids = [device.index] if device.type == "cuda" else None
            forward = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.ddp = forward if distributed else None
        self.forward = torch.compile(forward) if compile else forward
        self.criterion = loss or Loss("ce", label_smoothing)
        self.grad_clip, self.accumulate = grad_clip, accumulate
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    def __call__(self, x: torch.Tensor, y: torch.Tensor):
        if len(x) % self.accumulate:
            raise ValueError(f"accumulate={self.accumulate} does not divide this process's "
                             f"batch of {len(x)}")
        k = self.accumulate
        total, correct = 0.0, 0
        for i, (xs, ys) in enumerate(zip(x.chunk(k), y.chunk(k))):
            sync = self.ddp is None or i == k - 1
            with contextlib.nullcontext() if sync else self.ddp.no_sync():
                with devices.autocast(self.device, self.amp):
                    logits = self.forward(xs)
                    loss = self.criterion(logits, ys)
                self.scaler.scale(loss / k if k > 1 else loss).backward()
            labels = ys.argmax(1) if ys.is_floating_point() else ys
            total = total + loss.detach() / k
            correct = correct + (logits.argmax(1) == labels).sum()
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return total, correct

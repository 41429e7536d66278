"""The recipes' learning-rate schedule in your own loop, as a torch LRScheduler.

    config = load_recipe("paper-cifar")
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    sched = ScheduleLR(opt, config, total_iters=64000, depth=110)
    for x, y in batches:
        loss = ...; opt.zero_grad(); loss.backward(); opt.step()
        sched.observe_train(batch_error_percent)   # only the paper's error-ended warm-up
        sched.step()                                # once per optimizer step

or, without the warm-up's error rule, torch's own LambdaLR:

    LambdaLR(opt, lr_lambda(config, total_iters=64000))

Both follow fit()'s schedule exactly: step / cosine / one-cycle / constant, with linear or
constant warm-up (the paper's ResNet-110 warm-up at 0.01 until the training error falls
below 80%: warmup_until_error, warmup_min_depth). Each param group's lr is its initial lr
times lr(it) / config.lr, so an optimizer built at config.lr gets exactly lr(it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from resnetlab.train.config import TrainConfig
from resnetlab.train.schedule import LRSchedule


def lr_lambda(config: TrainConfig, total_iters: int, batches_per_epoch: int = 1,
              depth: int = 0) -> Callable[[int], float]:
    """A function it -> lr(it) / config.lr for torch's LambdaLR (stepped once per optimizer
    step). A warm-up that waits for the training error needs ScheduleLR.observe_train."""
    schedule = LRSchedule(config, total_iters, batches_per_epoch, depth)
    return lambda it: schedule.lr(it) / config.lr


class ScheduleLR(LRScheduler):
    """A torch LRScheduler following a recipe's schedule; call step() once per optimizer
    step. observe_train(error %) after a step feeds the paper's error-ended warm-up,
    observe_val(error %) the plateau schedule; state_dict() saves their state too."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: TrainConfig,
                 total_iters: int, batches_per_epoch: int = 1, depth: int = 0,
                 last_epoch: int = -1):
        self.schedule = LRSchedule(config, total_iters, batches_per_epoch, depth)
        self.base = config.lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = self.schedule.lr(max(self.last_epoch, 0)) / self.base
        return [base * factor for base in self.base_lrs]

    def observe_train(self, batch_error: float) -> None:
        self.schedule.observe_train(self.last_epoch, batch_error)

    def observe_val(self, val_error: float) -> None:
        self.schedule.observe_val(val_error)

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "schedule")}
        state["schedule_state"] = self.schedule.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        self.schedule.load_state_dict(state.pop("schedule_state"))
        self.__dict__.update(state)

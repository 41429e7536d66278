"""The learning rate at every iteration: step / cosine / one-cycle / plateau, with warm-up,
as the torch LRScheduler (ScheduleLR) that fit() steps and that users put in their own loop:

    config = load_recipe("paper-cifar")
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    sched = ScheduleLR(opt, config, total_iters=64000, depth=110)
    for x, y in batches:
        loss = ...; opt.zero_grad(); loss.backward(); opt.step()
        sched.observe_train(batch_error_percent)   # only the paper's error-ended warm-up
        sched.step()                                # once per optimizer step

or, without the warm-up's error rule, torch's own LambdaLR:

    LambdaLR(opt, lr_lambda(config, total_iters=64000))

The lr is a function of the iteration plus a little state (the paper's error-triggered
warm-up: warmup_until_error, warmup_min_depth; the plateau counter) that the scheduler's
state_dict carries, so a resumed run follows the same schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from resnetlab.train.config import TrainConfig

ERROR_WINDOW = 10  # batches averaged by the error-triggered warm-up


def reference_iters(config: TrainConfig, full_train_images: int) -> int | None:
    """Optimizer steps of the full-length run config.schedule_reference describes (None
    when there is none). full_train_images: the data set's training images before any
    subset or hold-out."""
    ref = config.schedule_reference
    if not ref:
        return None
    if ref.get("iters") is not None:
        return int(ref["iters"])
    images = (ref.get("train_images") or full_train_images) - config.val_size
    return max(1, math.ceil(ref["epochs"] * max(1, images // config.batch_size)))


@dataclass(frozen=True)
class Timing:
    """When the schedule's events fall in this run, in iterations: the milestones and the
    warm-up's length (moved with the run's length when schedule_reference says so)."""

    milestones: list[int]
    warmup_iters: int


def timing(config: TrainConfig, total_iters: int, batches_per_epoch: int = 1,
           full_train_images: int = 0) -> Timing:
    """The milestones in iterations, and the keys schedule_reference names moved to the same
    fractions of `total_iters` as they were of the reference run (the held-out val_size is
    moved by train.data.held_out). Without a reference: the config's, milestones in iters."""
    ref_total = reference_iters(config, full_train_images)
    scale = set(config.schedule_reference.get("scale", [])) if ref_total else set()
    r = total_iters / ref_total if ref_total else 1.0
    if "milestones" in scale:
        ref_bpe = max(1, round(ref_total / config.schedule_reference["epochs"])) \
            if config.schedule_reference.get("epochs") else batches_per_epoch
        milestones = sorted({max(1, round(m * r)) for m in config.milestone_iters(ref_bpe)})
    else:
        milestones = sorted(config.milestone_iters(batches_per_epoch))
    warmup_iters = config.warmup_iters
    if "warmup_iters" in scale and warmup_iters:
        warmup_iters = max(1, round(warmup_iters * r))
    return Timing(milestones, warmup_iters)


def describe(config: TrainConfig, when: Timing, total_iters: int, depth: int = 0) -> str:
    """The run's schedule in iterations, in words."""
    c = config
    parts = []
    if c.warmup != "none" and depth >= c.warmup_min_depth:
        until = (f" or until the training error is below {c.warmup_until_error:g}%"
                 if c.warmup == "constant" and c.warmup_until_error is not None else "")
        kind = "constant" if c.warmup == "constant" else f"linear {c.warmup_lr:g} ->"
        parts.append(f"warm-up {kind} lr {c.warmup_lr if c.warmup == 'constant' else c.lr:g} "
                     f"for {when.warmup_iters} iterations{until}")
    if c.schedule == "step":
        inside = [m for m in when.milestones if m < total_iters]
        lrs = [c.lr * c.gamma ** (i + 1) for i in range(len(inside))]
        steps = ", ".join(f"{lr:g} at {m}" for m, lr in zip(inside, lrs))
        parts.append(f"lr {c.lr:g}" + (f", then {steps}" if inside else " throughout"))
    elif c.schedule == "plateau":
        parts.append(f"lr {c.lr:g}, x{c.gamma:g} after {c.plateau_patience} evaluations "
                     f"without a {c.plateau_threshold:g}-point gain (floor {c.final_lr:g})")
    elif c.schedule == "constant":
        parts.append(f"lr {c.lr:g} throughout")
    else:
        parts.append(f"{c.schedule} from lr {c.lr:g} to {c.final_lr:g} at {total_iters}")
    return f"schedule ({c.schedule}, {total_iters} iterations): " + "; ".join(parts)


def never_decays(config: TrainConfig, when: Timing, total_iters: int) -> bool:
    """True when the lr stays at its peak for the whole run."""
    if config.schedule == "constant":
        return True
    if config.schedule == "step":
        return config.gamma == 1 or not any(m < total_iters for m in when.milestones)
    return False


class LRSchedule:
    """lr(it) for a config; observe_train / observe_val feed the error-driven parts.
    when: the run's Timing (default: the config's, milestones converted to iterations)."""

    def __init__(self, config: TrainConfig, total_iters: int, batches_per_epoch: int = 1,
                 depth: int = 0, when: Timing | None = None):
        when = when or timing(config, total_iters, batches_per_epoch)
        self.c = config
        self.total = total_iters
        self.milestones = when.milestones
        self.warmup_iters = when.warmup_iters
        use_warmup = config.warmup != "none" and depth >= config.warmup_min_depth
        self.warmup = config.warmup if use_warmup else "none"
        self.warmup_end: int | None = when.warmup_iters if use_warmup else 0
        self.recent: list[float] = []
        self.best_val = math.inf
        self.bad_evals = 0
        self.decays = 0

    def in_warmup(self, it: int) -> bool:
        return self.warmup != "none" and it < self.warmup_end

    def lr(self, it: int) -> float:
        c = self.c
        if self.in_warmup(it):
            if self.warmup == "constant":
                return c.warmup_lr
            return c.warmup_lr + (self._base(it) - c.warmup_lr) * it / self.warmup_end
        return self._base(it)

    def _base(self, it: int) -> float:
        c = self.c
        if c.schedule == "step":
            return c.lr * c.gamma ** sum(it >= m for m in self.milestones)
        if c.schedule == "plateau":
            return max(c.lr * c.gamma ** self.decays, c.final_lr)
        if c.schedule == "constant":
            return c.lr
        start = self.warmup_iters if self.warmup == "linear" else 0
        t = min(max((it - start) / max(self.total - start, 1), 0.0), 1.0)
        if c.schedule == "cosine":
            return c.final_lr + (c.lr - c.final_lr) * 0.5 * (1 + math.cos(math.pi * t))
        return c.lr + (c.final_lr - c.lr) * t  # onecycle: the linear way down after warm-up

    def watches_train_error(self, it: int) -> bool:
        """True while a constant warm-up waits for the training error (the paper's rule)."""
        return (self.warmup == "constant" and self.c.warmup_until_error is not None
                and self.in_warmup(it))

    def observe_train(self, it: int, batch_error: float) -> None:
        """After step `it`: end a constant warm-up once the mean error of the last
        ERROR_WINDOW batches is below warmup_until_error (%)."""
        if not self.watches_train_error(it):
            return
        self.recent = (self.recent + [batch_error])[-ERROR_WINDOW:]
        if len(self.recent) == ERROR_WINDOW and (
                sum(self.recent) / ERROR_WINDOW < self.c.warmup_until_error):
            self.warmup_end = it + 1

    def observe_val(self, val_error: float) -> None:
        """Plateau: divide the lr by 1/gamma after `plateau_patience` evaluations without a
        gain of `plateau_threshold` points."""
        if self.c.schedule != "plateau":
            return
        if val_error < self.best_val - self.c.plateau_threshold:
            self.best_val, self.bad_evals = val_error, 0
            return
        self.bad_evals += 1
        if self.bad_evals >= self.c.plateau_patience:
            self.decays, self.bad_evals = self.decays + 1, 0

    def state_dict(self) -> dict[str, Any]:
        return {"warmup_end": self.warmup_end, "recent": list(self.recent),
                "best_val": self.best_val, "bad_evals": self.bad_evals, "decays": self.decays}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.warmup_end = state["warmup_end"]
        self.recent = list(state["recent"])
        self.best_val = state["best_val"]
        self.bad_evals = state["bad_evals"]
        self.decays = state["decays"]


def lr_lambda(config: TrainConfig, total_iters: int, batches_per_epoch: int = 1,
              depth: int = 0) -> Callable[[int], float]:
    """A function it -> lr(it) / config.lr for torch's LambdaLR (stepped once per optimizer
    step). A warm-up that waits for the training error needs ScheduleLR.observe_train."""
    schedule = LRSchedule(config, total_iters, batches_per_epoch, depth)
    return lambda it: schedule.lr(it) / config.lr


class ScheduleLR(LRScheduler):
    """A torch LRScheduler following a recipe's schedule; call step() once per optimizer
    step. observe_train(error %) after a step feeds the paper's error-ended warm-up,
    observe_val(error %) the plateau schedule; state_dict() saves their state too.

    A param group built at config.lr gets exactly lr(it); any other group its initial lr
    times lr(it) / config.lr."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: TrainConfig,
                 total_iters: int, batches_per_epoch: int = 1, depth: int = 0,
                 last_epoch: int = -1, *, when: Timing | None = None):
        self.schedule = LRSchedule(config, total_iters, batches_per_epoch, depth, when)
        self.base = config.lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lr = self.schedule.lr(max(self.last_epoch, 0))
        return [lr if base == self.base else base * lr / self.base for base in self.base_lrs]

    def watches_train_error(self) -> bool:
        """True while a constant warm-up waits for the training error of this step."""
        return self.schedule.watches_train_error(self.last_epoch)

    def observe_train(self, batch_error: float) -> None:
        self.schedule.observe_train(self.last_epoch, batch_error)

    def observe_val(self, val_error: float) -> None:
        """A validation error: the plateau schedule may lower the lr, from the next step on."""
        self.schedule.observe_val(val_error)
        self._apply()

    def _apply(self) -> None:
        """Set the groups' lr to the schedule's at the current iteration."""
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "schedule")}
        state["schedule_state"] = self.schedule.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        self.schedule.load_state_dict(state.pop("schedule_state"))
        self.__dict__.update(state)
        self._apply()  # the same lr, unless the schedule's config changed (resume --force)

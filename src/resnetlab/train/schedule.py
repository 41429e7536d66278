"""The learning rate at every iteration: step / cosine / one-cycle / plateau, with warm-up.

The lr is a function of the iteration plus a little state (the paper's error-triggered
warm-up, the plateau counter) that is saved with the train state, so a resumed run follows
the same schedule.
"""

from __future__ import annotations

import math
from typing import Any

from resnetlab.train.config import TrainConfig

ERROR_WINDOW = 10  # batches averaged by the error-triggered warm-up


class LRSchedule:
    """lr(it) for a config; observe_train / observe_val feed the error-driven parts."""

    def __init__(self, config: TrainConfig, total_iters: int, batches_per_epoch: int = 1,
                 depth: int = 0):
        self.c = config
        self.total = total_iters
        self.milestones = sorted(config.milestone_iters(batches_per_epoch))
        use_warmup = config.warmup != "none" and depth >= config.warmup_min_depth
        self.warmup = config.warmup if use_warmup else "none"
        self.warmup_end: int | None = config.warmup_iters if use_warmup else 0
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
        start = self.c.warmup_iters if self.warmup == "linear" else 0
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

"""Choosing by validation: early stopping with patience, and the top-k checkpoints.

Both judge a validation error (lower is better), keep plain JSON-able state (saved with the
training state, so a resumed run decides as the uninterrupted one would), and know nothing
of the loop: it asks them after each evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path


class EarlyStopping:
    """stop(error) is True once `patience` evaluations in a row failed to beat the best by more
    than min_delta (patience 0 = never stop)."""

    def __init__(self, patience: int = 0, min_delta: float = 0.0):
        if patience < 0 or min_delta < 0:
            raise ValueError(f"early_stop_patience and early_stop_delta must be >= 0, got "
                             f"{patience} and {min_delta}")
        self.patience, self.min_delta = patience, min_delta
        self.best, self.bad = math.inf, 0

    def stop(self, error: float) -> bool:
        if error < self.best - self.min_delta:
            self.best, self.bad = error, 0
        else:
            self.bad += 1
        return bool(self.patience) and self.bad >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "bad": self.bad}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad = float(state["best"]), int(state["bad"])


class TopK:
    """Keeps the k checkpoints of lowest validation error in `folder` as best-<iter>.<suffix>:
    offer() saves through save(path) only when the error makes the top k, and removes the
    file it pushes out. Ties keep the earlier checkpoint."""

    def __init__(self, folder: str | Path, k: int, suffix: str = "safetensors"):
        if k < 0:
            raise ValueError(f"keep_top_k must be >= 0 (0 = off), got {k}")
        self.folder, self.k, self.suffix = Path(folder), k, suffix
        self.kept: list[tuple[float, int]] = []  # (error, iteration), best first

    def path(self, iteration: int) -> Path:
        return self.folder / f"best-{iteration:08d}.{self.suffix}"

    def offer(self, iteration: int, error: float, save: Callable[[Path], object]) -> bool:
        """Save this checkpoint if it is among the k best so far; True if it was saved."""
        if not self.k:
            return False
        ranked = sorted([*self.kept, (error, iteration)])
        if (error, iteration) not in ranked[:self.k]:
            return False
        save(self.path(iteration))
        for _, it in ranked[self.k:]:  # the weights and the description beside them
            self.path(it).unlink(missing_ok=True)
            self.path(it).with_suffix(".json").unlink(missing_ok=True)
        self.kept = ranked[:self.k]
        return True

    def state_dict(self) -> dict:
        return {"kept": [list(item) for item in self.kept]}

    def load_state_dict(self, state: dict) -> None:
        self.kept = [(float(e), int(i)) for e, i in state["kept"]]

"""What the person sees while a run trains: a tqdm bar on a terminal, plain lines otherwise
(and TensorBoard's scalars, when installed).

The bar fits 80 columns with its images/s and ETA; it says "evaluating" while a split is
scored; the ETA counts the evaluations still to come (each as long as the mean one so far).
"""

from __future__ import annotations

import sys
import time
from typing import Any

LINE_SECONDS = 15.0  # plain-line mode: at most one progress line this often (plus evaluations)
BAR_FORMAT = "{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{postfix}"  # postfix: ", ..."


class Progress:
    """mode: "auto" (bar on a terminal, else lines), "bar", "lines" or "off"."""

    def __init__(self, total: int, batches_per_epoch: int, mode: str = "auto",
                 enabled: bool = True, stream=None, eval_every: int = 0,
                 ncols: int | None = None):
        self.total, self.bpe = total, batches_per_epoch
        self.eval_every = eval_every or batches_per_epoch  # 0: at each epoch end
        self.ncols = ncols  # None: the terminal's width, followed as it changes
        self.eval_seconds, self.evals, self.eval_start = 0.0, 0, None
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode = mode if enabled else "off"
        self.bar = None
        self.t0 = self.last_line = 0.0
        self.start_it = 0

    def start(self, it: int, schedule: str = "") -> None:
        """Begin at iteration `it`; `schedule` (the effective lr schedule, in words) is the
        first line the person sees."""
        self.t0, self.start_it = time.perf_counter(), it
        if schedule and self.mode != "off":
            self._print(schedule)
        if self.mode == "bar":
            from tqdm import tqdm  # lazy: only the "bar" mode draws one

            self.bar = tqdm(total=self.total, initial=it, file=self.stream, unit="it",
                            dynamic_ncols=self.ncols is None, ncols=self.ncols,
                            bar_format=BAR_FORMAT, mininterval=0.5)
        elif self.mode == "lines" and it:
            self._print(f"resuming at iteration {it} of {self.total}")

    def evals_left(self, it: int) -> int:
        """Evaluations after iteration `it`: the periodic ones before the end, and the final."""
        return max(0, (self.total - 1) // self.eval_every - it // self.eval_every) + 1

    def eta_seconds(self, it: int) -> float | None:
        """Training time left at the rate so far (evaluations excluded) plus the evaluations
        left at their mean duration so far (None before the first iteration)."""
        done = it - self.start_it
        if done <= 0:
            return None
        train = time.perf_counter() - self.t0 - self.eval_seconds
        evals = self.eval_seconds / self.evals * self.evals_left(it) if self.evals else 0.0
        return max(0.0, train / done * (self.total - it)) + evals

    def _eta(self, it: int) -> str:
        s = self.eta_seconds(it)
        if s is None:
            return "?"
        return f"{int(s // 3600)}:{int(s % 3600 // 60):02d}:{int(s % 60):02d}"

    def evaluating(self, it: int) -> None:
        """A split is about to be scored: the bar says so (and the ETA clock notes it)."""
        self.eval_start = time.perf_counter()
        if self.bar is not None:
            self.bar.set_description_str("evaluating ", refresh=True)

    def fields(self, it: int, row: dict[str, Any]) -> dict[str, str]:
        return {"epoch": f"{it / self.bpe:.2f}", "loss": f"{row['train_loss']:.3f}",
                "err": f"{row['train_error']:.1f}%", "lr": f"{row['lr']:.3g}",
                "img/s": f"{row['images_per_second']:.0f}"}

    def update(self, it: int, row: dict[str, Any]) -> None:
        if self.mode == "bar":
            self.bar.set_postfix_str(
                f"loss {row['train_loss']:.3f} err {row['train_error']:.1f}% "
                f"{row['images_per_second']:.0f} img/s eta {self._eta(it)}", refresh=False)
            self.bar.update(it - self.bar.n)
        elif self.mode == "lines":
            now = time.perf_counter()
            if now - self.last_line >= LINE_SECONDS or it == self.total:
                self.last_line = now
                f = self.fields(it, row)
                self._print(f"iter {it}/{self.total} " + " ".join(
                    f"{k} {v}" for k, v in f.items()) + f" eta {self._eta(it)}")

    def note(self, it: int, errors: dict[str, float]) -> None:
        """An evaluation's errors, printed above the bar (or as a line)."""
        if self.eval_start is not None:
            self.eval_seconds += time.perf_counter() - self.eval_start
            self.evals, self.eval_start = self.evals + 1, None
        if self.bar is not None:
            self.bar.set_description_str("", refresh=True)
        if not errors or self.mode == "off":
            return
        text = f"iter {it}/{self.total}: " + ", ".join(
            f"{k.replace('_error', '')} error {v:.2f}%" for k, v in errors.items())
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            self._print(text)

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def tensorboard_writer(out, setting: bool | None, main: bool):
    """The main process's TensorBoard writer in out/tb, or None. setting (the tensorboard
    key): None (auto) logs when the optional package is installed; True requires it (checked
    on every rank, so that no rank waits for one that stopped); False turns it off."""
    if setting is False:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional: the tensorboard extra
    except ImportError as e:
        if setting:
            raise ValueError("tensorboard=true, but TensorBoard is not installed: pip install "
                             "'resnetlab[tensorboard]' (or leave tensorboard unset: it is then "
                             "used only when installed)") from e
        return None
    return SummaryWriter(str(out / "tb")) if main else None

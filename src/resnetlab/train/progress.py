"""What the person sees while a run trains: a tqdm bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

LINE_SECONDS = 15.0  # plain-line mode: at most one progress line this often (plus evaluations)


class Progress:
    """mode: "auto" (bar on a terminal, else lines), "bar", "lines" or "off"."""

    def __init__(self, total: int, batches_per_epoch: int, mode: str = "auto",
                 enabled: bool = True, stream=None):
        self.total, self.bpe = total, batches_per_epoch
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
                            dynamic_ncols=True, smoothing=0.1)
        elif self.mode == "lines" and it:
            self._print(f"resuming at iteration {it} of {self.total}")

    def _eta(self, it: int) -> str:
        done = it - self.start_it
        if done <= 0:
            return "?"
        s = (time.perf_counter() - self.t0) / done * (self.total - it)
        return f"{int(s // 3600)}:{int(s % 3600 // 60):02d}:{int(s % 60):02d}"

    def fields(self, it: int, row: dict[str, Any]) -> dict[str, str]:
        return {"epoch": f"{it / self.bpe:.2f}", "loss": f"{row['train_loss']:.3f}",
                "err": f"{row['train_error']:.1f}%", "lr": f"{row['lr']:.3g}",
                "img/s": f"{row['images_per_second']:.0f}"}

    def update(self, it: int, row: dict[str, Any]) -> None:
        if self.mode == "bar":
            self.bar.set_postfix(self.fields(it, row), refresh=False)
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

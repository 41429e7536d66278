"""matplotlib's one door, and a run's pictures, in the paper's style and readable in print.

Error axes in %, thin dashed lines for training error and bold lines for test error (the
paper's Fig. 1/4/6 convention; validation: medium, dotted): a run's curves and confusion
matrix (written by fit). The experiments' and analyses' figures: analysis/figures.py, drawn
through pyplot() and save_figure() here. Every figure is written atomically as a PNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from resnetlab.io import atomic_write

STYLES = {
    "train_error": dict(linestyle="--", linewidth=0.9),
    "val_error": dict(linestyle=":", linewidth=1.6),
    "test_error": dict(linestyle="-", linewidth=2.2),
}
LABELS = {"train_error": "train", "val_error": "val", "test_error": "test"}
PLOTS_HINT = "pip install 'resnetlab[plots]'"
DPI = 150


class MissingPlots(ImportError):
    """matplotlib (the plots extra) is needed and not installed; the message names the fix."""


def require(what: str) -> None:
    """Refuse up front, with the fix, a command whose output is figures (reproduce, analyze
    gradients) when matplotlib is missing: better than training for an hour and failing at
    the first figure."""
    try:
        import matplotlib  # noqa: F401  (lazy on purpose, see pyplot)
    except ImportError:
        raise MissingPlots(f"{what} draws its figures with matplotlib, which is not "
                           f"installed: {PLOTS_HINT}") from None


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend. Imported here, lazily, on purpose:
    matplotlib is heavy and may become an optional extra, so no module imports it at the top
    (keep every matplotlib import inside a function). Without it: an ImportError that names
    the plots extra."""
    try:
        import matplotlib
    except ImportError as e:  # optional (the plots extra): training then skips curves.png
        raise MissingPlots(f"plots need matplotlib, which is not installed: {PLOTS_HINT}"
                           ) from e

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, note: str = "") -> Path:
    """Lay out, write atomically as PNG, close. `note` goes under the panels, in italics."""
    path = Path(path)
    try:
        if note:
            fig.text(0.5, 0.01, note, ha="center", fontsize=8, style="italic")
        fig.tight_layout(rect=(0, 0.04 if note else 0, 1, 1))
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))
    finally:
        pyplot().close(fig)
    return path


Runs = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]]


def plot_curves(runs: Runs, path: str | Path, title: str = "") -> Path:
    """Write curves_figure(runs, title) to path as a PNG."""
    return save_figure(curves_figure(runs, title), path)


def curves_figure(runs: Runs, title: str = ""):
    """Error % vs iterations for one run's metrics rows, or {label: rows} for several runs
    (one colour per run); below it, when the rows hold them, a second panel of the training
    loss (left axis) and the learning rate (right axis) against the same iterations."""
    if not isinstance(runs, Mapping):
        runs = {"": runs}
    has_loss = any(r.get("train_loss") is not None or r.get("lr") is not None
                   for rows in runs.values() for r in rows)
    if has_loss:
        fig, (ax, low) = pyplot().subplots(2, 1, figsize=(6.4, 6.4), sharex=True,
                                           height_ratios=(3, 2))
    else:
        fig, ax = pyplot().subplots(figsize=(6.4, 4.2))
    top = 0.0
    for i, (label, rows) in enumerate(runs.items()):
        color = f"C{i}"
        for key, style in STYLES.items():
            pts = [(r["iter"], r[key]) for r in rows if r.get(key) is not None]
            if not pts:
                continue
            xs, ys = zip(*pts)
            name = f"{label} {LABELS[key]}".strip()
            ax.plot(xs, ys, color=color, label=name, marker="o" if len(pts) == 1 else None,
                    **style)
            top = max(top, max(ys))
    ax.set_xlabel("iterations")
    ax.set_ylabel("error (%)")
    ax.set_ylim(0, min(100, top * 1.05) if top else 100)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if ax.lines:
        ax.legend(fontsize=8)
    if has_loss:
        _loss_and_lr(low, runs)
    return fig


def _loss_and_lr(ax, runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Training loss (solid, left axis) and lr (dotted, right axis) against iterations."""
    lr_ax = ax.twinx()
    lrs = []
    for i, (label, rows) in enumerate(runs.items()):
        for key, axis, style in (("train_loss", ax, "-"), ("lr", lr_ax, ":")):
            pts = [(r["iter"], r[key]) for r in rows if r.get(key) is not None]
            if pts:
                xs, ys = zip(*pts)
                axis.plot(xs, ys, color=f"C{i}", linestyle=style,
                          label=f"{label} {'training loss' if key == 'train_loss' else 'lr'}"
                          .strip())
                lrs += list(ys) if key == "lr" else []
    if lrs and min(lrs) > 0 and max(lrs) / min(lrs) > 20:
        lr_ax.set_yscale("log")
    ax.set_xlabel("iterations")
    ax.set_ylabel("training loss")
    lr_ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    handles = ax.get_lines() + lr_ax.get_lines()
    if handles:
        ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper right")


def plot_confusion(confusion: Sequence[Sequence[int]], classes: Sequence[str],
                   path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (true class per row), counts written in the cells."""
    m = np.asarray(confusion, dtype=float)
    frac = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    size = max(4.0, 0.55 * n + 2)
    fig, ax = pyplot().subplots(figsize=(size, size * 0.9))
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            if m[i, j]:
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black")
    if title:
        ax.set_title(title)
    return save_figure(fig, path)

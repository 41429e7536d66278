"""A run's pictures: error curves in the paper's style and the confusion matrix.

Curves follow the paper's Fig. 1/4/6: error (%) against iterations, thin dashed lines for
training error, bold lines for test error (validation: medium, dotted). Written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PLOTS_HINT = "pip install 'resnetlab[plots]'"

try:
    import matplotlib
except ImportError as e:  # optional (the plots extra): training then skips curves.png
    raise ImportError(f"plots need matplotlib, which is not installed: {PLOTS_HINT}") from e

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from resnetlab.checkpoint import atomic_write  # noqa: E402

STYLES = {
    "train_error": dict(linestyle="--", linewidth=0.9),
    "val_error": dict(linestyle=":", linewidth=1.6),
    "test_error": dict(linestyle="-", linewidth=2.2),
}
LABELS = {"train_error": "train", "val_error": "val", "test_error": "test"}


def _save(fig, path: str | Path, dpi: int = 150) -> Path:
    try:
        fig.tight_layout()
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    finally:
        plt.close(fig)


Runs = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]]


def plot_curves(runs: Runs, path: str | Path, title: str = "") -> Path:
    """Write curves_figure(runs, title) to path as a PNG."""
    return _save(curves_figure(runs, title), path)


def curves_figure(runs: Runs, title: str = ""):
    """Error % vs iterations for one run's metrics rows, or {label: rows} for several runs
    (one colour per run)."""
    if not isinstance(runs, Mapping):
        runs = {"": runs}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
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
    return fig


def plot_confusion(confusion: Sequence[Sequence[int]], classes: Sequence[str],
                   path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (true class per row), counts written in the cells."""
    import numpy as np

    m = np.asarray(confusion, dtype=float)
    frac = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    size = max(4.0, 0.55 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
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
    return _save(fig, path)

"""The experiments' and analyses' figures, in the paper's style: one colour per depth, thin
dashed training error and bold test error, a legend naming depth and type (matplotlib through
analysis/plots.py's pyplot() and save_figure())."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from resnetlab.analysis.plots import STYLES, pyplot, save_figure

# One colour per depth, stable across figures (colour-blind-safe Okabe-Ito order).
DEPTH_COLORS = {
    8: "#999999", 14: "#56B4E9", 18: "#E69F00", 20: "#E69F00", 32: "#56B4E9", 34: "#56B4E9",
    44: "#009E73", 50: "#009E73", 56: "#D55E00", 101: "#D55E00", 110: "#CC79A7",
    152: "#CC79A7", 1202: "#000000",
}
_EXTRA = ["#0072B2", "#F0E442", "#8C564B", "#17BECF"]
TRAIN_STYLE = STYLES["train_error"]  # the per-run curves' styles
TEST_STYLE = {**STYLES["test_error"], "marker": "o", "markersize": 3}


def depth_color(depth: int, index: int = 0) -> str:
    return DEPTH_COLORS.get(depth, _EXTRA[index % len(_EXTRA)])


def _iters_formatter(max_iter: float):
    from matplotlib.ticker import FuncFormatter  # lazy: see pyplot()

    if max_iter >= 10_000:
        return FuncFormatter(lambda v, _: f"{v / 1e4:g}e4")
    return FuncFormatter(lambda v, _: f"{v:g}")


def error_curves(ax, curves: Sequence[dict], title: str, ylim: float | None = None) -> None:
    """Train (dashed) and test (bold) error against iterations, one colour per curve.

    Each curve: {"label", "depth", "train": [(iter, err)], "test": [(iter, err)]}.
    """
    max_iter = 1.0
    for i, c in enumerate(curves):
        color = c.get("color") or depth_color(c["depth"], i)
        if c.get("train"):
            it, err = zip(*c["train"])
            ax.plot(it, err, color=color, **TRAIN_STYLE)
            max_iter = max(max_iter, max(it))
        if c.get("test"):
            it, err = zip(*c["test"])
            ax.plot(it, err, color=color, label=c["label"], **TEST_STYLE)
            max_iter = max(max_iter, max(it))
        elif c.get("train"):
            ax.plot([], [], color=color, label=c["label"], **TEST_STYLE)
    ax.set_title(title)
    ax.set_xlabel("iterations")
    ax.set_ylabel("error (%)")
    ax.xaxis.set_major_formatter(_iters_formatter(max_iter))
    ax.set_ylim(0, ylim if ylim else None)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, frameon=True)


def comparison_figure(
    panels: Sequence[tuple[str, Sequence[dict]]], path: str | Path,
    note: str = "dashed: training error, bold: test error",
) -> Path:
    """Side-by-side error-curve panels sharing the y axis (plain left, ResNet right)."""
    ymax = 0.0
    for _, curves in panels:
        for c in curves:
            for key in ("train", "test"):
                ymax = max([ymax] + [e for _, e in c.get(key) or []])
    ylim = min(100.0, max(5.0, ymax * 1.05))
    fig, axes = pyplot().subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), sharey=True,
                             squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels):
        error_curves(ax, curves, title, ylim)
    return save_figure(fig, path, note)


def responses_figure(stds: dict[str, Sequence[float]], path: str | Path) -> Path:
    """Fig. 7: std of each 3x3 layer's response against layer index (top), sorted (bottom)."""
    from matplotlib.ticker import MaxNLocator  # lazy: see pyplot()

    fig, (top, bottom) = pyplot().subplots(2, 1, figsize=(7.0, 6.4))
    for i, (label, values) in enumerate(stds.items()):
        depth = int("".join(ch for ch in label if ch.isdigit()) or 0)
        style = dict(color=depth_color(depth, i), linewidth=1.4,
                     linestyle="--" if label.startswith("plain") else "-")
        top.plot(range(1, len(values) + 1), values, label=label, **style)
        bottom.plot(range(1, len(values) + 1), sorted(values, reverse=True), label=label,
                    **style)
    top.set_xlabel("layer index (original)")
    bottom.set_xlabel("layer index (sorted by magnitude)")
    for ax in (top, bottom):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("std")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
    return save_figure(fig, path)


def gradients_figure(profiles: Sequence[dict], path: str | Path) -> Path:
    """Gradient norm per convolution (log scale) at init (left) and after k steps (right)."""
    from matplotlib.ticker import MaxNLocator  # lazy: see pyplot()

    fig, axes = pyplot().subplots(1, 2, figsize=(10.4, 4.0), sharey=True)
    steps = max((p["steps"] for p in profiles), default=0)
    for i, p in enumerate(profiles):
        depth = int("".join(ch for ch in p["name"] if ch.isdigit()) or 0)
        style = dict(color=depth_color(depth, i), linewidth=1.4,
                     linestyle="-" if p["residual"] else "--")
        for ax, key in zip(axes, ("init", "after")):
            ax.plot(range(1, len(p[key]) + 1), p[key], label=p["name"], **style)
    axes[0].set_title("at initialisation")
    axes[1].set_title(f"after {steps} SGD steps")
    for ax in axes:
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("convolution index (input → output)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("‖∂loss/∂W‖₂")
    return save_figure(fig, path, "dashed: plain, solid: residual")


def block_gradients_figure(results: Sequence[dict], path: str | Path) -> Path:
    """One panel per family: ‖∂loss/∂x‖ at each block's input over the output's (log), at
    relative depth (0: first block, 1: output), one colour per depth; the last panel: first
    block / output against depth, one line per family."""
    families = list(dict.fromkeys(r["family"] for r in results))
    fig, axes = pyplot().subplots(1, len(families) + 1, figsize=(3.6 * (len(families) + 1), 3.8))
    depths = sorted({r["depth"] for r in results})
    for ax, family in zip(axes, families):
        for r in (r for r in results if r["family"] == family):
            n = len(r["norms"]) - 1
            rel = [v / r["norms"][-1] for v in r["norms"]]
            ax.plot([i / n for i in range(n + 1)], rel, linewidth=1.4,
                    color=depth_color(r["depth"], depths.index(r["depth"])),
                    label=f"{r['depth']} ({r['block']})")
        ax.set_title(family)
        ax.set_yscale("log")
        ax.set_xlabel("block (0: first, 1: output)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, title="depth", title_fontsize=7)
    axes[0].set_ylabel("‖∂loss/∂x‖ / ‖∂loss/∂x_output‖")
    ax = axes[-1]
    for family in families:
        rows = sorted((r["depth"], r["first_over_last"]) for r in results
                      if r["family"] == family)
        ax.plot(*zip(*rows), marker="o", linewidth=1.6, label=family)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.minorticks_off()
    ax.set_xticks(depths)
    ax.set_xticklabels([str(d) for d in depths], fontsize=7, rotation=45)
    ax.set_xlabel("depth (layers)")
    ax.set_title("first block / output")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path, "at He initialisation, training-mode BN, one probe batch")


def depth_figure(rows: Sequence[dict], path: str | Path, reference_label: str = "paper"
                 ) -> Path:
    """Test error against depth: ours (mean ± std over seeds) beside a published column."""
    fig, ax = pyplot().subplots(figsize=(5.6, 4.0))
    depths = [r["depth"] for r in rows]
    ax.errorbar(depths, [r["mean"] for r in rows], yerr=[r["std"] or 0 for r in rows],
                marker="o", linewidth=2.0, capsize=3, label="this run (final model)")
    ref = [(r["depth"], r["reference"]) for r in rows if r.get("reference") is not None]
    if ref:
        ax.plot(*zip(*ref), marker="s", linestyle="--", linewidth=1.0, label=reference_label)
    ax.set_xscale("log")
    ax.set_xticks(depths)
    ax.set_xticklabels([str(d) for d in depths])
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("test error (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def options_figure(values: dict[str, Sequence[float]], path: str | Path,
                   reference: dict[str, float] | None = None,
                   reference_label: str = "paper") -> Path:
    """Table 3 as a figure: test error per shortcut option, every seed as a dot, the mean ±
    std over seeds as a bar with whiskers; a published column on its own axis (it is a
    different data set and net, so only its direction and gaps compare)."""
    names = list(values)
    fig, ax = pyplot().subplots(figsize=(5.6, 4.0))
    xs = range(len(names))
    _seed_bars(ax, list(xs), [values[n] for n in names], 0.55, "#56B4E9", "mean over seeds")
    lo = min(min(v) for v in values.values())
    hi = max(max(v) for v in values.values())
    pad = max(0.3, (hi - lo) * 0.6)
    ax.set_ylim(max(0.0, lo - pad), hi + pad)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([f"option {n}" for n in names])
    ax.set_ylabel("test error (%)")
    ax.grid(True, axis="y", alpha=0.3)
    if reference:
        twin = ax.twinx()
        twin.plot(list(xs), [reference.get(n) for n in names], "s--", color="#555555",
                  linewidth=1.0, label=reference_label)
        twin.set_ylabel(f"{reference_label} (%)", color="#555555")
        twin.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    return save_figure(fig, path)


def _seed_bars(ax, xs: Sequence[float], values: Sequence[Sequence[float]], width: float,
               color: str, label: str, first: bool = True) -> None:
    """A bar at each mean over seeds, whiskers ± one sample std, every seed as a dot (first:
    the whiskers and dots get their legend entries)."""
    means = [sum(v) / len(v) for v in values]
    stds = [(sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0.0
            for v, m in zip(values, means)]
    ax.bar(xs, means, width=width, color=color, alpha=0.6, label=label)
    ax.errorbar(xs, means, yerr=stds, fmt="none", ecolor="black", capsize=4, linewidth=1.2,
                label="± std over seeds" if first else None)
    for i, (x, v) in enumerate(zip(xs, values)):
        ax.plot([x] * len(v), v, "o", color="#D55E00", markersize=3.5,
                label="one seed" if i == 0 and first else None)


def ablation_figure(series: dict[str, dict[str, Sequence[float]]], path: str | Path,
                    title: str = "") -> Path:
    """Error (%) per variant of an ablation, in the order given: one bar group per variant,
    one bar per series (test error, training error), every seed as a dot."""
    names = list(next(iter(series.values())))
    fig, ax = pyplot().subplots(figsize=(max(5.6, 1.0 * len(names) + 1.5), 4.2))
    width = 0.8 / len(series)
    colors = ("#56B4E9", "#E69F00", "#009E73")
    for k, (what, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(names))]
        _seed_bars(ax, xs, [values[n] for n in names], width * 0.9, colors[k % 3], what,
                   first=k == 0)
    flat = [x for values in series.values() for v in values.values() for x in v]
    bottom = 0.0
    if flat:  # zoomed on the values: gains of a point are the story, not the bars' height
        pad = max(0.3, (max(flat) - min(flat)) * 0.3)
        bottom = max(0.0, min(flat) - pad)
        ax.set_ylim(bottom, max(flat) + pad)
    ax.set_xticks(list(range(len(names))))
    ax.set_xticklabels(names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("error (%)" + (" (axis does not start at 0)" if bottom > 0 else ""))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)

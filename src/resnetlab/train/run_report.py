"""A run's report.md, and the files of a finished run rebuilt from its folder (report.md,
curves.png, metrics.csv) when a kill took them: what the run folder holds, written for people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from resnetlab.analysis.plots import plot_curves
from resnetlab.io import atomic_write_text
from resnetlab.train.config import TrainConfig, config_from_dict, ignored_keys
from resnetlab.train.run_folder import (
    CONFIG_FILE,
    CURVES_FILE,
    METRICS_CSV,
    REPORT_FILE,
    clear_stale_temporaries,
    read_config,
    read_metrics,
    write_metrics_csv,
)


def restore_artefacts(out: Path, summary: dict[str, Any]) -> list[str]:
    """Rewrite what a complete run folder lacks (report.md, curves.png, metrics.csv) from
    metrics.jsonl, config.yaml and summary.json, without training; the names rewritten."""
    try:
        clear_stale_temporaries(out)
    except OSError:  # a complete run in a read-only folder is still returned as it is
        pass
    missing = [n for n in (METRICS_CSV, CURVES_FILE, REPORT_FILE) if not (out / n).is_file()]
    if not missing:
        return []
    config = config_from_dict(read_config(out), str(out / CONFIG_FILE))
    rows = read_metrics(out)
    if METRICS_CSV in missing:
        write_metrics_csv(out, rows)
    if CURVES_FILE in missing:
        try:  # matplotlib is optional (the plots extra): without it there is no curves.png
            plot_curves(rows, out / CURVES_FILE, title=f"{config.model} on {config.data}")
        except ImportError:
            missing.remove(CURVES_FILE)
    if REPORT_FILE in missing:
        atomic_write_text(out / REPORT_FILE, format_report(summary, config,
                                                           folder=summary.get("folder", False)))
    return missing



def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


# Keys only image folders read, and keys only the in-memory sets (cifar, mnist, ...) read.
FOLDER_KEYS = ("image_size", "scale_min", "scale_max", "lighting", "eval_resize", "test_views",
               "test_scales", "workers", "crop", "rrc_scale", "rrc_ratio", "eval_size")
MEMORY_KEYS = ("pad", "normalize")
CONFUSION_MAX_CLASSES = 20


def applicable_keys(config: TrainConfig, folder: bool) -> dict[str, Any]:
    """The config's keys that this run reads: no crop keys for an in-memory set, no milestones
    under a schedule without them (config.yaml keeps every key)."""
    skip = set(MEMORY_KEYS if folder else FOLDER_KEYS) | ignored_keys(config)
    if not config.schedule_reference:
        skip.add("schedule_reference")
    return {k: v for k, v in config.to_dict().items() if k not in skip}


def format_report(summary: dict[str, Any], config: TrainConfig, folder: bool = False,
                  confusion: list[list[int]] | None = None,
                  classes: list[str] | None = None) -> str:
    """report.md: what was trained, the final and best-on-validation numbers, per-class
    accuracy and (for up to CONFUSION_MAX_CLASSES classes) the test confusion matrix, the
    recipe keys that apply to this data, time, machine."""
    final, best = summary.get("final", {}), summary.get("best")
    if confusion is None:  # a report rebuilt from summary.json alone
        confusion = final.get("test_confusion")
        classes = classes or list(final.get("test_per_class_accuracy") or {})
    head = f"# {config.model} on {config.data}" + (f" ({config.recipe})" if config.recipe else "")
    lines = [head,
             "", f"Status: {summary['status']}. {summary['iters']} iterations "
             f"({summary['epochs']:.2f} epochs) in {duration(summary['time_seconds'])}, "
             f"{summary['train_images_per_second']:.0f} training images/s on "
             f"{summary['device']} (amp: {summary['amp']}).", ""]
    if summary.get("schedule"):
        lines += [f"Learning rate: {summary['schedule']}.", ""]
    lines += ["| | error % |", "|---|---|"]
    for key, label in (("test_error", "final test top-1"), ("test_top5_error", "final test top-5"),
                       ("val_error", "final validation top-1"), ("train_error",
                                                                  "train (last window)")):
        if final.get(key) is not None:
            lines.append(f"| {label} | {final[key]:.2f} |")
    if best:
        lines.append(f"| best validation (iter {best['iter']}) | {best['val_error']:.2f} |")
        if best.get("test_error") is not None:
            lines.append(f"| test at best validation | {best['test_error']:.2f} |")
    exploded = summary.get("loss_exploded")
    if exploded:
        lines += ["", f"**Warning: the training loss exploded**: {exploded['train_loss']:.3g} at "
                  f"iteration {exploded['iter']}, more than {exploded['factor']:g}x its first "
                  f"logged value ({exploded['early_loss']:.3g}). The run may have diverged while "
                  "staying finite: lower lr, or add warm-up or grad_clip."]
    counts = [f"{final[f'{k}_images']} {k}" for k in ("test", "val") if final.get(f"{k}_images")]
    if counts:
        lines += ["", f"Images evaluated: {', '.join(counts)}."]
    skipped = summary.get("skipped_images") or {}
    if skipped:
        lines += ["", f"**{len(skipped)} image(s) could not be read and were skipped:**", ""]
        lines += [f"- `{path}`: {why}" for path, why in skipped.items()]
    init = summary.get("init")
    if init:
        lines += ["", "## Init weights", "", init["summary"] + "."]
        if init.get("frozen"):
            lines.append(f"Frozen (no gradients, BatchNorm in eval mode): "
                         f"{', '.join(init['frozen'])}.")
    if summary.get("data_pipeline"):
        lines += ["", "## Data", ""] + [f"- {note}" for note in summary["data_pipeline"]]
        lines.append("")
    select = ("best.safetensors is the checkpoint with the lowest validation error" if best
              else "there is no validation split: the model is the final weights")
    lines += ["", f"Errors are top-1 unless marked; {select}; nothing is selected on test.", "",
              f"![curves]({CURVES_FILE})", ""]
    lines += _per_class(final.get("test_per_class_accuracy"), confusion, classes)
    keys = applicable_keys(config, folder)
    lines += ["## Recipe", "", f"The keys this run reads ({CONFIG_FILE} holds all "
              f"{len(config.to_dict())}).", "",
              "```yaml", yaml.safe_dump(keys, sort_keys=False).rstrip(), "```", "",
              "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in {**summary.get("machine", {}),
                                          **summary.get("versions", {})}.items()]
    return "\n".join(lines) + "\n"


def _per_class(accuracy: dict[str, float] | None, confusion: list[list[int]] | None,
               classes: list[str] | None) -> list[str]:
    """## Per class: test accuracy per class, and the confusion matrix when small enough."""
    if not accuracy:
        return []
    lines = ["## Per class (test)", "", "| class | accuracy % |", "|---|---|"]
    lines += [f"| {name} | {acc:.2f} |" for name, acc in accuracy.items()]
    lines.append("")
    if confusion and classes and len(classes) <= CONFUSION_MAX_CLASSES:
        lines += ["Confusion matrix (rows: true class, columns: predicted; counts):", "",
                  "| true \\ predicted | " + " | ".join(classes) + " |",
                  "|---|" + "---|" * len(classes)]
        lines += [f"| {name} | " + " | ".join(str(int(v)) for v in row) + " |"
                  for name, row in zip(classes, confusion)]
        lines.append("")
    return lines

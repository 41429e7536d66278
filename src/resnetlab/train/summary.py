"""What a run says about itself: the setup lines of its log, the metadata saved with its
model files, summary.json (with the skipped images, or the divergence that stopped it), and
the files written when it ends (report.md, curves.png).

Each function reads the engine's Run (train/engine.py) and writes nothing but its own files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from resnetlab.analysis.plots import plot_curves
from resnetlab.checkpoint import save_model, unwrap
from resnetlab.io import atomic_write_text, write_json
from resnetlab.provenance import machine, versions
from resnetlab.train import run_folder, run_report
from resnetlab.train.devices import gather_objects
from resnetlab.train.evaluate import EvalResult
from resnetlab.train.run_folder import STATE_FILE


@dataclass
class RunResult:
    out_dir: Path
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    already_complete: bool = False  # out_dir held this finished run: nothing was trained


class DivergedError(ValueError):
    """The loss became NaN or infinite."""


def setup_lines(run) -> list[str]:
    """What the run chose: the data pipeline and, when fine-tuning, the weights loaded."""
    lines = [f"data: {note}" for note in run.splits.notes]
    if run.load_report is not None:
        lines.append(f"init: {run.load_report.summary()}")
    if run.frozen:
        lines.append(f"frozen (no gradients, BatchNorm in eval mode): {', '.join(run.frozen)}")
    return lines


def model_meta(run, results: dict[str, EvalResult]) -> dict[str, Any]:
    """model.json / best.json: how to rebuild and feed the model, and its scores."""
    return {"model": run.model_name, "overrides": run.overrides, "classes": run.splits.classes,
            "normalization": run.splits.normalization.to_meta(),
            "input_size": run.splits.input_size, "dataset": run.config.data,
            "recipe": run.config.to_dict(), "iter": run.it,
            "metrics": {f"{k}_error": r.top1_error for k, r in results.items()},
            "versions": versions()}


def save_last_model(run, results: dict[str, EvalResult]) -> None:
    """model.safetensors: the last weights (the EMA's when averaging)."""
    model = run.ema.module if run.ema is not None else run.model
    save_model(run.out / "model.safetensors", unwrap(model), model_meta(run, results))


def init_summary(run) -> dict[str, Any] | None:
    r = run.load_report
    if r is None:
        return None
    return {"source": r.source, "loaded": len(r.loaded), "new": list(r.new),
            "head_replaced": r.head_replaced, "frozen": list(run.frozen), "summary": r.summary()}


def run_summary(run, status: str, final: dict[str, EvalResult]) -> dict[str, Any]:
    """summary.json: status, position, speed, final and best errors, setup, machine."""
    config, rows, classes = run.config, run.rows, run.splits.classes
    last = rows[-1] if rows else {}
    ips = [r["images_per_second"] for r in rows]
    out = {"status": status, "recipe": config.recipe, "model": config.model,
           "data": config.data, "iters": run.it, "total_iters": run.total,
           "epochs": run.it / run.batches_per_epoch, "time_seconds": round(run.elapsed, 2),
           "train_images_per_second": sorted(ips)[len(ips) // 2] if ips else 0.0,
           "device": str(run.device),
           "amp": str(run.amp).replace("torch.", "") if run.amp else "off",
           "world_size": run.dist.world_size, "train_images": len(run.splits.train),
           "threads": torch.get_num_threads(), "best": run.best, "schedule": run.schedule_text,
           "data_pipeline": list(run.splits.notes), "init": init_summary(run),
           "final": {"train_loss": last.get("train_loss"), "train_error": last.get("train_error")},
           "loss_exploded": run_folder.loss_explosion(rows),
           "skipped_images": dict(sorted(run.skipped.items())),
           "stopped_early_at": run.stopped_at,
           "machine": machine(), "versions": versions()}
    for name, r in final.items():
        out["final"][f"{name}_images"] = r.n
        out["final"][f"{name}_error"] = r.top1_error
        if len(classes) > 5:  # top-5 says nothing with 5 classes or fewer
            out["final"][f"{name}_top5_error"] = r.top5_error
        out["final"][f"{name}_loss"] = r.loss
    reported = "test" if "test" in final else "val" if "val" in final else None
    if reported:
        out["final"][f"{reported}_per_class_accuracy"] = dict(
            zip(classes, final[reported].per_class_accuracy))
    if "test" in final and len(classes) <= run_report.CONFUSION_MAX_CLASSES:
        out["final"]["test_confusion"] = final["test"].confusion  # report.md is rebuilt
    out["folder"] = run.splits.folder  # from summary.json alone after a kill
    return out


def write_final_files(run, final: dict[str, EvalResult], summary: dict[str, Any]) -> None:
    """The finished run's files, summary.json last: "complete" only once all are written."""
    out = run.out
    save_last_model(run, final)
    run_folder.write_metrics(out, run.rows)
    try:  # matplotlib is optional (the plots extra)
        plot_curves(run.rows, out / run_folder.CURVES_FILE,
                    title=f"{run.model_name} on {run.config.data}")
    except ImportError as e:
        print(f"{run_folder.CURVES_FILE} not written: {e}", flush=True)
    test = final.get("test")
    atomic_write_text(out / run_folder.REPORT_FILE, run_report.format_report(
        summary, run.config, folder=run.splits.folder,
        confusion=test.confusion if test else None, classes=run.splits.classes))
    write_json(out / run_folder.SUMMARY_FILE, summary)


def note_skipped(run, loader) -> None:
    for path, why in getattr(loader, "skipped", None) or ():
        run.skipped.setdefault(str(path), str(why))


def gather_skipped(run) -> None:
    """Every rank's unreadable images into the list rank 0 records: each rank reads its own
    share of every batch, so one rank's list alone misses the others'. Called where every
    rank arrives (a checkpoint, the end)."""
    for theirs in gather_objects(run.skipped, run.dist, "skipped_images"):
        for path, why in theirs.items():
            run.skipped.setdefault(path, why)


def diverged(run, iteration: int, value: float, what: str = "the loss became",
             detail: str = "") -> None:
    """Mark summary.json "diverged" and stop with the advice to lower lr and resume."""
    last = "none yet" if not (run.out / STATE_FILE).is_file() else "kept" + (
        f" (iteration {run.saved_at})" if run.saved_at is not None else "")
    if run.dist.is_main:
        write_json(run.out / run_folder.SUMMARY_FILE,
                   {**run_summary(run, "diverged", {}), "diverged_at": iteration})
    run.progress.close()
    raise DivergedError(
        f"training diverged: {what} {value} at iteration {iteration} of {run.total}{detail}. "
        f"The last good checkpoint in {run.out} is {last}. Lower lr, set grad_clip or "
        "warm-up, then continue with --resume --force")

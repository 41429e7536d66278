"""fit(config, out_dir): train a model of the zoo on a data set, resumably, into a run folder.

A flat training loop: autocast + GradScaler in one step function, rank 0 alone logs and
saves, metrics summed over ranks, checkpoints atomic, position and RNG saved so that a
resumed run continues exactly where it stopped (mid-epoch included).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from resnetlab.analysis.plots import plot_curves
from resnetlab.checkpoint import first_non_finite, save_model, unwrap
from resnetlab.distributed import DistInfo, broadcast_buffers, convert_sync_batchnorm
from resnetlab.io import Notice, atomic_write_text, check_writable, write_json
from resnetlab.models.convert import load_weights
from resnetlab.models.registry import build_model, get_spec
from resnetlab.provenance import machine, versions
from resnetlab.train import run_folder
from resnetlab.train.config import TrainConfig
from resnetlab.train.data import Splits, load_splits, make_loader
from resnetlab.train.evaluate import EvalResult, evaluate_model
from resnetlab.train.finetune import freeze_stages, model_for, read_init
from resnetlab.train.own_data import data_label, own_splits
from resnetlab.train.progress import Progress
from resnetlab.train.run_folder import (
    STATE_FILE,
    load_train_state,
    save_train_state,
)
from resnetlab.train.runtime import (
    all_reduce_sum,
    auto_threads,
    barrier,
    dist_info,
    gather_objects,
    pick_device,
    resolve_amp,
    rng_state,
    seed_everything,
    set_rng_state,
)
from resnetlab.train.schedule import LRSchedule, describe, effective_config, never_decays
from resnetlab.train.step import TrainStep, build_optimizer


class DivergedError(ValueError):
    """The loss became NaN or infinite."""


# --deterministic with threads=0: a fixed thread count, not the idle cores at start (1 or 2 on
# a shared machine gave other sums, and other weights, run to run).
DETERMINISTIC_THREADS = 1


@dataclass
class RunResult:
    out_dir: Path
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    already_complete: bool = False  # out_dir held this finished run: nothing was trained


def fit(config: TrainConfig, out_dir: str | Path, resume: bool = True, force: bool = False,
        progress: str | None = None, *, model: nn.Module | str | None = None,
        train_data: Any = None, val_data: Any = None, test_data: Any = None) -> RunResult:
    """Train per config into out_dir; resume a half-finished run there; return its results.

    A folder whose summary.json says "complete" for the same config is returned as is.

    model: any nn.Module taking N×C×H×W batches to N×classes logits (used as given; its
    class name becomes the config's `model`), or a registry name; default config.model.
    train_data / val_data / test_data: an ImageSet, (images, labels[, classes]) tensors
    (uint8 or float N×C×H×W), or any torch Dataset of (C×H×W tensor, label) items (see
    train/own_data.py); default config.data. The run folder, resume, metrics and report
    are those of any run.
    """
    if isinstance(model, str):
        config = replace(config, model=model)
    elif model is not None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be an nn.Module or a registry name, not a "
                             f"{type(model).__name__}")
        config = replace(config, model=type(unwrap(model)).__name__)
        if train_data is None and not config.channels and not config.init:
            # a data set or folder is read with the channels the model's first conv takes
            conv = next((m for m in unwrap(model).modules() if isinstance(m, nn.Conv2d)), None)
            if conv is not None and conv.in_channels in (1, 3):
                config = replace(config, channels=conv.in_channels)
    if isinstance(train_data, str):
        config = replace(config, data=train_data)
        train_data = None
    own = None
    if train_data is not None:
        own = own_splits(config, train_data, val_data, test_data)
        config = replace(config, data=data_label(train_data))
    elif val_data is not None or test_data is not None:
        raise ValueError("val_data / test_data go with train_data (or leave all three unset "
                         "to use config.data)")
    config.validate()
    out = Path(out_dir)
    dist = dist_info()
    with run_folder.hold(out, take=dist.is_main):  # another process training here is refused
        action = run_folder.check_out_dir(out, config, resume, force)
        summary = run_folder.read_summary(out) if action == "resume" else None
        if summary and summary.get("status") == "complete" and not force:
            if dist.is_main:  # a kill may have taken the report, curves or table: rewrite them
                run_folder.restore_artefacts(out, summary)
            return RunResult(out, summary, run_folder.read_metrics(out), already_complete=True)
        if dist.is_main:  # a full or read-only folder is said now, not after the first epoch
            check_writable(out, "--out")
        barrier(dist, "fit.start")
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(config.threads or (
                DETERMINISTIC_THREADS if config.deterministic else auto_threads()))
            run = _Run(config, out, dist, progress or config.progress,
                       model=model if isinstance(model, nn.Module) else None, splits=own)
            return run.train(action == "resume")
        finally:
            torch.set_num_threads(threads)


class _Run:
    """One training run's objects, built from the config; train() runs the loop: one step a
    batch, then, at their iterations, a metrics row, an evaluation and a checkpoint."""

    def __init__(self, config: TrainConfig, out: Path, dist: DistInfo, progress: str,
                 model: nn.Module | None = None, splits: Splits | None = None):
        self.config, self.out, self.dist = config, out, dist
        seed_everything(config.seed + dist.rank, config.deterministic)
        self.device = pick_device(config.device)
        self.amp = resolve_amp(config.amp, self.device)
        self.init = read_init(config)
        if splits is None:
            init = self.init
            splits = load_splits(config, init.input_size if init else None,
                                 init.normalization if init else None)
        self.splits = splits
        self.classes = self.splits.classes
        s, norm = self.splits, self.splits.normalization
        self.train_loader = make_loader(s.train, norm, config.batch_size, train=True,
                                        config=config, device=self.device, dist=dist)
        self.eval_loaders = {
            name: make_loader(ds, norm, config.eval_batch_size, train=False, config=config,
                              device=self.device, dist=dist)
            for name, ds in (("val", s.val), ("test", s.test)) if ds is not None}
        self.batches_per_epoch = len(self.train_loader)
        self.total = config.total_iters(self.batches_per_epoch)

        if model is None:
            self.model_name, self.overrides = model_for(config, self.init, len(self.classes),
                                                        s.input_size[0])
            depth = get_spec(self.model_name).depth
            model = build_model(self.model_name, **self.overrides)
        else:  # the caller's own module
            self.model_name, self.overrides, depth = config.model, {}, 0
            model.train()
        self.load_report = self.init.load_into(model) if self.init is not None else None
        self.frozen = freeze_stages(unwrap(model), config.freeze)
        self.model = model.to(self.device)
        if config.sync_bn and dist.enabled:  # before the optimizer: conversion makes new modules
            self.model = convert_sync_batchnorm(self.model, self.device)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = build_optimizer(self.model, config, self.device)
        self.ema = None
        if config.ema:
            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(config.ema),
                                     use_buffers=True)
        self.step = TrainStep(self.model, self.optimizer, config, self.device, self.amp,
                              distributed=dist.enabled)
        self.schedule_config = effective_config(config, self.total, self.batches_per_epoch,
                                                s.full_train_images)
        self.sched = LRSchedule(self.schedule_config, self.total, self.batches_per_epoch, depth)
        self.schedule_text = describe(self.schedule_config, self.total, depth)
        if never_decays(self.schedule_config, self.total) and dist.is_main:
            warnings.warn(f"the lr never decays in this run ({self.schedule_text}): set "
                          "milestones inside the run or another schedule", Notice,
                          stacklevel=2)
        self.progress = Progress(self.total, self.batches_per_epoch, mode=progress,
                                 enabled=dist.is_main, eval_every=config.eval_every)
        self.tb = _tensorboard(out, config, dist.is_main)
        self.it, self.elapsed, self.rows = 0, 0.0, []
        self.best: dict[str, Any] | None = None
        self.skipped: dict[str, str] = {}  # unreadable images (folders): path -> reason
        self.saved_at: int | None = None  # the iteration of the last (good) checkpoint

    # -- the loop ------------------------------------------------------------------------
    def train(self, resuming: bool) -> RunResult:
        config = self.config
        if self.dist.is_main and self.out.is_dir():
            run_folder.clear_stale_temporaries(self.out)
        if resuming and (self.out / STATE_FILE).is_file():
            self._load(load_train_state(self.out / STATE_FILE))
        elif self.dist.is_main:
            run_folder.clear_run(self.out)
            run_folder.write_config(self.out, config)
        if self.progress.mode != "off":  # the log: what was chosen and loaded
            for line in self._setup_lines():
                print(line, file=self.progress.stream, flush=True)
        self.progress.start(self.it, self.schedule_text)
        window, t_window = [], time.perf_counter()
        t_start = time.perf_counter() - self.elapsed
        while self.it < self.total:
            epoch, start = divmod(self.it, self.batches_per_epoch)
            for x, y in self.train_loader.epoch_batches(epoch, start):
                loss, correct = self.step(x, y, self.sched.lr(self.it))
                window.append((loss, correct, len(y)))
                if self.sched.watches_train_error(self.it):  # the same on every rank
                    ok, n = all_reduce_sum(torch.stack([correct.double(), torch.tensor(
                        float(len(y)), dtype=torch.float64, device=correct.device)]),
                        self.dist, "warmup.train_error").tolist()
                    self.sched.observe_train(self.it, 100.0 * (1 - ok / n))
                self.it += 1
                if self.ema is not None:
                    self.ema.update_parameters(self.model)
                end_epoch = self.it % self.batches_per_epoch == 0
                do_eval = self.it < self.total and (
                    self.it % config.eval_every == 0 if config.eval_every else end_epoch)
                do_ckpt = (end_epoch or self.it == self.total
                           or (config.checkpoint_every and self.it % config.checkpoint_every == 0))
                if do_eval or do_ckpt or self.it % config.log_every == 0:
                    self.elapsed = time.perf_counter() - t_start
                    self._log_window(window, time.perf_counter() - t_window)
                    window = []
                    if do_eval:
                        self._evaluate(final=False)
                    if do_ckpt:
                        self._checkpoint()
                    t_window = time.perf_counter()
                if self.it >= self.total:
                    break
            self._note_skipped(self.train_loader)
        self.elapsed = time.perf_counter() - t_start
        final = self._evaluate(final=True)
        self.progress.close()
        return self._finish(final)

    def _log_window(self, window, seconds: float) -> None:
        """Sum the window's step results over ranks, stop on divergence, add a metrics row."""
        dev = window[0][0].device
        local = torch.cat([torch.stack([w[0] for w in window]).double(),
                           torch.stack([w[1] for w in window]).sum().double().view(1),
                           torch.tensor([float(sum(w[2] for w in window))], dtype=torch.float64,
                                        device=dev)])
        summed = all_reduce_sum(local, self.dist, "train.metrics")  # the same on every rank
        losses, (correct, n) = summed[:-2], summed[-2:].tolist()
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            first = int(bad[0])
            self._diverged(self.it - len(window) + first + 1, losses[first].item())
        loss_sum = losses.sum().item()
        steps = len(window) * self.dist.world_size
        row = {"iter": self.it, "epoch": round(self.it / self.batches_per_epoch, 4),
               "lr": self.sched.lr(self.it - 1), "train_loss": loss_sum / steps,
               "train_error": 100.0 * (1 - correct / n),
               "images_per_second": n / max(seconds, 1e-9), "wall_time": round(self.elapsed, 3)}
        self.rows.append(row)
        self.progress.update(self.it, row)
        if self.tb:
            for k in ("lr", "train_loss", "train_error", "images_per_second"):
                self.tb.add_scalar(k, row[k], self.it)

    def _evaluate(self, final: bool) -> dict[str, EvalResult]:
        model = self.ema.module if self.ema is not None else self.model
        self.progress.evaluating(self.it)
        broadcast_buffers(unwrap(model), "evaluate.buffers")  # all ranks score rank 0's model
        results = {}
        for name, loader in self.eval_loaders.items():
            if name == "test" and not (final or self.config.eval_test):
                continue
            views = self.config.test_views
            if name == "test" and final and self.splits.folder and views != "center":
                loader = make_loader(self.splits.test, self.splits.normalization,
                                     self.config.eval_batch_size, train=False, config=self.config,
                                     device=self.device, dist=self.dist, views=views)
            results[name] = evaluate_model(model, loader, len(self.classes),
                                           device=self.device, amp_dtype=self.amp, dist=self.dist)
            self._note_skipped(loader)
        row = self.rows[-1] if self.rows and self.rows[-1]["iter"] == self.it else None
        for name, r in results.items():
            if row is not None:
                row[f"{name}_error"] = r.top1_error
            if self.tb:
                self.tb.add_scalar(f"{name}_error", r.top1_error, self.it)
        self.progress.note(self.it, {f"{k}_error": r.top1_error for k, r in results.items()})
        if "val" in results:
            err = results["val"].top1_error
            self.sched.observe_val(err)
            finite = first_non_finite(unwrap(model).state_dict()) is None  # buffers shared
            if finite and (self.best is None or err < self.best["val_error"]):
                test = results.get("test")
                self.best = {"iter": self.it, "val_error": err,
                             "test_error": test.top1_error if test else None}
                if self.dist.is_main:
                    save_model(self.out / run_folder.BEST_FILE, unwrap(model), self._meta(results))
        return results

    def _note_skipped(self, loader) -> None:
        for path, why in getattr(loader, "skipped", None) or ():
            self.skipped.setdefault(str(path), str(why))

    def _gather_skipped(self) -> None:
        """Every rank's unreadable images into the list rank 0 records: each rank reads its
        own share of every batch, so one rank's list alone misses the others'. Called where
        every rank arrives (a checkpoint, the end)."""
        for theirs in gather_objects(self.skipped, self.dist, "skipped_images"):
            for path, why in theirs.items():
                self.skipped.setdefault(path, why)

    def _first_non_finite(self) -> str | None:
        """The first tensor of the state to save (weights, BN buffers, EMA, optimizer) that
        holds inf or nan, else None."""
        named = {f"model {k}": v for k, v in unwrap(self.model).state_dict().items()}
        if self.ema is not None:
            named.update({f"ema {k}": v for k, v in self.ema.state_dict().items()})
        for i, group in self.optimizer.state_dict()["state"].items():
            named.update({f"optimizer state {i} {k}": v for k, v in group.items()})
        return first_non_finite(named)

    def _checkpoint(self) -> None:
        # Never let non-finite values replace the last good checkpoint: the loss may stay
        # finite while BN running variances or weights overflow. The same verdict on every rank.
        bad = self._first_non_finite()
        flag = torch.tensor([float(bad is not None)], dtype=torch.float64, device=self.device)
        if all_reduce_sum(flag, self.dist, "checkpoint.finite").item():
            self._diverged(self.it, float("nan"), what="the weights became",
                           detail=f" (first non-finite tensor: {bad or 'on another process'})")
        self._note_skipped(self.train_loader)
        self._gather_skipped()
        if self.dist.is_main:
            # metrics first: the rows up to the saved state are on disk before (or with) it
            run_folder.write_metrics(self.out, self.rows)
            state = {
                "iter": self.it, "epoch": self.it // self.batches_per_epoch,
                "batch": self.it % self.batches_per_epoch,
                "elapsed": self.elapsed, "best": self.best,
                "model": unwrap(self.model).state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "schedule": self.sched.state_dict(),
                "scaler": self.step.scaler.state_dict(),
                "ema": self.ema.state_dict() if self.ema is not None else None,
                "rng": rng_state(),
                "threads": torch.get_num_threads(),
                "config": self.config.to_dict(),
                "skipped": self.skipped,
            }
            save_train_state(self.out / STATE_FILE, state)
            self._save_model({})
            write_json(self.out / run_folder.SUMMARY_FILE, self._summary("running", {}))
        barrier(self.dist, "checkpoint")
        self.saved_at = self.it

    def _load(self, state: dict[str, Any]) -> None:
        load_weights(unwrap(self.model), state["model"], what=str(self.out / STATE_FILE))
        self.optimizer.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["schedule"])
        self.step.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.it, self.elapsed, self.best = state["iter"], state["elapsed"], state["best"]
        self.skipped = dict(state.get("skipped") or {})
        self.saved_at = self.it
        if self.config.deterministic and not self.config.threads:
            torch.set_num_threads(state["threads"])  # the same kernels' partitioning as before
        self.rows = run_folder.read_metrics(self.out, upto=self.it)
        if self.dist.is_main:  # "complete" no more, then the new config: a kill never lies
            run_folder.mark_unfinished(self.out)
            run_folder.write_config(self.out, self.config)
        set_rng_state(state["rng"])

    def _diverged(self, iteration: int, value: float, what: str = "the loss became",
                  detail: str = "") -> None:
        last = "none yet" if not (self.out / STATE_FILE).is_file() else "kept" + (
            f" (iteration {self.saved_at})" if self.saved_at is not None else "")
        if self.dist.is_main:
            write_json(self.out / run_folder.SUMMARY_FILE,
                               {**self._summary("diverged", {}), "diverged_at": iteration})
        self.progress.close()
        raise DivergedError(
            f"training diverged: {what} {value} at iteration {iteration} of "
            f"{self.total}{detail}. The last good checkpoint in {self.out} is {last}. Lower "
            "lr, set grad_clip or warm-up, then continue with --resume --force")

    # -- outputs -------------------------------------------------------------------------
    def _setup_lines(self) -> list[str]:
        """What the run chose: the data pipeline and, when fine-tuning, the weights loaded."""
        lines = [f"data: {note}" for note in self.splits.notes]
        if self.load_report is not None:
            lines.append(f"init: {self.load_report.summary()}")
        if self.frozen:
            lines.append(f"frozen (no gradients, BatchNorm in eval mode): "
                         f"{', '.join(self.frozen)}")
        return lines

    def _meta(self, results: dict[str, EvalResult]) -> dict[str, Any]:
        return {"model": self.model_name, "overrides": self.overrides, "classes": self.classes,
                "normalization": self.splits.normalization.to_meta(),
                "input_size": self.splits.input_size, "dataset": self.config.data,
                "recipe": self.config.to_dict(), "iter": self.it,
                "metrics": {f"{k}_error": r.top1_error for k, r in results.items()},
                "versions": versions()}

    def _save_model(self, results: dict[str, EvalResult]) -> None:
        model = self.ema.module if self.ema is not None else self.model
        save_model(self.out / "model.safetensors", unwrap(model), self._meta(results))

    def _summary(self, status: str, final: dict[str, EvalResult]) -> dict[str, Any]:
        last = self.rows[-1] if self.rows else {}
        ips = [r["images_per_second"] for r in self.rows]
        out = {"status": status, "recipe": self.config.recipe, "model": self.config.model,
               "data": self.config.data, "iters": self.it, "total_iters": self.total,
               "epochs": self.it / self.batches_per_epoch, "time_seconds": round(self.elapsed, 2),
               "train_images_per_second": sorted(ips)[len(ips) // 2] if ips else 0.0,
               "device": str(self.device), "amp": str(self.amp).replace("torch.", "")
               if self.amp else "off", "world_size": self.dist.world_size,
               "train_images": len(self.splits.train), "threads": torch.get_num_threads(),
               "best": self.best, "schedule": self.schedule_text,
               "data_pipeline": list(self.splits.notes), "init": self._init_summary(),
               "final": {"train_loss": last.get("train_loss"),
                         "train_error": last.get("train_error")},
               "loss_exploded": run_folder.loss_explosion(self.rows),
               "skipped_images": dict(sorted(self.skipped.items())),
               "machine": machine(), "versions": versions()}
        for name, r in final.items():
            out["final"][f"{name}_images"] = r.n
            out["final"][f"{name}_error"] = r.top1_error
            if len(self.classes) > 5:  # top-5 says nothing with 5 classes or fewer
                out["final"][f"{name}_top5_error"] = r.top5_error
            out["final"][f"{name}_loss"] = r.loss
        reported = "test" if "test" in final else "val" if "val" in final else None
        if reported:
            out["final"][f"{reported}_per_class_accuracy"] = dict(
                zip(self.classes, final[reported].per_class_accuracy))
        if "test" in final and len(self.classes) <= run_folder.CONFUSION_MAX_CLASSES:
            out["final"]["test_confusion"] = final["test"].confusion  # report.md is rebuilt
        out["folder"] = self.splits.folder  # from summary.json alone after a kill
        return out

    def _init_summary(self) -> dict[str, Any] | None:
        r = self.load_report
        if r is None:
            return None
        return {"source": r.source, "loaded": len(r.loaded), "new": list(r.new),
                "head_replaced": r.head_replaced, "frozen": list(self.frozen),
                "summary": r.summary()}

    def _finish(self, final: dict[str, EvalResult]) -> RunResult:
        self._gather_skipped()
        summary = self._summary("complete", final)
        if self.dist.is_main:  # summary.json last: "complete" only once everything is written
            self._save_model(final)
            run_folder.write_metrics(self.out, self.rows)
            try:  # matplotlib is optional (the plots extra)
                plot_curves(self.rows, self.out / run_folder.CURVES_FILE,
                            title=f"{self.model_name} on {self.config.data}")
            except ImportError as e:
                print(f"{run_folder.CURVES_FILE} not written: {e}", flush=True)
            test = final.get("test")
            atomic_write_text(self.out / run_folder.REPORT_FILE, run_folder.format_report(
                summary, self.config, folder=self.splits.folder,
                confusion=test.confusion if test else None, classes=self.classes))
            write_json(self.out / run_folder.SUMMARY_FILE, summary)
            if self.tb:
                self.tb.close()
        barrier(self.dist, "finish")
        return RunResult(self.out, summary, self.rows)


def _tensorboard(out: Path, config: TrainConfig, main: bool):
    """The main process's TensorBoard writer in out/tb, or None. tensorboard=null (auto) logs
    when the optional package is installed; true requires it (checked on every rank, so that
    no rank waits for one that stopped); false turns it off."""
    if config.tensorboard is False:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional: the tensorboard extra
    except ImportError as e:
        if config.tensorboard:
            raise ValueError("tensorboard=true, but TensorBoard is not installed: pip install "
                             "'resnetlab[tensorboard]' (or leave tensorboard unset: it is then "
                             "used only when installed)") from e
        return None
    return SummaryWriter(str(out / "tb")) if main else None

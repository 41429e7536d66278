"""fit(config, out_dir): train a model of the zoo on a data set, resumably, into a run folder.

A flat training loop: autocast + GradScaler in one step function, rank 0 alone logs and
saves, metrics summed over ranks, checkpoints atomic, position and RNG saved so that a
resumed run continues exactly where it stopped (mid-epoch included).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from resnetlab.analysis.plots import plot_curves
from resnetlab.checkpoint import save_model, unwrap
from resnetlab.distributed import DistInfo, broadcast_buffers, convert_sync_batchnorm
from resnetlab.io import atomic_write_text, write_json
from resnetlab.models.convert import load_weights
from resnetlab.models.registry import create_model, get_spec
from resnetlab.provenance import machine, versions
from resnetlab.train import run_folder
from resnetlab.train.config import TrainConfig
from resnetlab.train.data import load_splits, make_loader
from resnetlab.train.evaluate import EvalResult, evaluate_model
from resnetlab.train.progress import Progress
from resnetlab.train.run_folder import (
    STATE_FILE,
    load_train_state,
    rng_state,
    save_train_state,
    set_rng_state,
)
from resnetlab.train.runtime import (
    all_reduce_sum,
    auto_threads,
    barrier,
    dist_info,
    pick_device,
    resolve_amp,
    seed_everything,
)
from resnetlab.train.schedule import LRSchedule, describe, effective_config, never_decays
from resnetlab.train.step import TrainStep, build_optimizer


class DivergedError(ValueError):
    """The loss became NaN or infinite."""


@dataclass
class RunResult:
    out_dir: Path
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    already_complete: bool = False  # out_dir held this finished run: nothing was trained


def fit(config: TrainConfig, out_dir: str | Path, resume: bool = True, force: bool = False,
        progress: str | None = None) -> RunResult:
    """Train per config into out_dir; resume a half-finished run there; return its results.

    A folder whose summary.json says "complete" for the same config is returned as is.
    """
    config.validate()
    out = Path(out_dir)
    dist = dist_info()
    action = run_folder.check_out_dir(out, config, resume, force)
    summary = run_folder.read_summary(out) if action == "resume" else None
    if summary and summary.get("status") == "complete" and not force:
        return RunResult(out, summary, run_folder.read_metrics(out), already_complete=True)
    barrier(dist, "fit.start")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(config.threads or auto_threads())
        return _Run(config, out, dist, progress or config.progress).train(action == "resume")
    finally:
        torch.set_num_threads(threads)


class _Run:
    """One training run's objects, built from the config; train() runs the loop: one step a
    batch, then, at their iterations, a metrics row, an evaluation and a checkpoint."""

    def __init__(self, config: TrainConfig, out: Path, dist: DistInfo, progress: str):
        self.config, self.out, self.dist = config, out, dist
        seed_everything(config.seed + dist.rank, config.deterministic)
        self.device = pick_device(config.device)
        self.amp = resolve_amp(config.amp, self.device)
        self.splits = load_splits(config)
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

        spec = get_spec(config.model)
        overrides = {"num_classes": len(self.classes), "in_chans": s.input_size[0],
                     **config.model_overrides}
        self.overrides = overrides
        self.model = create_model(config.model, **overrides).to(self.device)
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
        self.sched = LRSchedule(self.schedule_config, self.total, self.batches_per_epoch,
                                spec.depth)
        self.schedule_text = describe(self.schedule_config, self.total, spec.depth)
        if never_decays(self.schedule_config, self.total) and dist.is_main:
            warnings.warn(f"the lr never decays in this run ({self.schedule_text}): set "
                          "milestones inside the run or another schedule", stacklevel=2)
        self.progress = Progress(self.total, self.batches_per_epoch, mode=progress,
                                 enabled=dist.is_main, eval_every=config.eval_every)
        self.tb = _tensorboard(out, config) if dist.is_main else None
        self.it, self.elapsed, self.rows = 0, 0.0, []
        self.best: dict[str, Any] | None = None

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
            if self.best is None or err < self.best["val_error"]:
                test = results.get("test")
                self.best = {"iter": self.it, "val_error": err,
                             "test_error": test.top1_error if test else None}
                if self.dist.is_main:
                    save_model(self.out / run_folder.BEST_FILE, unwrap(model), self._meta(results))
        return results

    def _checkpoint(self) -> None:
        finite = torch.stack([p.detach().isfinite().all() for p in self.model.parameters()])
        if not bool(finite.all()):  # the last update overflowed: never save such weights
            self._diverged(self.it, float("nan"), what="the weights became")
        if self.dist.is_main:
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
            }
            save_train_state(self.out / STATE_FILE, state)
            self._save_model({})
            run_folder.write_metrics(self.out, self.rows)
            write_json(self.out / run_folder.SUMMARY_FILE, self._summary("running", {}))
        barrier(self.dist, "checkpoint")

    def _load(self, state: dict[str, Any]) -> None:
        load_weights(unwrap(self.model), state["model"], what=str(self.out / STATE_FILE))
        self.optimizer.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["schedule"])
        self.step.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.it, self.elapsed, self.best = state["iter"], state["elapsed"], state["best"]
        if self.config.deterministic and not self.config.threads:
            torch.set_num_threads(state["threads"])  # the same kernels' partitioning as before
        self.rows = run_folder.read_metrics(self.out, upto=self.it)
        if self.dist.is_main:
            run_folder.write_config(self.out, self.config)
        set_rng_state(state["rng"])

    def _diverged(self, iteration: int, value: float, what: str = "the loss became") -> None:
        last = "none yet" if not (self.out / STATE_FILE).is_file() else "kept"
        if self.dist.is_main:
            write_json(self.out / run_folder.SUMMARY_FILE,
                               {**self._summary("diverged", {}), "diverged_at": iteration})
        self.progress.close()
        raise DivergedError(
            f"training diverged: {what} {value} at iteration {iteration} of "
            f"{self.total}. The last good checkpoint in {self.out} is {last}. Lower lr, set "
            "grad_clip or warm-up, then continue with --resume --force")

    # -- outputs -------------------------------------------------------------------------
    def _meta(self, results: dict[str, EvalResult]) -> dict[str, Any]:
        return {"model": self.config.model, "overrides": self.overrides, "classes": self.classes,
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
               "train_images": len(self.splits.train), "best": self.best,
               "schedule": self.schedule_text,
               "final": {"train_loss": last.get("train_loss"),
                         "train_error": last.get("train_error")},
               "machine": machine(), "versions": versions()}
        for name, r in final.items():
            out["final"][f"{name}_error"] = r.top1_error
            out["final"][f"{name}_top5_error"] = r.top5_error
            out["final"][f"{name}_loss"] = r.loss
        if "test" in final:
            out["final"]["test_per_class_accuracy"] = dict(
                zip(self.classes, final["test"].per_class_accuracy))
        return out

    def _finish(self, final: dict[str, EvalResult]) -> RunResult:
        summary = self._summary("complete", final)
        if self.dist.is_main:
            self._save_model(final)
            run_folder.write_metrics(self.out, self.rows)
            plot_curves(self.rows, self.out / run_folder.CURVES_FILE,
                        title=f"{self.config.model} on {self.config.data}")
            write_json(self.out / run_folder.SUMMARY_FILE, summary)
            test = final.get("test")
            atomic_write_text(self.out / run_folder.REPORT_FILE, run_folder.format_report(
                summary, self.config, folder=self.splits.folder,
                confusion=test.confusion if test else None, classes=self.classes))
            if self.tb:
                self.tb.close()
        barrier(self.dist, "finish")
        return RunResult(self.out, summary, self.rows)


def _tensorboard(out: Path, config: TrainConfig):
    """A TensorBoard writer in out/tb when enabled and the package is installed, else None."""
    if not config.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional and heavy: only when asked
    except ImportError:
        return None
    return SummaryWriter(str(out / "tb"))

"""fit(config, out_dir): train a model of the zoo on a data set, resumably, into a run folder.

Read it top to bottom as the loop: fit() checks the run folder, setup() builds the run's
objects in order, train() runs the epochs: one TrainStep a batch (forward under autocast,
backward, clip, the optimizer update, the lr scheduler's step), then, at their iterations, a metrics
row, an evaluation and a checkpoint. Rank 0 alone logs and saves; metrics are summed over
ranks; checkpoints are atomic and hold the position and every RNG, so a resumed run continues
exactly where it stopped (mid-epoch included). The config is read here: each component gets
the few values it uses (the data its DataOptions; the lr schedule, users' API too, the config).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from resnetlab.checkpoint import first_non_finite, save_model, unwrap
from resnetlab.data.pipeline.mixing import Mixup
from resnetlab.data.pipeline.policies import MIX_STREAM, batch_rng
from resnetlab.distributed import DistInfo, broadcast_buffers, convert_sync_batchnorm
from resnetlab.io import Notice, check_writable, write_json
from resnetlab.models.convert import load_weights
from resnetlab.models.registry import build_model, get_spec
from resnetlab.train import devices, run_folder, run_report, summary
from resnetlab.train.config import TrainConfig
from resnetlab.train.data import DataOptions, Splits, data_options, load_splits
from resnetlab.train.ema import make_ema
from resnetlab.train.evaluate import EvalResult, evaluate_model
from resnetlab.train.finetune import freeze_stages, model_for, read_init
from resnetlab.train.loaders import make_loader
from resnetlab.train.losses import Loss
from resnetlab.train.optimizer import build_optimizer
from resnetlab.train.own_data import own_pieces
from resnetlab.train.progress import Progress, tensorboard_writer
from resnetlab.train.schedule import ScheduleLR, describe, never_decays, timing
from resnetlab.train.selection import EarlyStopping, TopK
from resnetlab.train.step import TrainStep


def fit(config: TrainConfig, out_dir: str | Path, resume: bool = True, force: bool = False,
        progress: str | None = None, *, model: nn.Module | str | None = None,
        train_data: Any = None, val_data: Any = None, test_data: Any = None) -> summary.RunResult:
    """Train per config into out_dir; resume a half-finished run there; return its results.

    A folder whose summary.json says "complete" for the same config is returned as is.

    model: any nn.Module taking N×C×H×W batches to N×classes logits (used as given; its
    class name becomes the config's `model`), or a registry name; default config.model.
    train_data / val_data / test_data: an ImageSet, (images, labels[, classes]) tensors
    (uint8 or float N×C×H×W), or any torch Dataset of (C×H×W tensor, label) items (see
    train/own_data.py); default config.data. The run folder, resume, metrics and report
    are those of any run.
    """
    config, own_splits = own_pieces(config, model, train_data, val_data, test_data)
    config.validate()
    out, dist = Path(out_dir), devices.dist_info()
    with run_folder.hold(out, take=dist.is_main):  # another process training here is refused
        action = run_folder.check_out_dir(out, config, resume, force)
        previous = run_folder.read_summary(out) if action == "resume" else None
        if previous and previous.get("status") == "complete" and not force:
            if dist.is_main:  # a kill may have taken the report, curves or table: rewrite them
                run_report.restore_artefacts(out, previous)
            return summary.RunResult(out, previous, run_folder.read_metrics(out),
                                     already_complete=True)
        if dist.is_main:  # a full or read-only folder is said now, not after the first epoch
            check_writable(out, "--out")
        devices.barrier(dist, "fit.start")
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(config.threads or (devices.DETERMINISTIC_THREADS
                                                     if config.deterministic
                                                     else devices.auto_threads()))
            run = setup(config, out, dist, progress or config.progress,
                        model if isinstance(model, nn.Module) else None, own_splits)
            return train(run, resuming=action == "resume")
        finally:
            torch.set_num_threads(threads)


@dataclass
class Run:
    """One training run: what setup() built, and the position train() moves forward."""

    config: TrainConfig
    out: Path
    dist: DistInfo
    device: torch.device
    amp: torch.dtype | None
    data: DataOptions
    splits: Splits
    train_loader: Any
    eval_loaders: dict[str, Any]
    batches_per_epoch: int
    total: int
    model_name: str
    overrides: dict[str, Any]
    load_report: Any  # the init weights' LoadReport, or None
    frozen: list[str]
    model: nn.Module
    optimizer: torch.optim.Optimizer
    ema: AveragedModel | None
    step: TrainStep
    scheduler: ScheduleLR
    schedule_text: str
    progress: Progress
    tb: Any  # TensorBoard's SummaryWriter, or None
    it: int = 0
    elapsed: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # unreadable images: path -> why
    saved_at: int | None = None  # the iteration of the last (good) checkpoint
    mixer: Mixup | None = None  # mixup / CutMix on each training batch
    stopper: EarlyStopping = field(default_factory=EarlyStopping)
    topk: TopK | None = None  # the k checkpoints of lowest val_error
    stopped_at: int | None = None  # the iteration early stopping ended the run


def setup(config: TrainConfig, out: Path, dist: DistInfo, progress: str,
          own_model: nn.Module | None, splits: Splits | None) -> Run:
    """Seeds, device, data and loaders, model, optimizer, EMA, step and lr schedule, in order."""
    devices.seed_everything(config.seed + dist.rank, config.deterministic)
    device = devices.pick_device(config.device)
    amp = devices.resolve_amp(config.amp, device)
    init = read_init(config.init, config.init_source)
    data = data_options(config)
    if splits is None:
        splits = load_splits(data, init.input_size if init else None,
                             init.normalization if init else None)
    norm = splits.normalization
    train_loader = make_loader(splits.train, norm, config.batch_size, train=True, opts=data,
                               device=device, dist=dist)
    eval_loaders = {
        name: make_loader(ds, norm, config.eval_batch_size, train=False, opts=data,
                          device=device, dist=dist)
        for name, ds in (("val", splits.val), ("test", splits.test)) if ds is not None}
    batches_per_epoch = len(train_loader)
    total = config.total_iters(batches_per_epoch)

    if own_model is None:
        model_name, overrides = model_for(
            config.model, init, len(splits.classes), splits.input_size[0],
            {**config.model_overrides, **config.model_regularization()})
        depth = get_spec(model_name).depth
        model = build_model(model_name, **overrides)
    else:
        model_name, overrides, depth, model = config.model, {}, 0, own_model.train()
    load_report = init.load_into(model) if init is not None else None
    frozen = freeze_stages(unwrap(model), config.freeze)
    model = model.to(device)
    if config.sync_bn and dist.enabled:  # before the optimizer: conversion makes new modules
        model = convert_sync_batchnorm(model, device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)

    optimizer = build_optimizer(model, config.lr, config.momentum, config.weight_decay,
                                config.nesterov, config.wd_exclude, name=config.optimizer,
                                betas=config.betas, eps=config.eps, trust_clip=config.trust_clip,
                                trust_coefficient=config.trust_coefficient)
    ema = make_ema(model, config.ema, config.ema_warmup) if config.ema else None
    if (config.batch_size // dist.world_size) % config.accumulate:
        raise ValueError(f"accumulate={config.accumulate} does not divide the per-process batch "
                         f"{config.batch_size // dist.world_size}: change batch_size or accumulate")
    if (config.early_stop_patience or config.keep_top_k) and splits.val is None:
        raise ValueError("early_stop_patience and keep_top_k judge the validation error: set "
                         "val_size > 0 (or give the folder a val/)")
    step = TrainStep(model, optimizer, device, amp, grad_clip=config.grad_clip,
                     compile=config.compile, distributed=dist.enabled,
                     loss=Loss(config.loss, config.label_smoothing, config.bce_target_threshold),
                     accumulate=config.accumulate)
    mixer = None
    if config.mixup_alpha or config.cutmix_alpha:
        mixer = Mixup(len(splits.classes), config.mixup_alpha, config.cutmix_alpha,
                      config.mix_prob, config.mix_switch_prob, config.label_smoothing)
    when = timing(config, total, batches_per_epoch, splits.full_train_images)
    scheduler = ScheduleLR(optimizer, config, total, batches_per_epoch, depth, when=when)
    schedule_text = describe(config, when, total, depth)
    if never_decays(config, when, total) and dist.is_main:
        warnings.warn(f"the lr never decays in this run ({schedule_text}): set milestones "
                      "inside the run or another schedule", Notice, stacklevel=2)

    return Run(
        config=config, out=out, dist=dist, device=device, amp=amp, data=data, splits=splits,
        train_loader=train_loader, eval_loaders=eval_loaders,
        batches_per_epoch=batches_per_epoch, total=total, model_name=model_name,
        overrides=overrides, load_report=load_report, frozen=frozen, model=model,
        optimizer=optimizer, ema=ema, step=step, scheduler=scheduler,
        schedule_text=schedule_text,
        progress=Progress(total, batches_per_epoch, mode=progress, enabled=dist.is_main,
                          eval_every=config.eval_every),
        tb=tensorboard_writer(out, config.tensorboard, dist.is_main), mixer=mixer,
        stopper=EarlyStopping(config.early_stop_patience, config.early_stop_delta),
        topk=TopK(out, config.keep_top_k) if config.keep_top_k else None)


def train(run: Run, resuming: bool) -> summary.RunResult:
    """The loop: epochs of steps from the run's position to its total, then the final test."""
    config, out = run.config, run.out
    if run.dist.is_main and out.is_dir():
        run_folder.clear_stale_temporaries(out)
    if resuming and (out / run_folder.STATE_FILE).is_file():
        resume_from(run, run_folder.load_train_state(out / run_folder.STATE_FILE))
    elif run.dist.is_main:
        run_folder.clear_run(out)
        run_folder.write_config(out, config)
    if run.progress.mode != "off":
        for line in summary.setup_lines(run):
            print(line, file=run.progress.stream, flush=True)
    run.progress.start(run.it, run.schedule_text)
    window, t_window = [], time.perf_counter()
    t_start = time.perf_counter() - run.elapsed
    while run.it < run.total and run.stopped_at is None:
        epoch, start = divmod(run.it, run.batches_per_epoch)
        for i, (x, y) in enumerate(run.train_loader.epoch_batches(epoch, start), start):
            if run.mixer is not None:  # soft targets; drawn from the batch's position alone
                x, y = run.mixer(x, y, batch_rng(config.seed, epoch, i, run.dist.rank,
                                                 MIX_STREAM))
            lr = run.scheduler.get_last_lr()[0]
            loss, correct = run.step(x, y)
            window.append((loss, correct, len(y), lr))
            if run.scheduler.watches_train_error():  # the paper's warm-up: on every rank
                ok, n = devices.all_reduce_sum(torch.stack([correct.double(), torch.tensor(
                    float(len(y)), dtype=torch.float64, device=correct.device)]),
                    run.dist, "warmup.train_error").tolist()
                run.scheduler.observe_train(100.0 * (1 - ok / n))
            run.scheduler.step()
            run.it += 1
            if run.ema is not None:
                run.ema.update_parameters(run.model)
            end_epoch = run.it % run.batches_per_epoch == 0
            do_eval = run.it < run.total and (
                run.it % config.eval_every == 0 if config.eval_every else end_epoch)
            do_ckpt = (end_epoch or run.it == run.total
                       or (config.checkpoint_every and run.it % config.checkpoint_every == 0))
            if do_eval or do_ckpt or run.it % config.log_every == 0:
                run.elapsed = time.perf_counter() - t_start
                log_window(run, window, time.perf_counter() - t_window)
                window = []
                if do_eval:
                    evaluate(run, final=False)
                if do_ckpt:
                    save_checkpoint(run)
                t_window = time.perf_counter()
            if run.it >= run.total or run.stopped_at is not None:
                break
        summary.note_skipped(run, run.train_loader)
    run.elapsed = time.perf_counter() - t_start
    final = evaluate(run, final=True)
    run.progress.close()
    return finish(run, final)


def log_window(run: Run, window: list, seconds: float) -> None:
    """Sum the window's step results over ranks, stop on divergence, add a metrics row."""
    dev = window[0][0].device
    local = torch.cat([torch.stack([w[0] for w in window]).double(),
                       torch.stack([w[1] for w in window]).sum().double().view(1),
                       torch.tensor([float(sum(w[2] for w in window))], dtype=torch.float64,
                                    device=dev)])
    summed = devices.all_reduce_sum(local, run.dist, "train.metrics")  # the same on every rank
    losses, (correct, n) = summed[:-2], summed[-2:].tolist()
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        first = int(bad[0])
        summary.diverged(run, run.it - len(window) + first + 1, losses[first].item())
    steps = len(window) * run.dist.world_size
    row = {"iter": run.it, "epoch": round(run.it / run.batches_per_epoch, 4),
           "lr": window[-1][3], "train_loss": losses.sum().item() / steps,
           "train_error": 100.0 * (1 - correct / n),
           "images_per_second": n / max(seconds, 1e-9), "wall_time": round(run.elapsed, 3)}
    run.rows.append(row)
    run.progress.update(run.it, row)
    if run.tb:
        for k in ("lr", "train_loss", "train_error", "images_per_second"):
            run.tb.add_scalar(k, row[k], run.it)


def evaluate(run: Run, final: bool) -> dict[str, EvalResult]:
    """Score val (and test when final or eval_test); feed the plateau schedule; keep the best.
    The metrics row of this iteration gets the errors and eval_seconds (its wall_time was
    taken before the evaluation: the two add up to when its errors were known)."""
    config = run.config
    t0 = time.perf_counter()
    model = run.ema.module if run.ema is not None else run.model
    run.progress.evaluating(run.it)
    broadcast_buffers(unwrap(model), "evaluate.buffers")  # all ranks score rank 0's model
    results = {}
    for name, loader in run.eval_loaders.items():
        if name == "test" and not (final or config.eval_test):
            continue
        if name == "test" and final and run.splits.folder and config.test_views != "center":
            loader = make_loader(run.splits.test, run.splits.normalization,
                                 config.eval_batch_size, train=False, opts=run.data,
                                 device=run.device, dist=run.dist, views=config.test_views)
        results[name] = evaluate_model(model, loader, len(run.splits.classes),
                                       device=run.device, amp_dtype=run.amp, dist=run.dist)
        summary.note_skipped(run, loader)
    row = run.rows[-1] if run.rows and run.rows[-1]["iter"] == run.it else None
    if row is not None and results:
        row["eval_seconds"] = round(time.perf_counter() - t0, 3)
    for name, r in results.items():
        if row is not None:
            row[f"{name}_error"] = r.top1_error
        if run.tb:
            run.tb.add_scalar(f"{name}_error", r.top1_error, run.it)
    run.progress.note(run.it, {f"{k}_error": r.top1_error for k, r in results.items()})
    if "val" in results:
        err = results["val"].top1_error
        run.scheduler.observe_val(err)
        finite = first_non_finite(unwrap(model).state_dict()) is None  # buffers shared
        if finite and (run.best is None or err < run.best["val_error"]):
            test = results.get("test")
            run.best = {"iter": run.it, "val_error": err,
                        "test_error": test.top1_error if test else None}
            if run.dist.is_main:
                save_model(run.out / run_folder.BEST_FILE, unwrap(model),
                           summary.model_meta(run, results))
        if run.topk is not None and finite and run.dist.is_main:
            run.topk.offer(run.it, err, lambda path: save_model(
                path, unwrap(model), summary.model_meta(run, results)))
        if not final and run.stopper.stop(err):  # err is the same on every rank
            run.stopped_at = run.it
    return results


def save_checkpoint(run: Run) -> None:
    """train_state.pt, model.safetensors, metrics and a "running" summary.json."""
    # Never let non-finite values replace the last good checkpoint: the loss may stay finite
    # while BN running variances or weights overflow. The same verdict on every rank.
    bad = run_folder.first_non_finite_state(unwrap(run.model), run.ema, run.optimizer)
    flag = torch.tensor([float(bad is not None)], dtype=torch.float64, device=run.device)
    if devices.all_reduce_sum(flag, run.dist, "checkpoint.finite").item():
        summary.diverged(run, run.it, float("nan"), what="the weights became",
                         detail=f" (first non-finite tensor: {bad or 'on another process'})")
    summary.note_skipped(run, run.train_loader)
    summary.gather_skipped(run)
    if run.dist.is_main:
        # metrics first: the rows up to the saved state are on disk before (or with) it
        run_folder.write_metrics(run.out, run.rows)
        run_folder.save_train_state(run.out / run_folder.STATE_FILE, {
            "iter": run.it, "epoch": run.it // run.batches_per_epoch,
            "batch": run.it % run.batches_per_epoch, "elapsed": run.elapsed,
            "best": run.best, "model": unwrap(run.model).state_dict(),
            "optimizer": run.optimizer.state_dict(), "schedule": run.scheduler.state_dict(),
            "scaler": run.step.scaler.state_dict(),
            "ema": run.ema.state_dict() if run.ema is not None else None,
            "rng": devices.rng_state(), "threads": torch.get_num_threads(),
            "stopper": run.stopper.state_dict(), "stopped_at": run.stopped_at,
            "topk": run.topk.state_dict() if run.topk is not None else None,
            "config": run.config.to_dict(), "skipped": run.skipped})
        summary.save_last_model(run, {})
        write_json(run.out / run_folder.SUMMARY_FILE, summary.run_summary(run, "running", {}))
    devices.barrier(run.dist, "checkpoint")
    run.saved_at = run.it


def resume_from(run: Run, state: dict[str, Any]) -> None:
    """Put a saved train state back: weights, optimizer, schedule, scaler, EMA, position,
    metrics rows and every RNG."""
    load_weights(unwrap(run.model), state["model"], what=str(run.out / run_folder.STATE_FILE))
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["schedule"])
    run.step.scaler.load_state_dict(state["scaler"])
    if run.ema is not None and state["ema"] is not None:
        run.ema.load_state_dict(state["ema"])
    run.it, run.elapsed, run.best = state["iter"], state["elapsed"], state["best"]
    run.skipped = dict(state.get("skipped") or {})
    run.saved_at, run.stopped_at = run.it, state.get("stopped_at")
    if state.get("stopper"):
        run.stopper.load_state_dict(state["stopper"])
    if run.topk is not None and state.get("topk"):
        run.topk.load_state_dict(state["topk"])
    if run.config.deterministic and not run.config.threads:
        torch.set_num_threads(state["threads"])  # the same kernels' partitioning as before
    run.rows = run_folder.read_metrics(run.out, upto=run.it)
    if run.dist.is_main:  # "complete" no more, then the new config: a kill never lies
        run_folder.mark_unfinished(run.out)
        run_folder.write_config(run.out, run.config)
    devices.set_rng_state(state["rng"])


def finish(run: Run, final: dict[str, EvalResult]) -> summary.RunResult:
    """The final files (rank 0), once every rank's skipped images are gathered."""
    summary.gather_skipped(run)
    record = summary.run_summary(run, "complete", final)
    if run.dist.is_main:
        summary.write_final_files(run, final, record)
        if run.tb:
            run.tb.close()
    devices.barrier(run.dist, "finish")
    return summary.RunResult(run.out, record, run.rows)

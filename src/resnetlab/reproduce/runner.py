"""The run cache: every training run of an experiment in RUNS/<label>-<config hash>/.

A folder whose summary.json says "complete" is read back, not retrained; a folder cut off
half way is handed to resnetlab.train.fit with resume=True, which continues it exactly.
The hash covers the whole resolved training config (runtime keys aside), so a changed recipe
is a new run, and so is every run after the engine gains a config key: a cache is never
read back for a config it was not trained with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnetlab import io as fileio
from resnetlab.train import fit, load_recipe
from resnetlab.train.run_folder import CONFIG_FILE, hold, read_config

Point = tuple[int, float]


@dataclass(frozen=True)
class RunSpec:
    """One training run an experiment needs: recipe + overrides, and tags for the tables."""

    label: str
    overrides: dict[str, Any]
    tags: dict[str, Any] = field(default_factory=dict)
    recipe: str = "paper-cifar"


@dataclass
class RunRecord:
    spec: RunSpec
    out_dir: Path
    status: str  # "cached", "resumed" or "trained"
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)

    def curve(self, key: str) -> list[Point]:
        return [(int(r["iter"]), float(r[key])) for r in self.metrics
                if r.get(key) is not None]

    def final(self, key: str) -> float | None:
        """The final model's value of key: summary.json "final", else the last logged one."""
        value = (self.summary.get("final") or {}).get(key)
        if value is not None:
            return float(value)
        points = self.curve(key)
        return points[-1][1] if points else None

    def tail_mean(self, key: str, frac: float = 0.1) -> float | None:
        """Mean of key over the last frac of training: a steadier "final training error"."""
        points = self.curve(key)
        if not points:
            return None
        start = points[-1][0] * (1 - frac)
        tail = [v for i, v in points if i >= start] or [points[-1][1]]
        return sum(tail) / len(tail)


def config_dict(config: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(config):
        return dataclasses.asdict(config)
    if isinstance(config, dict):
        return dict(config)
    raise TypeError(f"cannot hash a training config of type {type(config).__name__}")


# How a run is executed, not what it computes: left out of the cache key. Frozen here, and
# deliberately not train.config.RESUME_RUNTIME_KEYS (which also holds "recipe" and
# "dist_timeout", keys a resumed run may change but that this hash has always covered), so
# that the cache keys of finished runs stay the same across versions.
CACHE_RUNTIME_KEYS = ("device", "compile", "data_root", "log_every", "tensorboard", "workers",
                      "threads", "progress")


# The keys the hash covered when the cache format was fixed (resnetlab 0.1).
HASHED_KEYS = (
    "recipe", "model", "model_overrides", "data", "subset", "val_size", "iters", "epochs",
    "batch_size", "lr", "momentum", "nesterov", "weight_decay", "wd_exclude", "schedule",
    "milestones", "milestone_unit", "gamma", "final_lr", "plateau_patience",
    "plateau_threshold", "warmup", "warmup_iters", "warmup_lr", "warmup_until_error",
    "warmup_min_depth", "label_smoothing", "ema", "grad_clip", "pad", "flip", "normalize",
    "image_size", "scale_min", "scale_max", "lighting", "eval_resize", "test_views",
    "test_scales", "amp", "channels_last", "sync_bn", "dist_timeout", "seed", "deterministic",
    "eval_every", "eval_test", "eval_batch_size", "checkpoint_every")
# Keys the training config gained later, each with the value under which a run computes
# exactly what it computed before the key existed. While a config holds that value the key is
# left out of the hash, so finished runs stay cached when the engine grows a feature they do
# not use; any other value is hashed. A test makes every new config key appear here (or in
# CACHE_RUNTIME_KEYS): a key that changes results for every run does not belong here.
ADDED_KEYS: dict[str, Any] = {
    # issue 12: own data and fine-tuning (image folders and init weights only)
    "folder_pipeline": "imagenet", "channels": 0, "norm_stats": "auto", "init": None,
    "init_source": None, "freeze": 0,
    # issue 14: a run shortened from a recipe that states its schedule relative to its length
    "schedule_reference": {},
    # issue 21: stochastic depth and dropout
    "drop_path_rate": 0.0, "dropout": None,
    # issue 22: modern recipes (optimisers, losses, mixing, augmentation, selection)
    "optimizer": "sgd", "betas": [0.9, 0.999], "eps": None, "trust_coefficient": 0.001,
    "trust_clip": False, "accumulate": 1, "loss": "ce", "bce_target_threshold": None,
    "mixup_alpha": 0.0, "cutmix_alpha": 0.0, "mix_prob": 1.0, "mix_switch_prob": 0.5,
    "ema_warmup": False, "early_stop_patience": 0, "early_stop_delta": 0.0, "keep_top_k": 0,
    "augment": "none", "randaugment_ops": 2, "randaugment_magnitude": 9.0,
    "randaugment_magnitude_std": 0.0, "random_erase": 0.0, "color_jitter": 0.0,
    "crop": "scale", "rrc_scale": [0.08, 1.0], "rrc_ratio": [0.75, 4 / 3], "eval_size": 0,
    # issue 23: the speedrun's pipeline levers (off: the batches are those of before)
    "train_sizes": [], "size_mode": "resize", "alternate_flip": False,
}


def config_key(config: Any) -> str:
    """Hash of everything in the config that changes the result."""
    values = {k: v for k, v in config_dict(config).items()
              if k not in CACHE_RUNTIME_KEYS and not (k in ADDED_KEYS and v == ADDED_KEYS[k])}
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def run_folder(runs_dir: str | Path, spec: RunSpec, config: Any) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec.label).strip("-") or "run"
    return Path(runs_dir) / f"{slug}-{config_key(config)}"


RETRAIN_HINT = "; delete the run folder to retrain it"


def read_json(path: Path) -> dict[str, Any]:
    return fileio.read_json(path, RETRAIN_HINT)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    return fileio.read_metrics(path, hint=RETRAIN_HINT)


def is_complete(out_dir: Path) -> bool:
    summary = out_dir / "summary.json"
    return summary.is_file() and read_json(summary).get("status") == "complete"


def build_config(spec: RunSpec) -> Any:
    """The TrainConfig of a run: its recipe with its overrides."""
    return load_recipe(spec.recipe, dict(spec.overrides))


def check_same_run(out_dir: Path, config: Any) -> None:
    """Refuse a cache folder that holds a run of another config under this run's name (an
    edited folder, or a cache written by another recipe): reading it back would report
    numbers of a different experiment."""
    if not (out_dir / CONFIG_FILE).is_file():
        return
    theirs = read_config(out_dir)  # a corrupt one is named, with the fix
    if config_key(theirs) != config_key(config):
        mine = {k: v for k, v in config_dict(config).items() if k not in CACHE_RUNTIME_KEYS}
        diff = sorted(k for k in mine if theirs.get(k) != mine[k])
        raise ValueError(
            f"{out_dir} holds a run of a different recipe under the same name (differs in: "
            f"{', '.join(diff[:6]) or 'its layout'}); delete that folder, point --runs at "
            "another cache, or pass --force to retrain it")


def _default_fit(config: Any, out_dir: Path, resume: bool, force: bool) -> Any:
    return fit(config, out_dir, resume=resume, force=force)


def execute(
    specs: Sequence[RunSpec],
    runs_dir: str | Path,
    *,
    force: bool = False,
    build: Callable[[RunSpec], Any] | None = None,
    fit: Callable[..., Any] | None = None,
    log: Callable[[str], None] = print,
) -> list[RunRecord]:
    """Run (or read back) every spec in order; returns one record per spec."""
    build = build or build_config
    fit = fit or _default_fit
    records = []
    for i, spec in enumerate(specs, 1):
        config = build(spec)
        out_dir = run_folder(runs_dir, spec, config)
        head = f"[{i}/{len(specs)}] {spec.label}"
        # A run another process trains (a second command on the same cache) is waited for,
        # then read back. No deadlock: a process holds one run at a time and waits holding none.
        with hold(out_dir, wait=lambda line, head=head: log(f"{head}: {line}")):
            if not force:
                check_same_run(out_dir, config)
            if not force and is_complete(out_dir):
                status = "cached"
                log(f"{head}: complete in {out_dir}, skipped")
            else:
                status = "resumed" if (out_dir / "metrics.jsonl").is_file() and not force \
                    else "trained"
                log(f"{head}: {'resuming' if status == 'resumed' else 'training'} in {out_dir}")
                t0 = time.time()
                fit(config, out_dir, resume=not force, force=force)
                if not is_complete(out_dir):
                    raise RuntimeError(f"{out_dir}: training returned but summary.json does not "
                                       "say complete")
                log(f"{head}: done in {time.time() - t0:.0f} s")
        summary = read_json(out_dir / "summary.json")
        metrics = read_metrics(out_dir / "metrics.jsonl")
        seconds = float(summary.get("time_seconds") or (metrics[-1].get("wall_time", 0.0)
                                                         if metrics else 0.0))
        records.append(RunRecord(spec, out_dir, status, summary, metrics, seconds,
                                 config_dict(config)))
    return records

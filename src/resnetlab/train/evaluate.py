"""Evaluation: top-1/top-5 error, loss, per-class accuracy and the confusion matrix of a model
on a loader (reduced over DDP ranks), and of a saved model file on a data set's split."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.checkpoint import load_model
from resnetlab.data.pipeline.loaders import Loader
from resnetlab.data.pipeline.normalization import Normalization
from resnetlab.distributed import DistInfo
from resnetlab.train.config import TrainConfig, config_from_dict
from resnetlab.train.data import data_options, load_splits
from resnetlab.train.devices import all_reduce_sum, autocast, dist_info, pick_device, resolve_amp
from resnetlab.train.loaders import make_loader


@dataclass
class EvalResult:
    n: int
    loss: float
    top1_error: float
    top5_error: float
    confusion: list[list[int]] = field(default_factory=list)  # [true][predicted]

    @property
    def per_class_accuracy(self) -> list[float]:
        """Accuracy in % of each true class (nan for a class with no samples)."""
        return [100.0 * row[i] / sum(row) if sum(row) else float("nan")
                for i, row in enumerate(self.confusion)]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "loss": self.loss, "top1_error": self.top1_error,
                "top5_error": self.top5_error, "per_class_accuracy": self.per_class_accuracy,
                "confusion": self.confusion}


def log_scores(model: nn.Module, x) -> torch.Tensor:
    """Log class probabilities B×K of one view (B×C×H×W), of crops averaged (B×V×C×H×W, e.g.
    10-crop) or of whole images at several scales averaged (a tuple of B×C×H×W)."""
    if isinstance(x, tuple | list):
        probs = torch.stack([model(v).float().softmax(1) for v in x]).mean(0)
        return probs.clamp_min(1e-12).log()
    if x.ndim == 5:
        b, v = x.shape[:2]
        probs = model(x.flatten(0, 1)).float().softmax(1).view(b, v, -1).mean(1)
        return probs.clamp_min(1e-12).log()
    return model(x).float().log_softmax(1)


@torch.no_grad()
def evaluate_model(model: nn.Module, loader, num_classes: int, *, device: torch.device,
                   amp_dtype: torch.dtype | None = None, dist: DistInfo | None = None,
                   topk: int = 5) -> EvalResult:
    """Errors (%) of model over every batch of loader (one pass; all ranks' samples counted).

    loader: a data.Loader (its epoch 0 is read) or any iterable of (x, y) batches on device.
    """
    dist = dist or dist_info()
    was_training = model.training
    model.eval()
    k = min(topk, num_classes)
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top-1 ok, top-k ok, n
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
    try:
        batches = loader.epoch_batches(0) if isinstance(loader, Loader) else loader
        for x, y in batches:
            with autocast(device, amp_dtype):
                logp = log_scores(model, x)
            sums[0] += F.nll_loss(logp, y, reduction="sum")
            top = logp.topk(k, dim=1).indices
            hit = top == y[:, None]
            sums[1] += hit[:, 0].sum()
            sums[2] += hit.any(dim=1).sum()
            sums[3] += len(y)
            confusion += torch.bincount(y * num_classes + top[:, 0],
                                        minlength=num_classes * num_classes)
    finally:
        model.train(was_training)
    sums = all_reduce_sum(sums, dist, "evaluate.counts").tolist()
    confusion = all_reduce_sum(confusion, dist, "evaluate.confusion")
    confusion = confusion.view(num_classes, num_classes).tolist()
    n = int(sums[3])
    if n == 0:
        raise ValueError("evaluation saw no samples: the split is empty")
    return EvalResult(n, sums[0] / n, 100.0 * (1 - sums[1] / n), 100.0 * (1 - sums[2] / n),
                      confusion)


def evaluate_checkpoint(path: str | Path, data: str | None = None, split: str = "test",
                        data_root: str | None = None, batch_size: int = 512,
                        device: str = "auto", amp: str = "auto",
                        views: str = "center") -> dict[str, Any]:
    """Evaluate a model file (or run folder) on `split` of a data set (default: the one it
    was trained on). split="val" rebuilds the run's own held-out validation images. For image
    folders, views="ten-crop" averages 10 crops and "multiscale" whole images at the recipe's
    test_scales (the paper's fully-convolutional test)."""
    if split not in ("test", "val", "train"):
        raise ValueError(f"split must be 'test', 'val' or 'train', not {split!r}")
    dev = pick_device(device)
    model, meta = load_model(path, device=dev)
    recipe = meta.get("recipe")
    config = config_from_dict(recipe, f"{path} recipe") if recipe else TrainConfig(epochs=1)
    config.data = data or meta.get("dataset") or config.data
    config.data_root = data_root or config.data_root
    if data and data != meta.get("dataset"):
        config.subset, config.val_size = None, 0
    # the model's own input (a folder's chosen size and channels), not the data's guess
    splits = load_splits(data_options(config), input_size=meta.get("input_size")
                         if config.folder_pipeline != "imagenet" else None)
    ds = {"train": splits.train, "val": splits.val, "test": splits.test}[split]
    if ds is None and split == "test" and splits.folder and not config.val_size:
        split, ds = "val", splits.val  # a folder of train/ + val/: its val/ is what is held out
    if ds is None:
        other = "test" if split == "val" else "val"
        what = "validation split (val_size=0)" if split == "val" else "test split"
        raise ValueError(f"{path} was trained without a {what} on {config.data}: use --split "
                         f"{other}")
    classes = meta.get("classes") or splits.classes
    if len(classes) != len(splits.classes):
        raise ValueError(f"{path} predicts {len(classes)} classes but {config.data} has "
                         f"{len(splits.classes)}: evaluate it on the data set it was trained on")
    want = meta.get("input_size")
    if want and want[0] != splits.input_size[0]:
        raise ValueError(f"{path} takes {want[0]}-channel images but {config.data} has "
                         f"{splits.input_size[0]}")
    if views != "center" and not splits.folder:
        raise ValueError(f"views={views!r} is for image folders; {config.data} is evaluated on "
                         "its single original view")
    opts = replace(data_options(config), channels_last=dev.type == "cuda" or config.channels_last)
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)
    norm = meta.get("normalization")
    norm = Normalization.from_meta(norm) if norm else splits.normalization
    loader = make_loader(ds, norm, batch_size, train=False, opts=opts, device=dev,
                         dist=DistInfo(), views=views)
    result = evaluate_model(model, loader, len(classes), device=dev,
                            amp_dtype=resolve_amp(amp, dev), dist=DistInfo())
    return {"checkpoint": str(path), "model": meta["model"], "data": config.data,
            "split": split, "views": views, "classes": list(classes), **result.to_dict()}

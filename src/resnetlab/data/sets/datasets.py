"""Small data sets in memory: ImageSet, load_dataset, and seeded stratified splits.

An ImageSet is the whole split as one uint8 N×C×H×W tensor plus int64 labels, class names and
the per-channel mean/std of the official TRAIN split (so train, val and test normalise alike).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from resnetlab.data.sets import guards, readers
from resnetlab.data.sets.sources import Found, ensure


@dataclass
class ImageSet:
    """uint8 images N×C×H×W (CPU), int64 labels N, class names, TRAIN-split mean/std (0..1)."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    name: str = ""
    split: str = ""

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"ImageSet images must be uint8 N×C×H×W, got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        self.labels = torch.as_tensor(self.labels, dtype=torch.int64)
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"{len(self.labels)} labels for {len(self.images)} images")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(f"labels must lie in [0, {len(self.classes)}) for "
                             f"{len(self.classes)} classes")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def subset(self, indices, split: str | None = None) -> ImageSet:
        """The samples at `indices` (same classes and normalisation)."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return replace(self, images=self.images[idx], labels=self.labels[idx],
                       split=self.split if split is None else split)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(self.classes)).tolist()

    def pixel_mean(self) -> torch.Tensor:
        """The per-pixel mean image C×H×W in 0..1 units (the paper's CIFAR normalisation)."""
        return pixel_mean(self.images)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean and (population) std in 0..1 units, from 256-bin histograms."""
    arr = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    v = np.arange(256, dtype=np.float64)
    means, stds = [], []
    for c in range(arr.shape[1]):
        h = np.bincount(arr[:, c].reshape(-1), minlength=256).astype(np.float64)
        n = h.sum()
        m = (h * v).sum() / n
        var = max((h * (v - m) ** 2).sum() / n, 0.0)
        means.append(float(m / 255))
        stds.append(float(np.sqrt(var) / 255))
    return tuple(means), tuple(stds)


def pixel_mean(images: torch.Tensor) -> torch.Tensor:
    """Mean image C×H×W (float32, 0..1 units) of a uint8 N×C×H×W tensor."""
    return (images.sum(0, dtype=torch.int64).double() / (255.0 * len(images))).float()


def _read_split(found: Found, split: str,
                num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of a split; with num_classes, a label that is not a class index
    is refused by the name of its file."""
    paths, fmt, src = found.split_paths(split), found.layout.format, found.source
    if fmt == "idx":
        images, labels = readers.read_mnist_pair(*paths)
        if num_classes is not None:
            guards.check_label_range(labels, num_classes, paths[1])
        return images, labels
    if fmt == "cifar-bin":
        parts = [readers.read_cifar_binary(p, src.label_bytes) for p in paths]
    elif fmt == "cifar-py":
        parts = [readers.read_cifar_python(p, src.label_key) for p in paths]
    else:
        raise ValueError(f"unknown format {fmt!r}")
    for p, (_, labels) in zip(paths, parts):
        if num_classes is not None:
            guards.check_label_range(labels, num_classes, p)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _classes(found: Found) -> list[str]:
    fmt = found.layout.format
    if fmt == "cifar-bin":
        return readers.read_label_names(found.meta_paths()[0])
    if fmt == "cifar-py":
        return readers.read_cifar_python_names(found.meta_paths()[0], found.source.names_key)
    return list(found.source.classes)


_STATS: dict[tuple, tuple] = {}


def train_stats(found: Found, train_images: np.ndarray | None = None):
    """Per-channel (mean, std) of the train split, cached per file path, size and mtime."""
    paths = found.split_paths("train")
    key = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    if key not in _STATS:
        if train_images is None:
            train_images = _read_split(found, "train")[0]
        _STATS[key] = channel_stats(train_images)
    return _STATS[key]


def load_found(found: Found, split: str = "train") -> ImageSet:
    """Read one split of a located data set."""
    classes = _classes(found)
    images, labels = _read_split(found, split, len(classes))
    mean, std = train_stats(found, images if split == "train" else None)
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels), classes,
                    mean, std, found.source.name, split)


def load_dataset(name: str, split: str = "train", root: str | Path | None = None,
                 download: bool = True, progress: bool = True) -> ImageSet:
    """cifar10, cifar100, mnist or fashion-mnist: found (or fetched) and read as an ImageSet."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r} "
                         "(a validation split comes from split_validation)")
    return load_found(ensure(name, root, download=download, progress=progress), split)


def stratified_indices(labels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """n indices (sorted) drawn per class in proportion to class sizes, seeded.

    Class quotas use largest remainders, so they sum to n exactly and a balanced set gives
    every class the same count.
    """
    labels = torch.as_tensor(labels, dtype=torch.int64)
    if not 0 < n <= len(labels):
        raise ValueError(f"cannot take {n} samples from a set of {len(labels)}")
    counts = torch.bincount(labels).double()
    exact = counts * n / len(labels)
    quota = exact.floor().long()
    short = n - int(quota.sum())
    order = sorted(range(len(counts)), key=lambda c: (-(exact[c] - quota[c]).item(), c))
    for c in order[:short]:
        quota[c] += 1
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(len(counts)):
        members = torch.nonzero(labels == c).flatten()
        picked.append(members[torch.randperm(len(members), generator=g)[: quota[c]]])
    return torch.cat(picked).sort().values


def split_validation(train_set: ImageSet, val_size: int, seed: int = 0):
    """(train, val): val_size samples held out of train, stratified by class and seeded.

    Both keep the official train split's mean/std, so normalisation does not depend on val_size.
    """
    if not 0 < val_size < len(train_set):
        raise ValueError(f"val_size must be in 1..{len(train_set) - 1}, got {val_size}")
    val_idx = stratified_indices(train_set.labels, val_size, seed)
    keep = torch.ones(len(train_set), dtype=torch.bool)
    keep[val_idx] = False
    return (train_set.subset(torch.nonzero(keep).flatten(), "train"),
            train_set.subset(val_idx, "val"))


def stratified_subset(ds: ImageSet, n: int, seed: int = 0) -> ImageSet:
    """n samples of ds with the class proportions of ds, seeded."""
    return ds.subset(stratified_indices(ds.labels, n, seed))


def describe(name: str, root: str | Path | None = None, download: bool = True,
             progress: bool = True) -> dict:
    """Where a data set is, its format, image shape, classes, split sizes and class counts,
    and the train split's mean/std (what `resnetlab data info` prints)."""
    found = ensure(name, root, download=download, progress=progress)
    splits = {s: load_found(found, s) for s in ("train", "test")}
    train = splits["train"]
    return {
        "name": found.source.name, "location": str(found.folder), "format": found.layout.format,
        "shape": list(train.shape), "classes": train.classes,
        "mean": list(train.mean), "std": list(train.std),
        "splits": {s: {"size": len(ds), "class_counts": ds.class_counts()}
                   for s, ds in splits.items()},
    }

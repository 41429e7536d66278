"""The data of a run: train / val / test splits and their loaders, built the same way by
training and by evaluation (so `evaluate --split val` sees the exact held-out images).

Built-in sets (cifar10, cifar100, mnist, fashion-mnist) live in memory (DeviceLoader); any
other `data` is an image folder holding train/<class>/* and val/<class>/* (or test/), read
by FolderLoader with the paper's scale augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from resnetlab.data import (
    SOURCES,
    DeviceLoader,
    FolderLoader,
    ImageSet,
    load_dataset,
    scan_folder,
    split_validation,
    stratified_subset,
)
from resnetlab.data.pipeline.image_transforms import CenterCrop, MultiScale, ScaleAugment, TenCrop
from resnetlab.data.pipeline.normalization import Normalization
from resnetlab.data.sets.datasets import stratified_indices
from resnetlab.data.sets.folders import FolderSet
from resnetlab.distributed import DistInfo
from resnetlab.train.config import TrainConfig


@dataclass
class Splits:
    train: ImageSet | FolderSet
    val: ImageSet | FolderSet | None
    test: ImageSet | FolderSet
    classes: list[str]
    normalization: Normalization
    input_size: list[int]
    full_train_images: int = 0  # the data set's training images, before subset and hold-out

    @property
    def folder(self) -> bool:
        return isinstance(self.train, FolderSet)


def is_builtin(name: str) -> bool:
    return name in SOURCES


def folder_root(config: TrainConfig) -> Path:
    """The image folder of a non-built-in data set: data_root, else `data` as a path."""
    root = Path(config.data_root or config.data).expanduser()
    if not (root / "train").is_dir():
        raise (FileNotFoundError if config.data_root else ValueError)(
            f"unknown data set {config.data!r}: the built-in ones are {', '.join(SOURCES)}; an "
            f"image folder needs train/<class>/<image> and val/<class>/<image> under it "
            f"(give it as --data PATH or --data-root PATH; {root / 'train'} is not a folder)")
    return root


def load_splits(config: TrainConfig) -> Splits:
    """The run's splits: optional stratified subset of train, then the validation hold-out."""
    if is_builtin(config.data):
        return _imageset_splits(config)
    return _folder_splits(config)


def _imageset_splits(config: TrainConfig) -> Splits:
    train = load_dataset(config.data, "train", root=config.data_root)
    test = load_dataset(config.data, "test", root=config.data_root)
    full = len(train)
    if config.subset is not None:
        _check_subset(config, len(train))
        train = stratified_subset(train, config.subset, seed=config.seed)
    val = None
    val_size = held_out(config, full)
    if val_size:
        _check_val(config, val_size, len(train))
        train, val = split_validation(train, val_size, seed=config.seed)
    return Splits(train, val, test, list(train.classes), normalization(config, train),
                  list(train.images.shape[1:]), full)


def _folder_splits(config: TrainConfig) -> Splits:
    root = folder_root(config)
    train = scan_folder(root / "train")
    test_dir = root / "val" if (root / "val").is_dir() else root / "test"
    test = scan_folder(test_dir)
    if test.classes != train.classes:
        raise ValueError(f"{test_dir} and {root / 'train'} hold different class folders")
    labels = torch.tensor([label for _, label in train.samples])
    full = len(train)

    def pick(ds, idx):
        return replace(ds, samples=[ds.samples[i] for i in idx.tolist()])

    if config.subset is not None:
        _check_subset(config, len(train))
        idx = stratified_indices(labels, config.subset, config.seed)
        train, labels = pick(train, idx), labels[idx]
    val = None
    val_size = held_out(config, full)
    if val_size:
        _check_val(config, val_size, len(train))
        held = stratified_indices(labels, val_size, config.seed)
        keep = torch.ones(len(train), dtype=torch.bool)
        keep[held] = False
        train, val = pick(train, keep.nonzero().flatten()), pick(train, held)
    return Splits(train, val, test, list(train.classes), Normalization.imagenet(),
                  [3, config.image_size, config.image_size], full)


def _check_subset(config: TrainConfig, n: int) -> None:
    if config.subset > n:
        raise ValueError(f"subset={config.subset} exceeds the {n} training images of "
                         f"{config.data}")


def held_out(config: TrainConfig, full_train_images: int) -> int:
    """The validation images to hold out: val_size, or, when schedule_reference says to scale
    it with a subset, the same fraction of the subset as val_size is of the whole set."""
    ref = config.schedule_reference
    if (config.val_size and config.subset is not None and ref
            and "val_size" in ref.get("scale", [])):
        whole = ref.get("train_images") or full_train_images
        return max(1, round(config.val_size * config.subset / whole))
    return config.val_size


def _check_val(config: TrainConfig, val_size: int, n: int) -> None:
    if val_size >= n:
        of = f"the subset of {n}" if config.subset is not None else str(n)
        raise ValueError(f"val_size={val_size} leaves no training images out of {of}: hold "
                         f"out fewer with --val-size N (e.g. --val-size {max(1, n // 10)}), or "
                         "--val-size 0 for none")


def normalization(config: TrainConfig, train) -> Normalization:
    """How inputs are normalised (model.json records its to_meta())."""
    return Normalization.from_setting(
        config.normalize, train.mean, train.std,
        train.pixel_mean() if config.normalize == "pixel" else None, train.images.shape[1])


def make_loader(ds, norm: Normalization | dict[str, Any], batch_size: int, *, train: bool,
                config: TrainConfig, device: torch.device, dist: DistInfo, views: str = "center"):
    """A DeviceLoader (ImageSet) or FolderLoader (FolderSet) with the run's normalisation and
    augmentation; `views` picks a folder's evaluation transform."""
    if isinstance(norm, dict):  # model.json's form
        norm = Normalization.from_meta(norm)
    if isinstance(ds, FolderSet):
        return _folder_loader(ds, norm, batch_size, train=train, config=config, device=device,
                              dist=dist, views=views)
    return DeviceLoader(ds.images, ds.labels, batch_size, train=train, device=device,
                        pad=config.pad, flip=config.flip, seed=config.seed, rank=dist.rank,
                        world_size=dist.world_size, channels_last=config.channels_last,
                        normalization=norm)


def _folder_loader(ds, norm, batch_size, *, train, config, device, dist, views):
    size, resize = config.image_size, config.eval_resize
    if train:
        tf = ScaleAugment(size, config.scale_min, config.scale_max, hflip=config.flip)
    else:
        tf = {"center": lambda: CenterCrop(size, resize), "ten-crop": lambda: TenCrop(size, resize),
              "multiscale": lambda: MultiScale(config.test_scales)}[views]()
        if views == "multiscale":
            batch_size = dist.world_size
    sampler = None
    if train and dist.enabled:  # torch's sampler; evaluation keeps the exact, unpadded shards
        sampler = torch.utils.data.DistributedSampler(
            range(len(ds)), num_replicas=dist.world_size, rank=dist.rank, shuffle=True,
            seed=config.seed, drop_last=True)
    return FolderLoader(ds, batch_size, train=train, transform=tf, size=size, device=device,
                        normalization=norm, lighting=config.lighting,
                        workers=config.workers, seed=config.seed, rank=dist.rank,
                        world_size=dist.world_size, channels_last=config.channels_last,
                        sampler=sampler)

"""The data of a run: train / val / test splits and their loaders, built the same way by
training and by evaluation (so `evaluate --split val` sees the exact held-out images)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from resnetlab.train.config import TrainConfig
from resnetlab.train.runtime import Dist


@dataclass
class Splits:
    train: Any
    val: Any | None
    test: Any
    classes: list[str]
    normalization: dict[str, Any]

    @property
    def input_size(self) -> list[int]:
        return list(self.train.images.shape[1:])


def load_splits(config: TrainConfig, need_train: bool = True) -> Splits:
    """The run's splits: optional stratified subset of train, then the validation hold-out."""
    from resnetlab.data import load_dataset, split_validation, stratified_subset

    train = load_dataset(config.data, "train", root=config.data_root)
    test = load_dataset(config.data, "test", root=config.data_root)
    if config.subset is not None:
        if config.subset > len(train):
            raise ValueError(f"subset={config.subset} exceeds the {len(train)} training images "
                             f"of {config.data}")
        train = stratified_subset(train, config.subset, seed=config.seed)
    val = None
    if config.val_size:
        if config.val_size >= len(train):
            raise ValueError(f"val_size={config.val_size} leaves no training images out of "
                             f"{len(train)}")
        train, val = split_validation(train, config.val_size, seed=config.seed)
    return Splits(train, val, test, list(train.classes), normalization(config, train))


def normalization(config: TrainConfig, train) -> dict[str, Any]:
    """How inputs are normalised, as model.json records it (0..1 pixel units)."""
    if config.normalize == "pixel":
        return {"pixel_mean": train.pixel_mean().tolist()}
    if config.normalize == "none":
        c = train.images.shape[1]
        return {"mean": [0.0] * c, "std": [1.0] * c}
    return {"mean": list(train.mean), "std": list(train.std)}


def make_loader(ds, norm: dict[str, Any], batch_size: int, *, train: bool, config: TrainConfig,
                device: torch.device, dist: Dist):
    """A DeviceLoader over an ImageSet with the run's normalisation and augmentation."""
    from resnetlab.data import DeviceLoader

    if "pixel_mean" in norm:
        kw = {"normalize": "pixel", "pixel_mean": torch.tensor(norm["pixel_mean"])}
    else:
        kw = {"normalize": "channel", "mean": norm["mean"], "std": norm["std"]}
    return DeviceLoader(ds.images, ds.labels, batch_size, train=train, device=device,
                        pad=config.pad, flip=config.flip, seed=config.seed, rank=dist.rank,
                        world_size=dist.world_size, channels_last=config.channels_last, **kw)

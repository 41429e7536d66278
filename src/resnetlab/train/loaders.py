"""The run's loaders, built from its DataOptions: a DeviceLoader for in-memory sets, a
FolderLoader for image folders, a DatasetLoader for fit()'s own torch Dataset (training and
evaluation build them the same way)."""

from __future__ import annotations

from typing import Any

import torch

from resnetlab.data import DeviceLoader, FolderLoader, ImageSet
from resnetlab.data.pipeline import image_transforms as transforms
from resnetlab.data.pipeline.dataset_loader import DatasetLoader
from resnetlab.data.pipeline.folder_loader import worker_count
from resnetlab.data.pipeline.normalization import Normalization
from resnetlab.data.pipeline.policies import make_augment
from resnetlab.data.sets.folders import FolderSet
from resnetlab.distributed import DistInfo
from resnetlab.train.data import DataOptions


def make_loader(ds, norm: Normalization | dict[str, Any], batch_size: int, *, train: bool,
                opts: DataOptions, device: torch.device, dist: DistInfo, views: str = "center"):
    """A DeviceLoader (ImageSet) or FolderLoader (FolderSet) with the run's normalisation and
    augmentation; `views` picks a folder's evaluation transform."""
    if isinstance(norm, dict):  # model.json's form
        norm = Normalization.from_meta(norm)
    if train and len(ds) < batch_size:  # the loaders' own advice names their drop_last
        kept = "".join(f", {k}={getattr(opts, k)}" for k in ("subset", "val_size")
                       if getattr(opts, k))
        raise ValueError(f"batch_size {batch_size} exceeds the {len(ds)} training images of "
                         f"{opts.data}{kept}: lower batch_size (--batch-size N) or train on "
                         "more images")
    if isinstance(ds, FolderSet):
        return _folder_loader(ds, norm, batch_size, train=train, opts=opts, device=device,
                              dist=dist, views=views)
    if not isinstance(ds, ImageSet):  # fit()'s own torch Dataset: items are model input
        return DatasetLoader(ds, batch_size, train=train, device=device, seed=opts.seed,
                             rank=dist.rank, world_size=dist.world_size,
                             channels_last=opts.channels_last)
    return DeviceLoader(ds.images, ds.labels, batch_size, train=train, device=device,
                        pad=opts.pad, flip=opts.flip, seed=opts.seed, rank=dist.rank,
                        world_size=dist.world_size, channels_last=opts.channels_last,
                        normalization=norm, augment=batch_augment(opts, norm) if train else None,
                        train_sizes=opts.train_sizes, size_mode=opts.size_mode,
                        alternate_flip=opts.alternate_flip)


def batch_augment(opts: DataOptions, norm: Normalization):
    """The batch policy the data keys describe (None: none); erased boxes take the mean colour
    under per-channel normalisation (0 after it, as torchvision's), else uniform noise."""
    fill = tuple(round(255 * m) for m in norm.mean) if norm.kind == "channel" else None
    return make_augment(**opts.augment, erase_fill=fill)


def _folder_loader(ds, norm, batch_size, *, train, opts, device, dist, views):
    size, resize = opts.image_size, opts.eval_resize
    if train and opts.crop == "rrc":
        tf = transforms.RandomResizedCrop(size, opts.rrc_scale, opts.rrc_ratio, hflip=opts.flip)
    elif train:
        tf = transforms.ScaleAugment(size, opts.scale_min, opts.scale_max, hflip=opts.flip)
    else:
        size = opts.eval_size or size
        tf = {"center": lambda: transforms.CenterCrop(size, resize),
              "ten-crop": lambda: transforms.TenCrop(size, resize),
              "multiscale": lambda: transforms.MultiScale(opts.test_scales)}[views]()
        if views == "multiscale":
            batch_size = dist.world_size
    sampler = None
    if train and dist.enabled:  # torch's sampler; evaluation keeps the exact, unpadded shards
        sampler = torch.utils.data.DistributedSampler(
            range(len(ds)), num_replicas=dist.world_size, rank=dist.rank, shuffle=True,
            seed=opts.seed, drop_last=True)
    return FolderLoader(ds, batch_size, train=train, transform=tf, size=size, device=device,
                        normalization=norm, lighting=opts.lighting,
                        workers=worker_count(opts.workers), seed=opts.seed, rank=dist.rank,
                        world_size=dist.world_size, channels_last=opts.channels_last,
                        sampler=sampler, augment=batch_augment(opts, norm) if train else None)


"""FolderLoader: batches from an image folder (a FolderSet, see data.sets.folders).

It decodes and transforms images in DataLoader worker processes with pinned
memory, and offers DeviceLoader's interface: len(), epoch_batches(epoch, start), GLOBAL
batch_size split into per-rank slices, order and augmentation from (seed, epoch) only.
"""

from __future__ import annotations

import os
import random
import stat
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from resnetlab.data.pipeline.batch_augment import for_device, normalize_batch
from resnetlab.data.pipeline.image_transforms import (
    TRAIN_TRANSFORMS,
    lighting_offsets,
    make_transform,
)
from resnetlab.data.pipeline.loaders import epoch_generator, rank_batches
from resnetlab.data.pipeline.normalization import IMAGENET_MEAN, IMAGENET_STD, Normalization
from resnetlab.data.pipeline.policies import batch_rng
from resnetlab.data.sets.folders import FolderSet, scan_folder
from resnetlab.io import Notice


def worker_count(wanted: int) -> int:
    """Loader worker processes: `wanted`, at most one per CPU core this process may use (so
    torch never warns that the workers outnumber the cores)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(wanted, cores))


def sample_rng(seed: int, epoch: int, index: int) -> random.Random:
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint32)
    return random.Random(int(state[0]) << 32 | int(state[1]))


class _ImageDataset(torch.utils.data.Dataset):
    """Maps (index, epoch) to (uint8 image(s), label, lighting alphas, path, error or None)."""

    def __init__(self, samples, transform, seed: int, lighting: float, strict: bool):
        self.samples, self.transform = samples, transform
        self.seed, self.lighting, self.strict = seed, lighting, strict

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, key):
        index, epoch = key
        path, label = self.samples[index]
        rng = sample_rng(self.seed, epoch, index)
        try:
            # O_NONBLOCK: a FIFO put in an image's place is refused, never waited on
            with open(path, "rb", opener=lambda p, fl: os.open(p, fl | os.O_NONBLOCK)) as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise ValueError("not a regular file")
                with Image.open(f) as img:
                    x = self.transform(img if img.mode == "RGB" else img.convert("RGB"), rng)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as e:
            if self.strict:
                raise ValueError(f"{path}: unreadable image ({e})") from e
            return None, label, None, str(path), f"{type(e).__name__}: {e}"
        alpha = [rng.gauss(0, self.lighting) for _ in range(3)] if self.lighting else None
        return x, label, alpha, str(path), None


def _collate(items):
    good = [it for it in items if it[4] is None]
    bad = [(it[3], it[4]) for it in items if it[4] is not None]
    y = torch.tensor([it[1] for it in good], dtype=torch.int64)
    alpha = torch.tensor([it[2] for it in good]) if good and good[0][2] is not None else None
    if good and isinstance(good[0][0], tuple):  # multi-scale: one tensor per scale
        x = tuple(torch.stack(s) for s in zip(*(it[0] for it in good)))
    else:
        x = torch.stack([it[0] for it in good]) if good else torch.empty(0, dtype=torch.uint8)
    return x, y, alpha, bad


class FolderLoader:
    """Batches (x float32 normalised, y int64) on `device` from an image folder.

    train=True: transform "scale" (the paper: shorter side in [256, 480], 224 crop, flip,
    PCA lighting with std `lighting`) or "rrc" (RandomResizedCrop); shuffled per epoch. A
    callable (PIL image, random.Random) -> uint8 tensor may be given instead of a name.
    train=False: "center" (256 -> 224), "ten-crop" (x is B×10×C×H×W) or "multiscale" (x is a
    tuple of B×C×H×W, one per scale; needs 1 image per rank per batch); every sample once.
    Unreadable images are reported by path and skipped (counted in `skipped`), or raise
    ValueError with skip_corrupt=False. `sampler` (e.g. torch's DistributedSampler) replaces
    the built-in order and rank sharding: it yields this rank's indices, set_epoch(epoch) is
    called on it, and batch_size stays global (pass world_size as well). `augment` (train
    only; e.g. policies.make_augment's) runs on each collated uint8 batch on the device, as
    DeviceLoader's does, after the crop and before lighting and normalisation, drawing from
    (seed, epoch, batch, rank).
    """

    def __init__(
        self,
        root: str | Path | FolderSet,
        batch_size: int,
        *,
        train: bool,
        transform=None,
        size: int = 224,
        device: str | torch.device = "cpu",
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        normalization: Normalization | None = None,
        lighting: float = 0.1,
        workers: int = 2,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool | None = None,
        skip_corrupt: bool = True,
        channels_last: bool = False,
        sampler=None,
        augment=None,
    ):
        self.folder = root if isinstance(root, FolderSet) else scan_folder(root)
        self.classes = self.folder.classes
        transform = transform or ("scale" if train else "center")
        if callable(transform):
            tf, transform = transform, getattr(transform, "__name__", type(transform).__name__)
        else:
            tf = make_transform(transform, size)
            if (transform in TRAIN_TRANSFORMS) != train:
                raise ValueError(f"transform {transform!r} does not fit train={train}: training "
                                 "takes scale or rrc; evaluation center, ten-crop or multiscale")
        if transform == "multiscale" and batch_size != world_size:
            raise ValueError("multiscale evaluation takes one image per rank: set batch_size to "
                             f"world_size ({world_size})")
        self.transform_name = transform
        self.device = torch.device(device)
        self.train, self.workers, self.seed = train, worker_count(workers), seed
        self.skip_corrupt, self.channels_last, self.sampler = skip_corrupt, channels_last, sampler
        self.plan = rank_batches(len(self.folder), batch_size, train=train, rank=rank,
                                 world_size=world_size, drop_last=drop_last)
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.dataset = _ImageDataset(self.folder.samples, tf, seed,
                                     lighting if train else 0.0, strict=not skip_corrupt)
        normalization = normalization or Normalization(mean, std)
        if normalization.kind != "channel" or normalization.channels != 3:
            raise ValueError("image folders are normalised per RGB channel (3 means, 3 stds), "
                             f"not by {normalization}")
        self.normalization = normalization
        self._scale, self._shift = normalization.scale_shift(self.device)
        self.mean, self.std = normalization.mean, normalization.std
        self._std = torch.tensor(self.std, dtype=torch.float32, device=self.device).view(3, 1, 1)
        self.augment = augment if train else None
        self.epoch = 0
        self.skipped: list[tuple[str, str]] = []

    def __len__(self) -> int:
        if self.sampler is not None:
            n, b = len(self.sampler), self.plan.local_batch
            return n // b if self.plan.drop_last else -(-n // b)
        return len(self.plan)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return self.epoch_batches(self.epoch)

    def _index_batches(self, epoch: int, start: int) -> list[list[int]]:
        if self.sampler is not None:  # e.g. torch's DistributedSampler
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(epoch)
            idx, b = list(self.sampler), self.plan.local_batch
            return [idx[i * b:(i + 1) * b] for i in range(start, len(self))]
        perm = torch.randperm(len(self.folder), generator=epoch_generator(self.seed, epoch))
        order = perm if self.train else torch.arange(len(self.folder))
        return [order[self.plan.positions(i)].tolist() for i in range(start, len(self.plan))]

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, ...]]:
        """This rank's batches of `epoch` from batch `start`; resets `skipped` for the epoch."""
        if not 0 <= start <= len(self):
            raise ValueError(f"start batch must be in 0..{len(self)}, got {start}")
        batches = [[(i, epoch) for i in b] for b in self._index_batches(epoch, start)]
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=batches, num_workers=self.workers,
            collate_fn=_collate, pin_memory=self.device.type == "cuda",
            persistent_workers=False, prefetch_factor=4 if self.workers else None,
        )
        self.skipped = []
        return self._generate(loader, epoch, start)

    def _generate(self, loader, epoch, start):
        yielded = False
        for i, (x, y, alpha, bad) in enumerate(loader, start):
            for path, err in bad:
                warnings.warn(f"skipped unreadable image {path} ({err})", Notice,
                              stacklevel=2)
            self.skipped += bad
            if len(y):
                yielded = True
                rng = batch_rng(self.seed, epoch, i, self.rank) if self.augment else None
                yield self._finish(x, alpha, rng), y.to(self.device, non_blocking=True)
        if self.train and not yielded and self.skipped:  # else training would spin forever
            path, err = self.skipped[0]
            raise ValueError(
                f"{self.folder.root}: no image could be read in training epoch {epoch}: all "
                f"{len(self.skipped)} drawn were skipped as unreadable, e.g. {path} ({err}); "
                "replace or remove the broken files")
        if self.skipped:
            warnings.warn(f"epoch {epoch}: skipped {len(self.skipped)} unreadable image(s) of "
                          f"{len(self.folder)} in {self.folder.root}", Notice, stacklevel=2)

    def _finish(self, x, alpha, rng=None):
        """uint8 batch -> augmented by rng -> float32 (x/255 + PCA lighting - mean) / std on
        the device, in one fused pass (NumPy on CPU, addcmul on CUDA)."""
        if isinstance(x, tuple):
            return tuple(self._finish(s, alpha) for s in x)
        x = x.to(self.device, non_blocking=True)
        scale, shift = self._scale, self._shift
        if alpha is not None:
            shift = shift + lighting_offsets(alpha.to(self.device)).view(-1, 3, 1, 1) / self._std
        x, scale, shift = for_device(self.device, x, scale, shift)
        if rng is not None:
            x = self.augment(x, rng)
        return normalize_batch(x, scale, shift, self.channels_last)

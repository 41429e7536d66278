"""DeviceLoader: a whole small uint8 set on the training device, augmented in batches.

Every epoch's order and augmentation are drawn at once from a CPU generator seeded by
(seed, epoch) alone, so batch k of epoch e is the same on CPU or CUDA, in an uninterrupted run
or one resumed at (e, k), and each DDP rank takes its own slice of every global batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from resnetlab.data.pipeline.batch_augment import (
    crop_flip,
    for_device,
    in_numpy,
    normalize_batch,
    random_crop_params,
)
from resnetlab.data.pipeline.normalization import Normalization
from resnetlab.data.pipeline.policies import batch_rng
from resnetlab.data.sets.datasets import pixel_mean as mean_image


@runtime_checkable
class Loader(Protocol):
    """What training and evaluation need of a loader (DeviceLoader and FolderLoader both are):
    batches per epoch, and this rank's (x, y) batches of an epoch from a batch on, the same
    ones whenever they are asked for (so a resumed run sees the batches it would have)."""

    def __len__(self) -> int: ...

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple]: ...


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator that depends only on (seed, epoch)."""
    if seed < 0 or epoch < 0:
        raise ValueError(f"seed and epoch must be >= 0, got seed={seed} epoch={epoch}")
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


@dataclass(frozen=True)
class BatchPlan:
    """Which positions rank `rank` takes in each batch (shared by both loaders).

    Training: global batch i is positions [i*B, (i+1)*B) of the epoch's permutation and rank r
    takes its r-th slice of B // world_size (a last partial batch is split evenly). Evaluation:
    rank r takes the r-th contiguous part of the set, in batches of B // world_size.
    """

    n: int
    batch_size: int
    train: bool
    rank: int = 0
    world_size: int = 1
    drop_last: bool = True

    @property
    def local_batch(self) -> int:
        return self.batch_size // self.world_size

    @property
    def shard(self) -> tuple[int, int]:
        return self.n * self.rank // self.world_size, self.n * (self.rank + 1) // self.world_size

    def __len__(self) -> int:
        if self.train:
            return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)
        lo, hi = self.shard
        return -(-(hi - lo) // self.local_batch)

    def positions(self, i: int) -> slice:
        """This rank's part of batch i: epoch positions (train) or set indices (eval)."""
        if not self.train:
            a = self.shard[0] + i * self.local_batch
            return slice(a, min(a + self.local_batch, self.shard[1]))
        lo, hi = i * self.batch_size, min((i + 1) * self.batch_size, self.n)
        if hi - lo == self.batch_size:
            start = lo + self.rank * self.local_batch
            return slice(start, start + self.local_batch)
        cuts = [lo + (hi - lo) * r // self.world_size for r in range(self.world_size + 1)]
        return slice(cuts[self.rank], cuts[self.rank + 1])

    @property
    def num_samples(self) -> int:
        """Samples this rank yields per epoch."""
        return sum(self.positions(i).stop - self.positions(i).start for i in range(len(self)))


def rank_batches(n: int, batch_size: int, *, train: bool, rank: int = 0, world_size: int = 1,
                 drop_last: bool | None = None) -> BatchPlan:
    """A checked BatchPlan: errors name the argument to change."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
    if batch_size < 1 or batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} (global) must be a positive multiple of "
                         f"world_size {world_size}")
    if drop_last and not train:
        raise ValueError("evaluation never drops samples: leave drop_last unset with train=False")
    drop = train if drop_last is None else drop_last
    plan = BatchPlan(n, batch_size, train, rank, world_size, drop)
    if train and len(plan) == 0:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} training samples; lower it "
                         "or pass drop_last=False")
    return plan


class DeviceLoader:
    """Batches (x float32 normalised, y int64), both on `device`, from uint8 N×C×H×W images.

    batch_size is the GLOBAL batch: rank r of world_size yields its batch_size // world_size
    slice of each global batch. The input normalisation is `normalization`, else built from
    normalize ("channel"|"pixel"|"none"), mean, std and pixel_mean. train=True shuffles and
    augments every epoch (pad + random crop, flip, then `augment`: a callable (uint8 batch,
    NumPy Generator) -> uint8 batch such as policies.make_augment's, its generator seeded by
    (seed, epoch, batch, rank) so a resumed epoch redraws the same) and drops the last partial
    batch unless drop_last=False. train=False neither augments, shuffles nor drops: rank r
    takes the r-th contiguous part of the set, so every sample is seen exactly once over all
    ranks (a rank's last batch may be short).

    Speedrun options (training only): train_sizes, the side in px of each epoch's training
    images (the last repeats; () = the images' own size), for progressive resizing: a
    globally pooled net trains on small images early and full ones at the end. size_mode
    "resize" downscales whole images (antialiased bilinear, per-channel normalisation only);
    "crop" takes random crops of that side (the object's scale kept, part of it cut away).
    alternate_flip: each image's flip is drawn once (from seed) and inverted every other
    epoch, so consecutive epochs see both mirror images (airbench's alternating flip) instead
    of random flips.
    """

    def __init__(
        self,
        images,
        labels,
        batch_size: int,
        *,
        train: bool,
        device: str | torch.device = "cpu",
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        normalize: str = "channel",
        pixel_mean: torch.Tensor | None = None,
        normalization: Normalization | None = None,
        pad: int = 4,
        flip: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool | None = None,
        channels_last: bool = False,
        augment=None,
        train_sizes: Sequence[int] = (),
        size_mode: str = "resize",
        alternate_flip: bool = False,
    ):
        images = torch.as_tensor(images)
        labels = torch.as_tensor(labels, dtype=torch.int64)
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 N×C×H×W, got {images.dtype} "
                             f"{tuple(images.shape)}")
        if len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        if pad < 0:
            raise ValueError(f"pad must be >= 0, got {pad}")
        if size_mode not in SIZE_MODES:
            raise ValueError(f"size_mode must be one of {', '.join(SIZE_MODES)}, not "
                             f"{size_mode!r}")
        side = min(images.shape[2:]) + (2 * pad if size_mode == "crop" else 0)
        if any(not 0 < size <= side for size in train_sizes):
            raise ValueError(f"train_sizes {list(train_sizes)}: each must be in 1..{side} px "
                             f"(size_mode {size_mode}: the images' smaller side, plus 2 x pad "
                             "when cropping)")
        if train_sizes and size_mode == "resize" and (
                pixel_mean is not None or normalize == "pixel"
                or (normalization is not None and normalization.kind == "pixel")):
            raise ValueError("train_sizes with size_mode resize needs per-channel "
                             "normalization (a per-pixel mean has the full size)")
        self.plan = rank_batches(len(images), batch_size, train=train, rank=rank,
                                 world_size=world_size, drop_last=drop_last)
        self.device = torch.device(device)
        self.images = images.to(self.device).contiguous()
        self.labels = labels.to(self.device)
        self._flat = self.images.view(len(images), -1)
        self.batch_size, self.local_batch = batch_size, self.plan.local_batch
        self.train, self.pad, self.flip = train, pad if train else 0, flip and train
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.drop_last, self.channels_last = self.plan.drop_last, channels_last
        self.augment = augment if train else None
        self.train_sizes = tuple(int(v) for v in train_sizes) if train else ()
        self.size_mode = size_mode
        self._resized: dict[int, tuple] = {}
        self.alternate_flip = alternate_flip and self.flip
        if normalization is None:  # the loose arguments, kept for callers of this signature
            if normalize == "pixel" and pixel_mean is None and train:
                pixel_mean = mean_image(images)
            normalization = Normalization.from_setting(normalize, mean, std, pixel_mean,
                                                       images.shape[1])
        else:
            normalize = normalization.kind
            mean, std, pixel_mean = normalization.mean, normalization.std, normalization.pixel_mean
        normalization.check(images.shape[1:])
        if pixel_mean is not None:
            pixel_mean = torch.as_tensor(pixel_mean, dtype=torch.float32)
        self.normalization = normalization
        self.normalize, self.mean, self.std, self.pixel_mean = normalize, mean, std, pixel_mean
        self._scale, self._shift = normalization.scale_shift(self.device)
        self.epoch = 0
        self._numpy = in_numpy(self.device)
        if self._numpy:
            self._np_images, self._np_labels, self._np_scale, self._np_shift = for_device(
                self.device, self.images, self.labels, self._scale, self._shift)

    @classmethod
    def from_imageset(cls, ds, batch_size: int, **kwargs) -> DeviceLoader:
        """A loader over an ImageSet, normalised by its (train split's) mean/std by default."""
        kwargs.setdefault("mean", ds.mean)
        kwargs.setdefault("std", ds.std)
        return cls(ds.images, ds.labels, batch_size, **kwargs)

    def __len__(self) -> int:
        return len(self.plan)

    @property
    def num_samples(self) -> int:
        """Samples this rank yields per epoch."""
        return self.plan.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.epoch_batches(self.epoch)

    def train_size(self, epoch: int) -> int | None:
        """The side of epoch's training images in px (None: the images' own size)."""
        return self.train_sizes[min(epoch, len(self.train_sizes) - 1)] if self.train_sizes else None

    def _images_at(self, side: int | None):
        """(images, flat view, NumPy array or None) of the set, downscaled to side px
        (antialiased bilinear, once per side) when side is set."""
        if side is None or side == min(self.images.shape[2:]):
            return self.images, self._flat, self._np_images if self._numpy else None
        if side not in self._resized:
            x = F.interpolate(self.images.float(), size=(side, side), mode="bilinear",
                              antialias=True).round_().clamp_(0, 255).to(torch.uint8)
            self._resized[side] = (x, x.view(len(x), -1), x.numpy() if self._numpy else None)
        return self._resized[side]

    def _batch(self, idx, aug, rng=None, size: int | None = None,
               side: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images at idx (a slice or an index array) at side px (None: their own), cropped to
        size and flipped by aug, augmented from rng, normalised (in NumPy on CPU: see
        batch_augment.in_numpy)."""
        images, flat, np_images = self._images_at(side)
        if self._numpy:
            x = np_images[idx] if isinstance(idx, slice) else np_images.take(idx, 0)
            y = torch.from_numpy(self._np_labels[idx] if isinstance(idx, slice)
                                 else self._np_labels.take(idx))
            scale, shift = self._np_scale, self._np_shift
        else:
            if isinstance(idx, slice):
                x = images[idx]
            else:
                idx = torch.as_tensor(idx, device=self.device)  # already there in training
                x = flat.index_select(0, idx).view(-1, *images.shape[1:])
            y = self.labels[idx]
            scale, shift = self._scale, self._shift
        if aug is not None:
            x = crop_flip(x, *aug, self.pad, size)
        if rng is not None:
            x = self.augment(x, rng)
        return normalize_batch(x, scale, shift, self.channels_last), y

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, ...]]:
        """This rank's batches of `epoch`, from batch `start` (0 <= start <= len)."""
        if not 0 <= start <= len(self):
            raise ValueError(f"start batch must be in 0..{len(self)}, got {start}")
        if not self.train:
            return (self._batch(self.plan.positions(i), None) for i in range(start, len(self)))
        return self._train_batches(epoch, start)

    def _train_batches(self, epoch: int, start: int):
        n, (h, w) = len(self.images), self.images.shape[2:]
        size = side = None
        if self.size_mode == "crop":
            size = self.train_size(epoch)
        else:
            side = self.train_size(epoch)
            h, w = (side, side) if side else (h, w)
        span = 2 * self.pad + min(h, w) - (size or min(h, w))
        g = epoch_generator(self.seed, epoch)
        perm, dy, dx, flips = (torch.randperm(n, generator=g),
                               *random_crop_params(n, span, self.flip, g))
        if self.alternate_flip:  # per image, not per position: the same mask every epoch
            flips = (flip_mask(self.seed, n) ^ bool(epoch % 2))[perm]
        # The epoch's order and crops, drawn on the CPU (the same on every device), cross to
        # the device once per epoch: a copy per batch would make the host wait for the GPU.
        drawn = (perm, dy, dx, flips)
        perm, dy, dx, flips = (t.numpy() for t in drawn) if self._numpy else (
            t.to(self.device) for t in drawn)
        for i in range(start, len(self)):
            sl = self.plan.positions(i)
            aug = (dy[sl], dx[sl], flips[sl]) if (span or self.flip or size) else None
            rng = batch_rng(self.seed, epoch, i, self.rank) if self.augment else None
            yield self._batch(perm[sl], aug, rng, size, side)


SIZE_MODES = ("resize", "crop")


def flip_mask(seed: int, n: int) -> torch.Tensor:
    """Which of n images alternate_flip mirrors in even epochs: half at random, from seed alone
    (the trailing word keeps it apart from every epoch_generator stream)."""
    state = np.random.SeedSequence([seed, 0, 0xF11B]).generate_state(1, np.uint64)[0]
    return torch.rand(n, generator=torch.Generator().manual_seed(int(state))) < 0.5

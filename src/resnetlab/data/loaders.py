"""DeviceLoader: a whole small uint8 set on the training device, augmented in batches.

Every epoch's order and augmentation are drawn at once from a CPU generator seeded by
(seed, epoch) alone, so batch k of epoch e is the same on CPU or CUDA, in an uninterrupted run
or one resumed at (e, k), and each DDP rank takes its own slice of every global batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from resnetlab.data.augment import crop_flip, normalizer, random_crop_params


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator that depends only on (seed, epoch)."""
    if seed < 0 or epoch < 0:
        raise ValueError(f"seed and epoch must be >= 0, got seed={seed} epoch={epoch}")
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


class DeviceLoader:
    """Batches (x float32 normalised, y int64), both on `device`, from uint8 N×C×H×W images.

    batch_size is the GLOBAL batch: rank r of world_size yields its batch_size // world_size
    slice of each global batch. train=True shuffles and augments every epoch (pad + random
    crop, flip) and drops the last partial batch unless drop_last=False. train=False neither
    augments, shuffles nor drops: rank r takes the r-th contiguous part of the set, so every
    sample is seen exactly once over all ranks (a rank's last batch may be short).
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
        pad: int = 4,
        flip: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool | None = None,
        channels_last: bool = False,
    ):
        images = torch.as_tensor(images)
        labels = torch.as_tensor(labels, dtype=torch.int64)
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 N×C×H×W, got {images.dtype} "
                             f"{tuple(images.shape)}")
        if len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
        if batch_size < 1 or batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} (global) must be a positive multiple of "
                             f"world_size {world_size}")
        if pad < 0:
            raise ValueError(f"pad must be >= 0, got {pad}")
        if drop_last and not train:
            raise ValueError("evaluation never drops samples: leave drop_last unset with "
                             "train=False")
        self.device = torch.device(device)
        self.images = images.to(self.device).contiguous()
        self.labels = labels.to(self.device)
        self._flat = self.images.view(len(images), -1)
        self.batch_size = batch_size
        self.local_batch = batch_size // world_size
        self.train, self.pad, self.flip = train, pad if train else 0, flip and train
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.drop_last = train if drop_last is None else drop_last
        self.channels_last = channels_last
        if normalize == "pixel" and pixel_mean is None and train:
            from resnetlab.data.datasets import pixel_mean as mean_image

            pixel_mean = mean_image(images)
        self.normalize = normalize
        self.mean, self.std = mean, std
        self.pixel_mean = pixel_mean
        self._scale, self._shift = normalizer(images.shape[1], normalize, mean, std, pixel_mean,
                                              self.device)
        self.epoch = 0
        n = len(images)
        if train:
            self._len = n // batch_size if self.drop_last else math.ceil(n / batch_size)
            if self._len == 0:
                raise ValueError(f"batch_size {batch_size} exceeds the {n} training samples; "
                                 "lower it or pass drop_last=False")
        else:
            bounds = [n * r // world_size for r in range(world_size + 1)]
            self._shard = (bounds[rank], bounds[rank + 1])
            self._len = math.ceil((bounds[rank + 1] - bounds[rank]) / self.local_batch)

    @classmethod
    def from_imageset(cls, ds, batch_size: int, **kwargs) -> DeviceLoader:
        """A loader over an ImageSet, normalised by its (train split's) mean/std by default."""
        kwargs.setdefault("mean", ds.mean)
        kwargs.setdefault("std", ds.std)
        return cls(ds.images, ds.labels, batch_size, **kwargs)

    def __len__(self) -> int:
        return self._len

    @property
    def num_samples(self) -> int:
        """Samples this rank yields per epoch."""
        if not self.train:
            return self._shard[1] - self._shard[0]
        return sum(len(self._local(i, len(self.images))) for i in range(self._len))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.epoch_batches(self.epoch)

    def _local(self, i: int, n: int) -> range:
        """Epoch positions of this rank's slice of global batch i."""
        lo, hi = i * self.batch_size, min((i + 1) * self.batch_size, n)
        if hi - lo == self.batch_size:
            start = lo + self.rank * self.local_batch
            return range(start, start + self.local_batch)
        cuts = [lo + (hi - lo) * r // self.world_size for r in range(self.world_size + 1)]
        return range(cuts[self.rank], cuts[self.rank + 1])

    def _batch(self, idx, aug) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(idx, slice):
            x, y = self.images[idx], self.labels[idx]
        else:
            x = self._flat.index_select(0, idx).view(-1, *self.images.shape[1:])
            y = self.labels[idx]
        if aug is not None:
            x = crop_flip(x, *aug, self.pad)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        x = x.contiguous(memory_format=fmt).float().mul_(self._scale).add_(self._shift)
        return x, y

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, ...]]:
        """This rank's batches of `epoch`, from batch `start` (0 <= start <= len)."""
        if not 0 <= start <= self._len:
            raise ValueError(f"start batch must be in 0..{self._len}, got {start}")
        if not self.train:
            return self._eval_batches(start)
        return self._train_batches(epoch, start)

    def _train_batches(self, epoch: int, start: int):
        n = len(self.images)
        g = epoch_generator(self.seed, epoch)
        perm = torch.randperm(n, generator=g)
        dy, dx, flips = random_crop_params(n, self.pad, self.flip, g)
        for i in range(start, self._len):
            pos = self._local(i, n)
            sl = slice(pos.start, pos.stop)
            aug = (dy[sl], dx[sl], flips[sl]) if (self.pad or self.flip) else None
            yield self._batch(perm[sl].to(self.device), aug)

    def _eval_batches(self, start: int):
        lo, hi = self._shard
        for i in range(start, self._len):
            a = lo + i * self.local_batch
            yield self._batch(slice(a, min(a + self.local_batch, hi)), None)

"""DatasetLoader: batches from any torch Dataset of (image, label) items, as the Loader
protocol (len(), epoch_batches(epoch, start)) that training and evaluation use.

The items are taken as model input: a float C×H×W tensor is passed on as it is (the
dataset's own transforms normalise and augment it); a uint8 one is scaled to 0..1. The order
of an epoch depends only on (seed, epoch), so a resumed run sees the same batches; a
dataset whose transforms draw random numbers from torch's global generator gets them seeded
per batch as well.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from resnetlab.data.pipeline.loaders import epoch_generator, rank_batches


class DatasetLoader:
    """Batches (x float32 on device, y int64 on device) of a map-style torch Dataset.

    batch_size is global (rank r of world_size takes its slice); train=True shuffles per
    epoch and drops the last partial batch; train=False keeps the order and every item.
    `workers` > 0 reads the items in DataLoader worker processes.
    """

    def __init__(self, dataset, batch_size: int, *, train: bool, device="cpu", seed: int = 0,
                 rank: int = 0, world_size: int = 1, workers: int = 0,
                 channels_last: bool = False):
        self.dataset = dataset
        self.train, self.seed, self.workers = train, seed, workers
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.plan = rank_batches(len(dataset), batch_size, train=train, rank=rank,
                                 world_size=world_size)

    def __len__(self) -> int:
        return len(self.plan)

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, ...]]:
        if not 0 <= start <= len(self):
            raise ValueError(f"start batch must be in 0..{len(self)}, got {start}")
        n = len(self.dataset)
        order = (torch.randperm(n, generator=epoch_generator(self.seed, epoch)) if self.train
                 else torch.arange(n))
        batches = [order[self.plan.positions(i)].tolist() for i in range(start, len(self))]
        # its own generator: creating the iterator draws no number from the global one
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=batches,
                                             num_workers=self.workers, collate_fn=_collate,
                                             generator=epoch_generator(self.seed, epoch))
        return self._generate(loader)

    def _generate(self, loader):
        for x, y in loader:
            x = x.to(self.device, non_blocking=True)
            x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
            if self.channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y.to(self.device, non_blocking=True)


def _collate(items):
    xs, ys = zip(*((it[0], it[1]) for it in items))
    x = torch.stack([torch.as_tensor(v) for v in xs])
    y = torch.as_tensor([int(v) for v in ys], dtype=torch.int64)
    return x, y

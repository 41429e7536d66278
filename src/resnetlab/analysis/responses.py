"""The paper's Fig. 7: the standard deviation of every 3x3 layer's response over a data set.

A response is a BN output after a 3x3 conv, before the addition and the ReLU
(resnetlab.models.stats.response_layers). Its std is pooled over every sample, channel and
position of the data set, accumulated in float64 so that no batch needs to stay in memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from resnetlab.checkpoint import load_model
from resnetlab.data import DeviceLoader, load_dataset
from resnetlab.data.pipeline.normalization import Normalization
from resnetlab.models.stats import collect_responses, response_layers


@torch.no_grad()
def response_stds(
    model: nn.Module, batches: Iterable[torch.Tensor | tuple], kind: str = "3x3"
) -> dict[str, float]:
    """{layer name: std of its response over all batches}, layers in forward order.

    `batches` yields inputs (or (input, label) pairs). The model is run in eval mode, as a
    trained model is tested: BN uses its running statistics.
    """
    names = list(response_layers(model, kind))
    if not names:
        raise ValueError(f"the model has no {kind} response layers (is it a ResNet?)")
    acc = {n: torch.zeros(3, dtype=torch.float64) for n in names}
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            _, responses = collect_responses(model, x, kind)
            for n, r in responses.items():
                r = r.double()
                acc[n] += torch.stack([r.new_tensor(r.numel()), r.sum(), (r * r).sum()]).cpu()
    finally:
        model.train(was_training)
    out = {}
    for n in names:
        count, s, ss = acc[n].tolist()
        if count < 2:
            raise ValueError("no data reached the model: the data set gave no batch")
        mean = s / count
        out[n] = math.sqrt(max(ss / count - mean * mean, 0.0) * count / (count - 1))
    return out


def sorted_stds(stds: dict[str, float] | list[float]) -> list[float]:
    """The same stds sorted by magnitude, largest first (Fig. 7, bottom)."""
    values = list(stds.values()) if isinstance(stds, dict) else list(stds)
    return sorted(values, reverse=True)


def loader_for(meta: dict, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
               device: str = "cpu"):
    """An evaluation DeviceLoader normalising as the model was trained (its model.json)."""
    norm = Normalization.from_meta(meta.get("normalization") or {})
    if norm.kind == "pixel" and tuple(norm.pixel_mean.shape) != tuple(images.shape[1:]):
        raise ValueError(f"the model's per-pixel mean is {tuple(norm.pixel_mean.shape)} but the "
                         f"images are {tuple(images.shape[1:])}: use the data it was trained on")
    if norm.kind == "channel" and norm.channels != images.shape[1]:
        raise ValueError(f"the model was trained on {norm.channels}-channel images but the data "
                         f"has {images.shape[1]} channels")
    return DeviceLoader(images, labels, batch_size, train=False, device=device,
                        normalization=norm)


def dataset_stds(
    path: str, data: str, root: str | None = None, kind: str = "3x3",
    limit: int | None = None, batch_size: int = 500, device: str = "cpu",
) -> dict[str, float]:
    """Fig. 7 stds of a model file over a data set's test split (its first `limit` images),
    normalised as the model was trained."""
    model, meta = load_model(path, device=device)
    ds = load_dataset(data, "test", root=root)
    images, labels = ds.images, ds.labels
    if limit is not None:
        if limit < 2:
            raise ValueError(f"--limit must be at least 2 images, got {limit}")
        images, labels = images[:limit], labels[:limit]
    loader = loader_for(meta, images, labels, batch_size, device)
    return response_stds(model, loader.epoch_batches(0), kind)


def run_stds(run_dir: str, config: dict, kind: str = "3x3") -> dict[str, float]:
    """Fig. 7 stds of a finished training run over the test split it was evaluated on."""
    return dataset_stds(run_dir, config["data"], config.get("data_root"), kind)

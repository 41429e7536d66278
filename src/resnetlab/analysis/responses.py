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


def model_file_stds(
    path: str, images: torch.Tensor, batch_size: int = 256, kind: str = "3x3",
    device: str = "cpu",
) -> dict[str, float]:
    """Fig. 7 stds of a resnetlab model file over uint8 images (N×C×H×W), normalised with
    the statistics stored in the model's description."""
    from resnetlab.checkpoint import load_model

    model, meta = load_model(path, device=device)
    mean, std = normalization_of(meta, images.shape[1])
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)

    def batches():
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].to(device).float().div_(255)
            yield (x - m) / s

    return response_stds(model, batches(), kind)


def normalization_of(meta: dict, channels: int) -> tuple[list[float], list[float]]:
    """Per-channel (mean, std) from a model description; refuses what it cannot honour."""
    norm = meta.get("normalization") or {}
    if "mean" in norm and "std" in norm:
        mean, std = list(norm["mean"]), list(norm["std"])
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"the model was trained on {len(mean)}-channel images but the "
                             f"data has {channels} channels")
        return mean, std
    raise ValueError("the model file states no per-channel normalization {'mean', 'std'}; "
                     "retrain it with resnetlab or add one to its model.json")


def dataset_stds(
    path: str, data: str, root: str | None = None, kind: str = "3x3",
    limit: int | None = None, batch_size: int = 500, device: str = "cpu",
) -> dict[str, float]:
    """Fig. 7 stds of a model file over a data set's test split (its first `limit` images)."""
    from resnetlab.data import load_dataset

    images = load_dataset(data, "test", root=root).images
    if limit is not None:
        if limit < 2:
            raise ValueError(f"--limit must be at least 2 images, got {limit}")
        images = images[:limit]
    return model_file_stds(path, images, batch_size, kind, device)


def run_stds(run_dir: str, config: dict, kind: str = "3x3") -> dict[str, float]:
    """Fig. 7 stds of a finished training run over the test split it was evaluated on."""
    return dataset_stds(run_dir, config["data"], config.get("data_root"), kind)

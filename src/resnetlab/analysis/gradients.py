"""Gradient norm of every convolution, at initialisation and after k SGD steps.

Makes the "why residual learning works" argument measurable: does the gradient reaching the
first layers of a deep plain net (with BN) vanish, and what does the identity path change?
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.data import DeviceLoader, load_dataset

Batch = tuple[torch.Tensor, torch.Tensor]


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every convolution, in forward order (module order is forward order in ResNet)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, list[float]]:
    """(loss, L2 norm of dLoss/dW per convolution) for one batch in training mode.

    Training mode because that is the gradient SGD follows: BN normalises with the batch's
    statistics. The model's running BN statistics are restored afterwards.
    """
    layers = conv_layers(model)
    if not layers:
        raise ValueError("the model has no convolutions to measure")
    bn_state = {k: v.clone() for k, v in model.state_dict().items() if "running" in k
                or "num_batches" in k}
    was_training = model.training
    model.train()
    model.zero_grad(set_to_none=True)
    try:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        norms = [float(m.weight.grad.norm()) if m.weight.grad is not None else 0.0
                 for _, m in layers]
    finally:
        model.load_state_dict(bn_state, strict=False)
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return float(loss.detach()), norms


@dataclass
class GradientProfile:
    """Per-convolution gradient norms of one model at init and after `steps` SGD steps."""

    name: str
    residual: bool
    layers: list[str]
    init: list[float]
    after: list[float]
    steps: int
    loss_init: float
    loss_after: float
    summary: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(norms: list[float]) -> dict[str, float]:
    """First-layer / last-layer ratio (below 1: the gradient shrinks on its way down)."""
    first, last = norms[0], norms[-1]
    ratio = first / last if last > 0 else math.inf
    logs = [math.log10(n) for n in norms if n > 0]
    return {
        "first": first,
        "last": last,
        "first_over_last": ratio,
        "min": min(norms),
        "max": max(norms),
        "log10_spread": (max(logs) - min(logs)) if logs else 0.0,
    }


def gradient_profile(
    model: nn.Module,
    name: str,
    probe: Batch,
    batches: Callable[[], Iterator[Batch]],
    steps: int,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
) -> GradientProfile:
    """Measure on the fixed probe batch, take `steps` SGD steps on `batches`, measure again.

    The SGD steps use the paper's optimiser settings; they exist only to see how the
    profile moves away from initialisation, not to train a model (that is resnetlab.train).
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    x, y = probe
    loss0, init = gradient_norms(model, x, y)
    if steps:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                              weight_decay=weight_decay)
        model.train()
        done = 0
        while done < steps:
            before = done
            for bx, by in batches():
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(bx), by).backward()
                opt.step()
                done += 1
                if done == steps:
                    break
            if done == before:
                raise ValueError(f"{name}: the data gave no batch to take SGD steps on")
    loss1, after = gradient_norms(model, x, y)
    for value in (loss0, loss1, *init, *after):
        if not math.isfinite(value):
            raise ValueError(f"{name}: non-finite loss or gradient norm after {steps} steps; "
                             "lower the learning rate (--lr)")
    return GradientProfile(
        name=name,
        residual=bool(getattr(model, "residual", True)),
        layers=[n for n, _ in conv_layers(model)],
        init=init,
        after=after,
        steps=steps,
        loss_init=loss0,
        loss_after=loss1,
        summary={**{f"init_{k}": v for k, v in summarize(init).items()},
                 **{f"after_{k}": v for k, v in summarize(after).items()}},
    )


def data_batches(
    data: str, batch_size: int, seed: int = 0, root: str | None = None
) -> tuple[tuple[int, int, int, int], Callable[[], Iterator[Batch]]]:
    """((channels, height, width, classes), a fresh-epoch iterator of normalised train
    batches) for a data set name, or for "synthetic" (Gaussian images, random labels)."""
    if data == "synthetic":
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(8 * batch_size, 3, 32, 32, generator=g)
        y = torch.randint(0, 10, (8 * batch_size,), generator=g)

        def synthetic() -> Iterator[Batch]:
            for i in range(0, len(x), batch_size):
                yield x[i:i + batch_size], y[i:i + batch_size]

        return (3, 32, 32, 10), synthetic

    ds = load_dataset(data, "train", root=root)
    loader = DeviceLoader(ds.images, ds.labels, batch_size, train=True, mean=ds.mean,
                          std=ds.std, seed=seed)
    epoch = iter(range(1 << 30))
    c, h, w = ds.images.shape[1:]
    return (c, h, w, len(ds.classes)), lambda: loader.epoch_batches(next(epoch))

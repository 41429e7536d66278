"""Gradient norm of every convolution, at initialisation and after k SGD steps.

Makes the "why residual learning works" argument measurable: does the gradient reaching the
first layers of a deep plain net (with BN) vanish, and what does the identity path change?
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.analysis.figures import gradients_figure
from resnetlab.analysis.report import Report
from resnetlab.checkpoint import load_model
from resnetlab.data import DeviceLoader, load_dataset
from resnetlab.models.registry import build_model

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


# `resnetlab analyze gradients` end to end: profile registry nets or model files, write a
# figure, a table and gradients.json.


def build(model: str, shape: tuple[int, int, int, int], seed: int) -> torch.nn.Module:
    """A registry name at He init (seeded) for this data, or a trained model file."""
    path = Path(model)
    if path.suffix == ".safetensors" or path.is_dir():
        net, meta = load_model(path)
        if list(meta.get("input_size") or [])[:1] not in ([], [shape[0]]):
            raise ValueError(f"{model} takes {meta['input_size'][0]}-channel images but the "
                             f"data has {shape[0]}")
        return net

    torch.manual_seed(seed)
    return build_model(model, in_chans=shape[0], num_classes=shape[3])


def profile_models(
    models: Sequence[str], data: str = "synthetic", steps: int = 50, batch_size: int = 128,
    lr: float = 0.1, seed: int = 0, root: str | None = None, log: Callable[[str], None] = print,
) -> list[GradientProfile]:
    if not models:
        raise ValueError("name at least one model, e.g. plain56 resnet56")
    shape, batches = data_batches(data, batch_size, seed, root)
    probe = next(iter(batches()))
    out = []
    for name in models:
        t0 = time.time()
        net = build(name, shape, seed)
        out.append(gradient_profile(net, Path(name).stem if Path(name).suffix else name,
                                    probe, batches, steps, lr=lr))
        log(f"{name}: {time.time() - t0:.1f} s")
    return out


def table(profiles: Sequence[GradientProfile]) -> tuple[list[str], list[list[str]]]:
    head = ["model", "convs", "first conv (init)", "last conv (init)", "first/last (init)",
            "first/last (after k)", "loss init → after"]
    rows = [[p.name, str(len(p.layers)), f"{p.summary['init_first']:.3g}",
             f"{p.summary['init_last']:.3g}", f"{p.summary['init_first_over_last']:.3g}",
             f"{p.summary['after_first_over_last']:.3g}",
             f"{p.loss_init:.3f} → {p.loss_after:.3f}"] for p in profiles]
    return head, rows


def reading(profiles: Sequence[GradientProfile]) -> list[str]:
    """Plain facts from the numbers: ratio first/last per model, plain against residual."""
    lines = []
    for p in profiles:
        for when in ("init", "after"):
            r = p.summary[f"{when}_first_over_last"]
            trend = ("shrinks" if r < 0.5 else "grows" if r > 2 else "keeps its size")
            lines.append(f"- {p.name} ({'residual' if p.residual else 'plain'}), "
                         f"{'at init' if when == 'init' else f'after {p.steps} steps'}: the "
                         f"gradient norm {trend} from the last conv to the first "
                         f"(first/last = {r:.3g}; spread over layers "
                         f"{p.summary[f'{when}_log10_spread']:.2f} decades).")
    return lines


def analyze_gradients(
    models: Sequence[str], out: str | Path, data: str = "synthetic", steps: int = 50,
    batch_size: int = 128, lr: float = 0.1, seed: int = 0, root: str | None = None,
    command: str | None = None, log: Callable[[str], None] = print,
) -> tuple[Path, list[GradientProfile]]:
    out = Path(out)
    report = Report("Gradient norm per layer: plain against residual", out, command,
                    cached_runs=False)
    profiles = profile_models(models, data, steps, batch_size, lr, seed, root, log)
    fig = gradients_figure([p.to_dict() for p in profiles], out / "gradients.png")
    report.section("Setup",
                   f"Data: {data}; one fixed probe batch of {batch_size} images measures "
                   f"‖∂loss/∂W‖₂ of every convolution in training mode (BN on batch "
                   f"statistics), at He initialisation (seed {seed}) and after {steps} SGD "
                   f"steps (lr {lr}, momentum 0.9, weight decay 1e-4).")
    report.figure(fig, "Gradient norm per convolution, input side left; dashed: plain, "
                  "solid: residual.")
    head, rows = table(profiles)
    report.section("Summary")
    report.table(head, rows, align="l" + "r" * (len(head) - 2) + "l")
    report.section("Reading", "\n".join(reading(profiles)))
    report.write({"data": data, "steps": steps, "batch_size": batch_size, "lr": lr,
                  "seed": seed, "profiles": [p.to_dict() for p in profiles]})
    return out / "report.md", profiles


"""`resnetlab demo`: what `make demo` runs."""

from __future__ import annotations

import time

import torch

from resnetlab.cli.models import format_table, model_rows
from resnetlab.models.registry import create_model


def run(args) -> int:
    print(format_table(model_rows()))
    for name, size in (("resnet20", 32), ("resnet50", 224)):
        model = create_model(name)
        x = torch.randn(2, 3, size, size)
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1]))
        loss.backward()
        grads = sum(p.grad is not None for p in model.parameters())
        print(f"{name}: forward+backward on 2x3x{size}x{size} in "
              f"{time.perf_counter() - t0:.2f}s, loss {loss.item():.3f}, "
              f"{grads} parameter tensors got gradients")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="the README demo")
    p.set_defaults(func=run)

"""Model files for the export / fold / predict tests: small nets with realistic BN statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from resnetlab import create_model, save_model

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


@pytest.fixture(autouse=True)
def one_thread():
    """Run these tests on one torch thread: on a shared 2-core machine two threads spin
    against other processes and make small models many times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def calibrated(name: str, size: int, channels: int = 3, seed: int = 0, **overrides):
    """A fresh model whose BN running statistics come from a few batches, as after training
    (so its logits are of order one, like a trained model's), in eval mode."""
    torch.manual_seed(seed)
    model = create_model(name, in_chans=channels, **overrides)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, channels, size, size))
    return model.eval()


def model_file(tmp: Path, name: str = "resnet8", size: int = 28, channels: int = 1,
               classes: list[str] | None = None, **overrides) -> Path:
    """save_model of a calibrated net with the meta a training run writes."""
    classes = classes or FASHION
    model = calibrated(name, size, channels, num_classes=len(classes), **overrides)
    meta = {
        "model": name,
        "overrides": {"num_classes": len(classes), "in_chans": channels, **overrides},
        "classes": classes,
        "normalization": {"mean": [0.286] * channels, "std": [0.353] * channels},
        "input_size": [channels, size, size],
    }
    return save_model(tmp / f"{name}.safetensors", model, meta)

"""Test helpers for training: a tiny, learnable MNIST-format data set and fast configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datafiles import write_idx

from resnetlab.train import load_recipe


def learnable_mnist(folder: Path, n_train: int = 256, n_test: int = 64, size: int = 28,
                    seed: int = 0) -> Path:
    """MNIST IDX files where class c is a bright 8x8 block at its own place, plus noise."""
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        y = (np.arange(n) % 10).astype(np.uint8)
        x = rng.integers(0, 60, (n, size, size), dtype=np.uint8)
        for i, c in enumerate(y):
            r, q = divmod(int(c), 4)
            x[i, 2 + 8 * r: 10 + 8 * r, 1 + 7 * q: 7 + 7 * q] = 230
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", y)
    return folder


def tiny_config(root: Path, **overrides):
    """resnet8 on the learnable set: a few dozen fast iterations, CPU, one thread (robust on
    a shared machine), no progress output."""
    values = {"model": "resnet8", "data": "mnist", "data_root": str(root), "batch_size": 32,
              "iters": 16, "warmup_iters": 4, "checkpoint_every": 5, "eval_every": 8,
              "eval_batch_size": 64, "device": "cpu", "progress": "off",
              "tensorboard": False, "flip": False,
              "threads": 1}
    if "epochs" in overrides:
        values.pop("iters")
    values.update(overrides)
    return load_recipe("demo", values)

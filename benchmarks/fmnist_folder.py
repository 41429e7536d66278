"""Write a small image folder from Fashion-MNIST as PNG files (issue 12's speed check).

    python benchmarks/fmnist_folder.py OUT [--train 2000] [--val 500]

OUT/train/<class>/<i>.png from a class-stratified sample of the training split, OUT/val/...
from the test split; 28x28 grayscale, as published.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from resnetlab.data import load_dataset, stratified_subset


def write_folder(out: Path, n_train: int = 2000, n_val: int = 500, seed: int = 0) -> Path:
    for split, source, n in (("train", "train", n_train), ("val", "test", n_val)):
        ds = stratified_subset(load_dataset("fashion-mnist", source), n, seed=seed)
        for i, (img, label) in enumerate(zip(ds.images, ds.labels.tolist())):
            d = out / split / ds.classes[label].replace("/", "-")
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img[0].numpy(), "L").save(d / f"{i:05d}.png")
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--val", type=int, default=500)
    a = p.parse_args()
    print(write_folder(a.out, a.train, a.val))

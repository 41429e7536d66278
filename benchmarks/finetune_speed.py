"""Issue 12's speed check on a Fashion-MNIST PNG folder (benchmarks/fmnist_folder.py):

1. the folder loader's images/s (FolderLoader: PNG decode + scale augmentation + crop + flip,
   in worker processes) at 32 px and 224 px crops, and the small-image pipeline (the whole
   folder read into memory once, then DeviceLoader batches);
2. fine-tuning a ResNet-18 from a torchvision-format file (random weights of the converted
   shape: no network here) against training one from scratch, same steps, batch, crop size.

    python benchmarks/finetune_speed.py FOLDER [--steps 60] [--size 112] [--json OUT]

Every row carries the 1-minute load average before and after it (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from resnetlab import create_model
from resnetlab.data import DeviceLoader, FolderLoader, channel_stats, scan_folder
from resnetlab.data.pipeline.auto import read_images
from resnetlab.data.pipeline.image_transforms import ScaleAugment
from resnetlab.provenance import machine, versions
from resnetlab.train import fit, load_recipe
from resnetlab.train.data import worker_count


def load() -> float:
    return round(os.getloadavg()[0], 2)


def loader_rows(folder: Path, batch: int = 64) -> list[dict]:
    train = scan_folder(folder / "train")
    rows = []
    for size, lo, hi in ((32, 32, 40), (224, 256, 480)):
        fl = FolderLoader(train, batch, train=True, transform=ScaleAugment(size, lo, hi),
                          size=size, workers=worker_count(4), lighting=0.0)
        l0, t0, n = load(), time.perf_counter(), 0
        for x, _ in fl.epoch_batches(0):
            n += len(x)
        dt = time.perf_counter() - t0
        rows.append({"what": f"FolderLoader {size} px ({fl.workers} workers)",
                     "images": n, "seconds": round(dt, 2), "images_per_second": round(n / dt),
                     "load_before": l0, "load_after": load()})
    l0, t0 = load(), time.perf_counter()
    images = read_images([p for p, _ in train.samples], (28, 28), 1)
    labels = torch.tensor([lab for _, lab in train.samples])
    read_s = time.perf_counter() - t0
    mean, std = channel_stats(images)
    dl = DeviceLoader(images, labels, batch, train=True, mean=mean, std=std, pad=4)
    t1, n = time.perf_counter(), 0
    for x, _ in dl.epoch_batches(0):
        n += len(x)
    dt = time.perf_counter() - t1
    rows.append({"what": "small pipeline 28 px: read folder once", "images": len(images),
                 "seconds": round(read_s, 2), "images_per_second": round(len(images) / read_s),
                 "load_before": l0, "load_after": load()})
    rows.append({"what": "small pipeline 28 px: DeviceLoader epoch (pad-crop-flip)",
                 "images": n, "seconds": round(dt, 3), "images_per_second": round(n / dt),
                 "load_before": l0, "load_after": load()})
    return rows


def train_rows(folder: Path, out: Path, steps: int, size: int, batch: int = 32,
               only: list[str] | None = None) -> list[dict]:
    init = out / "resnet18-random-torchvision.pth"
    torch.manual_seed(0)
    torch.save(create_model("resnet18", num_classes=1000).state_dict(), init)
    common = {"data": str(folder), "iters": steps, "batch_size": batch, "eval_batch_size": 100,
              "folder_pipeline": "large", "image_size": size, "scale_min": size + size // 8,
              "scale_max": size + size // 2, "eval_resize": size + size // 8,
              "progress": "off", "tensorboard": False, "checkpoint_every": 0}
    runs = {
        "scratch": load_recipe("finetune", {**common, "model": "resnet18", "lr": 0.1,
                                            "norm_stats": "data"}),
        "fine-tune": load_recipe("finetune", {**common, "init": str(init),
                                              "init_source": "torchvision"}),
        "fine-tune --freeze 2": load_recipe("finetune", {**common, "init": str(init),
                                                         "init_source": "torchvision",
                                                         "freeze": 2}),
    }
    rows = []
    for name in only or list(runs):
        cfg = runs[name]
        l0, t0 = load(), time.perf_counter()
        r = fit(cfg, out / name.replace(" ", "_"), force=True, resume=False)
        s = r.summary
        rows.append({"what": name, "steps": s["iters"], "batch": batch, "crop_px": size,
                     "train_images_per_second": round(s["train_images_per_second"], 1),
                     "val_accuracy": round(100 - s["final"]["val_error"], 2),
                     "wall_seconds": round(time.perf_counter() - t0, 1),
                     "load_before": l0, "load_after": load()})
        print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--out", type=Path, default=Path("runs/finetune-speed"))
    p.add_argument("--json", type=Path)
    p.add_argument("--runs", nargs="*", help="training runs in this order (default: all): "
                   "scratch, fine-tune, 'fine-tune --freeze 2'")
    p.add_argument("--no-loader", action="store_true", help="skip the loader rows")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "versions": versions()}
    if not a.no_loader:
        result["loader"] = loader_rows(a.folder)
        print(json.dumps(result["loader"], indent=1), flush=True)
    result["train"] = train_rows(a.folder, a.out, a.steps, a.size, only=a.runs)
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")

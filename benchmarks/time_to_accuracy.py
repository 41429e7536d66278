"""Time to accuracy on Fashion-MNIST: resnetlab's recipe against a typical PyTorch loop.

The peer is the loop a practitioner writes from the PyTorch tutorials: fp32, a torch
DataLoader over a Dataset that crops (pad 4) and flips each image, SGD with OneCycleLR, a test
evaluation after each epoch. Both train the same ResNet-20 (resnetlab.create_model) on the same
images (resnetlab's reader) with the same threads, one after the other in this process. Each
curve point is (seconds from the first step until that evaluation finished, test accuracy);
a run's last point is its final model.

    python benchmarks/time_to_accuracy.py [--recipe speedrun] [--seeds 0 1] [--threads 2]
        [--epochs-peer 4] [--out benchmarks/results/time_to_accuracy.json] [--quick]

Writes the JSON (every point of every run) and a PNG of the curves beside it (same name).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from resnetlab import create_model
from resnetlab.analysis.plots import MissingPlots, pyplot, save_figure
from resnetlab.data import ImageSet, load_dataset, stratified_subset
from resnetlab.io import write_json
from resnetlab.provenance import machine, versions
from resnetlab.train import fit, load_recipe

TARGET = 92.0  # % test accuracy: the time-to-accuracy mark
DEFAULT_OUT = Path(__file__).parent / "results" / "time_to_accuracy.json"
QUICK = {"train": 512, "test": 256, "iters": 8}  # --quick: a smoke test, seconds


class AugmentedImages(Dataset):
    """Per-image augmentation as the tutorials write it with torchvision's RandomCrop(28,
    padding=4), RandomHorizontalFlip and Normalize; torchvision is not installed next to this
    torch, so the same three steps are written with plain torch ops."""

    def __init__(self, images: ImageSet, train: bool):
        self.images, self.labels, self.train = images.images, images.labels, train
        self.mean, self.std = images.mean[0], images.std[0]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        x = (self.images[i].float() / 255 - self.mean) / self.std
        if self.train:
            h, w = x.shape[1:]
            x = F.pad(x, (4, 4, 4, 4))
            dy, dx = torch.randint(0, 9, (2,)).tolist()
            x = x[:, dy:dy + h, dx:dx + w]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
        return x, self.labels[i]


def peer_accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    model.train()
    return 100.0 * correct / total


def run_peer(train: ImageSet, test: ImageSet, epochs: int, seed: int, workers: int,
             iters: int | None = None) -> dict:
    """The tutorial loop; iters cuts each epoch short (--quick)."""
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    model = create_model("resnet20", in_chans=1, num_classes=len(train.classes))
    train_loader = DataLoader(AugmentedImages(train, True), batch_size=128, shuffle=True,
                              num_workers=workers, drop_last=True)
    test_loader = DataLoader(AugmentedImages(test, False), batch_size=512,
                             num_workers=workers)
    steps = min(len(train_loader), iters or len(train_loader))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs,
                                                    steps_per_epoch=steps)
    criterion = nn.CrossEntropyLoss()
    points = []
    for _ in range(epochs):
        for i, (x, y) in enumerate(train_loader):
            if i == steps:
                break
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        points.append((time.perf_counter() - t0, peer_accuracy(model, test_loader)))
    return {"points": points}


def run_resnetlab(recipe: str, train: ImageSet, test: ImageSet, seed: int, threads: int,
                  iters: int | None = None) -> dict:
    """fit() with the recipe, evaluating the test set after each epoch like the peer; each
    point's seconds are the metrics row's wall_time plus its evaluation's seconds."""
    overrides = {"seed": seed, "threads": threads, "eval_every": 0, "eval_test": True,
                 "progress": "off", "tensorboard": False}
    if iters:
        overrides.update(iters=iters, log_every=max(1, iters // 2))
    config = load_recipe(recipe, overrides, rescale=True)
    with tempfile.TemporaryDirectory(prefix="time-to-accuracy-") as out:
        result = fit(config, Path(out) / "run", resume=False, train_data=train, test_data=test)
    points = [(r["wall_time"] + r.get("eval_seconds", 0.0), 100.0 - r["test_error"])
              for r in result.metrics if "test_error" in r]
    return {"points": points, "schedule": result.summary["schedule"]}


def time_to(points: list, target: float) -> float | None:
    return next((t for t, acc in points if acc >= target), None)


def summarize(run: dict) -> dict:
    points = run["points"]
    return {**run, "seconds": points[-1][0], "final_accuracy": points[-1][1],
            f"seconds_to_{TARGET:g}": time_to(points, TARGET)}


def read_data(quick: bool, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    train = load_dataset("fashion-mnist", "train", download=False, progress=False)
    test = load_dataset("fashion-mnist", "test", download=False, progress=False)
    if quick:
        train = stratified_subset(train, QUICK["train"], seed=seed)
        test = replace(stratified_subset(test, QUICK["test"], seed=seed), mean=train.mean,
                       std=train.std)
    return train, test


def draw(runs: list[dict], path: Path, title: str) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = {"peer": "#999999", "resnetlab": "#D55E00"}
    for run in runs:
        t, acc = zip(*run["points"])
        ax.plot(t, acc, marker="o", color=colors[run["who"]],
                label=f"{run['label']} (seed {run['seed']})" if run["seed"] == runs[0]["seed"]
                else None, alpha=0.9)
    ax.axhline(TARGET, color="k", lw=0.6, ls=":")
    ax.set_xlabel("wall seconds from the first step (evaluations included)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(max(0.0, min(a for r in runs for _, a in r["points"]) - 2), 100)
    ax.set_title(title)
    ax.legend(loc="lower right")
    return save_figure(fig, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", default="speedrun", help="resnetlab recipe (default speedrun)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds (default 0)")
    p.add_argument("--threads", type=int, default=2, help="torch threads for both (default 2)")
    p.add_argument("--epochs-peer", type=int, default=4, help="the peer's epochs (default 4)")
    p.add_argument("--workers", type=int, default=2,
                   help="the peer's DataLoader workers (default 2, as the tutorials)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path (PNG beside it)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: {QUICK['train']} training and {QUICK['test']} test images, "
                        f"{QUICK['iters']} steps an epoch (numbers mean nothing)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        load_recipe(args.recipe)  # an unknown recipe is said before any training
        train, test = read_data(args.quick)
    except FileNotFoundError as e:
        print(f"time_to_accuracy: {str(e).splitlines()[0]}: run `make data` or `resnetlab data "
              "get fashion-mnist`", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"time_to_accuracy: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    iters = QUICK["iters"] if args.quick else None
    runs = []
    for seed in args.seeds:
        epochs = 1 if args.quick else args.epochs_peer
        peer = run_peer(train, test, epochs, seed, args.workers, iters)
        runs.append({"who": "peer", "label": f"PyTorch tutorial loop, fp32, {epochs} epoch(s)",
                     "seed": seed, **summarize(peer)})
        ours = run_resnetlab(args.recipe, train, test, seed, args.threads, iters)
        runs.append({"who": "resnetlab", "label": f"resnetlab {args.recipe}", "seed": seed,
                     **summarize(ours)})
        for run in runs[-2:]:
            to = run[f"seconds_to_{TARGET:g}"]
            print(f"seed {seed} {run['who']:9s}: {run['final_accuracy']:.2f}% in "
                  f"{run['seconds']:.1f} s; {TARGET:g}% at "
                  f"{'never' if to is None else f'{to:.1f} s'}", flush=True)
    result = {"recipe": args.recipe, "threads": args.threads, "quick": args.quick,
              "target": TARGET, "runs": runs, "ratios": ratios(runs),
              "machine": machine(), "versions": versions(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    write_json(args.out, result)
    print(f"ratios (peer / resnetlab): {result['ratios']}\n{args.out}")
    try:
        png = draw(runs, args.out.with_suffix(".png"), f"ResNet-20 on Fashion-MNIST, "
                   f"{args.threads} thread(s)")
        print(png)
    except MissingPlots as e:
        print(f"no figure: {e}")
    return 0


def ratios(runs: list[dict]) -> dict:
    """Per seed: the peer's seconds over resnetlab's, to the target and in all."""
    out = {}
    for peer, ours in zip(runs[::2], runs[1::2]):
        key = f"seconds_to_{TARGET:g}"
        to = (peer[key] / ours[key]) if peer[key] and ours[key] else None
        out[str(peer["seed"])] = {"to_target": to and round(to, 2),
                                  "total": round(peer["seconds"] / ours["seconds"], 2)}
    return out


if __name__ == "__main__":
    sys.exit(main())

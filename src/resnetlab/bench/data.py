"""`resnetlab bench data`: input-pipeline throughput against the ResNet-20 train step.

DeviceLoader (a small set, or a synthetic CIFAR-shaped one) is compared with the images/s a
ResNet train step consumes at the same batch shape; FolderLoader (an image folder, or
synthetic JPEGs) is reported per worker.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from resnetlab.data import DeviceLoader, FolderLoader, load_dataset
from resnetlab.models.registry import create_model
from resnetlab.provenance import machine, versions

SYNTHETIC = {"cifar-shaped": (50000, 3, 32, 32), "mnist-shaped": (60000, 1, 28, 28)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_loader(loader, batches: int, warmup: int = 2) -> dict:
    """Images/s over `batches` batches after `warmup`, walking epochs as needed."""
    device = getattr(loader, "device", torch.device("cpu"))
    done, images, t0, epoch = 0, 0, None, 0
    while done < warmup + batches:
        for x, _ in loader.epoch_batches(epoch):
            if done == warmup:
                _sync(device)
                t0 = time.perf_counter()
            elif done > warmup:
                images += len(x[0]) if isinstance(x, tuple) else len(x)
            done += 1
            if done >= warmup + batches + 1:
                break
        epoch += 1
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"images_per_second": images / seconds, "batches": batches, "seconds": seconds}


def measure_train_step(model_name: str, shape, num_classes: int, batch_size: int, *,
                       steps: int = 4, device="cpu", amp: bool = False,
                       channels_last: bool = False) -> dict:
    """Images/s of an SGD step (forward, backward, update) on random data of `shape`."""
    device = torch.device(device)
    model = create_model(model_name, num_classes=num_classes, in_chans=shape[0]).to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch_size, *shape, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, num_classes, (batch_size,), device=device)
    times = []
    for i in range(steps + 1):
        _sync(device)
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        if i:  # the first step warms up
            times.append(time.perf_counter() - t)
    step = float(np.median(times))
    return {"model": model_name, "amp": "bf16" if amp else "off", "channels_last": channels_last,
            "step_seconds": step, "images_per_second": batch_size / step}


def measure_worker(dataset, n: int) -> dict:
    """What one loader worker sustains: decode + transform of n images in this process, with
    one torch thread as in a DataLoader worker; per wall second and per CPU second (the
    latter is what a worker given a whole core sustains, on a machine shared with others)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dataset[(0, 0)]
        t, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            dataset[(i % len(dataset), 0)]
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    finally:
        torch.set_num_threads(threads)
    return {"images_per_second": n / seconds, "images_per_cpu_second": n / cpu, "images": n,
            "seconds": seconds, "cpu_seconds": cpu}


def synthetic_jpeg_folder(folder: Path, n: int = 256, size=(500, 375), classes: int = 4):
    """n JPEGs of ImageNet's typical size (smooth colour fields + noise), quality 90."""
    rng = np.random.default_rng(0)
    w, h = size
    for i in range(n):
        low = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        img = Image.fromarray(low).resize((w, h), Image.BICUBIC)
        arr = np.asarray(img, dtype=np.int16) + rng.integers(-12, 13, (h, w, 3))
        d = folder / f"class{i % classes}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(d / f"{i:05d}.jpg", quality=90)
    return folder


def bench_device_loader(args) -> dict:
    if args.data in SYNTHETIC:
        n, c, h, w = SYNTHETIC[args.data]
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (n, c, h, w), dtype=torch.uint8, generator=g)
        labels = torch.randint(0, 10, (n,), generator=g)
        mean, std, classes = (0.5,) * c, (0.25,) * c, 10
    else:
        ds = load_dataset(args.data, "train", root=args.root)
        images, labels, mean, std, classes = ds.images, ds.labels, ds.mean, ds.std, len(ds.classes)
    loader = DeviceLoader(images, labels, args.batch_size, train=True, device=args.device,
                          mean=mean, std=std, pad=4, flip=True, channels_last=args.channels_last)
    result = {"bench": "data", "loader": "DeviceLoader", "data": args.data,
              "batch_size": args.batch_size, "device": str(loader.device),
              **measure_loader(loader, args.batches or 200)}
    if args.model != "none":
        shape = tuple(images.shape[1:])
        steps = [measure_train_step(args.model, shape, classes, args.batch_size, steps=args.steps,
                                    device=args.device, amp=amp, channels_last=amp)
                 for amp in (False, True)]
        fastest = max(s["images_per_second"] for s in steps)
        result["train_step"] = steps
        result["loader_over_train_step"] = result["images_per_second"] / fastest
    return result


def bench_folder_loader(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if args.data == "synthetic-jpeg":
            root = synthetic_jpeg_folder(Path(tmp), n=args.images)
        rows = []
        for workers in args.workers:
            loader = FolderLoader(root, args.batch_size, train=True, transform=args.transform,
                                  workers=workers, device=args.device)
            r = measure_loader(loader, args.batches or 16, warmup=1)
            r["workers"] = workers
            r["images_per_second_per_worker"] = r["images_per_second"] / max(workers, 1)
            rows.append(r)
        worker = measure_worker(loader.dataset, min(len(loader.dataset), 200))
    best = max(rows, key=lambda r: r["images_per_second"])
    return {"bench": "data", "loader": "FolderLoader", "data": str(args.data),
            "transform": args.transform, "batch_size": args.batch_size,
            "images_per_second": best["images_per_second"], "by_workers": rows,
            "one_worker_decode_augment": worker}


def run(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    is_folder = args.data == "synthetic-jpeg" or Path(args.data).is_dir()
    result = bench_folder_loader(args) if is_folder else bench_device_loader(args)
    info = machine()
    result["machine"] = {**info, "cpu_count": info["cores"], **versions(),
                         "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['loader']} on {result['data']}: {result['images_per_second']:,.0f} images/s "
          f"(batch {result['batch_size']})")
    for r in result.get("by_workers", []):
        print(f"  {r['workers']} worker(s): {r['images_per_second']:,.0f} images/s, "
              f"{r['images_per_second_per_worker']:,.0f} per worker")
    if "one_worker_decode_augment" in result:
        w = result["one_worker_decode_augment"]
        print(f"  decode + {result['transform']} in one worker process: "
              f"{w['images_per_second']:,.0f} images/s wall, "
              f"{w['images_per_cpu_second']:,.0f} per CPU-second")
    for s in result.get("train_step", []):
        print(f"  {s['model']} train step (amp {s['amp']}, channels_last {s['channels_last']}): "
              f"{s['images_per_second']:,.0f} images/s ({s['step_seconds'] * 1000:.0f} ms/step)")
    if "loader_over_train_step" in result:
        print(f"  loader / fastest train step: {result['loader_over_train_step']:.0f}x")
    return 0


def register(bsub) -> None:
    p = bsub.add_parser("data", help="input-pipeline throughput (images/s)")
    p.add_argument("--data", required=True,
                   help="a data set name (fashion-mnist, cifar10, ...), cifar-shaped or "
                        "mnist-shaped (random uint8), an image folder, or synthetic-jpeg")
    p.add_argument("--root", help="data folder (as for `resnetlab data get`)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batches", type=int, help="batches timed after warm-up (default: 200 for "
                   "small sets, 16 for folders)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--model", default="resnet20",
                   help="network whose train step the loader is compared with, or none")
    p.add_argument("--steps", type=int, default=4, help="train steps timed (median)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                   help="FolderLoader worker counts to measure")
    p.add_argument("--transform", default="scale", help="FolderLoader train transform")
    p.add_argument("--images", type=int, default=512, help="synthetic-jpeg: how many")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=run)

"""`resnetlab bench data`: input-pipeline throughput against the ResNet-20 train step.

DeviceLoader (a small set, or a synthetic CIFAR-shaped one) is compared with the images/s a
ResNet train step consumes at the same batch shape; FolderLoader (an image folder, or
synthetic JPEGs) is reported per worker.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from resnetlab.data import DeviceLoader, FolderLoader, load_dataset
from resnetlab.data.pipeline.mixing import Mixup
from resnetlab.data.pipeline.policies import MIX_STREAM, batch_rng, make_augment
from resnetlab.data.sets.sources import builtin_name
from resnetlab.models.registry import build_model
from resnetlab.provenance import machine, versions

SYNTHETIC = {"cifar-shaped": (50000, 3, 32, 32), "mnist-shaped": (60000, 1, 28, 28)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_loader(loader, batches: int, warmup: int = 2, mixer: Mixup | None = None) -> dict:
    """Images/s over `batches` batches after `warmup`, walking epochs as needed; with a
    mixer, each batch is also mixed (mixup/CutMix + soft targets), as training would."""
    device = getattr(loader, "device", torch.device("cpu"))
    done, images, t0, epoch = 0, 0, None, 0
    while done < warmup + batches:
        for i, (x, y) in enumerate(loader.epoch_batches(epoch)):
            if mixer is not None:
                x, y = mixer(x, y, batch_rng(0, epoch, i, 0, MIX_STREAM))
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
    model = build_model(model_name, num_classes=num_classes, in_chans=shape[0]).to(device)
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


def bench_device_loader(data: str, *, root: str | None = None, batch_size: int = 128,
                        batches: int | None = None, device: str = "cpu",
                        channels_last: bool = False, model: str = "resnet20",
                        steps: int = 4, augment: str = "none", magnitude: float = 9.0,
                        mixup: float = 0.0, cutmix: float = 0.0) -> dict:
    """DeviceLoader images/s (with the `augment` policy at RandAugment `magnitude`, and
    mixup/CutMix at those alphas, when set) against the model's train step."""
    if data in SYNTHETIC:
        n, c, h, w = SYNTHETIC[data]
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (n, c, h, w), dtype=torch.uint8, generator=g)
        labels = torch.randint(0, 10, (n,), generator=g)
        mean, std, classes = (0.5,) * c, (0.25,) * c, 10
    else:
        ds = load_dataset(data, "train", root=root)
        images, labels, mean, std, classes = ds.images, ds.labels, ds.mean, ds.std, len(ds.classes)
    loader = DeviceLoader(images, labels, batch_size, train=True, device=device,
                          mean=mean, std=std, pad=4, flip=True, channels_last=channels_last,
                          augment=make_augment(augment, magnitude=magnitude))
    mixer = Mixup(classes, mixup, cutmix) if mixup or cutmix else None
    result = {"bench": "data", "loader": "DeviceLoader", "data": data,
              "batch_size": batch_size, "device": str(loader.device),
              "augment": augment, "magnitude": magnitude if augment == "randaugment" else None,
              "mixup": mixup, "cutmix": cutmix,
              **measure_loader(loader, batches or 200, mixer=mixer)}
    if model != "none":
        shape = tuple(images.shape[1:])
        rows = [measure_train_step(model, shape, classes, batch_size, steps=steps,
                                   device=device, amp=amp, channels_last=amp)
                for amp in (False, True)]
        fastest = max(s["images_per_second"] for s in rows)
        result["train_step"] = rows
        result["loader_over_train_step"] = result["images_per_second"] / fastest
    return result


def bench_folder_loader(data: str, *, batch_size: int = 128, batches: int | None = None,
                        device: str = "cpu", workers: Sequence[int] = (1, 2),
                        transform: str = "scale", images: int = 512) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = data
        if data == "synthetic-jpeg":
            root = synthetic_jpeg_folder(Path(tmp), n=images)
        rows = []
        for n_workers in workers:
            loader = FolderLoader(root, batch_size, train=True, transform=transform,
                                  workers=n_workers, device=device)
            r = measure_loader(loader, batches or 16, warmup=1)
            r["workers"] = n_workers
            r["images_per_second_per_worker"] = r["images_per_second"] / max(n_workers, 1)
            rows.append(r)
        worker = measure_worker(loader.dataset, min(len(loader.dataset), 200))
    best = max(rows, key=lambda r: r["images_per_second"])
    return {"bench": "data", "loader": "FolderLoader", "data": str(data),
            "transform": transform, "batch_size": batch_size,
            "images_per_second": best["images_per_second"], "by_workers": rows,
            "one_worker_decode_augment": worker}


def bench_data(data: str, **options) -> dict:
    """bench_folder_loader for an image folder or "synthetic-jpeg", else bench_device_loader;
    options are theirs. The result carries the machine, versions and date."""
    data = builtin_name(data) or data  # 'fmnist' is reported as fashion-mnist
    if data == "synthetic-jpeg" or Path(data).is_dir():
        keys = ("batch_size", "batches", "device", "workers", "transform", "images")
        result = bench_folder_loader(data, **{k: v for k, v in options.items() if k in keys})
    else:
        keys = ("root", "batch_size", "batches", "device", "channels_last", "model", "steps",
                "augment", "magnitude", "mixup", "cutmix")
        result = bench_device_loader(data, **{k: v for k, v in options.items() if k in keys})
    info = machine()
    result["machine"] = {**info, "cpu_count": info["cores"], **versions(),
                         "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    return result


def format_data(result: dict) -> str:
    """bench_data's result as text lines."""
    extras = [f"augment {result['augment']}" + (f" m{result['magnitude']:g}"
                                                 if result.get("magnitude") is not None else "")
              ] if result.get("augment", "none") != "none" else []
    extras += [f"{k} {result[k]:g}" for k in ("mixup", "cutmix") if result.get(k)]
    lines = [f"{result['loader']} on {result['data']}: {result['images_per_second']:,.0f} "
             f"images/s (batch {result['batch_size']}{''.join(', ' + e for e in extras)})"]
    for r in result.get("by_workers", []):
        lines.append(f"  {r['workers']} worker(s): {r['images_per_second']:,.0f} images/s, "
                     f"{r['images_per_second_per_worker']:,.0f} per worker")
    if "one_worker_decode_augment" in result:
        w = result["one_worker_decode_augment"]
        lines.append(f"  decode + {result['transform']} in one worker process: "
                     f"{w['images_per_second']:,.0f} images/s wall, "
                     f"{w['images_per_cpu_second']:,.0f} per CPU-second")
    for s in result.get("train_step", []):
        lines.append(f"  {s['model']} train step (amp {s['amp']}, channels_last "
                     f"{s['channels_last']}): {s['images_per_second']:,.0f} images/s "
                     f"({s['step_seconds'] * 1000:.0f} ms/step)")
    if "loader_over_train_step" in result:
        lines.append(f"  loader / fastest train step: {result['loader_over_train_step']:.0f}x")
    return "\n".join(lines)

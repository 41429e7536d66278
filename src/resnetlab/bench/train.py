"""`resnetlab bench train`: the engine's training step against a plain eager fp32 NCHW step.

Both run on the same network, batch and synthetic inputs, alternating in rounds so a busy
machine slows both alike: the speed-up is the median of the per-round ratios. The machine's
matmul rate, measured in the same run, puts the achieved FLOP/s in context (a training step
is counted as 3x the forward's 2*MACs).
"""

from __future__ import annotations

import os
import statistics
import time

import torch
from torch import nn

from resnetlab.models.registry import build_model, get_spec
from resnetlab.models.stats import count_macs
from resnetlab.provenance import machine, versions
from resnetlab.train.config import TrainConfig
from resnetlab.train.devices import pick_device, resolve_amp
from resnetlab.train.optimizer import build_optimizer
from resnetlab.train.step import TrainStep


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops(device: torch.device, dtype: torch.dtype, n: int = 2048,
                 seconds: float = 1.0) -> float:
    """FLOP/s of n×n @ n×n products in dtype (best of repeated timings)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b
    best, spent = float("inf"), 0.0
    while spent < seconds:
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
    return 2 * n**3 / best


class PlainStep:
    """The baseline: fp32, NCHW, eager, SGD with momentum, no autocast."""

    def __init__(self, model: nn.Module, config: TrainConfig, device: torch.device):
        self.model = model
        self.optimizer = build_optimizer(model, config.lr, config.momentum, config.weight_decay,
                                         config.nesterov, config.wd_exclude)

    def __call__(self, x, y):
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach(), None


def _time(step, x, y, steps: int, device: torch.device) -> float:
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    _sync(device)
    return time.perf_counter() - t


def bench_train(model: str = "resnet20", batch_size: int = 128, steps: int = 10,
                rounds: int = 3, image_size: int | None = None, channels: int = 3,
                num_classes: int | None = None, config: TrainConfig | None = None,
                baseline: bool = True, overrides: dict | None = None,
                matmul: bool = True) -> dict:
    """Images/s of the engine step (config's amp / channels_last / compile) and of the plain
    step, in alternating rounds; medians over rounds."""
    config = config or TrainConfig(epochs=1)
    load_before = os.getloadavg()[0]
    device = pick_device(config.device)
    amp = resolve_amp(config.amp, device)
    spec = get_spec(model)
    size = image_size or spec.resolution
    kw = {**(overrides or {}), "in_chans": channels}
    if num_classes:
        kw["num_classes"] = num_classes
    torch.manual_seed(0)
    x = torch.randn(batch_size, channels, size, size, device=device)
    y = torch.randint(0, num_classes or spec.kwargs["num_classes"], (batch_size,), device=device)

    net = build_model(model, **kw).to(device)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    optimizer = build_optimizer(net, config.lr, config.momentum, config.weight_decay,
                                config.nesterov, config.wd_exclude)
    engine = TrainStep(net, optimizer, device, amp, label_smoothing=config.label_smoothing,
                       grad_clip=config.grad_clip, compile=config.compile)
    x_engine = x.contiguous(memory_format=fmt)
    runs = {"engine": (engine, x_engine)}
    if baseline:
        runs["plain"] = (PlainStep(build_model(model, **kw).to(device), config, device), x)
    warm = {}
    for name, (step, xi) in runs.items():
        warm[name] = _time(step, xi, y, 2 if not config.compile or name != "engine" else 3,
                           device)
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (step, xi) in runs.items():
            rates[name].append(steps * batch_size / _time(step, xi, y, steps, device))
    ips = statistics.median(rates["engine"])
    macs = count_macs(build_model(model, **kw), (1, channels, size, size))
    flops_per_image = 3 * 2 * macs
    mm = matmul_flops(device, amp or torch.float32) if matmul else float("nan")
    result = {
        "model": model, "batch_size": batch_size, "image_size": size, "channels": channels,
        "steps": steps, "rounds": rounds, "device": str(device),
        "threads": torch.get_num_threads(),
        "amp": str(amp).replace("torch.", "") if amp else "off",
        "channels_last": config.channels_last, "compile": config.compile,
        "images_per_second": ips, "images_per_second_rounds": rates["engine"],
        "warmup_seconds": warm["engine"],
        "flops_per_image": flops_per_image, "achieved_flops": ips * flops_per_image,
        "matmul_flops": mm, "matmul_dtype": str(amp or torch.float32).replace("torch.", ""),
        "versions": versions(), "machine": machine(),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if baseline:
        base = statistics.median(rates["plain"])
        ratios = [e / p for e, p in zip(rates["engine"], rates["plain"])]
        result.update(baseline_images_per_second=base,
                      baseline_images_per_second_rounds=rates["plain"],
                      speedup=statistics.median(ratios), speedup_rounds=ratios,
                      baseline_achieved_flops=base * flops_per_image,
                      matmul_flops_fp32=mm if amp is None else matmul_flops(device,
                                                                            torch.float32))
    return result


def format_bench(r: dict) -> str:
    g = 1e9
    lines = [
        f"{r['model']} {r['channels']}x{r['image_size']}x{r['image_size']}, batch "
        f"{r['batch_size']}, {r['device']}, {r['threads']} threads, {r['rounds']} rounds of "
        f"{r['steps']} steps (1-min load average {r['load_average'][0]} before, "
        f"{r['load_average'][1]} after)",
        f"engine step (amp {r['amp']}, channels_last {r['channels_last']}, compile "
        f"{r['compile']}): {r['images_per_second']:.0f} img/s, "
        f"{r['achieved_flops'] / g:.1f} GFLOP/s = "
        f"{100 * r['achieved_flops'] / r['matmul_flops']:.0f}% of the {r['matmul_dtype']} "
        f"matmul rate ({r['matmul_flops'] / g:.0f} GFLOP/s)",
    ]
    if "speedup" in r:
        lines.append(f"plain eager fp32 NCHW step: {r['baseline_images_per_second']:.0f} img/s, "
                     f"{r['baseline_achieved_flops'] / g:.1f} GFLOP/s (fp32 matmul "
                     f"{r['matmul_flops_fp32'] / g:.0f} GFLOP/s)")
        lines.append(f"speed-up of the engine step: {r['speedup']:.2f}x (median of the rounds: "
                     + ", ".join(f"{x:.2f}" for x in r["speedup_rounds"]) + ")")
    return "\n".join(lines)

"""Where the ResNet-20 training step spends its time, and what else was tried to make it faster.

`resnetlab bench train` answers "how fast is the engine's step"; this script answers "could a
different library-level setting be faster", by timing the alternatives side by side with the
plain eager fp32 NCHW step (alternating rounds, median of per-round ratios), then profiling
the engine's default step by operator. Results and their reading: benchmarks/RESULTS.md,
"Training", "What else was tried".

    python benchmarks/train_step_variants.py [--rounds 5] [--steps 8] [--compile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from resnetlab import create_model

CL, NCHW = torch.channels_last, torch.contiguous_format


def make_step(fmt, amp: bool, weights_dtype=None, compile_model: bool = False, batch: int = 128):
    """A ResNet-20 SGD step (momentum 0.9, wd 1e-4, foreach) on fixed random 3x32x32 data."""
    torch.manual_seed(0)
    model = create_model("resnet20").to(memory_format=fmt)
    x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))
    if weights_dtype is not None:
        model, x = model.to(weights_dtype), x.to(weights_dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4,
                          foreach=True)
    forward = torch.compile(model) if compile_model else model

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = nn.functional.cross_entropy(forward(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def variants(with_compile: bool) -> dict:
    v = {
        "plain eager fp32 NCHW (the baseline)": make_step(NCHW, False),
        "bf16 autocast + channels_last (engine default)": make_step(CL, True),
        "bf16 autocast, NCHW": make_step(NCHW, True),
        "bf16 weights and inputs (no fp32 master copy), channels_last":
            make_step(CL, False, torch.bfloat16),
        "fp32 channels_last": make_step(CL, False),
    }
    if with_compile:
        v["bf16 autocast + channels_last + torch.compile"] = make_step(CL, True,
                                                                       compile_model=True)
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--compile", action="store_true", help="add the torch.compile variant")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    steps = variants(args.compile)
    for step in steps.values():          # warm-up (and compile)
        step(), step(), step()
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            t = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[name].append(args.steps * 128 / (time.perf_counter() - t))
    base = next(iter(rates.values()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {load:.2f} "
          f"before / {os.getloadavg()[0]:.2f} after\n")
    print("| step | img/s (median) | vs plain (median of rounds) |\n|---|---:|---:|")
    for name, r in rates.items():
        ratio = statistics.median(a / b for a, b in zip(r, base))
        print(f"| {name} | {statistics.median(r):.0f} | {ratio:.2f}× |")

    step = steps["bf16 autocast + channels_last (engine default)"]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            step()
    groups = {"convolution forward": ("aten::mkldnn_convolution",),
              "convolution backward": ("aten::convolution_backward",),
              "batch norm forward + backward": ("aten::native_batch_norm",
                                                "aten::native_batch_norm_backward"),
              "ReLU forward + backward": ("aten::clamp_min_", "aten::threshold_backward"),
              "additions (residual, gradient sums)": ("aten::add", "aten::add_")}
    self_ms = {e.key: e.self_cpu_time_total / 1e3 / 5 for e in prof.key_averages()}
    total = sum(self_ms.values())
    print(f"\nEngine default step, {total:.1f} ms of self CPU time per step (profiled):\n")
    print("| operators | ms per step | share |\n|---|---:|---:|")
    for label, keys in groups.items():
        ms = sum(self_ms.get(k, 0.0) for k in keys)
        print(f"| {label} | {ms:.1f} | {100 * ms / total:.0f}% |")


if __name__ == "__main__":
    main()

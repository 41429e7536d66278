"""What a ResNet-20 training step costs per image at each input side and batch size, for the
speedrun's progressive resizing (benchmarks/RESULTS.md, "Time to accuracy").

The variants' steps alternate one by one, so that all of them see the same load; each is
reported as the median img/s of its steps and its speed relative to the first variant.
A variant is SIDExBATCH (a bf16 autocast + channels_last SGD step, as the engine's) or
eSIDExBATCH (the test's forward only, no gradients).

    python benchmarks/step_cost_by_size.py 28x128,20x128,16x128,e28x512 [--rounds 4]
        [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from resnetlab.models.registry import build_model

CL = torch.channels_last


def make(forward_only: bool, side: int, batch: int):
    """One step of variant (forward_only, side, batch) on fixed random 1-channel data."""
    torch.manual_seed(0)
    model = build_model("resnet20", in_chans=1).to(memory_format=CL)
    x = torch.randn(batch, 1, side, side).contiguous(memory_format=CL)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                          weight_decay=5e-4, foreach=True)
    if forward_only:
        model.eval()

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            if forward_only:
                with torch.no_grad():
                    model(x).argmax(1)
                return
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def parse_variant(text: str) -> tuple[bool, int, int]:
    forward_only = text.startswith("e")
    side, _, batch = text.removeprefix("e").partition("x")
    if not (side.isdigit() and batch.isdigit()):
        raise SystemExit(f"step_cost_by_size: variant {text!r} is not SIDExBATCH or "
                         "eSIDExBATCH, e.g. 28x128 or e28x512")
    return forward_only, int(side), int(batch)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("variants", help="comma-separated, e.g. 28x128,16x128,e28x512")
    p.add_argument("--rounds", type=int, default=4, help="rounds of 6 alternating steps")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = [parse_variant(v) for v in args.variants.split(",")]
    steps = {v: make(*v) for v in variants}
    for step in steps.values():  # warm-up: oneDNN picks its kernels on the first calls
        step()
        step()
    rates: dict = {v: [] for v in variants}
    for _ in range(args.rounds * 6):
        for v, step in steps.items():
            t = time.perf_counter()
            step()
            rates[v].append(v[2] / (time.perf_counter() - t))
    base = statistics.median(rates[variants[0]])
    for v in variants:
        rate = statistics.median(rates[v])
        print(f"{'forward ' if v[0] else ''}{v[1]} px, batch {v[2]}: {rate:.0f} img/s, "
              f"{rate / base:.2f}x the first ({len(rates[v])} steps)")


if __name__ == "__main__":
    main()

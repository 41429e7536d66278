"""`resnetlab bench infer`: inference latency and throughput of one backend against eager fp32.

The variant (eager, compiled or ONNX Runtime; BN folding, channels_last, bf16) and the
plain eager fp32 NCHW baseline run on the same model and inputs in alternating rounds, so a
busy machine slows both alike. Latency is per call (one batch), input conversion included;
a check on natural-looking images shows how far the variant's logits are from fp32's.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from resnetlab.checkpoint import load_model
from resnetlab.inference.fold import fold_bn
from resnetlab.inference.onnx_tools import onnx_proto, onnx_session, session_runner
from resnetlab.inference.preprocessing import Preprocessing
from resnetlab.inference.verify import natural_images
from resnetlab.models.registry import build_model, get_spec
from resnetlab.provenance import machine, versions

SCHEMA = "resnetlab.bench.infer/v1"
BACKENDS = ("eager", "compiled", "onnxruntime")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Variant:
    backend: str = "eager"
    fold_bn: bool = False
    channels_last: bool = False
    dtype: str = "fp32"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}: use {', '.join(BACKENDS)}")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}: use {' or '.join(DTYPES)}")
        if self.backend == "onnxruntime" and (self.channels_last or self.dtype != "fp32"):
            raise ValueError("the onnxruntime backend runs the fp32 NCHW ONNX graph: drop "
                             "--channels-last / --dtype bf16")

    @property
    def label(self) -> str:
        parts = [self.backend] + [f for f, on in (("folded", self.fold_bn),
                                                  ("channels_last", self.channels_last)) if on]
        return " ".join(parts + [self.dtype])


BASELINE = Variant()
# `--matrix`: every path worth comparing; ONNX Runtime fuses BN itself.
MATRIX = [
    Variant("eager", fold_bn=True),
    Variant("eager", fold_bn=True, channels_last=True),
    Variant("eager", fold_bn=True, channels_last=True, dtype="bf16"),
    Variant("compiled", fold_bn=True, channels_last=True),
    Variant("compiled", fold_bn=True, channels_last=True, dtype="bf16"),
    Variant("onnxruntime"),
]


def prepare(model: nn.Module, variant: Variant, shapes: list[tuple[int, ...]],
            threads: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """fn(fp32 NCHW batch) -> fp32 logits for the variant, warmed up on every shape.

    compiled: torch.compile (inductor, freezing=True so weights become constants and convs
    get prepacked weights), dynamic=False (one specialised graph per batch size).
    onnxruntime: the dynamo ONNX export in memory, a CPU session with all optimisations.
    """
    m = fold_bn(model) if variant.fold_bn else copy.deepcopy(model).eval()  # never in place
    if variant.backend == "onnxruntime":
        proto, _ = onnx_proto(m, torch.zeros(2, *shapes[0][1:]), dynamic_batch=True)
        ort_run = session_runner(onnx_session(proto.SerializeToString(), threads))

        def run(x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(ort_run(x.numpy()))
    else:
        fmt = torch.channels_last if variant.channels_last else torch.contiguous_format
        dtype = DTYPES[variant.dtype]
        m = m.to(dtype=dtype, memory_format=fmt)
        if variant.backend == "compiled":
            m = torch.compile(m, dynamic=False, options={"freezing": True})

        def run(x: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return m(x.to(dtype=dtype, memory_format=fmt)).float()

    for shape in shapes:
        for _ in range(2):
            run(torch.zeros(shape))
    return run


def measure(run: Callable, x: torch.Tensor, seconds: float, min_iters: int = 5) -> list[float]:
    """Per-call latencies (s) for at least `seconds` and `min_iters` calls."""
    lat: list[float] = []
    start = time.perf_counter()
    while len(lat) < min_iters or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        run(x)
        lat.append(time.perf_counter() - t)
    return lat


def summarize(lat: list[float], batch: int) -> dict:
    ms = np.asarray(lat) * 1e3
    return {"batch_size": batch, "iterations": len(lat),
            "images_per_second": batch * len(lat) / float(np.sum(lat)),
            "latency_ms": {"p50": float(np.percentile(ms, 50)),
                           "p99": float(np.percentile(ms, 99)), "mean": float(ms.mean())}}


def load_target(model: str | None, checkpoint: str | None, image_size: int | None):
    """(model in eval mode, its name, C×H×W input) from a model file or a registry name."""
    if checkpoint:
        net, meta = load_model(checkpoint)
        pre = Preprocessing.from_meta(meta)
        size = (pre.channels, image_size or pre.height, image_size or pre.width)
        return net, meta["model"], size
    if not model:
        raise ValueError("name a --model (e.g. resnet50) or give a --checkpoint")

    res = image_size or get_spec(model).resolution
    return build_model(model).eval(), model, (3, res, res)


def bench_infer(model: str | None = "resnet50", checkpoint: str | None = None,
                batch_size: int = 16, variants: list[Variant] | None = None,
                baseline: bool = True, seconds: float = 2.0, rounds: int = 3,
                threads: int | None = None, image_size: int | None = None) -> dict:
    """Latency and images/s of each variant at batch 1 and B, in alternating rounds, with
    the eager fp32 baseline first (unless baseline=False) and each one's speed-up over it."""
    if batch_size < 1 or rounds < 1 or seconds <= 0:
        raise ValueError("batch size and rounds must be >= 1 and seconds > 0")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        return _bench(model, checkpoint, batch_size, variants, baseline, seconds, rounds,
                      image_size)
    finally:
        torch.set_num_threads(previous)


def _bench(model, checkpoint, batch_size, variants, baseline, seconds, rounds, image_size):
    threads = torch.get_num_threads()
    load_before = os.getloadavg()
    net, name, chw = load_target(model, checkpoint, image_size)
    batches = sorted({1, batch_size})
    shapes = [(b, *chw) for b in batches]
    variants = list(dict.fromkeys(([BASELINE] if baseline else []) + (variants or [BASELINE])))
    runs, setup = {}, {}
    for v in variants:
        t = time.perf_counter()
        runs[v] = prepare(net, v, shapes, threads)
        setup[v] = time.perf_counter() - t
    torch.manual_seed(0)
    inputs = {b: torch.randn(b, *chw) for b in batches}
    lat: dict = {(v, b): [] for v in variants for b in batches}
    for _ in range(rounds):
        for b in batches:
            for v in variants:
                lat[v, b] += measure(runs[v], inputs[b], seconds / rounds)
    rows = []
    for v in variants:
        row = {**asdict(v), "label": v.label, "baseline": v == BASELINE and baseline,
               "setup_seconds": setup[v],
               "results": [summarize(lat[v, b], b) for b in batches],
               "check": check(net, runs[v], chw, batch_size)}
        if baseline:
            row["speedup"] = {str(b): float(np.median(lat[BASELINE, b]) / np.median(lat[v, b]))
                              for b in batches}
        rows.append(row)
    return {
        "schema": SCHEMA, "model": name, "checkpoint": checkpoint, "input_size": list(chw),
        "threads": threads, "rounds": rounds, "seconds_per_measurement": seconds,
        "variants": rows,
        "machine": {**machine(), "load_average_before": list(load_before)},
        "versions": _versions(),
    }


def check(net: nn.Module, run: Callable, chw: tuple[int, ...], n: int) -> dict:
    """The variant against eager fp32 on n natural-looking images (normalised to unit scale)."""
    x = torch.from_numpy(natural_images(n, *chw, seed=1)).float().div(255)
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), keepdim=True)
    with torch.inference_mode():
        ref = net(x)
    got = run(x)
    return {"images": n, "max_abs_diff": float((got - ref).abs().max()),
            "logit_scale": float(ref.abs().max()),
            "top1_agreement": float((got.argmax(1) == ref.argmax(1)).float().mean())}


def _versions() -> dict:
    v = versions()
    try:
        import onnxruntime  # optional (resnetlab[export])

        v["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return v


def format_result(r: dict) -> str:
    c, h, w = r["input_size"]
    la = r["machine"]["load_average_before"]
    lines = [f"{r['model']} {c}x{h}x{w}, {r['threads']} threads, {r['rounds']} rounds, "
             f"load average {la[0]:.2f} before",
             f"{'variant':<36} {'batch':>5} {'img/s':>9} {'p50 ms':>9} {'p99 ms':>9} "
             f"{'speed-up':>8}"]
    for v in r["variants"]:
        for s in v["results"]:
            up = v.get("speedup", {}).get(str(s["batch_size"]))
            lines.append(f"{v['label']:<36} {s['batch_size']:>5} {s['images_per_second']:>9.1f} "
                         f"{s['latency_ms']['p50']:>9.2f} {s['latency_ms']['p99']:>9.2f} "
                         f"{'' if up is None else f'{up:.2f}x':>8}")
    lines.append("speed-up: median latency of eager fp32 / the variant's. Logits against "
                 "eager fp32 on natural-looking images:")
    for v in r["variants"]:
        k = v["check"]
        lines.append(f"  {v['label']:<34} max abs diff {k['max_abs_diff']:.2e} (logits up to "
                     f"{k['logit_scale']:.2f}), top-1 agreement {k['top1_agreement']:.0%} "
                     f"of {k['images']}; setup {v['setup_seconds']:.1f}s")
    return "\n".join(lines)

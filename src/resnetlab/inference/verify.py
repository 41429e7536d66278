"""Check an exported file against PyTorch: same inputs, max abs difference of the logits.

Inputs: standard-normal noise, synthetic natural-looking images (smooth random fields with
texture, through the model's own normalisation), and real images when available (files
given by the caller, or the model's data set if resnetlab.data can read it offline).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from resnetlab.data import load_dataset
from resnetlab.inference.onnx_tools import onnx_session, quiet_exporter, session_runner
from resnetlab.inference.preprocessing import Preprocessing, expand_inputs

DEFAULT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Check:
    """One comparison. The bound is tolerance × max(1, largest |logit|): 1e-4 absolute for
    logits of order one, relative for larger ones (fp32 rounding grows with magnitude)."""

    inputs: str
    batch: int
    max_abs_diff: float
    logit_scale: float
    bound: float
    top1_agreement: float

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.bound

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def natural_images(n: int, channels: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 N×C×H×W images with natural statistics: smooth shapes plus finer texture."""
    g = torch.Generator().manual_seed(seed)
    coarse = F.interpolate(torch.randn(n, channels, 4, 4, generator=g), (height, width),
                           mode="bicubic", align_corners=False)
    fine = F.interpolate(torch.randn(n, channels, max(1, height // 4), max(1, width // 4),
                                     generator=g), (height, width), mode="bilinear")
    x = 0.5 + 0.25 * coarse + 0.08 * fine
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def dataset_images(meta: dict[str, Any], n: int, pre: Preprocessing) -> np.ndarray | None:
    """Up to n test images of meta["dataset"] as model inputs, or None when it is unknown or
    not on disk (nothing is downloaded for a check)."""
    name = meta.get("dataset")
    if not name:
        return None
    try:
        ds = load_dataset(name, "test", download=False)
    except (ValueError, FileNotFoundError, OSError, TypeError):
        return None
    out = []
    for img in ds.images[:n].numpy():
        mode = "L" if img.shape[0] == 1 else "RGB"
        pil = Image.fromarray(img[0] if mode == "L" else img.transpose(1, 2, 0), mode)
        arr = np.asarray(pre.fit(pil), dtype=np.uint8)
        out.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
    return pre.normalize(np.stack(out)) if out else None


def check_inputs(
    pre: Preprocessing,
    batches: Sequence[int],
    meta: dict[str, Any],
    images: Sequence[str | Path] | None = None,
    seed: int = 0,
    real_batch: int = 32,
) -> list[tuple[str, np.ndarray]]:
    """(label, float32 batch) pairs covering every batch size and every kind of input.

    Real images (the given files, else the model's test set) form one batch of real_batch,
    tiled when there are fewer (a static-batch export needs exactly its batch size)."""
    c, h, w = pre.channels, pre.height, pre.width
    rng = np.random.default_rng(seed)
    out = []
    for b in batches:
        out.append(("random normal", rng.standard_normal((b, c, h, w), dtype=np.float32)))
        out.append(("synthetic images", pre.normalize(natural_images(b, c, h, w, seed + b))))
    real, label = None, ""
    if images:
        paths, errors = expand_inputs(images)
        if errors:
            raise ValueError(f"{errors[0]['path']}: {errors[0]['error']}")
        real, label = np.stack([pre.load(p) for p in paths]), "given images"
    else:
        real, label = dataset_images(meta, real_batch, pre), f"{meta.get('dataset')} test"
    if real is not None:
        reps = -(-real_batch // len(real))
        out.append((label, np.concatenate([real] * reps)[:real_batch].astype(np.float32)))
    return out


def compare(
    run: Callable[[np.ndarray], np.ndarray],
    reference: nn.Module,
    inputs: list[tuple[str, np.ndarray]],
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[Check]:
    """Run both models on each input and measure how far the exported logits are."""
    reference = reference.eval()
    checks = []
    for label, x in inputs:
        with torch.inference_mode():
            ref = reference(torch.from_numpy(x)).float().numpy()
        got = np.asarray(run(x), dtype=np.float32)
        if got.shape != ref.shape:
            raise ValueError(f"exported model gave shape {got.shape}, PyTorch {ref.shape}")
        scale = float(np.abs(ref).max())
        checks.append(Check(
            inputs=label, batch=len(x), max_abs_diff=float(np.abs(got - ref).max()),
            logit_scale=scale, bound=tolerance * max(1.0, scale),
            top1_agreement=float((got.argmax(1) == ref.argmax(1)).mean()),
        ))
    return checks


def exported_runner(path: str | Path, fmt: str) -> Callable[[np.ndarray], np.ndarray]:
    """Run a file this process just exported (TorchScript and ExportedProgram archives hold
    pickled parts: load only files you made or trust)."""
    if fmt == "onnx":
        return session_runner(onnx_session(path))
    data = io.BytesIO(Path(path).read_bytes())  # torch.export.load wants a .pt2 name or bytes
    with quiet_exporter():
        module = torch.jit.load(data) if fmt == "torchscript" else torch.export.load(
            data).module()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    return run

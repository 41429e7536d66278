"""Export a resnetlab model file to ONNX, TorchScript or a torch.export ExportedProgram.

Every export is verified before it lands: the file is written to a temporary path, run
(ONNX Runtime for ONNX) on the same inputs as the PyTorch model, and renamed into place
only if its logits agree within the tolerance. Nothing is left behind on failure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.checkpoint import load_model
from resnetlab.inference.export_formats import FORMATS, WRITERS, read_export_meta
from resnetlab.inference.fold import fold_bn as fold_model
from resnetlab.inference.onnx_tools import MissingDependency, check_opset, require
from resnetlab.inference.preprocessing import Preprocessing, class_names
from resnetlab.inference.verify import (
    DEFAULT_TOLERANCE,
    Check,
    check_inputs,
    compare,
    exported_runner,
)
from resnetlab.io import atomic_write
from resnetlab.provenance import versions

__all__ = ["FORMATS", "Check", "ExportReport", "MissingDependency", "export_model",
           "read_export_meta"]
# Meta keys carried from the model file into the export (the recipe stays with the run).
CARRIED = ("model", "overrides", "dataset", "metrics")
SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".ts"), "exported-program": (".pt2",)}


@dataclass
class ExportReport:
    path: Path
    format: str
    exporter: str
    fold_bn: bool
    dynamic_batch: bool
    opset: int | None
    seconds: float
    size_bytes: int
    checks: list[Check] = field(default_factory=list)

    @property
    def max_abs_diff(self) -> float | None:
        return max((c.max_abs_diff for c in self.checks), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "exporter": self.exporter,
                "fold_bn": self.fold_bn, "dynamic_batch": self.dynamic_batch,
                "opset": self.opset, "seconds": round(self.seconds, 3),
                "size_bytes": self.size_bytes, "max_abs_diff": self.max_abs_diff,
                "checks": [c.to_dict() for c in self.checks]}


def export_model(
    source: str | Path | nn.Module,
    out: str | Path,
    fmt: str = "onnx",
    *,
    meta: dict[str, Any] | None = None,
    fold_bn: bool = False,
    dynamic_batch: bool = True,
    batch_size: int = 1,
    opset: int | None = None,
    verify: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
    images: Sequence[str | Path] | None = None,
) -> ExportReport:
    """Export a model file (or a model with its meta) to out and verify it.

    dynamic_batch=False fixes the batch at batch_size (ONNX and ExportedProgram only;
    TorchScript always accepts any batch). opset applies to ONNX. images: real image files
    (or folders/globs) to add to the check. Raises ValueError if a check fails.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
    out = Path(out)
    if out.suffix not in SUFFIXES[fmt]:
        raise ValueError(f"{out}: the {fmt} output must end in {' or '.join(SUFFIXES[fmt])}")
    if opset is not None and fmt != "onnx":
        raise ValueError("--opset applies to ONNX exports only")
    check_opset(opset)
    if not dynamic_batch and not FORMATS[fmt].dynamic_batch_choice:
        raise ValueError(f"{fmt} modules accept any batch size: --static-batch applies to "
                         "onnx and exported-program")
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    if fmt == "onnx":
        require("onnx", "onnxscript", "onnxruntime", purpose="ONNX export")
    if isinstance(source, nn.Module):
        if meta is None:
            raise ValueError("exporting a model object needs its meta (at least 'model')")
        model = source.eval()
    else:
        model, meta = load_model(source)
    pre = Preprocessing.from_meta(meta)
    export_meta = {k: meta[k] for k in CARRIED if k in meta}
    export_meta.update(pre.to_meta(), classes=class_names(meta, model.fc.out_features),
                       format=fmt, fold_bn=fold_bn, dynamic_batch=dynamic_batch,
                       versions=versions())
    if not dynamic_batch:
        export_meta["batch_size"] = batch_size
    target = fold_model(model) if fold_bn else model
    example = torch.zeros(batch_size if not dynamic_batch else 2, pre.channels, pre.height,
                          pre.width)
    batches = (1, 3) if dynamic_batch else (batch_size,)
    info: dict[str, Any] = {}
    checks: list[Check] = []
    t0 = time.perf_counter()

    def write_and_verify(tmp: str) -> None:
        info.update(WRITERS[fmt](target, example, tmp, export_meta, dynamic_batch, opset))
        if not verify:
            return
        inputs = check_inputs(pre, batches, meta, images,
                              real_batch=32 if dynamic_batch else batch_size)
        checks.extend(compare(exported_runner(tmp, fmt), model, inputs, tolerance))
        bad = [c for c in checks if not c.passed]
        if bad:
            raise ValueError(
                f"{out}: the {fmt} export differs from PyTorch on {bad[0].inputs} (batch "
                f"{bad[0].batch}): max abs diff {bad[0].max_abs_diff:.3g} > {bad[0].bound:.3g}; "
                "nothing was written"
            )

    atomic_write(out, write_and_verify)
    return ExportReport(out, fmt, info["exporter"], fold_bn, dynamic_batch, info.get("opset"),
                        time.perf_counter() - t0, out.stat().st_size, checks)

"""Optional ONNX dependencies and ONNX Runtime sessions, shared by export, predict and bench."""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

EXTRA_HINT = "pip install resnetlab[export]"
# The dynamo exporter emits opset 18 and later; older opsets go through the TorchScript one.
DYNAMO_MIN_OPSET = 18


def opset_range() -> tuple[int, int]:
    """(lowest, highest) ONNX opset this torch can export: the TorchScript-based exporter
    from 7, the dynamo one from 18 to torch's newest."""
    try:
        from torch.onnx import _constants  # private: fall back when it moves

        return _constants.ONNX_MIN_OPSET, max(_constants.ONNX_MAX_OPSET, DYNAMO_MIN_OPSET)
    except (ImportError, AttributeError):
        return 7, DYNAMO_MIN_OPSET


def check_opset(opset: int | None) -> None:
    """ValueError naming the opsets that work, for one this torch cannot export."""
    lo, hi = opset_range()
    if opset is not None and not lo <= opset <= hi:
        raise ValueError(f"--opset {opset} is not supported: use an ONNX opset from {lo} to {hi} "
                         f"({lo}-{DYNAMO_MIN_OPSET - 1} through the TorchScript-based exporter, "
                         f"{DYNAMO_MIN_OPSET}-{hi} through torch.export), or leave it out for "
                         "the default")


class MissingDependency(ImportError, ValueError):
    """An optional package is not installed; the message says what to install.

    A ValueError too, so the CLI prints it as a user-fixable error, not a traceback.
    """


def require(*modules: str, purpose: str = "ONNX export and the onnxruntime backend"):
    """Import the named optional modules, or raise MissingDependency naming the extra.

    The one lazy import of the optional heavy packages (onnx, onnxscript, onnxruntime): they
    are imported by name here, when an export or the onnxruntime backend needs them, so
    resnetlab works without them."""
    loaded = []
    for name in modules:
        try:
            loaded.append(importlib.import_module(name))
        except ImportError as e:
            raise MissingDependency(
                f"{purpose} need(s) the optional package {name!r}, which is not installed: "
                f"{EXTRA_HINT}"
            ) from e
    return loaded[0] if len(loaded) == 1 else tuple(loaded)


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence the exporters' progress prints, deprecation warnings and log chatter."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def onnx_proto(
    model: nn.Module,
    example: torch.Tensor,
    dynamic_batch: bool = True,
    opset: int | None = None,
):
    """(onnx.ModelProto, exporter name) for model on example's shape, input 'input' and
    output 'logits'; the batch axis is symbolic ('batch') when dynamic_batch.

    torch.onnx's dynamo exporter (torch.export based, opset >= 18) is used: it is PyTorch's
    default and supported path, and its optimizer already folds constants. The TorchScript
    exporter, deprecated since PyTorch 2.9, is used only for an explicit opset below 18,
    which the dynamo exporter cannot emit (its down-conversion fails on Pad).
    """
    onnx = require("onnx", purpose="ONNX export")
    model = model.eval()
    names = {"input_names": ["input"], "output_names": ["logits"]}
    with quiet_exporter(), torch.no_grad():
        if opset is None or opset >= DYNAMO_MIN_OPSET:
            require("onnxscript", purpose="ONNX export")
            shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic_batch else None
            program = torch.onnx.export(
                model, (example,), dynamo=True, verbose=False, opset_version=opset,
                dynamic_shapes=shapes, **names,
            )
            return program.model_proto, "dynamo"
        buf = io.BytesIO()
        axes = {"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None
        torch.onnx.export(
            model, (example,), buf, dynamo=False, opset_version=opset, dynamic_axes=axes,
            **names,
        )
        return onnx.load_from_string(buf.getvalue()), "torchscript"


def onnx_session(source: str | Path | bytes, threads: int | None = None):
    """An ONNX Runtime CPU session (all graph optimisations) on a file or serialized model."""
    ort = require("onnxruntime", purpose="the onnxruntime backend")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    src = source if isinstance(source, bytes) else str(source)
    try:
        return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        what = "the serialized model" if isinstance(source, bytes) else str(source)
        raise ValueError(f"{what}: ONNX Runtime cannot load it ({e})") from e


def session_runner(session) -> Callable[[np.ndarray], np.ndarray]:
    """fn(float32 N×C×H×W array) -> logits array, for an ONNX Runtime session."""
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return session.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]

    return run

"""Batch prediction on image files with a model file's own preprocessing.

Images are read with Pillow, converted to the model's channels (grayscale or RGB), resized
and centre-cropped to the size it was trained at, normalised as in training, and classified
in batches. A file that cannot be read is reported by path; the others go on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resnetlab.checkpoint import load_model
from resnetlab.inference.export_formats import read_export_meta
from resnetlab.inference.onnx_tools import onnx_proto, onnx_session, session_runner
from resnetlab.inference.preprocessing import Preprocessing, class_names, expand_inputs

SCHEMA = "resnetlab.predict/v1"
BACKENDS = ("torch", "onnxruntime")
NON_FINITE = ("the model's scores are not finite (inf or nan): its weights overflow; use an "
              "earlier checkpoint or retrain")


@dataclass
class Predictor:
    """A model ready for images: run(float32 N×C×H×W) -> logits, its preprocessing, classes."""

    run: Callable[[np.ndarray], np.ndarray]
    preprocessing: Preprocessing
    classes: list[str]
    meta: dict[str, Any]
    backend: str

    @classmethod
    def from_file(
        cls, path: str | Path, backend: str | None = None, threads: int | None = None
    ) -> Predictor:
        """A resnetlab model file / run folder (torch or onnxruntime) or an exported .onnx."""
        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: use {' or '.join(BACKENDS)}")
        if Path(path).suffix == ".onnx":
            return cls._from_onnx(path, backend, threads)
        model, meta = load_model(path)
        pre = Preprocessing.from_meta(meta)
        classes = class_names(meta, model.fc.out_features)
        if backend == "onnxruntime":
            example = torch.zeros(2, pre.channels, pre.height, pre.width)
            proto, _ = onnx_proto(model, example, dynamic_batch=True)
            run = session_runner(onnx_session(proto.SerializeToString(), threads))
        else:
            backend = "torch"

            def run(x: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    return model(torch.from_numpy(x)).float().numpy()

        return cls(run, pre, classes, meta, backend)

    @classmethod
    def _from_onnx(cls, path, backend: str | None, threads: int | None) -> Predictor:
        if backend == "torch":
            raise ValueError(f"{path} is an ONNX file: run it with --backend onnxruntime")
        meta = read_export_meta(path)
        session = onnx_session(path, threads)
        n = session.get_outputs()[0].shape[-1]
        if not isinstance(n, int):
            raise ValueError(f"{path}: the number of classes of its output is not fixed")
        pre = Preprocessing.from_meta(meta)
        return cls(session_runner(session), pre, class_names(meta, n), meta, "onnxruntime")


@dataclass
class PredictResult:
    """predictions: {"path", "top": [{"rank", "class", "index", "probability"}]} per image,
    in input order; errors: {"path", "error"} per input that could not be classified."""

    predictions: list[dict[str, Any]]
    errors: list[dict[str, str]]

    def to_dict(self, **header: Any) -> dict[str, Any]:
        """The documented JSON document: {"schema", **header, "predictions", "errors"}."""
        return {"schema": SCHEMA, **header, "predictions": self.predictions,
                "errors": self.errors}


def _load(pre: Preprocessing, path: Path) -> np.ndarray | str:
    """The model input for path, or the reason it cannot be read: any decoder failure is
    reported for this file alone, so that one corrupt image never stops a batch."""
    try:
        return pre.load(path)
    except Exception as e:  # Pillow raises OSError, ValueError, SyntaxError, EOFError ...
        return f"{type(e).__name__}: {e}"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax; a row with inf or nan logits comes out nan (reported, not printed)."""
    with np.errstate(invalid="ignore", over="ignore"):
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def top_k(probs: np.ndarray, classes: list[str], k: int) -> list[list[dict[str, Any]]]:
    """Per row, the k most probable classes: [{"rank", "class", "index", "probability"}]."""
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [
        [{"rank": r + 1, "class": classes[int(i)], "index": int(i),
          "probability": float(row[i])} for r, i in enumerate(order)]
        for row, order in zip(probs, idx)
    ]


def predict(
    predictor: Predictor,
    inputs: Sequence[str | Path],
    k: int = 5,
    batch_size: int = 64,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> PredictResult:
    """Classify every image that inputs name (files, folders, globs), batch by batch."""
    if not inputs:
        raise ValueError("no input given: name image files, folders or globs")
    if k < 1 or batch_size < 1:
        raise ValueError(f"top-k and batch size must be >= 1, got {k} and {batch_size}")
    k = min(k, len(predictor.classes))
    paths, errors = expand_inputs(inputs)
    predictions = []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start, chunk in _chunks(paths, batch_size):
            loaded = list(pool.map(lambda p: _load(predictor.preprocessing, p), chunk))
            good = [(p, x) for p, x in zip(chunk, loaded) if isinstance(x, np.ndarray)]
            errors += [{"path": str(p), "error": x} for p, x in zip(chunk, loaded)
                       if isinstance(x, str)]
            if good:
                probs = softmax(predictor.run(np.stack([x for _, x in good])).astype(np.float64))
                finite = np.isfinite(probs).all(axis=1)
                for (p, _), top, ok in zip(good, top_k(probs, predictor.classes, k), finite):
                    if ok:
                        predictions.append({"path": str(p), "top": top})
                    else:  # overflowing weights: never print "nan%" as if it were a result
                        errors.append({"path": str(p), "error": NON_FINITE})
            if progress:
                progress(min(start + batch_size, len(paths)), len(paths))
    return PredictResult(predictions, errors)


def _chunks(items: list, size: int) -> Iterable[tuple[int, list]]:
    for i in range(math.ceil(len(items) / size)):
        yield i * size, items[i * size:(i + 1) * size]

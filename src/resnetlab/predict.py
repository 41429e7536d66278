"""Batch prediction on image files with a model file's own preprocessing.

Images are read with Pillow, converted to the model's channels (grayscale or RGB), resized
and centre-cropped to the size it was trained at, normalised as in training, and classified
in batches. A file that cannot be read is reported by path; the others go on.
"""

from __future__ import annotations

import glob
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm", ".pbm")
# torchvision's ImageNet statistics: what converted torchvision/timm/reference checkpoints expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SCHEMA = "resnetlab.predict/v1"
BACKENDS = ("torch", "onnxruntime")


@dataclass(frozen=True)
class Preprocessing:
    """How one image becomes a model input: C×H×W float32, normalised as in training.

    Resize so the shorter side is size / crop_pct, then centre-crop to H×W. crop_pct is
    0.875 (resize 256, crop 224: the ImageNet convention) for inputs of 128 px and more,
    1.0 (resize to fit, no margin) for small ones such as 28/32 px; meta["crop_pct"]
    overrides it. An image already at H×W is left untouched.
    """

    channels: int
    height: int
    width: int
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    pixel_mean: np.ndarray | None = field(default=None, compare=False, repr=False)
    crop_pct: float = 1.0
    notes: tuple[str, ...] = ()

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Preprocessing:
        """From a model file's meta; what it lacks is filled from the registry and noted."""
        notes = []
        size = meta.get("input_size")
        if size is None:
            from resnetlab.models.registry import get_spec

            res = get_spec(meta["model"]).resolution
            size = [int((meta.get("overrides") or {}).get("in_chans", 3)), res, res]
            notes.append(f"no input_size in the model file: using {size} from the registry")
        if len(size) != 3 or min(size) < 1:
            raise ValueError(f"input_size must be [C, H, W], got {size}")
        c, h, w = (int(v) for v in size)
        if c not in (1, 3):
            raise ValueError(f"images have 1 (grayscale) or 3 (RGB) channels; the model wants {c}")
        norm = meta.get("normalization")
        mean = std = pixel_mean = None
        if norm is None:
            if c != 3:
                raise ValueError("the model file has no normalization and no default fits a "
                                 f"{c}-channel model: add 'normalization' to its .json")
            mean, std = IMAGENET_MEAN, IMAGENET_STD
            notes.append("no normalization in the model file: using ImageNet's mean/std")
        elif "pixel_mean" in norm:
            pixel_mean = np.asarray(norm["pixel_mean"], dtype=np.float32)
            if pixel_mean.shape != (c, h, w):
                raise ValueError(f"pixel_mean is {pixel_mean.shape}, the input is {(c, h, w)}")
        else:
            mean = tuple(float(v) for v in norm["mean"])
            std = tuple(float(v) for v in norm["std"])
            if len(mean) != c or len(std) != c or min(std) <= 0:
                raise ValueError(f"normalization {norm} does not fit {c} channel(s) "
                                 "(one mean and one positive std per channel)")
        crop_pct = float(meta.get("crop_pct", 0.875 if min(h, w) >= 128 else 1.0))
        if not 0 < crop_pct <= 1:
            raise ValueError(f"crop_pct must be in (0, 1], got {crop_pct}")
        return cls(c, h, w, mean, std, pixel_mean, crop_pct, tuple(notes))

    def to_meta(self) -> dict[str, Any]:
        """input_size, normalization and crop_pct, as model.json holds them."""
        if self.pixel_mean is not None:
            norm: dict[str, Any] = {"pixel_mean": self.pixel_mean.tolist()}
        else:
            norm = {"mean": list(self.mean), "std": list(self.std)}
        return {"input_size": [self.channels, self.height, self.width], "normalization": norm,
                "crop_pct": self.crop_pct}

    def fit(self, image: Image.Image) -> Image.Image:
        """The image in the model's mode, resized and centre-cropped to H×W."""
        image = ImageOps.exif_transpose(image).convert("L" if self.channels == 1 else "RGB")
        w0, h0 = image.size
        scale = max(self.height / h0, self.width / w0) / self.crop_pct
        nw, nh = max(self.width, round(w0 * scale)), max(self.height, round(h0 * scale))
        if (nw, nh) != (w0, h0):
            image = image.resize((nw, nh), Image.Resampling.BILINEAR)
        left, top = (nw - self.width) // 2, (nh - self.height) // 2
        return image.crop((left, top, left + self.width, top + self.height))

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (N×)C×H×W or float in 0..1 -> the normalised float32 model input."""
        x = pixels.astype(np.float32)
        if pixels.dtype == np.uint8:
            x /= 255.0
        if self.pixel_mean is not None:
            return x - self.pixel_mean
        mean = np.asarray(self.mean, dtype=np.float32).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=np.float32).reshape(-1, 1, 1)
        return (x - mean) / std

    def load(self, path: str | Path) -> np.ndarray:
        """One image file -> C×H×W float32 input. Pillow's errors propagate."""
        with Image.open(path) as im:
            arr = np.asarray(self.fit(im), dtype=np.uint8)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        return self.normalize(arr)


def class_names(meta: dict[str, Any], num_classes: int) -> list[str]:
    """meta's class names, or '0'..'N-1' when it has none; a count mismatch is an error."""
    classes = meta.get("classes")
    if not classes:
        return [str(i) for i in range(num_classes)]
    if len(classes) != num_classes:
        raise ValueError(f"the model file names {len(classes)} classes but the model has "
                         f"{num_classes} outputs")
    return [str(c) for c in classes]


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
        from resnetlab.checkpoint import load_model

        model, meta = load_model(path)
        pre = Preprocessing.from_meta(meta)
        classes = class_names(meta, model.fc.out_features)
        if backend == "onnxruntime":
            from resnetlab.export.runtime import onnx_proto, onnx_session, session_runner

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
        from resnetlab.export import read_export_meta
        from resnetlab.export.runtime import onnx_session, session_runner

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


def expand_inputs(inputs: Sequence[str | Path]) -> tuple[list[Path], list[dict[str, str]]]:
    """Files, folders (their image files, recursively, sorted) and globs -> (files, errors).

    A folder or glob that yields no image file, and a path that does not exist, become
    errors; explicit files are kept whatever their extension (Pillow decides). Folders and
    globs are walked by data.walk (each folder once, never following a link); the links and
    non-regular files skipped become errors that say why.
    """
    from resnetlab.data.walk import glob_files, walk_files

    files: dict[Path, None] = {}
    errors = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            w = walk_files(p, _is_image_name)
            if not w.files:
                errors.append({"path": str(item), "error": "folder holds no image files "
                               f"({', '.join(IMAGE_EXTENSIONS[:4])}, ...)"})
            files.update(dict.fromkeys(w.files))
            errors += [{"path": s, "error": f"skipped: {why}"} for s, why in w.skipped]
        elif p.is_file():
            files[p] = None
        elif glob.has_magic(str(item)):
            w = glob_files(str(item), _is_image_name)
            if not w.files:
                errors.append({"path": str(item), "error": "no image file matches"})
            files.update(dict.fromkeys(w.files))
            errors += [{"path": s, "error": f"skipped: {why}"} for s, why in w.skipped]
        elif p.exists():  # a FIFO, socket or device: opening it could block forever
            errors.append({"path": str(item), "error": "not a regular file (a FIFO, socket or "
                           "device); give image files"})
        else:
            errors.append({"path": str(item), "error": "no such file or folder"})
    return list(files), errors


def _is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def _load(pre: Preprocessing, path: Path) -> np.ndarray | str:
    """The model input for path, or the reason it cannot be read: any decoder failure is
    reported for this file alone, so that one corrupt image never stops a batch."""
    try:
        return pre.load(path)
    except Exception as e:  # Pillow raises OSError, ValueError, SyntaxError, EOFError ...
        return f"{type(e).__name__}: {e}"


def softmax(logits: np.ndarray) -> np.ndarray:
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
                for (p, _), top in zip(good, top_k(probs, predictor.classes, k)):
                    predictions.append({"path": str(p), "top": top})
            if progress:
                progress(min(start + batch_size, len(paths)), len(paths))
    return PredictResult(predictions, errors)


def _chunks(items: list, size: int) -> Iterable[tuple[int, list]]:
    for i in range(math.ceil(len(items) / size)):
        yield i * size, items[i * size:(i + 1) * size]

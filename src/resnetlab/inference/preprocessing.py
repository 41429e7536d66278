"""From image files to model inputs: which files (expand_inputs), and how one image becomes
a model input (Preprocessing: the model file's input size, crop and Normalization)."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from resnetlab.data.pipeline.normalization import IMAGENET_MEAN, IMAGENET_STD, Normalization
from resnetlab.data.sets.walk import glob_files, walk_files
from resnetlab.models.registry import get_spec

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "IMAGE_EXTENSIONS", "Preprocessing", "class_names",
           "expand_inputs"]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm", ".pbm")


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
            res = get_spec(meta["model"]).resolution
            size = [int((meta.get("overrides") or {}).get("in_chans", 3)), res, res]
            notes.append(f"no input_size in the model file: using {size} from the registry")
        if len(size) != 3 or min(size) < 1:
            raise ValueError(f"input_size must be [C, H, W], got {size}")
        c, h, w = (int(v) for v in size)
        if c not in (1, 3):
            raise ValueError(f"images have 1 (grayscale) or 3 (RGB) channels; the model wants {c}")
        norm = meta.get("normalization")
        if norm is None:
            if c != 3:
                raise ValueError("the model file has no normalization and no default fits a "
                                 f"{c}-channel model: add 'normalization' to its .json")
            normalization = Normalization.imagenet()
            notes.append("no normalization in the model file: using ImageNet's mean/std")
        else:
            normalization = Normalization.from_meta(norm).check((c, h, w))
        crop_pct = float(meta.get("crop_pct", 0.875 if min(h, w) >= 128 else 1.0))
        if not 0 < crop_pct <= 1:
            raise ValueError(f"crop_pct must be in (0, 1], got {crop_pct}")
        return cls(c, h, w, normalization.mean, normalization.std, normalization.pixel_mean,
                   crop_pct, tuple(notes))

    @property
    def normalization(self) -> Normalization:
        return Normalization(self.mean, self.std, self.pixel_mean)

    def to_meta(self) -> dict[str, Any]:
        """input_size, normalization and crop_pct, as model.json holds them."""
        return {"input_size": [self.channels, self.height, self.width],
                "normalization": self.normalization.to_meta(), "crop_pct": self.crop_pct}

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
        return self.normalization.apply(pixels)

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


def expand_inputs(inputs: Sequence[str | Path]) -> tuple[list[Path], list[dict[str, str]]]:
    """Files, folders (their image files, recursively, sorted) and globs -> (files, errors).

    A folder or glob that yields no image file, and a path that does not exist, become
    errors; explicit files are kept whatever their extension (Pillow decides). Folders and
    globs are walked by data.sets.walk (each folder once, never following a link); the links and
    non-regular files skipped become errors that say why.
    """
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



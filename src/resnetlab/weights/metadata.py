"""What a checkpoint's outputs mean and what input it expects, for the sources resnetlab knows.

A converted or published checkpoint only becomes usable by `predict`, `evaluate` and `export`
with its class names and input normalisation. For the known sources they are fixed facts of
how the publisher trained:

- torchvision and timm ImageNet nets: the 1000 ImageNet-1k classes, ImageNet mean/std,
  3×224×224 (predict's default crop_pct 0.875 is their resize 256 / centre crop 224);
- Idelbayev's CIFAR-10 nets: the 10 CIFAR-10 classes, 3×32×32, and ImageNet's mean/std as
  well: his trainer.py normalises CIFAR-10 with transforms.Normalize(mean=[0.485, 0.456,
  0.406], std=[0.229, 0.224, 0.225]).

The input size is the converted model's native resolution (a CIFAR-style net saved under
torchvision's names stays 32 px), and class names are given only for the source's count.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

# torchvision's ImageNet statistics (0..1 pixel units), as predict.IMAGENET_MEAN/STD.
IMAGENET_NORMALIZATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
# The order of CIFAR-10's labels 0..9 (batches.meta of the data set).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
IMAGENET_CLASSES_FILE = "imagenet1k_classes.txt"


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in output order (packaged data; origin in the file)."""
    text = resources.files("resnetlab.weights").joinpath(IMAGENET_CLASSES_FILE).read_text(
        encoding="utf-8")
    names = tuple(line for line in text.splitlines() if line and not line.startswith("#"))
    if len(names) != 1000:
        raise RuntimeError(f"{IMAGENET_CLASSES_FILE} holds {len(names)} names, not 1000")
    return names


def dataset_classes(dataset: str) -> tuple[str, ...]:
    """Class names of a data set weights are published for: 'imagenet-1k' or 'cifar10'."""
    if dataset == "imagenet-1k":
        return imagenet_classes()
    if dataset == "cifar10":
        return CIFAR10_CLASSES
    raise ValueError(f"no class names known for {dataset!r}")


def source_meta(source: str, model: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Model-file metadata implied by a checkpoint's source format, for registry model MODEL
    built with OVERRIDES (num_classes, in_chans).

    Returns "input_size" (the model's native resolution), "normalization" (ImageNet's
    mean/std, which torchvision, timm and Idelbayev's trainer use, for 3-channel nets) and,
    when the classifier has the source's class count, "classes" (plus "dataset" for CIFAR-10,
    which resnetlab can load). Empty for "resnetlab" (its files carry their own) and
    unknown sources.
    """
    if source not in ("torchvision", "timm", "cifar-reference"):
        return {}
    from resnetlab.models.registry import get_spec

    num_classes = int(overrides.get("num_classes", 0))
    in_chans = int(overrides.get("in_chans", 3))
    res = get_spec(model).resolution
    meta: dict[str, Any] = {"input_size": [in_chans, res, res]}
    if in_chans == 3:
        meta["normalization"] = {k: list(v) for k, v in IMAGENET_NORMALIZATION.items()}
    if source == "cifar-reference" and num_classes == 10:
        meta.update(classes=list(CIFAR10_CLASSES), dataset="cifar10", trained_on="cifar10")
    elif source != "cifar-reference" and num_classes == 1000:
        meta.update(classes=list(imagenet_classes()), trained_on="imagenet-1k")
    return meta


def read_classes_file(path: str | Path, num_classes: int | None = None) -> list[str]:
    """Class names from a file: a JSON list, or plain text with one name per line.

    Blank lines and lines starting with '#' are skipped. With num_classes, a file naming
    another number of classes is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"classes file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            names = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from e
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{path}: expected a JSON list of class names")
    else:
        names = [ln.strip() for ln in text.splitlines()]
        names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise ValueError(f"{path}: names no classes")
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(f"{path} names {len(names)} classes but the model has {num_classes} "
                         "outputs")
    return names

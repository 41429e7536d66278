"""Your own data for fit(): an ImageSet, tensors with labels, or any torch Dataset.

    config, splits = own_pieces(config, model, train_data=(images, labels), val_data=...)

- ImageSet: trained like the built-in sets (in memory, pad-crop-flip, normalised by its
  mean/std).
- (images, labels) or (images, labels, classes): uint8 images N×C×H×W are an ImageSet (the
  mean/std from the training images); float images are taken as model input as they are.
- a torch Dataset of (image C×H×W tensor, label) items: taken as model input (its own
  transforms augment and normalise; uint8 is scaled to 0..1); classes from its `classes`
  attribute, else from its labels.
Errors state the expected form and the shape and dtype received, never the values.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from resnetlab.checkpoint import unwrap
from resnetlab.data import ImageSet, channel_stats, split_validation
from resnetlab.data.pipeline.normalization import Normalization
from resnetlab.train.data import Splits, normalization

EXPECTED = ("an ImageSet, a pair (images, labels) of tensors, images uint8 or float "
            "N×C×H×W (e.g. 1000×3×32×32) and labels int N, or a torch Dataset of "
            "(C×H×W tensor, int) items")


class TensorSet(torch.utils.data.Dataset):
    """Float images N×C×H×W and labels as a Dataset (model input as given)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: list[str]):
        self.images, self.labels, self.classes = images, labels, classes

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {str(x.dtype).replace('torch.', '')} tensor of shape {tuple(x.shape)}"
    return f"a {type(x).__name__}"


def _check_pair(name: str, images: Any, labels: Any) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        try:
            import numpy as np

            if isinstance(images, np.ndarray):
                images = torch.from_numpy(images)
        except ImportError:  # pragma: no cover
            pass
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not (
            images.dtype == torch.uint8 or images.is_floating_point()):
        raise ValueError(f"{name}: images must be a uint8 or float tensor N×C×H×W (e.g. "
                         f"1000×3×32×32); got {_describe(images)}")
    labels = torch.as_tensor(labels) if not isinstance(labels, torch.Tensor) else labels
    if labels.ndim != 1 or labels.is_floating_point() or labels.is_complex() or (
            len(labels) != len(images)):
        raise ValueError(f"{name}: labels must be an integer tensor of shape ({len(images)},) "
                         f"(one class index per image); got {_describe(labels)}")
    if len(labels) and labels.min() < 0:
        raise ValueError(f"{name}: labels must be class indices >= 0")
    return images


def _as_split(name: str, data: Any, classes: list[str] | None):
    """An ImageSet or a Dataset (TensorSet for float tensors) for one split."""
    if data is None or isinstance(data, ImageSet):
        return data
    if isinstance(data, tuple | list) and len(data) in (2, 3) and not isinstance(
            data, torch.utils.data.Dataset):
        images, labels = data[0], data[1]
        images = _check_pair(name, images, labels)
        labels = torch.as_tensor(labels, dtype=torch.int64)
        names = list(data[2]) if len(data) == 3 else classes
        if names is None:
            names = [str(i) for i in range(int(labels.max()) + 1 if len(labels) else 1)]
        if len(labels) and int(labels.max()) >= len(names):
            raise ValueError(f"{name}: label {int(labels.max())} is out of range for "
                             f"{len(names)} classes")
        if images.dtype == torch.uint8:
            mean, std = channel_stats(images)
            return ImageSet(images.contiguous(), labels, names, mean, std, name="tensors",
                            split=name.removesuffix("_data"))
        return TensorSet(images.float(), labels, names)
    if isinstance(data, torch.utils.data.Dataset):
        if not hasattr(data, "__len__") or not len(data):
            raise ValueError(f"{name}: the Dataset must have a length and at least one item")
        item = data[0]
        if not (isinstance(item, tuple | list) and len(item) >= 2
                and isinstance(item[0], torch.Tensor) and item[0].ndim == 3):
            got = (", ".join(_describe(v) for v in item) if isinstance(item, tuple | list)
                   else _describe(item))
            raise ValueError(f"{name}: a Dataset's items must be (image tensor C×H×W, label); "
                             f"its first item is ({got}); add a transform such as "
                             "torchvision's ToTensor()")
        return data
    raise ValueError(f"{name} must be {EXPECTED}; got {_describe(data)}")


def _classes(ds) -> list[str]:
    if isinstance(ds, ImageSet | TensorSet):
        return list(ds.classes)
    names = getattr(ds, "classes", None)
    if names:
        return [str(c) for c in names]
    targets = getattr(ds, "targets", None)
    labels = (torch.as_tensor(targets) if targets is not None
              else torch.tensor([int(ds[i][1]) for i in range(len(ds))]))
    return [str(i) for i in range(int(labels.max()) + 1)]


def _input_size(ds) -> list[int]:
    if isinstance(ds, ImageSet):
        return list(ds.images.shape[1:])
    return list(ds[0][0].shape)


def own_splits(train_data, val_data=None, test_data=None, *, val_size: int = 0, seed: int = 0,
               normalize: str = "channel") -> Splits:
    """The Splits of fit()'s own data (val_size holds out part of an ImageSet's train, drawn
    with seed; normalize: the recipe key, for an ImageSet)."""
    train = _as_split("train_data", train_data, None)
    classes = _classes(train)
    val = _as_split("val_data", val_data, classes)
    test = _as_split("test_data", test_data, classes)
    for name, ds in (("val_data", val), ("test_data", test)):
        if ds is not None and len(_classes(ds)) != len(classes):
            raise ValueError(f"{name} has {len(_classes(ds))} classes but train_data has "
                             f"{len(classes)}")
    if len(classes) < 2:
        raise ValueError("train_data holds one class: a classifier needs at least two")
    size = _input_size(train)
    for name, ds in (("val_data", val), ("test_data", test)):
        if ds is not None and _input_size(ds)[0] != size[0]:
            raise ValueError(f"{name} images have {_input_size(ds)[0]} channel(s) but "
                             f"train_data's have {size[0]}")
    if val is None and val_size and isinstance(train, ImageSet):
        train, val = split_validation(train, val_size, seed=seed)
    if isinstance(train, ImageSet):
        norm = normalization(normalize, train)
        notes = [f"own data: an ImageSet of {len(train)} training images"]
    else:
        norm = Normalization.identity(size[0])
        notes = [f"own data: a {type(train).__name__} of {len(train)} items, taken as model "
                 "input as given (its own transforms augment and normalise)"]
    return Splits(train, val, test, classes, norm, size, notes)


def data_label(train_data) -> str:
    """A name for the config's `data` key: the ImageSet's name, "tensors", or the class."""
    if isinstance(train_data, ImageSet):
        return train_data.name or "imageset"
    if isinstance(train_data, tuple | list):
        return "tensors"
    return type(train_data).__name__


def own_pieces(config, model=None, train_data=None, val_data=None, test_data=None):
    """fit()'s own model and data folded into the config: (config, Splits or None).

    model: an nn.Module (its class name becomes `model`; a data set is then read with the
    channels its first conv takes) or a registry name. train_data: own data (its Splits,
    `data` named by data_label) or a data set's name."""
    if isinstance(model, str):
        config = replace(config, model=model)
    elif model is not None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be an nn.Module or a registry name, not a "
                             f"{type(model).__name__}")
        config = replace(config, model=type(unwrap(model)).__name__)
        if train_data is None and not config.channels and not config.init:
            conv = next((m for m in unwrap(model).modules() if isinstance(m, nn.Conv2d)), None)
            if conv is not None and conv.in_channels in (1, 3):
                config = replace(config, channels=conv.in_channels)
    if isinstance(train_data, str):
        config, train_data = replace(config, data=train_data), None
    if train_data is None:
        if val_data is not None or test_data is not None:
            raise ValueError("val_data / test_data go with train_data (or leave all three "
                             "unset to use config.data)")
        return config, None
    splits = own_splits(train_data, val_data, test_data, val_size=config.val_size,
                        seed=config.seed, normalize=config.normalize)
    return replace(config, data=data_label(train_data)), splits

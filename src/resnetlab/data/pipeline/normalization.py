"""Normalization: how uint8 pixels become a model input, the one type that the loaders,
training (model.json's "normalization") and inference (predict, export) share.

Units are 0..1 pixels. Per channel: (x/255 - mean[c]) / std[c]. Per pixel: x/255 -
pixel_mean[c, h, w] (the paper's CIFAR mean subtraction, no division).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

# torchvision's ImageNet statistics: what converted torchvision/timm/reference checkpoints
# expect, and the default of image folders.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KINDS = ("channel", "pixel", "none")


@dataclass(frozen=True)
class Normalization:
    """Per-channel mean/std, or a C×H×W pixel_mean to subtract (then mean/std are None)."""

    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    pixel_mean: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.pixel_mean is not None:
            pm = np.asarray(self.pixel_mean, dtype=np.float32)
            if pm.ndim != 3:
                raise ValueError(f"pixel_mean must be C×H×W, got {pm.shape}")
            object.__setattr__(self, "pixel_mean", pm)
            return
        if self.mean is None or self.std is None:
            raise ValueError("per-channel normalization needs mean and std (per channel, "
                             "0..1 units)")
        mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if len(mean) != len(std):
            raise ValueError(f"mean/std have {len(mean)}/{len(std)} values")
        if min(std) <= 0:
            raise ValueError(f"std must be positive, got {list(std)}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @classmethod
    def imagenet(cls) -> Normalization:
        return cls(IMAGENET_MEAN, IMAGENET_STD)

    @classmethod
    def identity(cls, channels: int) -> Normalization:
        """x/255 alone (the "none" setting)."""
        return cls((0.0,) * channels, (1.0,) * channels)

    @classmethod
    def from_setting(
        cls,
        normalize: str,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        pixel_mean: Any = None,
        channels: int | None = None,
    ) -> Normalization:
        """From a loader's or recipe's `normalize` ("channel"|"pixel"|"none") and its values."""
        if normalize == "channel":
            return cls(mean, std)
        if normalize == "pixel":
            if pixel_mean is None:
                raise ValueError("normalize='pixel' needs pixel_mean (C×H×W, 0..1 units): pass "
                                 "the training set's ImageSet.pixel_mean()")
            return cls(pixel_mean=np.asarray(pixel_mean, dtype=np.float32))
        if normalize == "none":
            if channels is None:
                raise ValueError("normalize='none' needs the number of channels")
            return cls.identity(channels)
        raise ValueError(f"normalize must be one of {', '.join(KINDS)}, not {normalize!r}")

    @classmethod
    def from_meta(cls, norm: dict[str, Any]) -> Normalization:
        """From model.json's "normalization": {"mean", "std"} or {"pixel_mean"}."""
        if "pixel_mean" in norm:
            return cls(pixel_mean=np.asarray(norm["pixel_mean"], dtype=np.float32))
        if "mean" in norm and "std" in norm:
            return cls(norm["mean"], norm["std"])
        raise ValueError("the model file states no input normalization ({'mean', 'std'} or "
                         "{'pixel_mean'}); retrain it with resnetlab or add one to its "
                         "model.json")

    @property
    def kind(self) -> str:
        return "pixel" if self.pixel_mean is not None else "channel"

    @property
    def channels(self) -> int:
        return len(self.pixel_mean) if self.pixel_mean is not None else len(self.mean)

    def check(self, shape: Sequence[int]) -> Normalization:
        """self, when it fits inputs of shape C×H×W; else ValueError naming both."""
        c = shape[0]
        if self.pixel_mean is not None:
            if tuple(self.pixel_mean.shape) != tuple(shape):
                raise ValueError(f"pixel_mean is {tuple(self.pixel_mean.shape)}, the input is "
                                 f"{tuple(shape)}")
        elif self.channels != c:
            raise ValueError(f"normalization {self.to_meta()} does not fit {c} channel(s) "
                             "(one mean and one positive std per channel)")
        return self

    def to_meta(self) -> dict[str, Any]:
        """As model.json holds it."""
        if self.pixel_mean is not None:
            return {"pixel_mean": self.pixel_mean.tolist()}
        return {"mean": list(self.mean), "std": list(self.std)}

    def scale_shift(self, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift) such that x_uint8 * scale + shift is the normalised image."""
        if self.pixel_mean is not None:
            shift = -torch.as_tensor(self.pixel_mean, dtype=torch.float32)
            scale = torch.full((1, 1, 1), 1.0 / 255.0)
        else:
            m = torch.as_tensor(self.mean, dtype=torch.float32).reshape(-1, 1, 1)
            s = torch.as_tensor(self.std, dtype=torch.float32).reshape(-1, 1, 1)
            scale, shift = 1.0 / (255.0 * s), -m / s
        return scale.to(device), shift.to(device)

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (N×)C×H×W, or float in 0..1 -> the normalised float32 model input (NumPy)."""
        x = pixels.astype(np.float32)
        if pixels.dtype == np.uint8:
            x /= 255.0
        if self.pixel_mean is not None:
            return x - self.pixel_mean
        mean = np.asarray(self.mean, dtype=np.float32).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=np.float32).reshape(-1, 1, 1)
        return (x - mean) / std

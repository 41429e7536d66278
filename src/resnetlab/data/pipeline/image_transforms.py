"""Per-image transforms for image folders, in Pillow + torch (torchvision is not required).

Geometry (resize, crops, flips) runs on PIL images in the loader's workers and ends in a uint8
C×H×W tensor; colour (AlexNet PCA lighting) and normalisation run on whole float batches in
the main process. Each random transform draws from the `random.Random` it is given, so a
sample's augmentation depends only on (seed, epoch, index).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

# AlexNet PCA lighting (Krizhevsky et al. 2012), as fb.resnet.torch: eigen-decomposition of
# the ImageNet RGB covariance in 0..1 units; the paper uses "the standard color augmentation".
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009),
              (-0.5808, -0.0045, -0.8140),
              (-0.5836, -0.6948, 0.4203))
PAPER_TEST_SCALES = (224, 256, 384, 480, 640)  # Sec. 3.4, multi-scale fully-convolutional test


def resize_shorter(img: Image.Image, side: int) -> Image.Image:
    """Resize so the shorter side is `side`, keeping the aspect ratio."""
    w, h = img.size
    if min(w, h) == side:
        return img
    scale = side / min(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if img.format == "JPEG" and scale < 0.5:
        img.draft("RGB", size)  # decode at a reduced scale: much faster for big JPEGs
    return img.resize(size, Image.BILINEAR)


def crop(img: Image.Image, top: int, left: int, size: int) -> Image.Image:
    return img.crop((left, top, left + size, top + size))


def center_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    if w < size or h < size:
        raise ValueError(f"image of {w}×{h} is smaller than the {size} px crop")
    return crop(img, (h - size) // 2, (w - size) // 2, size)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """uint8 C×H×W tensor of an RGB PIL image (numpy's transpose: torch's is slow on uint8
    H×W×3 when its threads contend)."""
    hwc = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1)))


def flip(img: Image.Image) -> Image.Image:
    return img.transpose(Image.FLIP_LEFT_RIGHT)


class ScaleAugment:
    """The paper's ImageNet augmentation (Sec. 3.4): shorter side random in [lo, hi], a random
    size×size crop, horizontal flip with probability 1/2."""

    def __init__(self, size: int = 224, lo: int = 256, hi: int = 480, hflip: bool = True):
        if not size <= lo <= hi:
            raise ValueError(f"need size <= lo <= hi, got {size}, {lo}, {hi}")
        self.size, self.lo, self.hi, self.hflip = size, lo, hi, hflip

    def __call__(self, img: Image.Image, rng: random.Random) -> torch.Tensor:
        w, h = img.size
        scale = rng.randint(self.lo, self.hi) / min(w, h)
        rw, rh = max(self.size, round(w * scale)), max(self.size, round(h * scale))
        top, left = rng.randint(0, rh - self.size), rng.randint(0, rw - self.size)
        # resample only the crop's source box: the same pixels as resize-then-crop, faster
        sx, sy = w / rw, h / rh
        box = (left * sx, top * sy, (left + self.size) * sx, (top + self.size) * sy)
        img = img.resize((self.size, self.size), Image.BILINEAR, box=box)
        if self.hflip and rng.random() < 0.5:
            img = flip(img)
        return to_tensor(img)


class RandomResizedCrop:
    """A random area fraction in `scale` and aspect ratio in `ratio` (log-uniform), resized to
    size×size, then a flip: the Inception-style crop of torchvision, with its center fallback."""

    def __init__(self, size: int = 224, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), hflip=True):
        self.size, self.scale, self.ratio, self.hflip = size, scale, ratio, hflip

    def box(self, w: int, h: int, rng: random.Random) -> tuple[int, int, int, int]:
        """(left, top, width, height) of the crop."""
        area = w * h
        log_r = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_r))
            cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < cw <= w and 0 < ch <= h:
                return rng.randint(0, w - cw), rng.randint(0, h - ch), cw, ch
        aspect = w / h
        if aspect < self.ratio[0]:
            cw, ch = w, round(w / self.ratio[0])
        elif aspect > self.ratio[1]:
            cw, ch = round(h * self.ratio[1]), h
        else:
            cw, ch = w, h
        return (w - cw) // 2, (h - ch) // 2, cw, ch

    def __call__(self, img: Image.Image, rng: random.Random) -> torch.Tensor:
        left, top, cw, ch = self.box(*img.size, rng)
        img = img.resize((self.size, self.size), Image.BILINEAR,
                         box=(left, top, left + cw, top + ch))
        if self.hflip and rng.random() < 0.5:
            img = flip(img)
        return to_tensor(img)


class CenterCrop:
    """Evaluation: shorter side to `resize`, then the central size×size crop (256 -> 224)."""

    def __init__(self, size: int = 224, resize: int = 256):
        self.size, self.resize = size, resize

    def __call__(self, img: Image.Image, rng: random.Random | None = None) -> torch.Tensor:
        return to_tensor(center_crop(resize_shorter(img, self.resize), self.size))


class TenCrop:
    """Evaluation: the four corner crops, the center crop and their mirrors, 10×C×H×W."""

    def __init__(self, size: int = 224, resize: int = 256):
        self.size, self.resize = size, resize

    def __call__(self, img: Image.Image, rng: random.Random | None = None) -> torch.Tensor:
        img = resize_shorter(img, self.resize)
        w, h, s = *img.size, self.size
        if w < s or h < s:
            raise ValueError(f"image of {w}×{h} is smaller than the {s} px crop")
        boxes = [(0, 0), (0, w - s), (h - s, 0), (h - s, w - s), ((h - s) // 2, (w - s) // 2)]
        crops = [crop(img, t, left, s) for t, left in boxes]
        return torch.stack([to_tensor(c) for c in crops + [flip(c) for c in crops]])


class MultiScale:
    """Evaluation: the whole image at each shorter side in `scales` (fully-convolutional test),
    as a tuple of uint8 C×H×W tensors of different sizes."""

    def __init__(self, scales: Sequence[int] = PAPER_TEST_SCALES):
        self.scales = tuple(scales)

    def __call__(self, img: Image.Image, rng: random.Random | None = None):
        return tuple(to_tensor(resize_shorter(img, s)) for s in self.scales)


def lighting_offsets(alpha: torch.Tensor) -> torch.Tensor:
    """Per-sample RGB offsets (B×3, 0..1 units) for AlexNet PCA lighting given B×3 alphas."""
    eigval = torch.tensor(PCA_EIGVAL, dtype=alpha.dtype, device=alpha.device)
    eigvec = torch.tensor(PCA_EIGVEC, dtype=alpha.dtype, device=alpha.device)
    return (alpha * eigval) @ eigvec.T


TRAIN_TRANSFORMS = {"scale": ScaleAugment, "rrc": RandomResizedCrop}
EVAL_TRANSFORMS = {"center": CenterCrop, "ten-crop": TenCrop, "multiscale": MultiScale}


def make_transform(name: str, size: int = 224):
    """A transform by name: train "scale" (the paper) | "rrc"; eval "center" | "ten-crop" |
    "multiscale"."""
    table = {**TRAIN_TRANSFORMS, **EVAL_TRANSFORMS}
    if name not in table:
        raise ValueError(f"unknown transform {name!r}; choose from {', '.join(table)}")
    return table[name]() if name == "multiscale" else table[name](size)

"""The image operations of AutoAugment, RandAugment and TrivialAugmentWide on uint8 batches.

Each op transforms a B×C×H×W uint8 batch with one parameter per image in a few vectorised
calls (affine ops: one gather of inverse-mapped pixel centres; colour ops: elementwise math;
equalize: one bincount over all image-channels), so a sub-batch that drew the same op is done
at once. Semantics follow torchvision's uint8 tensor ops (nearest-neighbour sampling,
truncating blends); the parameter ranges are torchvision's augmentation spaces. Arrays stay in
their input's library (NumPy on CPU, torch on an accelerator: batch_augment.in_numpy); both
share the operators, amax/clip/where/floor used here, and the helpers below cover the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

GRAY = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as PIL and torchvision


def _xp(x):
    return np if isinstance(x, np.ndarray) else torch


def _like(x, values, dtype=np.float32, shape=(-1, 1, 1, 1)):
    """values (a sequence or NumPy array) as an array in x's library and device, reshaped."""
    a = np.asarray(values, dtype=dtype).reshape(shape)
    return a if isinstance(x, np.ndarray) else torch.from_numpy(a).to(x.device)


def _float(x):
    return x.astype(np.float32) if isinstance(x, np.ndarray) else x.float()


def _uint8(x):
    """Clip to 0..255 and truncate, as torchvision's blends do on uint8 images."""
    x = _xp(x).clip(x, 0, 255)
    return x.astype(np.uint8) if isinstance(x, np.ndarray) else x.to(torch.uint8)


def _take(a, idx, axis: int):
    return (np.take_along_axis(a, idx, axis) if isinstance(a, np.ndarray)
            else torch.take_along_dim(a, idx, axis))


def _index(x, values):
    return values.astype(np.int64) if isinstance(x, np.ndarray) else values.long()


def grayscale(xf):
    """B×1×H×W luma of a float batch (the batch itself when it has one channel)."""
    if xf.shape[1] == 1:
        return xf
    return (xf * _like(xf, GRAY, shape=(1, 3, 1, 1))).sum(axis=1, keepdims=True)


def blend(x, degenerate, factor):
    """degenerate + factor * (x - degenerate): PIL's ImageEnhance, per-image factor."""
    xf = _float(x)
    return _uint8(degenerate + _like(x, factor) * (xf - degenerate))


def identity(x, v):
    return x


def brightness(x, v):
    return blend(x, 0.0, 1.0 + v)


def color(x, v):
    return blend(x, grayscale(_float(x)), 1.0 + v)


def contrast(x, v):
    return blend(x, grayscale(_float(x)).mean(axis=(1, 2, 3), keepdims=True), 1.0 + v)


def sharpness(x, v):
    """Blend with the image smoothed by PIL's SMOOTH kernel ([1 1 1; 1 5 1; 1 1 1] / 13),
    borders kept (torchvision's adjust_sharpness)."""
    xf = _float(x)
    h, w = x.shape[2:]
    smooth = xf * 1.0
    if h > 2 and w > 2:
        acc = 4 * xf[:, :, 1:-1, 1:-1]
        for dy in range(3):
            for dx in range(3):
                acc = acc + xf[:, :, dy:dy + h - 2, dx:dx + w - 2]
        smooth[:, :, 1:-1, 1:-1] = _xp(x).round(acc / 13)
    return blend(x, smooth, 1.0 + v)


def posterize(x, v):
    """Keep 8 - round(v) high bits (v is the bits dropped)."""
    bits = 8 - np.round(np.asarray(v)).astype(np.int64)
    return x & _like(x, (256 - 2 ** (8 - bits)) % 256, np.uint8)


def solarize(x, v):
    """Invert pixels at or above 255 - v (v = 0: threshold 255)."""
    return _xp(x).where(x >= _like(x, 255.0 - np.asarray(v)), 255 - x, x)


def invert(x, v):
    return 255 - x


def autocontrast(x, v):
    """Stretch each channel's [min, max] to [0, 255] (exact integer truncation of
    torchvision's formula); a flat channel is left as it is."""
    xp = _xp(x)
    xi = _index(x, x)
    lo, hi = xp.amin(xi, axis=(2, 3), keepdims=True), xp.amax(xi, axis=(2, 3), keepdims=True)
    flat = hi <= lo
    return _uint8(xp.where(flat, xi, (xi - lo) * 255 // xp.where(flat, 1, hi - lo)))


def equalize(x, v):
    """PIL's ImageOps.equalize per image and channel, all at once: one bincount for the B*C
    histograms, a lookup table each, one gather."""
    xp = _xp(x)
    b, c, h, w = x.shape
    flat = _index(x, x.reshape(b * c, h * w))
    rows = _like(x, np.arange(b * c), np.int64, (-1, 1))
    hist = xp.bincount((flat + 256 * rows).reshape(-1), minlength=b * c * 256).reshape(b * c, 256)
    last = _take(hist, xp.amax(flat, axis=1, keepdims=True), 1)
    step = (h * w - last) // 255
    lut = (xp.cumsum(hist, axis=1) - hist + step // 2) // xp.where(step > 0, step, 1)
    lut = xp.where(step > 0, xp.clip(lut, 0, 255), _like(x, np.arange(256), np.int64, (1, 256)))
    return _uint8(_take(lut, flat, 1).reshape(b, c, h, w))


def affine(x, matrices, fill: int = 0):
    """Nearest-neighbour warp: output pixel centre (u, v) takes the input pixel holding
    (a u + b v + c, d u + e v + f) for each image's 2×3 matrix (PIL's AFFINE data), `fill`
    where that falls outside."""
    b, c, h, w = x.shape
    xp = _xp(x)
    m = _like(x, matrices, shape=(-1, 6, 1))
    u = _like(x, np.tile(np.arange(w) + 0.5, h), shape=(1, -1))
    v = _like(x, np.repeat(np.arange(h) + 0.5, w), shape=(1, -1))
    sx = xp.floor(m[:, 0] * u + m[:, 1] * v + m[:, 2])
    sy = xp.floor(m[:, 3] * u + m[:, 4] * v + m[:, 5])
    inside = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
    src = _index(x, xp.clip(sy, 0, h - 1) * w + xp.clip(sx, 0, w - 1))
    out = _take(x.reshape(b, c, h * w), src[:, None, :], 2)
    return xp.where(inside[:, None, :], out, _like(x, [fill], np.uint8, ())).reshape(b, c, h, w)


def _matrices(rows: list) -> np.ndarray:
    return np.stack([np.asarray(r, dtype=np.float64) for r in rows], axis=-1)


def shear_x(x, v):
    v = np.asarray(v, dtype=np.float64)
    one, zero = np.ones_like(v), np.zeros_like(v)
    return affine(x, _matrices([one, v, zero, zero, one, zero]))


def shear_y(x, v):
    v = np.asarray(v, dtype=np.float64)
    one, zero = np.ones_like(v), np.zeros_like(v)
    return affine(x, _matrices([one, zero, zero, v, one, zero]))


def translate_x(x, v):
    """Move the content right by int(v) pixels (torchvision's sign)."""
    v = np.trunc(np.asarray(v, dtype=np.float64))
    one, zero = np.ones_like(v), np.zeros_like(v)
    return affine(x, _matrices([one, zero, -v, zero, one, zero]))


def translate_y(x, v):
    v = np.trunc(np.asarray(v, dtype=np.float64))
    one, zero = np.ones_like(v), np.zeros_like(v)
    return affine(x, _matrices([one, zero, zero, zero, one, -v]))


def rotate(x, v):
    """Rotate counter-clockwise by v degrees about the image centre."""
    h, w = x.shape[2:]
    t = np.deg2rad(np.asarray(v, dtype=np.float64))
    cos, sin, cx, cy = np.cos(t), np.sin(t), w / 2, h / 2
    return affine(x, _matrices([cos, -sin, cx - cos * cx + sin * cy,
                                sin, cos, cy - sin * cx - cos * cy]))


@dataclass(frozen=True)
class Op:
    """One op and its magnitude range: at magnitude fraction f in [0, 1] its parameter is
    f * standard (AutoAugment / RandAugment) or f * wide (TrivialAugmentWide), negated at
    random when signed. Translations with per_side are in fractions of the image side."""

    fn: Callable
    standard: float = 0.0
    wide: float = 0.0
    signed: bool = False
    per_side: bool = False

    def parameter(self, frac: np.ndarray, sign: np.ndarray, wide: bool, side: int) -> np.ndarray:
        top = self.wide if wide else self.standard * (side if self.per_side else 1)
        return frac * top * (sign if self.signed else 1.0)


# torchvision's augmentation spaces (autoaugment.py _augmentation_space): shear 0.3 / 0.99,
# translate 150/331 of the side / 32 px, rotate 30 / 135 degrees, enhance factor 1 ± 0.9 /
# 0.99, posterize 8 -> 4 / 2 bits, solarize threshold 255 -> 0.
OPS: dict[str, Op] = {
    "Identity": Op(identity),
    "ShearX": Op(shear_x, 0.3, 0.99, signed=True),
    "ShearY": Op(shear_y, 0.3, 0.99, signed=True),
    "TranslateX": Op(translate_x, 150 / 331, 32.0, signed=True, per_side=True),
    "TranslateY": Op(translate_y, 150 / 331, 32.0, signed=True, per_side=True),
    "Rotate": Op(rotate, 30.0, 135.0, signed=True),
    "Brightness": Op(brightness, 0.9, 0.99, signed=True),
    "Color": Op(color, 0.9, 0.99, signed=True),
    "Contrast": Op(contrast, 0.9, 0.99, signed=True),
    "Sharpness": Op(sharpness, 0.9, 0.99, signed=True),
    "Posterize": Op(posterize, 4.0, 6.0),
    "Solarize": Op(solarize, 255.0, 255.0),
    "AutoContrast": Op(autocontrast),
    "Equalize": Op(equalize),
    "Invert": Op(invert),
}

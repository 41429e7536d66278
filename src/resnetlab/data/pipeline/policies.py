"""Augmentation policies on whole uint8 batches: RandAugment, TrivialAugmentWide, AutoAugment,
random erasing and colour jitter.

Each image draws its own op (and magnitude, sign, probability) from a NumPy Generator; the
images that drew the same op go through batch_ops in one vectorised call. The caller gives
the generator: DeviceLoader seeds one per (seed, epoch, batch), so a resumed run redraws
exactly what the interrupted one drew, on any device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from resnetlab.data.pipeline.batch_ops import OPS, _like

# torchvision's RandAugment / TrivialAugmentWide op set (Identity included, as in the paper).
RAND_OPS = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness",
            "Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize")
MAGNITUDE_MAX = 10.0  # RandAugment's M on the paper's and timm's 0..10 scale
WIDE_BINS = 31  # TrivialAugmentWide draws its magnitude from 31 bins (Müller & Hutter 2021)
AUTO_LEVELS = 9  # AutoAugment's magnitudes are 10 levels, 0..9 (Cubuk et al. 2019)

# AutoAugment's learned policies (Cubuk et al. 2019, Appendix, as torchvision lists them):
# 25 sub-policies of two (op, probability, magnitude level) each.
AUTO_POLICIES = {
    "cifar10": (
        (("Invert", 0.1, 0), ("Contrast", 0.2, 6)), (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
        (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
        (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.5, 0), ("Equalize", 0.9, 0)),
        (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)), (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
        (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
        (("Equalize", 0.6, 0), ("Equalize", 0.5, 0)),
        (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)), (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
        (("Equalize", 0.3, 0), ("AutoContrast", 0.4, 0)),
        (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
        (("Brightness", 0.9, 6), ("Color", 0.2, 8)), (("Solarize", 0.5, 2), ("Invert", 0.0, 0)),
        (("Equalize", 0.2, 0), ("AutoContrast", 0.6, 0)),
        (("Equalize", 0.2, 0), ("Equalize", 0.6, 0)), (("Color", 0.9, 9), ("Equalize", 0.6, 0)),
        (("AutoContrast", 0.8, 0), ("Solarize", 0.2, 8)),
        (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
        (("Solarize", 0.4, 5), ("AutoContrast", 0.9, 0)),
        (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.9, 0), ("Solarize", 0.8, 3)),
        (("Equalize", 0.8, 0), ("Invert", 0.1, 0)),
        (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, 0)),
    ),
    "imagenet": (
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 0)),
        (("Equalize", 0.8, 0), ("Equalize", 0.6, 0)),
        (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, 0), ("Solarize", 0.2, 4)), (("Equalize", 0.4, 0), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, 0)),
        (("Posterize", 0.8, 5), ("Equalize", 1.0, 0)), (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
        (("Equalize", 0.6, 0), ("Posterize", 0.4, 6)), (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
        (("Rotate", 0.4, 9), ("Equalize", 0.6, 0)), (("Equalize", 0.0, 0), ("Equalize", 0.8, 0)),
        (("Invert", 0.6, 0), ("Equalize", 1.0, 0)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Rotate", 0.8, 8), ("Color", 1.0, 2)), (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
        (("Sharpness", 0.4, 7), ("Invert", 0.6, 0)), (("ShearX", 0.6, 5), ("Equalize", 1.0, 0)),
        (("Color", 0.4, 0), ("Equalize", 0.6, 0)), (("Equalize", 0.4, 0), ("Solarize", 0.2, 4)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 0)),
        (("Invert", 0.6, 0), ("Equalize", 1.0, 0)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, 0), ("Equalize", 0.6, 0)),
    ),
}


AUGMENT_STREAM, MIX_STREAM = 0, 1  # the loaders' policies; mixup / CutMix in the loop


def batch_rng(seed: int, epoch: int, index: int, rank: int = 0,
              stream: int = AUGMENT_STREAM) -> np.random.Generator:
    """A generator that depends only on (seed, epoch, batch index, rank, stream)."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, index, rank, stream]))


def writable(x):
    """x, or a copy of it where NumPy marks it read-only (ops write sub-batches back)."""
    return x.copy() if isinstance(x, np.ndarray) and not x.flags.writeable else x


def apply_ops(x, names: Sequence[str], which: np.ndarray, frac: np.ndarray, sign: np.ndarray,
              wide: bool = False):
    """Image i gets OPS[names[which[i]]] at magnitude fraction frac[i] (which[i] < 0: none),
    one call per op over the images that drew it."""
    x = writable(x)
    for k, name in enumerate(names):
        idx = np.flatnonzero(which == k)
        if not len(idx):
            continue
        op = OPS[name]
        side = x.shape[-1] if name == "TranslateX" else x.shape[-2]
        value = op.parameter(frac[idx], sign[idx], wide, side)
        sel = idx if isinstance(x, np.ndarray) else torch.from_numpy(idx).to(x.device)
        x[sel] = op.fn(x[sel], value)
    return x


def _signs(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.5, -1.0, 1.0)


class RandAugment:
    """RandAugment (Cubuk et al. 2020): num_ops ops per image, each drawn uniformly from
    RAND_OPS (with replacement) at magnitude M on 0..10 (torchvision's bin m of 31 is M = m/3),
    plus N(0, magnitude_std) noise per op as timm's `mstd`, clipped to 0..10."""

    def __init__(self, num_ops: int = 2, magnitude: float = 9.0, magnitude_std: float = 0.0):
        if not 0 <= magnitude <= MAGNITUDE_MAX:
            raise ValueError(f"randaugment_magnitude must be in 0..{MAGNITUDE_MAX:g} (the "
                             f"paper's and timm's scale), got {magnitude}")
        if num_ops < 1 or magnitude_std < 0:
            raise ValueError(f"randaugment_ops must be >= 1 and randaugment_magnitude_std >= 0, "
                             f"got {num_ops} and {magnitude_std}")
        self.num_ops, self.magnitude, self.magnitude_std = num_ops, magnitude, magnitude_std

    def __call__(self, x, rng: np.random.Generator):
        b = len(x)
        for _ in range(self.num_ops):
            which = rng.integers(len(RAND_OPS), size=b)
            m = np.full(b, float(self.magnitude))
            if self.magnitude_std:
                m += self.magnitude_std * rng.standard_normal(b)
            frac = np.clip(m, 0.0, MAGNITUDE_MAX) / MAGNITUDE_MAX
            x = apply_ops(x, RAND_OPS, which, frac, _signs(rng, b))
        return x


class TrivialAugmentWide:
    """TrivialAugmentWide (Müller & Hutter 2021): one op per image from RAND_OPS at a magnitude
    drawn uniformly from 31 bins of the wide ranges."""

    def __call__(self, x, rng: np.random.Generator):
        b = len(x)
        which = rng.integers(len(RAND_OPS), size=b)
        frac = rng.integers(WIDE_BINS, size=b) / (WIDE_BINS - 1)
        return apply_ops(x, RAND_OPS, which, frac, _signs(rng, b), wide=True)


class AutoAugment:
    """AutoAugment (Cubuk et al. 2019) with its learned CIFAR-10 or ImageNet policy: each
    image draws one of the 25 sub-policies and applies its two ops, each with its
    probability, at level/9 of the range."""

    def __init__(self, policy: str = "imagenet"):
        if policy not in AUTO_POLICIES:
            raise ValueError(f"autoaugment policy {policy!r} is unknown; choose from "
                             f"{', '.join(AUTO_POLICIES)}")
        self.policy = AUTO_POLICIES[policy]
        self.names = tuple(sorted({op for sub in self.policy for op, _, _ in sub}))

    def __call__(self, x, rng: np.random.Generator):
        b = len(x)
        chosen = rng.integers(len(self.policy), size=b)
        for stage in range(2):
            draws = rng.random(b)
            rows = [self.policy[c][stage] for c in chosen]
            which = np.array([self.names.index(op) if u <= p else -1
                              for (op, p, _), u in zip(rows, draws)])
            frac = np.array([level / AUTO_LEVELS for _, _, level in rows])
            x = apply_ops(x, self.names, which, frac, _signs(rng, b))
        return x


class RandomErasing:
    """Random erasing (Zhong et al. 2020), torchvision's box rule: with probability `prob` an
    image gets one box of area fraction in `scale` and aspect in `ratio` (log-uniform; 10
    tries, else untouched), filled with `fill` (one uint8 per channel, e.g. the mean colour,
    which is torchvision's value=0 after normalisation) or, when None, uniform uint8 noise
    (the uint8 counterpart of timm's per-pixel mode)."""

    def __init__(self, prob: float = 0.25, scale=(0.02, 1 / 3), ratio=(0.3, 3.3),
                 fill: Sequence[int] | None = None):
        if not 0 <= prob <= 1:
            raise ValueError(f"random_erase must be a probability in 0..1, got {prob}")
        self.prob, self.scale, self.ratio, self.fill = prob, scale, ratio, fill

    def __call__(self, x, rng: np.random.Generator):
        b, c, h, w = x.shape
        hit = rng.random(b) < self.prob
        area = h * w * rng.uniform(*self.scale, size=(b, 10))
        aspect = np.exp(rng.uniform(*np.log(self.ratio), size=(b, 10)))
        eh, ew = np.round(np.sqrt(area * aspect)), np.round(np.sqrt(area / aspect))
        fits = (eh < h) & (ew < w)
        first = fits.argmax(1)
        eh, ew = eh[np.arange(b), first], ew[np.arange(b), first]
        eh[~(fits.any(1) & hit)] = 0
        top, left = np.floor(rng.random(b) * (h - eh + 1)), np.floor(rng.random(b) * (w - ew + 1))
        rows = _like(x, np.arange(h), shape=(1, -1)) - _like(x, top, shape=(-1, 1))
        cols = _like(x, np.arange(w), shape=(1, -1)) - _like(x, left, shape=(-1, 1))
        inside = (((rows >= 0) & (rows < _like(x, eh, shape=(-1, 1))))[:, None, :, None]
                  & ((cols >= 0) & (cols < _like(x, ew, shape=(-1, 1))))[:, None, None, :])
        if self.fill is None:
            value = _like(x, rng.integers(0, 256, size=x.shape), np.uint8, x.shape)
        else:
            value = _like(x, self.fill, np.uint8, (1, -1, 1, 1))
        xp = np if isinstance(x, np.ndarray) else torch
        return xp.where(inside, value, x)


class ColorJitter:
    """Brightness, contrast and saturation factors uniform in [max(0, 1 - s), 1 + s] per image,
    applied in that order (torchvision draws the order at random and adds hue; neither here)."""

    def __init__(self, strength: float = 0.4):
        if strength < 0:
            raise ValueError(f"color_jitter must be >= 0, got {strength}")
        self.strength = strength

    def __call__(self, x, rng: np.random.Generator):
        b, s = len(x), self.strength
        for op in ("Brightness", "Contrast", "Color"):
            x = OPS[op].fn(x, rng.uniform(max(0.0, 1 - s), 1 + s, size=b) - 1.0)
        return x


class Chain:
    """Augmentations applied one after the other, all from the same generator."""

    def __init__(self, parts: Sequence):
        self.parts = tuple(parts)

    def __call__(self, x, rng: np.random.Generator):
        for part in self.parts:
            x = part(x, rng)
        return x


POLICIES = ("none", "randaugment", "trivialaugment", "autoaugment-cifar10",
            "autoaugment-imagenet")


def make_augment(policy: str = "none", *, num_ops: int = 2, magnitude: float = 9.0,
                 magnitude_std: float = 0.0, random_erase: float = 0.0,
                 erase_fill: Sequence[int] | None = None, color_jitter: float = 0.0):
    """The batch augmentation the keys describe (a callable (x, rng) -> x), or None for none:
    colour jitter, then the policy, then random erasing."""
    if policy not in POLICIES:
        raise ValueError(f"augment policy {policy!r} is unknown; choose from {', '.join(POLICIES)}")
    parts = [ColorJitter(color_jitter)] if color_jitter else []
    if policy == "randaugment":
        parts.append(RandAugment(num_ops, magnitude, magnitude_std))
    elif policy == "trivialaugment":
        parts.append(TrivialAugmentWide())
    elif policy.startswith("autoaugment-"):
        parts.append(AutoAugment(policy.removeprefix("autoaugment-")))
    if random_erase:
        parts.append(RandomErasing(random_erase, fill=erase_fill))
    return Chain(parts) if parts else None

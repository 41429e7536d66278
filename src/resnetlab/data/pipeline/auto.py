"""An image folder's pipeline, chosen from the data: small images train at native size in
memory with pad-crop-flip (like CIFAR), large ones through the ImageNet-style pipeline.

    stats = inspect_images(folder.samples)            # a seeded sample of the files
    choice = choose_pipeline(stats, "auto", image_size=224)
    images = read_images(folder, choice.size, choice.channels)   # "small": ImageSet-ready

Every choice comes with its reason (`choice.reasons`), written into the run's report.md.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

SMALL_MAX_SIDE = 64  # px: up to this, a folder trains like CIFAR (native size, pad-crop-flip)
SAMPLE = 64  # images whose size and colour are measured
GRAY_MODES = ("L", "LA", "I", "I;16", "F", "1")


@dataclass
class ImageStats:
    """What a sample of a folder's images looks like."""

    n: int
    sizes: list[tuple[int, int]]  # (height, width) of each sampled image
    gray: int  # how many of them are single-channel

    @property
    def common_size(self) -> tuple[int, int]:
        return Counter(self.sizes).most_common(1)[0][0]

    @property
    def max_side(self) -> int:
        return max(max(s) for s in self.sizes)

    @property
    def median_side(self) -> int:
        return int(np.median([max(s) for s in self.sizes]))

    @property
    def channels(self) -> int:
        return 1 if self.gray == self.n else 3


@dataclass
class PipelineChoice:
    """kind "small" (in memory at `size` H×W, pad-crop-flip) or "large" (folder loader at
    image_size crops); channels 1 or 3; reasons: one sentence per choice."""

    kind: str
    size: tuple[int, int]
    channels: int
    reasons: list[str] = field(default_factory=list)


def inspect_images(samples: Sequence[tuple[Path, int]], n: int = SAMPLE,
                   seed: int = 0) -> ImageStats:
    """Sizes and colour of up to n images drawn (seeded) from (path, label) samples; only
    the headers are read. Unreadable files are left out (the loaders report them)."""
    if not samples:
        raise ValueError("no images to inspect")
    picked = random.Random(seed).sample(list(samples), min(n, len(samples)))
    sizes, gray = [], 0
    for path, _ in picked:
        try:
            with Image.open(path) as img:
                sizes.append((img.height, img.width))
                gray += img.mode in GRAY_MODES
        except (OSError, ValueError, Image.DecompressionBombError):
            continue
    if not sizes:
        raise ValueError(f"none of {len(picked)} sampled images could be read, e.g. "
                         f"{picked[0][0]}")
    return ImageStats(len(sizes), sizes, gray)


def choose_pipeline(stats: ImageStats, kind: str = "auto", *, image_size: int = 224,
                    channels: int = 0, init_size: Sequence[int] | None = None) -> PipelineChoice:
    """The pipeline for a folder: kind "auto" | "small" | "large"; channels 0 = from the
    files (or the init weights' input_size [C, H, W] when given); init_size also sets a
    small pipeline's size (the source's input size)."""
    reasons = []
    side = stats.max_side
    desc = (f"{stats.n} sampled images: most common size {stats.common_size[1]}x"
            f"{stats.common_size[0]} px, largest side {side} px")
    if kind == "auto" and init_size and len(init_size) == 3:
        # fine-tuning: the weights' input size decides (CIFAR nets at 32 px, ImageNet's crops)
        kind = "small" if max(init_size[1:]) <= SMALL_MAX_SIDE else "large"
        reasons.append(f"pipeline {kind} (folder_pipeline=auto): the init weights take "
                       f"{init_size[2]}x{init_size[1]} px input; {desc}")
    elif kind == "auto":
        kind = "small" if side <= SMALL_MAX_SIDE else "large"
        why = (f"<= {SMALL_MAX_SIDE} px: native size with pad-crop-flip, like CIFAR"
               if kind == "small" else f"> {SMALL_MAX_SIDE} px: ImageNet-style crops")
        reasons.append(f"pipeline {kind} (folder_pipeline=auto): {desc}; {why}")
    else:
        reasons.append(f"pipeline {kind} (set by folder_pipeline): {desc}")
    if kind == "small":
        size = stats.common_size
        if init_size and len(init_size) == 3 and max(init_size[1:]) <= SMALL_MAX_SIDE:
            size = (int(init_size[1]), int(init_size[2]))
            reasons.append(f"size {size[1]}x{size[0]} px: the init weights' input size")
        elif len(set(stats.sizes)) > 1:
            reasons.append(f"size {size[1]}x{size[0]} px: the most common size; other images "
                           "are resized to it")
        else:
            reasons.append(f"size {size[1]}x{size[0]} px: the images' own")
    else:
        size = (image_size, image_size)
        reasons.append(f"crops of {image_size} px (image_size)")
    if channels:
        reasons.append(f"{channels} channel(s) (set by channels)")
    elif init_size:
        channels = int(init_size[0])
        reasons.append(f"{channels} channel(s): the init weights' input")
    else:
        channels = stats.channels
        what = "all grayscale" if channels == 1 else (
            "colour" if not stats.gray else f"{stats.gray} of {stats.n} grayscale: mixed")
        reasons.append(f"{channels} channel(s): sampled images are {what}")
    if kind == "large" and channels == 1:
        channels = 3
        reasons.append("large images are read as RGB (3 channels) by the folder loader")
    return PipelineChoice(kind, (int(size[0]), int(size[1])), channels, reasons)


def read_images(paths: Sequence[Path], size: tuple[int, int], channels: int) -> torch.Tensor:
    """uint8 N×C×H×W of the images at `paths`, converted to L or RGB and resized (bilinear)
    to size (H, W) where they differ; an unreadable file is an error naming it."""
    h, w = size
    out = np.empty((len(paths), h, w, channels), dtype=np.uint8)
    mode = "L" if channels == 1 else "RGB"
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                img = img.convert(mode)
                if img.size != (w, h):
                    img = img.resize((w, h), Image.BILINEAR)
                out[i] = np.asarray(img).reshape(h, w, channels)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise ValueError(f"{path}: unreadable image ({e}); replace or remove it") from e
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()

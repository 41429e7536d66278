"""Batched augmentation in tensor ops: normalise, zero-pad + random crop (of the image's size
or smaller), horizontal flip.

A whole batch is cropped and flipped by two gathers, no per-image Python loop: in torch on
CUDA, in NumPy on CPU (single-threaded, so it stays fast when other processes take the cores).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view


def in_numpy(device: str | torch.device) -> bool:
    """Whether batches for `device` are built in NumPy (on CPU) rather than torch (on an
    accelerator): torch's 2-thread CPU ops slowed down 10x on a shared 2-core machine (each
    parallel region waits for a descheduled thread); NumPy's single-threaded ones do not. The
    one place this choice is made; crop_flip and normalize_batch follow their input's type."""
    return torch.device(device).type == "cpu"


def for_device(device: str | torch.device, *tensors: torch.Tensor) -> tuple:
    """The CPU tensors as NumPy arrays (same memory) where in_numpy(device), else unchanged."""
    return tuple(t.numpy() for t in tensors) if in_numpy(device) else tensors


def normalize_batch(x, scale, shift, channels_last: bool = False) -> torch.Tensor:
    """float32 x * scale + shift for a uint8 batch (B×C×H×W, or B×K×C×H×W); scale and shift
    broadcast as C×H×W or B×C×1×1. A NumPy batch is computed in NumPy (single-threaded, two
    passes), a tensor with one torch.addcmul. channels_last applies to 4-D batches."""
    channels_last = channels_last and x.ndim == 4
    if isinstance(x, np.ndarray):
        if channels_last:
            x, scale, shift = (x.transpose(0, 2, 3, 1), np.moveaxis(scale, -3, -1),
                               np.moveaxis(shift, -3, -1))
        out = np.multiply(x, scale, dtype=np.float32, order="C")
        out += shift
        out = torch.from_numpy(out)
        return out.permute(0, 3, 1, 2) if channels_last else out
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return torch.addcmul(shift, x.contiguous(memory_format=fmt), scale).contiguous(
        memory_format=fmt)


def random_crop_params(n: int, span: int, flip: bool, generator: torch.Generator):
    """Per-sample crop offsets in [0, span] (span: padded side minus crop side, in px) and flip
    flags (all False when flip is off)."""
    dy = torch.randint(0, span + 1, (n,), generator=generator)
    dx = torch.randint(0, span + 1, (n,), generator=generator)
    f = torch.rand(n, generator=generator) < 0.5
    return dy, dx, f if flip else torch.zeros_like(f)


def crop_flip(x, dy, dx, flip, pad: int, size: int | None = None):
    """Zero-pad x (B×C×H×W numpy array or tensor, any dtype) by pad, take the size×size window
    at (dy, dx) (size None: H×W), mirror where flip. Padding is 0 in x's units: black for uint8
    images, as torchvision's RandomCrop(padding=4) before Normalize. A smaller window is how
    progressive resizing crops early epochs: the same object scale on fewer pixels.

    NumPy: one fancy index into a sliding-window view. Torch: two gathers (rows, then columns
    with the flip folded in) over broadcast index views, with the indices computed on x's
    device: given dy, dx, flip already there, a batch makes no host-to-device copy (on CUDA a
    copy from pageable memory waits for every queued kernel, so the host could not run ahead
    of the GPU).
    """
    b, c, h, w = x.shape
    sh, sw = (h, w) if size is None else (size, size)
    if isinstance(x, np.ndarray):
        dy, dx, flip = np.asarray(dy), np.asarray(dx), np.asarray(flip)
        xp = x
        if pad:
            xp = np.zeros((b, c, h + 2 * pad, w + 2 * pad), x.dtype)
            xp[:, :, pad:pad + h, pad:pad + w] = x
        out = sliding_window_view(xp, (sh, sw), axis=(2, 3))[np.arange(b), :, dy, dx]
        out[flip] = out[flip, :, :, ::-1]
        return out
    dy, dx, flip = (torch.as_tensor(t, device=x.device) for t in (dy, dx, flip))
    ar = torch.arange(sw, device=x.device)
    rows = dy[:, None] + torch.arange(sh, device=x.device)
    cols = dx[:, None] + torch.where(flip[:, None].bool(), sw - 1 - ar, ar)
    xp = F.pad(x, (pad, pad, pad, pad)) if pad else x
    x = xp.gather(2, rows[:, None, :, None].expand(b, c, sh, w + 2 * pad))
    return x.gather(3, cols[:, None, None, :].expand(b, c, sh, sw))

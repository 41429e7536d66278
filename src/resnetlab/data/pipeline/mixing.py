"""mixup and CutMix on a whole batch, with soft targets (timm's Mixup in its "batch" mode).

mixup (Zhang et al. 2018) blends each image with its mirror in the batch (image B-1-i) by
λ ~ Beta(α, α); CutMix (Yun et al. 2019) pastes a box of the mirror image, of area 1 - λ,
and λ is then corrected to the box's true area after clipping at the border. With both alphas
set, a batch uses CutMix with probability switch_prob; any mixing at all happens with
probability prob. Targets become λ y_i + (1 - λ) y_{B-1-i}, each one-hot smoothed by
label_smoothing, so every row sums to 1. Mixing is linear, so it commutes with the affine
normalisation: it runs on the normalised float batch, in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class MixDraw:
    """One batch's mixing: lam (1.0 = none) and the CutMix box (y0, y1, x0, x1) or None."""

    lam: float = 1.0
    box: tuple[int, int, int, int] | None = None


def cutmix_box(h: int, w: int, lam: float, rng: np.random.Generator):
    """A box of about (1 - lam) of the image, centred uniformly, clipped at the border (timm's
    rand_bbox), and lam corrected to 1 - its true area fraction."""
    cut = np.sqrt(1.0 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
    y0, y1 = np.clip([cy - ch // 2, cy + ch // 2], 0, h)
    x0, x1 = np.clip([cx - cw // 2, cx + cw // 2], 0, w)
    box = (int(y0), int(y1), int(x0), int(x1))
    return box, 1.0 - (box[1] - box[0]) * (box[3] - box[2]) / (h * w)


def soft_targets(y: torch.Tensor, num_classes: int, lam: float = 1.0,
                 label_smoothing: float = 0.0) -> torch.Tensor:
    """lam * smooth(onehot(y)) + (1 - lam) * smooth(onehot(y reversed)), float32 B×K."""
    off = label_smoothing / num_classes
    one = torch.full((len(y), num_classes), off, device=y.device)
    one.scatter_(1, y[:, None], 1.0 - label_smoothing + off)
    return one if lam == 1.0 else one * lam + one.flip(0) * (1.0 - lam)


class Mixup:
    """mixup / CutMix for (x float B×C×H×W, y int64 B) -> (x mixed in place, soft targets)."""

    def __init__(self, num_classes: int, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0,
                 prob: float = 1.0, switch_prob: float = 0.5, label_smoothing: float = 0.0):
        for key, value in (("mixup_alpha", mixup_alpha), ("cutmix_alpha", cutmix_alpha)):
            if value < 0:
                raise ValueError(f"{key} must be >= 0 (0 = off), got {value}")
        for key, value in (("mix_prob", prob), ("mix_switch_prob", switch_prob),
                           ("label_smoothing", label_smoothing)):
            if not 0 <= value <= 1:
                raise ValueError(f"{key} must be in 0..1, got {value}")
        if num_classes < 2:
            raise ValueError(f"mixing needs at least 2 classes, got {num_classes}")
        self.num_classes = num_classes
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha
        self.prob, self.switch_prob, self.label_smoothing = prob, switch_prob, label_smoothing

    @property
    def enabled(self) -> bool:
        return (self.mixup_alpha > 0 or self.cutmix_alpha > 0) and self.prob > 0

    def draw(self, rng: np.random.Generator, h: int, w: int) -> MixDraw:
        """This batch's lam and box, from rng alone."""
        if not self.enabled or rng.random() >= self.prob:
            return MixDraw()
        use_cutmix = self.mixup_alpha <= 0 or (
            self.cutmix_alpha > 0 and rng.random() < self.switch_prob)
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        lam = float(rng.beta(alpha, alpha))
        if not use_cutmix:
            return MixDraw(lam)
        box, lam = cutmix_box(h, w, lam, rng)
        return MixDraw(lam, box)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator):
        d = self.draw(rng, *x.shape[-2:])
        mix(x, d)
        return x, soft_targets(y, self.num_classes, d.lam, self.label_smoothing)


def mix(x: torch.Tensor, d: MixDraw) -> torch.Tensor:
    """Apply a draw to x in place: in NumPy for a CPU tensor (its memory; torch's threaded
    elementwise ops are slow on a shared CPU, see batch_augment.in_numpy), else in torch."""
    if d.lam == 1.0 and d.box is None:
        return x
    a = x.numpy() if x.device.type == "cpu" else x
    mirror = a[::-1] if isinstance(a, np.ndarray) else a.flip(0)
    if d.box is not None:
        y0, y1, x0, x1 = d.box
        patch = mirror[:, :, y0:y1, x0:x1]
        a[:, :, y0:y1, x0:x1] = patch.copy() if isinstance(a, np.ndarray) else patch
    else:
        other = mirror * (1.0 - d.lam)
        a *= d.lam
        a += other
    return x

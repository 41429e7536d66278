"""Training losses that take hard labels (int64 B) or soft targets (float B×K, e.g. mixup's).

Cross-entropy: hard labels go through torch's cross_entropy with its label smoothing; soft
targets (already smoothed where mixing made them, see data.pipeline.mixing.soft_targets) give
-sum(t log softmax). Binary cross-entropy (the loss of "ResNet strikes back", Wightman et al.
2021): one sigmoid per class against the (smoothed) one-hot or soft targets, optionally
thresholded to 0/1 (RSB's 0.2), averaged over batch and classes, as timm's
BinaryCrossEntropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from resnetlab.data.pipeline.mixing import soft_targets

LOSSES = ("ce", "bce")


class Loss:
    """loss(logits, targets) -> scalar; `kind` "ce" | "bce" (see the module docstring)."""

    def __init__(self, kind: str = "ce", label_smoothing: float = 0.0,
                 bce_target_threshold: float | None = None):
        if kind not in LOSSES:
            raise ValueError(f"loss {kind!r} is unknown; choose from {', '.join(LOSSES)}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if bce_target_threshold is not None and (kind != "bce" or
                                                 not 0 <= bce_target_threshold < 1):
            raise ValueError(f"bce_target_threshold ({bce_target_threshold}) needs loss bce and "
                             "a value in [0, 1)")
        self.kind, self.smoothing, self.threshold = kind, label_smoothing, bce_target_threshold

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        soft = targets.is_floating_point()
        if self.kind == "ce":
            if not soft:
                return F.cross_entropy(logits, targets, label_smoothing=self.smoothing)
            return torch.sum(-targets * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
        if not soft:
            targets = soft_targets(targets, logits.shape[-1], 1.0, self.smoothing)
        if self.threshold is not None:
            targets = (targets > self.threshold).to(targets.dtype)
        return F.binary_cross_entropy_with_logits(logits.float(), targets.float())

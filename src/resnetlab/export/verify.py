"""Moved to resnetlab.inference.verify (kept for one release)."""

from resnetlab.inference.verify import (
    DEFAULT_TOLERANCE,
    Check,
    check_inputs,
    compare,
    dataset_images,
    exported_runner,
    natural_images,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "Check",
    "check_inputs",
    "compare",
    "dataset_images",
    "exported_runner",
    "natural_images",
]

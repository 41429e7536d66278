"""Moved to resnetlab.inference.fold (kept for one release)."""

from resnetlab.inference.fold import conv_bn_pairs, count_bn, fold_bn

__all__ = ["conv_bn_pairs", "count_bn", "fold_bn"]

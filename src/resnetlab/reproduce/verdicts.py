"""Verdicts computed from measurements: does a quantity rise or fall with depth, as claimed?"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample std (None for std with one value, both None with none)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


@dataclass(frozen=True)
class Verdict:
    claim: str
    status: str  # "holds", "reversed" or "inconclusive"
    shallow: int
    deep: int
    difference: float  # value(deep) - value(shallow), percentage points
    tolerance: float
    pairs_agree: int
    pairs_total: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


def trend(
    values: Mapping[int, float],
    expect: str,
    claim: str,
    what: str,
    tolerance: float = 0.5,
    stds: Mapping[int, float | None] | None = None,
    unit: str = " points",
    digits: int = 2,
) -> Verdict:
    """Judge `claim` that `what` goes `expect` ("up" or "down") from the shallowest to the
    deepest net. It holds when the end-to-end difference is in that direction by more than
    the tolerance (widened to the two ends' stds over seeds), is reversed when it goes the
    other way by as much, and is inconclusive in between. Every depth pair is counted too.
    """
    if expect not in ("up", "down"):
        raise ValueError(f"expect must be 'up' or 'down', got {expect!r}")
    depths = sorted(d for d, v in values.items() if v is not None and math.isfinite(v))
    if len(depths) < 2:
        raise ValueError(f"a trend needs two depths with a value of {what}, got {depths}")
    sign = 1 if expect == "up" else -1
    lo, hi = depths[0], depths[-1]
    diff = values[hi] - values[lo]
    stds = stds or {}
    tol = max(tolerance, (stds.get(lo) or 0.0) + (stds.get(hi) or 0.0))
    pairs = [(a, b) for i, a in enumerate(depths) for b in depths[i + 1:]]
    agree = sum(1 for a, b in pairs if sign * (values[b] - values[a]) > 0)
    if sign * diff > tol:
        status = "holds"
    elif sign * diff < -tol:
        status = "reversed"
    else:
        status = "inconclusive"
    word = {"holds": "Yes", "reversed": "No, the opposite", "inconclusive": "Not shown"}[status]
    d = digits
    bound = f"above +{tol:.{d}f}" if sign > 0 else f"below -{tol:.{d}f}"
    text = (f"**{word}.** {what} at depth {hi}: {values[hi]:.{d}f} vs {values[lo]:.{d}f} at "
            f"depth {lo} ({diff:+.{d}f}{unit}; the claim needs a change {bound}). "
            f"{agree} of {len(pairs)} depth pairs go the claimed way.")
    return Verdict(claim, status, lo, hi, diff, tol, agree, len(pairs), text)

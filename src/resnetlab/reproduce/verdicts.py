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


@dataclass(frozen=True)
class Gain:
    """Does a change lower the test error by more than the seeds' spread?"""

    claim: str
    status: str  # "holds", "reversed", "inconclusive" or "unknown" (one seed: no spread)
    before: float
    after: float
    gain: float  # before - after, percentage points (> 0: the change helps)
    spread: float | None  # sum of the two stds over seeds
    seeds_better: int
    seeds: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


def gain(claim: str, before: Sequence[float | None], after: Sequence[float | None],
         what: str = "test error", names: tuple[str, str] = ("before", "after")) -> Gain:
    """Judge `claim` that `after` (one value per seed) is below `before`: it holds when the
    mean falls by more than the spread (the sum of the two sample stds: the mean ± std
    intervals do not overlap), is reversed when it rises by as much, and is not shown in
    between. Seeds are paired by index where both have a value, and counted; `names` says
    what before and after are in the text."""
    (b, b_sd), (a, a_sd) = mean_std(list(before)), mean_std(list(after))
    if a is None or b is None:
        raise ValueError(f"{claim}: no {what} to compare (before {before}, after {after})")
    diff = b - a
    pairs = [(x, y) for x, y in zip(before, after) if x is not None and y is not None]
    better = sum(y < x for x, y in pairs)
    spread = None if b_sd is None or a_sd is None else b_sd + a_sd
    if spread is None:
        status = "unknown"
    elif diff > spread:
        status = "holds"
    elif diff < -spread:
        status = "reversed"
    else:
        status = "inconclusive"
    word = {"holds": "Yes", "reversed": "No, the opposite", "inconclusive": "Not shown",
            "unknown": "Not judged (one seed: no spread)"}[status]
    bound = "" if spread is None else f"; the claim needs a fall of more than {spread:.2f}, " \
        "the sum of the two stds over seeds"
    text = (f"**{word}.** {what} {a:.2f} {names[1]} vs {b:.2f} {names[0]} ({-diff:+.2f} "
            f"points{bound}). {better} of {len(pairs)} seeds fall.")
    return Gain(claim, status, b, a, diff, spread, better, len(pairs), text)

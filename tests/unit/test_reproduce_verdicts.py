"""Verdicts come from the numbers, whichever way they fall."""

import pytest

from resnetlab.reproduce.degradation import verdicts
from resnetlab.reproduce.verdicts import mean_std, trend


def test_rising_error_holds_for_an_up_claim():
    v = trend({20: 5.0, 32: 6.0, 44: 6.5, 56: 8.0}, "up", "claim", "train error")
    assert v.status == "holds" and v.difference == pytest.approx(3.0)
    assert (v.pairs_agree, v.pairs_total) == (6, 6)
    assert v.text.startswith("**Yes.**")


def test_falling_error_reverses_an_up_claim():
    v = trend({20: 8.0, 56: 5.0}, "up", "claim", "train error")
    assert v.status == "reversed" and v.text.startswith("**No")


def test_small_gap_is_inconclusive_and_seed_std_widens_the_tolerance():
    assert trend({20: 5.0, 56: 5.3}, "up", "c", "e").status == "inconclusive"
    assert trend({20: 5.0, 56: 6.0}, "up", "c", "e").status == "holds"
    v = trend({20: 5.0, 56: 6.0}, "up", "c", "e", stds={20: 0.6, 56: 0.6})
    assert v.status == "inconclusive" and v.tolerance == pytest.approx(1.2)


def test_down_claim_both_ways():
    assert trend({20: 9.0, 110: 7.0}, "down", "c", "e").status == "holds"
    assert trend({20: 7.0, 110: 9.0}, "down", "c", "e").status == "reversed"


def test_trend_needs_two_depths():
    with pytest.raises(ValueError, match="two depths"):
        trend({20: 1.0}, "up", "c", "e")
    with pytest.raises(ValueError, match="'up' or 'down'"):
        trend({20: 1.0, 32: 2.0}, "sideways", "c", "e")


def _row(kind, depth, train, test):
    return {"kind": kind, "depth": depth, "train_error": train, "train_std": None,
            "test_error": test, "test_std": None}


def test_degradation_verdicts_on_paper_like_and_opposite_data():
    paper_like = [_row("plain", 20, 6.0, 9.0), _row("plain", 56, 10.0, 13.0),
                  _row("resnet", 20, 5.0, 8.7), _row("resnet", 56, 2.0, 7.0)]
    v = verdicts(paper_like)
    assert [v[k]["status"] for k in ("plain_train", "resnet_train", "resnet_test")] == \
        ["holds"] * 3
    opposite = [_row("plain", 20, 10.0, 13.0), _row("plain", 56, 6.0, 9.0),
                _row("resnet", 20, 2.0, 7.0), _row("resnet", 56, 5.0, 8.7)]
    v = verdicts(opposite)
    assert [v[k]["status"] for k in ("plain_train", "resnet_train", "resnet_test")] == \
        ["reversed"] * 3


def test_mean_std():
    assert mean_std([]) == (None, None)
    assert mean_std([2.0]) == (2.0, None)
    m, s = mean_std([1.0, 3.0])
    assert m == 2.0 and s == pytest.approx(2 ** 0.5)
